"""`create_app(settings=None) -> Litestar`. Nothing is built or read from the environment at import."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from deliberation.accounts.auth import provide_admin, provide_user, provide_viewer
from deliberation.accounts.passwords import warm_up
from deliberation.accounts.routes import AdminAccountsController, AuthController, MeController
from deliberation.asyncapi import asyncapi_json
from deliberation.audit.routes import AuditController, load_audit_signer
from deliberation.audit.service import VerifyCache
from deliberation.conclusions.routes import ConclusionController, SessionConclusionsController
from deliberation.conclusions.worker import conclusion_workers
from deliberation.db import migrate
from deliberation.db.base import utcnow
from deliberation.db.embedded import EmbeddedPostgres
from deliberation.db.engine import PUBLISHER_KEY, create_engine, create_sessionmaker, share_with_sessions
from deliberation.deps import provide_db, provide_now
from deliberation.errors import EXCEPTION_HANDLERS, JSONRequest, handle_http_exception
from deliberation.forum.routes import LineController, MySessionsController, SessionController
from deliberation.mail.worker import mail_sender
from deliberation.membership.routes import MembershipController
from deliberation.observability import (
    Metrics,
    count_round_trips,
    database_check,
    health,
    metrics,
    metrics_middleware,
    ready,
    redact_live_queries,
)
from deliberation.openapi import (
    SCHEMA_VIEWER,
    document_problems,
    document_request_rules,
    document_security,
    index_query_parameters,
    operation_id,
    refuse_bad_query_parameters,
    schema_assets,
)
from deliberation.proposals.routes import ProposalController, SessionProposalsController
from deliberation.realtime.hub import Hub, hub_check
from deliberation.realtime.routes import EventsController, LiveTicketController, PresenceController, live
from deliberation.realtime.transport import PostgresTransport, RedisTransport
from deliberation.security import add_security_headers
from deliberation.settings import Settings, load_settings
from deliberation.state.routes import SessionStateController
from deliberation.threads.routes import FlagController, PostController, SessionThreadsController, ThreadController
from deliberation.web import pages_or_problems, static_files_router, template_config, web_router

log = logging.getLogger("deliberation")

ROUTE_HANDLERS = [
    schema_assets,
    asyncapi_json,
    health,
    ready,
    metrics,
    AuthController,
    MeController,
    AdminAccountsController,
    AuditController,
    EventsController,
    LiveTicketController,
    PresenceController,
    SessionStateController,
    live,
    LineController,
    SessionController,
    MySessionsController,
    MembershipController,
    SessionThreadsController,
    ThreadController,
    PostController,
    FlagController,
    SessionConclusionsController,
    ConclusionController,
    SessionProposalsController,
    ProposalController,
]


def create_app(
    settings: Settings | None = None,
    *,
    sessionmaker: async_sessionmaker[AsyncSession] | None = None,
) -> Litestar:
    """Build the app. `sessionmaker` lets tests bind the app to a connection they roll back."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def database(app: Litestar) -> AsyncIterator[None]:
        if sessionmaker is not None:
            app.state.sessionmaker, app.state.database_url = sessionmaker, settings.database_url
            yield
            return
        embedded, url = None, settings.database_url
        if url is None:
            embedded = EmbeddedPostgres(settings.data_dir)
            url = await anyio.to_thread.run_sync(embedded.start)
            await anyio.to_thread.run_sync(migrate.upgrade, url)
        engine = create_engine(url, pool_size=settings.db_pool_size, pool_timeout=settings.db_pool_timeout_seconds)
        count_round_trips(engine, app.state.metrics)
        app.state.sessionmaker, app.state.database_url = create_sessionmaker(engine), url
        try:
            yield
        finally:
            await engine.dispose()
            if embedded is not None:
                await anyio.to_thread.run_sync(embedded.stop)

    @asynccontextmanager
    async def realtime(app: Litestar) -> AsyncIterator[None]:
        """The hub: LISTEN connection, fan-out, presence; committed events are announced through it."""
        if not settings.live_fanout:  # events are still logged (and served over HTTP); no websockets here
            app.state.hub = None
            yield
            return
        if settings.redis_url:
            transport = RedisTransport(settings.redis_url)
        else:
            transport = PostgresTransport(app.state.database_url)
        hub = Hub(
            app.state.sessionmaker,
            transport,
            app.state.metrics,
            queue_size=settings.ws_queue_size,
            poll_interval=settings.live_poll_seconds,
            presence_refresh=settings.presence_refresh_seconds,
            presence_interval=settings.presence_delta_interval_seconds,
            revalidate_interval=settings.live_revalidate_seconds,
            clock=lambda: app.state.clock(),
        )
        share_with_sessions(app.state.sessionmaker, PUBLISHER_KEY, hub.announce)
        app.state.hub = hub
        app.state.readiness["events"] = hub_check(hub)
        await hub.start()
        try:
            yield
        finally:
            await hub.stop()

    app = Litestar(
        route_handlers=[*ROUTE_HANDLERS, web_router(), static_files_router()],
        dependencies={
            "db": Provide(provide_db),
            "now": Provide(provide_now, sync_to_thread=False),
            "viewer": Provide(provide_viewer),
            "user": Provide(provide_user),
            "admin": Provide(provide_admin),
        },
        # An HTTP error outside any route (an unknown path) is a page outside the API, problem details inside it.
        exception_handlers={**EXCEPTION_HANDLERS, HTTPException: pages_or_problems(handle_http_exception)},
        template_config=template_config(settings),
        request_class=JSONRequest,
        on_startup=[
            document_problems,
            document_request_rules,
            document_security,
            index_query_parameters,
            redact_live_queries,
            warm_up,
            load_audit_signer,
        ],
        before_request=refuse_bad_query_parameters,
        lifespan=[database, realtime, mail_sender, conclusion_workers],
        middleware=[metrics_middleware],
        before_send=[add_security_headers],
        request_max_body_size=settings.max_body_bytes,
        cors_config=CORSConfig(allow_origins=list(settings.allowed_origins)) if settings.allowed_origins else None,
        openapi_config=OpenAPIConfig(
            title="deliberation",
            version="1.1.0",
            description="Live deliberation, versioned votes, proposals, endorsements, public audit log.",
            path="/schema",
            render_plugins=[SCHEMA_VIEWER],
            operation_id_creator=operation_id,
            components=Components(
                security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer")},
            ),
        ),
        # Background workers only run on an engine the app owns (not on a test's rolled-back connection).
        state=State({"settings": settings, "background_workers": sessionmaker is None}),
    )
    reset_state(app)
    return app


def reset_state(app: Litestar) -> None:
    """What an app holds before its first start: no metrics counted yet, the real clock, an empty audit cache
    (tests that reuse one app for many tests reset it with this)."""
    app.state.metrics = Metrics()
    app.state.clock = utcnow
    app.state.audit_verify = VerifyCache(app.state.settings.audit_verify_cache_seconds)
    app.state.readiness = {"database": database_check(app)}
