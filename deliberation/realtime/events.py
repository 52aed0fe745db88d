"""The session event log: `emit` inside the writer's transaction, `read_events` for replay and fan-out.

`seq` is assigned by `UPDATE sessions SET last_seq = last_seq + 1 ... RETURNING last_seq` inside the
writing transaction. The row lock is held until commit, so a second writer in the same session waits
for the first to commit: within a session, seq is gap-free and in commit order. Nothing is announced
before commit: `emit` only notes the new seq on the SQLAlchemy session, and the `after_commit` hook of
`deliberation.db.engine.EventSession` hands it to the instance's wake-up publisher.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, get_args

import msgspec
from sqlalchemy import CTE, Insert, Row, String, bindparam, cast, insert, literal, select, text, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from deliberation.db.base import utcnow
from deliberation.db.engine import WAKEUPS_KEY
from deliberation.errors import NotFound
from deliberation.forum.models import Session
from deliberation.pagination import SnapshotPage
from deliberation.realtime.models import SessionEvent

# Every event a session's log holds; `deliberation.events.EVENT_DATA` names the Struct each one's `data` is.
EventName = Literal[
    "post.created",
    "post.updated",
    "post.deleted",
    "post.hidden",
    "post.unhidden",
    "reactions.updated",
    "thread.created",
    "thread.updated",
    "member.joined",
    "member.updated",
    "member.removed",
    "session.updated",
    "conclusion.created",
    "conclusion.updated",
    "voting.opened",
    "voting.closed",
    "tally.updated",
    "proposal.created",
    "proposal.updated",
    "proposal.published",
    "endorsement.created",
    "endorsement.withdrawn",
    "flags.changed",
]
EVENT_NAMES: frozenset[str] = frozenset(get_args(EventName))


# Frames sent to websocket clients. Tagged by `type`; new fields always get defaults.
class HelloFrame(msgspec.Struct, tag="hello", tag_field="type"):
    session_id: uuid.UUID
    last_seq: int


class EventFrame(msgspec.Struct, tag="event", tag_field="type"):
    seq: int
    event: EventName
    at: datetime
    data: msgspec.Raw


class PresenceUser(msgspec.Struct):
    id: uuid.UUID
    display_name: str


class PresenceFrame(msgspec.Struct, tag="presence", tag_field="type"):
    online: int
    users: list[PresenceUser]


class PresenceDeltaFrame(msgspec.Struct, tag="presence_delta", tag_field="type"):
    """Who came online (`joined`) and went offline (`left`, user ids) since the last delta; `online` is the count
    after applying it. Applied as set operations by id, it brings any list sent since the last delta up to date."""

    online: int
    joined: list[PresenceUser]
    left: list[uuid.UUID]


class PongFrame(msgspec.Struct, tag="pong", tag_field="type"):
    pass


class HeartbeatFrame(msgspec.Struct, tag="heartbeat", tag_field="type"):
    last_seq: int


# Frames clients send. Anything else (not JSON, another type) is ignored.
class PingFrame(msgspec.Struct):
    type: Literal["ping"]


client_frames = msgspec.json.Decoder(PingFrame)


class EventOut(msgspec.Struct):
    """An event over HTTP (`GET /api/sessions/{id}/events`): the same fields as the websocket frame."""

    seq: int
    event: EventName
    at: datetime
    data: dict[str, Any]


class EventPage(SnapshotPage):
    items: list[EventOut]


_encoder = msgspec.json.Encoder()


def encode_frame(frame: msgspec.Struct) -> str:
    """JSON text of a frame; events are encoded once per instance and shared by every subscriber."""
    return _encoder.encode(frame).decode()


def event_statement(along: Sequence[CTE] = ()) -> Insert:
    """The statement `emit` runs: the session's seq taken (`reserve_seq`'s UPDATE, the same row lock) and the event
    stored with it, its values the parameters `emit` binds (`event_session_id`, `event_type`, `event_data`,
    `event_at`). `along`: data-modifying CTEs (INSERT / UPDATE ... RETURNING) of the change the event tells of, run
    in the same statement, their parameters bound by the caller (named apart from every column: an UPDATE takes
    parameters named like its table's columns as its SET). Hot actions build theirs once."""
    session_id = bindparam("event_session_id", type_=SessionEvent.session_id.type)
    taken = (
        update(Session)
        .where(Session.id == session_id)
        .values(last_seq=Session.last_seq + 1)
        .returning(Session.last_seq)
        .cte("taken")
    )
    row = select(
        session_id,
        taken.c.last_seq,
        bindparam("event_type", type_=SessionEvent.type.type),
        cast(bindparam("event_data", type_=String()), JSONB),
        bindparam("event_at", type_=SessionEvent.created_at.type),
    )
    # The table, not the entity: an ORM INSERT executed with parameters would be a bulk insert of them.
    events = SessionEvent.__table__
    return insert(events).from_select(_EVENT_COLUMNS, row).add_cte(*along, taken).returning(events.c.seq)


_EVENT_COLUMNS = ["session_id", "seq", "type", "data", "created_at"]
_EVENT = event_statement()


async def emit(
    db: AsyncSession,
    session_id: uuid.UUID,
    event: EventName,
    data: msgspec.Struct,
    *,
    statement: Insert = _EVENT,
    params: Mapping[str, Any] | None = None,
) -> int:
    """Append an event to the session's log inside the caller's transaction, in one statement; return its seq.

    `statement`: an `event_statement(along)` writing the change the event tells of too, `params` its CTEs'.
    """
    _check_name(event)
    values = {"event_session_id": session_id, "event_type": event, "event_data": encode_frame(data)}
    seq = await db.scalar(statement, {**(params or {}), **values, "event_at": utcnow()})
    if seq is None:
        raise NotFound("Session not found.")
    _wake_after_commit(db, session_id, seq)
    return seq


async def reserve_seq(db: AsyncSession, session_id: uuid.UUID) -> int:
    """Take the session's next seq; for data that must name its own seq (then `append_event`).

    The UPDATE holds the session row until commit, in the mode `db.locks.lock_session_row` takes: an action that
    took the row first waits for nothing more here, and one that did not takes it here, in the same place of the
    lock order.
    """
    seq = await db.scalar(
        update(Session)
        .where(Session.id == session_id)
        .values(last_seq=Session.last_seq + 1)
        .returning(Session.last_seq)
    )
    if seq is None:
        raise NotFound("Session not found.")
    return seq


async def append_event(
    db: AsyncSession, session_id: uuid.UUID, seq: int, event: EventName, data: msgspec.Struct
) -> None:
    """Store the event under a seq from `reserve_seq`; it is announced after commit."""
    _check_name(event)
    await db.execute(
        insert(SessionEvent).values(session_id=session_id, seq=seq, type=event, data=_jsonb(data), created_at=utcnow())
    )
    _wake_after_commit(db, session_id, seq)


def _jsonb(data: msgspec.Struct):
    """The event's data as JSONB, from msgspec's JSON text (the encoder every frame uses)."""
    return cast(literal(encode_frame(data)), JSONB)


def _check_name(event: str) -> None:
    if event not in EVENT_NAMES:
        raise ValueError(f"unknown event type {event!r}")


def _wake_after_commit(db: AsyncSession, session_id: uuid.UUID, seq: int) -> None:
    wakeups: dict[uuid.UUID, int] = db.info.setdefault(WAKEUPS_KEY, {})
    wakeups[session_id] = seq


async def redact_events(
    db: AsyncSession,
    session_id: uuid.UUID,
    event_types: Collection[str],
    subject_id: uuid.UUID,
    data: msgspec.Struct,
) -> None:
    """Give every stored event of these types about `subject_id` (its `data.id`) this data instead, inside the
    caller's transaction. As Matrix servers redact events, each keeps its seq, type and time: a replay from any
    seq then tells no more than `data` (the subject's public view now) does. Keys `data` does not have (the
    counters an event carried, like `thread_post_count`) are kept."""
    await db.execute(
        update(SessionEvent)
        .where(
            SessionEvent.session_id == session_id,
            SessionEvent.type.in_(event_types),
            SessionEvent.data["id"].astext == str(subject_id),
        )
        .values(data=SessionEvent.data.op("||")(cast(msgspec.to_builtins(data), JSONB)))
        .execution_options(synchronize_session=False)
    )


async def read_events(
    db: AsyncSession, session_id: uuid.UUID, after: int, limit: int
) -> Sequence[Row[tuple[int, str, datetime, str]]]:
    """(seq, type, created_at, data as JSON text) with `seq > after`, in order; one transaction."""
    async with db.begin():
        return await select_events(db, session_id, after, limit)


async def select_events(
    db: AsyncSession, session_id: uuid.UUID, after: int, limit: int
) -> Sequence[Row[tuple[int, str, datetime, str]]]:
    """What `read_events` reads, inside the caller's transaction."""
    result = await db.execute(
        text(
            "SELECT seq, type, created_at, data::text FROM session_events"
            " WHERE session_id = :session_id AND seq > :after ORDER BY seq LIMIT :limit"
        ),
        {"session_id": session_id, "after": after, "limit": limit},
    )
    return result.all()


async def as_of_seq(db: AsyncSession, session_id: uuid.UUID) -> int:
    """The session's `last_seq` as the caller's transaction sees it: in a snapshot (`read_snapshot`), the seq
    every other read of that transaction is as of. Read from the row, never from an object loaded earlier; the
    caller has found the session already."""
    return (await db.execute(select(Session.last_seq).where(Session.id == session_id))).scalar_one()


async def last_seqs(db: AsyncSession, session_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """The current `last_seq` of each session (the safety-net poll and reconnects use it)."""
    async with db.begin():
        rows = await db.execute(select(Session.id, Session.last_seq).where(Session.id.in_(session_ids)))
        return {row.id: row.last_seq for row in rows}


def event_frame(row: Row[tuple[int, str, datetime, str]]) -> str:
    seq, event, at, data = row
    return encode_frame(EventFrame(seq=seq, event=event, at=at, data=msgspec.Raw(data.encode())))
