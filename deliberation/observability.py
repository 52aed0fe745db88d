"""Health, readiness and Prometheus metrics. Each app has its own registry (no global state)."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable

from litestar import Litestar, MediaType, Request, Response, get
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import Connection, event, text
from sqlalchemy.ext.asyncio import AsyncEngine

ReadinessCheck = Callable[[], Awaitable[bool]]
READY_TIMEOUT = 3.0
# The live stream's query string may hold a `?ticket=`: it never reaches a log. Elsewhere a client may still
# put a credential in a URL by mistake (`?access_token=` is refused, but the request line is logged).
LIVE_QUERY = re.compile(r"(/api/sessions/[^/?\s\"]+/live)\?[^\s\"]*")
CREDENTIAL_PARAMETER = re.compile(r"([?&](?:access_token|ticket|token)=)[^&\s\"]*")
SERVER_LOGGERS = ("uvicorn.access", "uvicorn.error")  # where the server writes request lines


class RedactLiveQueries(logging.Filter):
    """Cut the query string off the live route's path, and credential values off any other, in a log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True


def redact(text: str) -> str:
    return CREDENTIAL_PARAMETER.sub(r"\1[redacted]", LIVE_QUERY.sub(r"\1", text))


def redact_live_queries(_: Litestar) -> None:
    """Install `RedactLiveQueries` on the server's request loggers (once per process)."""
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactLiveQueries) for existing in logger.filters):
            logger.addFilter(RedactLiveQueries())


class Metrics:
    """The service's metrics; domains add theirs here so one registry holds everything."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.http_requests = Counter(
            "deliberation_http_requests",
            "HTTP requests answered",
            ["method", "path", "status"],
            registry=self.registry,
        )
        self.http_seconds = Histogram(
            "deliberation_http_request_seconds",
            "HTTP request latency",
            ["method", "path"],
            registry=self.registry,
        )
        self.ws_clients = Gauge("deliberation_ws_clients", "Connected live-stream clients", registry=self.registry)
        self.events_delivered = Counter(
            "deliberation_events_delivered", "Live events queued to clients (replays included)", registry=self.registry
        )
        self.replay_events = Histogram(
            "deliberation_replay_events",
            "Events replayed to a client on connect",
            buckets=(0, 1, 10, 100, 1000, 10000, 100000),
            registry=self.registry,
        )
        self.ws_disconnects = Counter(
            "deliberation_ws_disconnects", "Live-stream disconnects by reason", ["reason"], registry=self.registry
        )
        self.db_round_trips = Counter(
            "deliberation_db_round_trips",
            "Statements and commits sent to the database (each one round trip; a transaction adds its BEGIN)",
            ["kind"],
            registry=self.registry,
        )


def count_round_trips(engine: AsyncEngine, metrics: Metrics) -> None:
    """Count the engine's statements and commits in `metrics.db_round_trips` (the benchmarks read them)."""
    statement, commit = metrics.db_round_trips.labels("statement").inc, metrics.db_round_trips.labels("commit").inc

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _statement(*_: object) -> None:
        statement()

    @event.listens_for(engine.sync_engine, "commit")
    def _commit(connection: Connection) -> None:
        if connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":  # else nothing is sent
            commit()


def metrics_middleware(app: ASGIApp) -> ASGIApp:
    """Count and time every HTTP request by route template (not raw path: ids would explode labels)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        metrics: Metrics = scope["litestar_app"].state.metrics
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, send_wrapper)
        finally:
            path = scope.get("path_template") or "unmatched"
            metrics.http_requests.labels(scope["method"], path, str(status)).inc()
            metrics.http_seconds.labels(scope["method"], path).observe(time.perf_counter() - started)

    return middleware


@get("/health", tags=["operations"], summary="200 while the process runs")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@get("/ready", tags=["operations"], summary="200 when the database and the event listener are up, else 503")
async def ready(request: Request) -> Response[dict[str, str]]:
    checks: dict[str, ReadinessCheck] = request.app.state.readiness
    results = {}
    for name, check in checks.items():
        try:
            results[name] = "ok" if await asyncio.wait_for(check(), READY_TIMEOUT) else "down"
        except Exception:  # any failure, a timeout included, means not ready
            results[name] = "down"
    status = 200 if all(value == "ok" for value in results.values()) else 503
    return Response(results, status_code=status)


@get("/metrics", tags=["operations"], summary="Prometheus metrics", media_type=MediaType.TEXT)
async def metrics(request: Request) -> Response[bytes]:
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def database_check(app: Litestar) -> ReadinessCheck:
    async def check() -> bool:
        async with app.state.sessionmaker() as db:
            await db.execute(text("SELECT 1"))
        return True

    return check
