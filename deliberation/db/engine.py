"""Engine and session factory; created by the app or the CLI, never at import."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from deliberation.settings import to_asyncpg_url


def create_engine(database_url: str, *, pool_size: int = 10) -> AsyncEngine:
    """An asyncpg engine; `pool_pre_ping` lets the pool recover after a database restart."""
    return create_async_engine(
        to_asyncpg_url(database_url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        connect_args={"server_settings": {"application_name": "deliberation", "timezone": "UTC"}},
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
