"""Test fixtures: one fresh, migrated database per test session; each test rolls back.

Tests whose writes really commit (live servers, concurrency, several instances) use a second database of the
test session, `committed_database_url` (`committed`, `committed_engine`, `live_client`, `live_settings`,
`server`), or one of their own (`own_database_url`), so the rolled-back database never holds their rows.

`DELIBERATION_TEST_DATABASE_URL` names an existing server (a throwaway database is created on it);
without it an embedded PostgreSQL is started in a temporary directory.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import asyncpg
import httpx
import pytest
from litestar import Litestar
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from deliberation.app import create_app, reset_state
from deliberation.db import migrate
from deliberation.db.embedded import EmbeddedPostgres
from deliberation.db.engine import create_engine, create_sessionmaker
from deliberation.settings import Settings
from tests.live import LiveServer, live_server
from tests.smtp import smtp_down, smtp_server

__all__ = ["smtp_down", "smtp_server"]  # SMTP fixtures for every test package


def plain_dsn(url: str) -> str:
    """A URL asyncpg accepts (no `+asyncpg` driver suffix)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """A PostgreSQL server to create test databases on."""
    configured = os.environ.get("DELIBERATION_TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    data_dir = tempfile.mkdtemp(prefix="deliberation-test-")
    embedded = EmbeddedPostgres(data_dir)
    try:
        yield embedded.start()
    finally:
        embedded.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
async def create_database(server_url: str) -> AsyncIterator:
    """Factory: a new empty database on the test server, dropped at the end of the session."""
    created: list[str] = []

    async def create(prefix: str = "deliberation_test") -> str:
        name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
        admin = await asyncpg.connect(plain_dsn(server_url))
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        created.append(name)
        return make_url(server_url).set(database=name).render_as_string(hide_password=False)

    yield create
    admin = await asyncpg.connect(plain_dsn(server_url))
    try:
        for name in created:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def migrated(create_database, prefix: str) -> str:
    """A new database, migrated to head with Alembic."""
    import anyio

    url = await create_database(prefix)
    await anyio.to_thread.run_sync(migrate.upgrade, url)
    return url


@pytest.fixture(scope="session")
async def database_url(create_database) -> str:
    """The session's database (each test's work in it is rolled back)."""
    return await migrated(create_database, "deliberation_test")


@pytest.fixture
async def own_database_url(create_database) -> str:
    """A migrated database of the test's own, for tests that need an empty log or database."""
    return await migrated(create_database, "deliberation_own")


@pytest.fixture
async def own_engine(own_database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on `own_database_url`."""
    engine = create_engine(own_database_url)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def committed_database_url(create_database) -> str:
    """The session's database for tests whose writes commit (shared by them, never by rolled-back tests)."""
    return await migrated(create_database, "deliberation_committed")


@pytest.fixture
async def committed(committed_engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session whose writes really commit (other connections, other instances see them)."""
    async with create_sessionmaker(committed_engine)() as db:
        yield db


@pytest.fixture
def live_settings(committed_database_url: str) -> Settings:
    return Settings(database_url=committed_database_url, live_poll_seconds=1.0, presence_refresh_seconds=1.0)


@pytest.fixture
async def server(live_settings: Settings) -> AsyncIterator[LiveServer]:
    async with live_server(live_settings) as server:
        yield server


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def committed_engine(committed_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(committed_database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def sessionmaker(engine: AsyncEngine) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions bound to one connection whose outer transaction is rolled back after the test.

    Code under test commits savepoints (`join_transaction_mode="create_savepoint"`), so it behaves as in
    production while nothing outlives the test.
    """
    async with engine.connect() as connection:
        transaction = await connection.begin()
        yield create_sessionmaker(connection, join_transaction_mode="create_savepoint")
        await transaction.rollback()


@pytest.fixture
async def db(sessionmaker) -> AsyncIterator[AsyncSession]:
    async with sessionmaker() as session:
        yield session


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url)


class CurrentSessionmaker:
    """Stands for the running test's sessionmaker, so one app (building one takes about a second) serves every
    test with the same settings: `app` points it at the test's rolled-back connection."""

    def __init__(self) -> None:
        self.current: async_sessionmaker[AsyncSession] | None = None

    def __call__(self, **options) -> AsyncSession:
        return self.current(**options)

    def configure(self, **options) -> None:
        self.current.configure(**options)

    @property
    def kw(self) -> dict:
        return self.current.kw


@pytest.fixture(scope="session")
def apps() -> dict[Settings, tuple[Litestar, CurrentSessionmaker]]:
    """The apps built so far, by their settings."""
    return {}


@pytest.fixture
def app(settings: Settings, sessionmaker, apps) -> Iterator[Litestar]:
    """An app on the test's rolled-back connection, as it is after `create_app` (its state is reset here)."""
    if settings not in apps:
        current = CurrentSessionmaker()
        apps[settings] = (create_app(settings, sessionmaker=current), current)
    app, current = apps[settings]
    current.current = sessionmaker
    reset_state(app)
    yield app
    current.current = None


@asynccontextmanager
async def app_running(app: Litestar) -> AsyncIterator[Litestar]:
    """Run the app's lifespan in a task of its own (fixture setup and teardown run in different tasks)."""
    started, stop = asyncio.Event(), asyncio.Event()

    async def run() -> None:
        async with app.lifespan():
            started.set()
            await stop.wait()

    task = asyncio.create_task(run())
    waiter = asyncio.create_task(started.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        waiter.cancel()
        task.result()
    try:
        yield app
    finally:
        stop.set()
        await task


@asynccontextmanager
async def serve_in_process(app: Litestar, client_host: str = "127.0.0.1") -> AsyncIterator[httpx.AsyncClient]:
    """Talk to the app over ASGI in the test's own event loop."""
    transport = httpx.ASGITransport(app=app, client=(client_host, 50000))
    async with app_running(app), httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_in_process(app) as client:
        yield client


@pytest.fixture
async def live_client(committed_database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client on an app with its own connection pool on the committed database: concurrency is real."""
    async with serve_in_process(create_app(Settings(database_url=committed_database_url))) as client:
        yield client
