"""Request dependencies by name: a handler declares `db: DB` to get the request's database session."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from litestar.datastructures import State
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

DB = NamedDependency[AsyncSession]


async def provide_db(state: State) -> AsyncGenerator[AsyncSession]:
    """One session per request; every service function runs its own transaction on it."""
    async with state.sessionmaker() as session:
        yield session
