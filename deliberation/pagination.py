"""Cursor pagination shared by every list: `?limit=` (default 50, max 200) and an opaque `?cursor=`.

A list service builds its query, hands it to `keyset_page` with the columns it is ordered by, and returns
its page type (a `Page`). Handlers only pass `limit` and `cursor` through.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

import msgspec
from litestar.params import Parameter
from sqlalchemy import BigInteger, ColumnElement, Integer, Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from deliberation.errors import BadRequest
from deliberation.i18n import N_

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

Limit = Annotated[int, Parameter(ge=1, le=MAX_LIMIT, description="Page size (1-200).")]
MAX_CURSOR_LENGTH = 512
# An opaque token, not text: its limit is checked with the rest of it (400), and only documented here.
Cursor = Annotated[
    str | None,
    Parameter(description="`next_cursor` of the previous page.", schema_extra={"maxLength": MAX_CURSOR_LENGTH}),
]
MAX_SEQ = 2**63 - 1  # seqs are BIGINT
# Numbers inside cursor tuples, bounded like the columns they are compared with (else a 400 names the cursor).
Seq = Annotated[int, msgspec.Meta(ge=0, le=MAX_SEQ)]
Int32 = Annotated[int, msgspec.Meta(ge=-(2**31), le=2**31 - 1)]
Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=MAX_SEQ)]
After = Annotated[int, Parameter(ge=0, le=MAX_SEQ, description="Only items with a greater seq.")]


def encode_cursor(*values: Any) -> str:
    """An opaque cursor holding the sort key of the last item of a page."""
    return base64.urlsafe_b64encode(msgspec.json.encode(values)).decode().rstrip("=")


def decode_cursor(cursor: str, type_: type[T]) -> T:
    """Decode a cursor made by `encode_cursor` into `type_` (a tuple type); 400 when it is not one."""
    try:
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise ValueError("too long")
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return msgspec.json.decode(raw, type=type_)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise BadRequest(N_("The cursor is not valid; use `next_cursor` from a previous page.")) from None


def paginate(rows: Sequence[R], limit: int, key: Callable[[R], tuple[Any, ...]]) -> tuple[list[R], str | None]:
    """A page from `limit + 1` rows: the first `limit`, and a cursor on `key` of the last when more follow."""
    items = list(rows[:limit])
    return items, encode_cursor(*key(items[-1])) if len(rows) > limit else None


class Page(msgspec.Struct, kw_only=True):
    """What every list answers: its `items` (each page type declares them) and `next_cursor`.

    Fields every page of a kind shares go here or on a subclass (kw_only, so they follow `items`).
    """

    next_cursor: str | None


AsOfSeq = Annotated[
    int,
    msgspec.Meta(
        ge=0,
        description="The session's `last_seq` in the snapshot the items were read in: the events with a greater "
        "seq are exactly the changes the items do not show yet.",
    ),
]


class SnapshotPage(Page, kw_only=True):
    """A page of a session-scoped list, read in one snapshot (`db.engine.read_snapshot`) with its `as_of_seq`."""

    as_of_seq: AsOfSeq


def _key_type(key: ColumnElement[Any]) -> Any:
    """The Python type a cursor holds for a key column, bounded like the column."""
    if isinstance(key.type, BigInteger):
        return Int64
    if isinstance(key.type, Integer):
        return Int32
    return key.type.python_type


async def keyset_page(
    db: AsyncSession, query: Select[Any], keys: Sequence[ColumnElement[Any]], *, cursor: str | None, limit: int
) -> tuple[list[tuple[Any, ...]], str | None]:
    """One page of `query` in the order of `keys` (ascending) after `cursor`, and the next page's cursor.

    The ORDER BY, the `(keys) > (cursor)` filter and what the cursor holds all come from `keys`, so they cannot
    disagree; the cursor decodes into the key columns' types, bounded like them (400 when it is not a cursor of
    this list). Each row comes back without the key columns. Runs inside the caller's transaction.
    """
    width = len(keys)
    query = query.add_columns(*keys).order_by(*keys).limit(limit + 1)
    if cursor is not None:
        after = decode_cursor(cursor, tuple[tuple(_key_type(key) for key in keys)])  # type: ignore[misc]
        query = query.where(tuple_(*keys) > tuple_(*after))
    rows = (await db.execute(query)).all()
    next_cursor = encode_cursor(*rows[limit - 1][-width:]) if len(rows) > limit else None
    return [tuple(row[:-width]) for row in rows[:limit]], next_cursor
