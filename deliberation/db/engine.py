"""Engine and session factory; created by the app or the CLI, never at import."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, SessionTransaction

from deliberation.settings import to_asyncpg_url

# session.info keys: seqs written by this transaction ({session_id: seq}), and who to tell after commit.
WAKEUPS_KEY = "deliberation.wakeups"
PUBLISHER_KEY = "deliberation.publisher"
# The coalesced marks this transaction set ({"tally", "reactions"}), and the loops to wake for them after commit
# ({name: asyncio.Event}, see conclusions.worker).
MARKED_KEY = "deliberation.marked"
MARK_WAKERS_KEY = "deliberation.mark_wakers"


def share_with_sessions(sessionmaker: async_sessionmaker[AsyncSession], key: str, value: Any) -> None:
    """Put `key: value` in the `info` of every session `sessionmaker` makes from now on (keeping what is there)."""
    sessionmaker.configure(info={**sessionmaker.kw.get("info", {}), key: value})


def wake_after_commit(db: AsyncSession, mark: str) -> None:
    """Wake this instance's publisher of `mark` ("tally", "reactions") once the caller's transaction commits."""
    db.info.setdefault(MARKED_KEY, set()).add(mark)


async def read_snapshot(db: AsyncSession) -> None:
    """Make the transaction `db` just began read one snapshot and write nothing (REPEATABLE READ, READ ONLY).

    Call it before the transaction's first statement. On a connection already inside a transaction of its own
    (the tests' rolled-back one; `db.begin()` makes a savepoint there) PostgreSQL cannot change isolation: the
    enclosing transaction's holds.
    """
    bind = db.bind
    if not (isinstance(bind, AsyncConnection) and bind.in_transaction()):
        await db.connection(execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True})


class EventSession(Session):
    """A Session that, after commit, hands the event seqs its transaction wrote to the instance's publisher."""


@event.listens_for(EventSession, "after_commit")
def _announce_after_commit(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint released: the outer transaction may still roll back
        return
    wakeups = session.info.pop(WAKEUPS_KEY, None)
    publish = session.info.get(PUBLISHER_KEY)
    if wakeups and publish is not None:
        publish(wakeups)
    wakers = session.info.get(MARK_WAKERS_KEY, {})
    for mark in session.info.pop(MARKED_KEY, ()):
        if mark in wakers:
            wakers[mark].set()


@event.listens_for(EventSession, "after_soft_rollback")
def _forget_after_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    if previous_transaction.parent is None:
        session.info.pop(WAKEUPS_KEY, None)
        session.info.pop(MARKED_KEY, None)


def create_engine(database_url: str, *, pool_size: int = 10, pool_timeout: float = 30.0) -> AsyncEngine:
    """An asyncpg engine: `pool_size` connections plus as many overflow; a request waits `pool_timeout` seconds
    for one to free up.

    No `pool_pre_ping`: it costs a round trip on every checkout. After a database restart the first query on a
    dead connection fails (503, Retry-After), SQLAlchemy sees the disconnect and drops the whole pool, and the
    next request gets a fresh connection.
    """
    return create_async_engine(
        to_asyncpg_url(database_url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=pool_timeout,
        connect_args={"server_settings": {"application_name": "deliberation", "timezone": "UTC"}},
    )


def create_sessionmaker(bind: Any, **options: Any) -> async_sessionmaker[AsyncSession]:
    """Sessions whose committed events are announced (see EventSession); `bind` is an engine or connection."""
    return async_sessionmaker(bind, expire_on_commit=False, sync_session_class=EventSession, **options)
