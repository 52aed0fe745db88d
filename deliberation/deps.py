"""Request dependencies by name: `db: DB` (the request's database session), `now: Now` (the app clock)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime

from litestar.datastructures import State
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

DB = NamedDependency[AsyncSession]
Now = NamedDependency[datetime]


async def provide_db(state: State) -> AsyncGenerator[AsyncSession]:
    """One session per request; every service function runs its own transaction on it."""
    async with state.sessionmaker() as session:
        yield session


def provide_now(state: State) -> datetime:
    """The request's "now" from `app.state.clock` (a `() -> datetime`; tests replace it to move time)."""
    return state.clock()
