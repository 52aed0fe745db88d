"""The transparency log: `record` appends inside the caller's transaction; `verify` recomputes the chain.

Canonical form of an entry (what its hash covers): the JSON object
`{seq, at, actor_id, action, target_type, target_id, session_id, reason, data, prev_hash}` with keys
sorted, no whitespace, UTF-8, `at` as `YYYY-MM-DDTHH:MM:SS.ffffffZ`, ids as lowercase UUID strings or
null. `hash = sha256(canonical).hexdigest()`; the first entry's `prev_hash` is 64 zeros.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import Row, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from deliberation.accounts.models import User
from deliberation.audit.checkpoint import Checkpoint
from deliberation.audit.models import AuditEntry
from deliberation.audit.schemas import ActorRef, AuditEntryOut, AuditLink, AuditPage
from deliberation.db import locks
from deliberation.pagination import keyset_page

GENESIS_HASH = "0" * 64
VERIFY_BATCH = 1000


class VerifyResult(msgspec.Struct):
    ok: bool
    entries: int
    head_hash: str
    first_bad_seq: int | None
    computed_at: datetime  # when the chain was walked (`GET /api/audit/verify` may answer from a cache)


def format_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_bytes(entry: AuditEntry) -> bytes:
    """The bytes an entry's hash is computed over (see the module docstring)."""
    content = {
        "seq": entry.seq,
        "at": format_time(entry.at),
        "actor_id": str(entry.actor_id) if entry.actor_id else None,
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "session_id": str(entry.session_id) if entry.session_id else None,
        "reason": entry.reason,
        "data": entry.data,
        "prev_hash": entry.prev_hash,
    }
    return msgspec.json.encode(content, order="sorted")


def entry_hash(entry: AuditEntry) -> str:
    return hashlib.sha256(canonical_bytes(entry)).hexdigest()


async def record(
    db: AsyncSession,
    *,
    action: str,
    target_type: str,
    target_id: str | uuid.UUID | None = None,
    actor_id: uuid.UUID | None = None,
    session_id: uuid.UUID | None = None,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
    now: datetime,
) -> AuditEntry:
    """Append one entry to the log inside the caller's transaction, at the action's `now`.

    An entry about a session takes that session's row before the chain's lock, whatever the caller did first:
    the chain comes last in the one lock order (docs/architecture.md, "Lock order").
    """
    if session_id is not None:
        await locks.lock_session_row(db, session_id)
    await db.execute(select(func.pg_advisory_xact_lock(locks.AUDIT_CHAIN)))
    last = await chain_head(db)
    entry = AuditEntry(
        seq=last.seq + 1 if last else 1,
        at=now,
        actor_id=actor_id,
        action=action,
        target_type=target_type,
        target_id=str(target_id) if target_id is not None else None,
        session_id=session_id,
        reason=reason,
        # Round-trip through JSON so what is hashed is exactly what JSONB gives back (UUIDs, times as text).
        data=msgspec.json.decode(msgspec.json.encode(data or {})),
        prev_hash=last.hash if last else GENESIS_HASH,
    )
    entry.hash = entry_hash(entry)
    db.add(entry)
    await db.flush()
    return entry


async def chain_head(db: AsyncSession) -> Row[tuple[int, str]] | None:
    """(seq, hash) of the last entry, or None for an empty log (inside the caller's transaction)."""
    return (await db.execute(select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1))).first()


async def links_between(db: AsyncSession, *, session_id: uuid.UUID, first: int, last: int) -> list[AuditLink]:
    """`{seq, prev_hash, hash}` of the entries of other sessions (or of none) with first < seq < last, in order:
    with a session's own entries they make the unbroken chain between its first and last (caller's transaction).
    """
    rows = await db.execute(
        select(AuditEntry.seq, AuditEntry.prev_hash, AuditEntry.hash)
        .where(
            AuditEntry.seq > first,
            AuditEntry.seq < last,
            AuditEntry.session_id.is_distinct_from(session_id),
        )
        .order_by(AuditEntry.seq)
    )
    return [AuditLink(seq=seq, prev_hash=prev_hash, hash=hash_) for seq, prev_hash, hash_ in rows]


