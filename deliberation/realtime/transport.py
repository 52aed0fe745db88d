"""Wake-up transports between instances: PostgreSQL LISTEN/NOTIFY (default) or Redis pub/sub.

A transport carries short text messages on two channels and keeps one dedicated listening
connection, reconnecting on its own. After every (re)connect it calls `on_connected`, so the hub
re-reads whatever it may have missed while the connection was down. Messages are only hints:
events are always read from the table.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

import asyncpg
from sqlalchemy.engine import make_url

log = logging.getLogger("deliberation.realtime")

EVENTS_CHANNEL = "deliberation_events"
PRESENCE_CHANNEL = "deliberation_presence"
CHANNELS = (EVENTS_CHANNEL, PRESENCE_CHANNEL)
# PostgreSQL refuses NOTIFY payloads of 8000 bytes or more.
MAX_PAYLOAD = 7900
PUBLISH_TIMEOUT = 5.0  # a hung connection must not stall the instance's wake-ups

LISTENER_APPLICATION_NAME = "deliberation-listen"  # so operators (and tests) can find the LISTEN connections

OnMessage = Callable[[str, str], None]
OnConnected = Callable[[], None]


class Transport(Protocol):
    connected: bool

    async def publish(self, channel: str, payload: str) -> None: ...

    async def run(self, on_message: OnMessage, on_connected: OnConnected) -> None:
        """Listen forever, reconnecting after failures; cancel the task to stop."""


def asyncpg_dsn(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresTransport:
    """NOTIFY after commit (never inside a writing transaction: it takes a global lock at commit)."""

    def __init__(self, database_url: str, *, health_interval: float = 2.0, max_backoff: float = 5.0) -> None:
        self.dsn = asyncpg_dsn(database_url)
        self.health_interval = health_interval
        self.max_backoff = max_backoff
        self.connected = False
        self._publisher: asyncpg.Connection | None = None
        self._publish_lock = asyncio.Lock()

    async def publish(self, channel: str, payload: str) -> None:
        async with self._publish_lock:
            if self._publisher is None or self._publisher.is_closed():
                self._publisher = await asyncpg.connect(self.dsn, timeout=PUBLISH_TIMEOUT)
            try:
                await self._publisher.execute("SELECT pg_notify($1, $2)", channel, payload, timeout=PUBLISH_TIMEOUT)
            except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError, TimeoutError):
                await self._publisher.close(timeout=1)
                self._publisher = None
                raise

    async def run(self, on_message: OnMessage, on_connected: OnConnected) -> None:
        backoff = 0.2
        try:
            while True:
                try:
                    await self._listen(on_message, on_connected)
                    backoff = 0.2
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                    log.warning("event listener connection lost (%s); reconnecting in %.1fs", exc, backoff)
                except Exception:  # whatever it was, the listener must come back
                    log.exception("event listener failed; reconnecting in %.1fs", backoff)
                self.connected = False
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)
        finally:
            self.connected = False
            if self._publisher is not None:
                await self._publisher.close(timeout=1)

    async def _listen(self, on_message: OnMessage, on_connected: OnConnected) -> None:
        connection = await asyncpg.connect(
            self.dsn, timeout=5, server_settings={"application_name": LISTENER_APPLICATION_NAME}
        )
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _: lost.set())
        try:
            for channel in CHANNELS:
                await connection.add_listener(channel, lambda _c, _pid, ch, payload: on_message(ch, payload))
            self.connected = True
            on_connected()
            # A killed backend is not always noticed by the socket at once: check it regularly.
            while not lost.is_set():
                try:
                    await asyncio.wait_for(lost.wait(), self.health_interval)
                except TimeoutError:
                    await connection.fetchval("SELECT 1", timeout=self.health_interval)
        finally:
            self.connected = False
            connection.terminate()


class RedisTransport:
    """Redis pub/sub, for deployments that prefer to keep wake-ups off the database."""

    def __init__(self, redis_url: str, *, max_backoff: float = 5.0) -> None:
        import redis.asyncio as redis

        # Health checks notice a half-open connection instead of waiting on it forever.
        self._client = redis.from_url(redis_url, health_check_interval=10, socket_connect_timeout=PUBLISH_TIMEOUT)
        self.max_backoff = max_backoff
        self.connected = False

    async def publish(self, channel: str, payload: str) -> None:
        await self._client.publish(channel, payload)

    async def run(self, on_message: OnMessage, on_connected: OnConnected) -> None:
        from redis.exceptions import RedisError

        backoff = 0.2
        try:
            while True:
                pubsub = self._client.pubsub()
                try:
                    await pubsub.subscribe(*CHANNELS)
                    self.connected = True
                    on_connected()
                    backoff = 0.2
                    async for message in pubsub.listen():
                        if message["type"] == "message":
                            on_message(message["channel"].decode(), message["data"].decode())
                except (RedisError, OSError) as exc:
                    log.warning("redis listener lost (%s); reconnecting in %.1fs", exc, backoff)
                except Exception:  # whatever it was, the listener must come back
                    log.exception("redis listener failed; reconnecting in %.1fs", backoff)
                finally:
                    self.connected = False
                    await pubsub.aclose()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)
        finally:
            await self._client.aclose()
