"""Admission to the live stream: the Authorization header, a single-use ticket, the web session cookie.

No token ever travels in a URL, and nothing secret reaches a log.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import datetime, timedelta

import httpx
import pytest
import websockets
from sqlalchemy import select

from deliberation.accounts.auth import SESSION_COOKIE
from deliberation.db.base import utcnow
from deliberation.realtime.models import LiveTicket
from deliberation.settings import Settings
from tests.factories import PASSWORD, bearer, make_forum_session, make_token, make_user
from tests.live import live_server, receive, receive_events, refused_upgrade
from tests.realtime.test_live_stream import close_code


async def ticket_for(server, session_id, token: str) -> dict:
    async with httpx.AsyncClient(base_url=server.http, headers=bearer(token)) as client:
        response = await client.post(f"/api/sessions/{session_id}/live-ticket")
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_ticket_opens_one_stream_once_and_is_stored_hashed(server, committed):
    user = await make_user(committed)
    session = await make_forum_session(committed, members={user: "participant"})
    token = await make_token(committed, user)
    before = utcnow()
    issued = await ticket_for(server, session.id, token)
    expires_at = datetime.fromisoformat(issued["expires_at"])
    assert before + timedelta(seconds=59) <= expires_at <= utcnow() + timedelta(seconds=61)
    async with committed.begin():
        stored = (await committed.scalars(select(LiveTicket.ticket_hash).where(LiveTicket.user_id == user.id))).all()
    assert stored == [hashlib.sha256(issued["ticket"].encode()).hexdigest()]

    async with websockets.connect(server.live_url(session.id, after=0, ticket=issued["ticket"])) as socket:
        assert (await receive(socket))["type"] == "hello"
        await server.write_events(session.id, 1)
        assert [frame["seq"] for frame in await receive_events(socket, 1)] == [1]
    async with websockets.connect(server.live_url(session.id, ticket=issued["ticket"])) as socket:
        assert await close_code(socket) == 4401  # used up


async def test_a_ticket_is_for_its_session_its_minute_and_members(server, committed):
    user = await make_user(committed)
    session = await make_forum_session(committed, members={user: "participant"})
    other = await make_forum_session(committed, members={user: "participant"})
    token = await make_token(committed, user)

    misplaced = await ticket_for(server, session.id, token)
    async with websockets.connect(server.live_url(other.id, ticket=misplaced["ticket"])) as socket:
        assert await close_code(socket) == 4401
    async with websockets.connect(server.live_url(session.id, ticket="made-up")) as socket:
        assert await close_code(socket) == 4401

    late = await ticket_for(server, session.id, token)
    later = utcnow() + timedelta(seconds=61)
    server.app.state.clock = lambda: later
    async with websockets.connect(server.live_url(session.id, ticket=late["ticket"])) as socket:
        assert await close_code(socket) == 4401

    outsider = await make_token(committed, await make_user(committed))
    async with httpx.AsyncClient(base_url=server.http) as client:
        assert (await client.post(f"/api/sessions/{session.id}/live-ticket")).status_code == 401
        refused = await client.post(f"/api/sessions/{session.id}/live-ticket", headers=bearer(outsider))
        assert refused.status_code == 403


async def test_a_ticket_stream_ends_with_the_token_it_was_issued_under(committed_database_url, committed):
    settings = Settings(database_url=committed_database_url, live_revalidate_seconds=0.2)
    user = await make_user(committed)
    session = await make_forum_session(committed, members={user: "participant"})
    token = await make_token(committed, user)
    async with live_server(settings) as server:
        issued = await ticket_for(server, session.id, token)
        async with websockets.connect(server.live_url(session.id, ticket=issued["ticket"])) as socket:
            assert (await receive(socket))["type"] == "hello"
            async with httpx.AsyncClient(base_url=server.http) as client:
                assert (await client.post("/api/auth/logout", headers=bearer(token))).status_code == 204
            assert await close_code(socket) == 4401


@pytest.mark.parametrize(
    ("origin", "allowed", "expected"),
    [
        ("http://127.0.0.1:8000", (), "hello"),  # the service's own origin (DELIBERATION_PUBLIC_URL)
        ("https://board.example.org", ("https://board.example.org",), "hello"),
        ("https://evil.example.org", (), 4403),
        (None, (), 4403),  # a cookie without an Origin: not from a page of ours
    ],
)
async def test_the_session_cookie_admits_only_pages_of_the_service(
    committed_database_url, committed, origin, allowed, expected
):
    settings = Settings(
        database_url=committed_database_url, public_url="http://127.0.0.1:8000", allowed_origins=allowed
    )
    user = await make_user(committed)
    session = await make_forum_session(committed, members={user: "participant"})
    token = await make_token(committed, user)
    async with live_server(settings) as server:
        headers = {"Cookie": f"{SESSION_COOKIE}={token}"}
        async with websockets.connect(server.live_url(session.id), additional_headers=headers, origin=origin) as socket:
            if expected == "hello":
                assert (await receive(socket))["type"] == "hello"
            else:
                assert await close_code(socket) == expected


async def test_the_logs_of_a_session_of_use_hold_no_token_or_ticket(committed_database_url, committed):
    """Sign in, read, take tickets, stream, be refused a token in the URL: no log line holds a secret."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    keep = Keep(level=logging.DEBUG)
    # The server's loggers are configured (their handlers replaced) when it starts: listen from then on.
    loggers = [logging.getLogger(name) for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access", "deliberation")]
    previous_root_level = logging.getLogger().level
    user = await make_user(committed)
    session = await make_forum_session(committed, members={user: "participant"})
    secrets_seen: list[str] = []
    try:
        async with live_server(Settings(database_url=committed_database_url), log_level="info") as server:
            for logger in loggers:
                logger.addHandler(keep)
            logging.getLogger().setLevel(logging.INFO)
            async with httpx.AsyncClient(base_url=server.http) as client:
                login = await client.post("/api/auth/login", json={"email": user.email, "password": PASSWORD})
                token = login.json()["access_token"]
                secrets_seen.append(token)
                assert (await client.get("/api/me", headers=bearer(token))).status_code == 200
                assert (await client.get("/api/me", params={"access_token": token})).status_code in (400, 401)
            for _ in range(2):
                ticket = (await ticket_for(server, session.id, token))["ticket"]
                secrets_seen.append(ticket)
                async with websockets.connect(server.live_url(session.id, after=0, ticket=ticket)) as socket:
                    assert (await receive(socket))["type"] == "hello"
                async with websockets.connect(server.live_url(session.id, ticket=ticket)) as socket:
                    assert await close_code(socket) == 4401
            assert (await refused_upgrade(f"{server.live_url(session.id)}?access_token={token}"))[0] == 400
            await asyncio.sleep(0.1)
    finally:
        for logger in loggers:
            logger.removeHandler(keep)
        logging.getLogger().setLevel(previous_root_level)
    lines = [record.getMessage() for record in records if record.name != "httpx"]  # httpx: the test's own client
    assert any("WebSocket /api/sessions/" in line for line in lines), "the server logged no websocket request"
    leaked = [line for line in lines if any(secret in line for secret in secrets_seen)]
    assert leaked == []