def _entries_query(session_id: uuid.UUID | None, after: int) -> Select[tuple[AuditEntry, str | None]]:
    """(entry, actor display name) with `seq > after`, of one session or of all."""
    query = (
        select(AuditEntry, User.display_name)
        .outerjoin(User, User.id == AuditEntry.actor_id)
        .where(AuditEntry.seq > after)
    )
    if session_id is not None:
        query = query.where(AuditEntry.session_id == session_id)
    return query


async def session_entries(
    db: AsyncSession, *, session_id: uuid.UUID | None
) -> Sequence[Row[tuple[AuditEntry, str | None]]]:
    """Every (entry, actor display name) of a session, oldest first, inside the caller's transaction."""
    return (await db.execute(_entries_query(session_id, 0).order_by(AuditEntry.seq))).all()


async def list_entries(
    db: AsyncSession, *, session_id: uuid.UUID | None, after: int, cursor: str | None, limit: int
) -> AuditPage:
    """A page of entries with `seq > after`, oldest first."""
    async with db.begin():
        rows, next_cursor = await keyset_page(
            db, _entries_query(session_id, after), (AuditEntry.seq,), cursor=cursor, limit=limit
        )
    return AuditPage(items=[entry_out(entry, name) for entry, name in rows], next_cursor=next_cursor)


def entry_out(entry: AuditEntry, display_name: str | None) -> AuditEntryOut:
    """An entry as the public log shows it."""
    return AuditEntryOut(
        seq=entry.seq,
        at=entry.at,
        actor=ActorRef(id=entry.actor_id, display_name=display_name) if entry.actor_id else None,
        action=entry.action,
        target_type=entry.target_type,
        target_id=entry.target_id,
        session_id=entry.session_id,
        reason=entry.reason,
        data=entry.data,
        prev_hash=entry.prev_hash,
        hash=entry.hash,
    )


async def verify(db: AsyncSession, *, now: datetime) -> VerifyResult:
    """Recompute the whole chain and name the first entry that does not match.

    Entries only ever append, so reading in batches while others write still checks a prefix of one chain.
    """
    async with db.begin():
        expected_seq, prev_hash, count = 1, GENESIS_HASH, 0
        while True:
            batch = (
                await db.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.seq >= expected_seq)
                    .order_by(AuditEntry.seq)
                    .limit(VERIFY_BATCH)
                )
            ).all()
            for entry in batch:
                if entry.seq != expected_seq or entry.prev_hash != prev_hash or entry.hash != entry_hash(entry):
                    return VerifyResult(
                        ok=False, entries=count, head_hash=prev_hash, first_bad_seq=entry.seq, computed_at=now
                    )
                expected_seq, prev_hash, count = entry.seq + 1, entry.hash, count + 1
            if len(batch) < VERIFY_BATCH:
                return VerifyResult(ok=True, entries=count, head_hash=prev_hash, first_bad_seq=None, computed_at=now)


async def checkpoint_problem(db: AsyncSession, checkpoint: Checkpoint, *, now: datetime) -> str | None:
    """None when the log still holds, unchanged, the chain `checkpoint` signed; otherwise what is wrong with it."""
    result = await verify(db, now=now)
    if not result.ok:
        return f"entry {result.first_bad_seq} does not match the chain ({result.entries} entries verify)"
    if result.entries < checkpoint.entries:
        return (
            f"the log holds {result.entries} entries, the checkpoint signed {checkpoint.entries}: entries were removed"
        )
    async with db.begin():
        signed = await db.scalar(select(AuditEntry.hash).where(AuditEntry.seq == checkpoint.entries))
    if (signed or GENESIS_HASH) != checkpoint.head_hash:
        return f"entry {checkpoint.entries} is not the one the checkpoint signed: the log was rewritten"
    return None


class VerifyCache:
    """The last `verify` result, reused for `seconds` by `GET /api/audit/verify` (anonymous callers cannot make
    every request walk the whole chain). Concurrent callers wait for one computation. The CLI never uses it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._result: VerifyResult | None = None
        self._at = 0.0
        self._lock = asyncio.Lock()

    async def verify(self, db: AsyncSession, *, now: datetime) -> VerifyResult:
        """The chain's state as of at most `seconds` ago (its `computed_at` says when)."""
        async with self._lock:
            if self._result is None or time.monotonic() - self._at >= self.seconds:
                self._result, self._at = await verify(db, now=now), time.monotonic()
            return self._result
