"""Live servers for tests: real uvicorn servers in the test's event loop, and websocket helpers.

Their fixtures (`live_settings`, `server`, `committed`) are in tests/conftest.py, on the committed database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
import websockets

from deliberation.app import create_app
from deliberation.cli import uvicorn_options
from deliberation.realtime.events import emit
from deliberation.settings import Settings
from tests.realtime.frames import checked


class LiveServer:
    def __init__(self, app, server: uvicorn.Server) -> None:
        self.app = app
        self.server = server
        port = server.servers[0].sockets[0].getsockname()[1]
        self.http = f"http://127.0.0.1:{port}"
        self.ws = f"ws://127.0.0.1:{port}"

    def live_url(
        self,
        session_id,
        after: int | None = None,
        ticket: str | None = None,
        batch: bool = False,
        presence: str | None = None,
    ) -> str:
        query = [f"presence={presence}"] if presence else []
        if after is not None:
            query.append(f"after={after}")
        if ticket is not None:
            query.append(f"ticket={ticket}")
        if batch:
            query.append("batch=true")
        return f"{self.ws}/api/sessions/{session_id}/live" + ("?" + "&".join(query) if query else "")

    async def write_events(self, session_id, count: int, **extra) -> list[int]:
        """Commit `count` events through this instance, one transaction each (announced after commit): small
        `flags.changed` events (`open_flags` 0, 1, ...; `extra` fields make them as large as a test needs)."""
        seqs = []
        for n in range(count):
            async with self.app.state.sessionmaker() as db, db.begin():
                seqs.append(await emit(db, session_id, "flags.changed", {"open_flags": n, **extra}))
        return seqs


@asynccontextmanager
async def live_server(settings: Settings, log_level: str = "warning") -> AsyncIterator[LiveServer]:
    app = create_app(settings)
    options = uvicorn_options(settings)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="on", log_level=log_level, **options)
    server = uvicorn.Server(config)
    server.capture_signals = contextlib.nullcontext  # leave pytest's signal handling alone
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield LiveServer(app, server)
    finally:
        server.should_exit = True
        await task


async def receive(socket, timeout: float = 10.0) -> dict:
    """The next frame, checked against the AsyncAPI document (every frame a test receives is)."""
    return checked(await asyncio.wait_for(socket.recv(), timeout))


async def receive_message(socket, timeout: float = 10.0) -> list[dict]:
    """The frames of the next message of a batching stream (`?batch=true`: one frame per line), each checked."""
    return [checked(line) for line in (await asyncio.wait_for(socket.recv(), timeout)).split("\n")]


async def receive_events(socket, count: int, timeout: float = 20.0) -> list[dict]:
    """The next `count` event frames (skipping presence and heartbeats)."""
    events = []
    while len(events) < count:
        frame = await receive(socket, timeout)
        if frame["type"] == "event":
            events.append(frame)
    return events


async def refused_upgrade(url: str, **options) -> tuple[int, str, dict]:
    """Status, content type and problem details of a websocket upgrade the server answers with HTTP instead."""
    try:
        async with websockets.connect(url, **options):
            pass
    except websockets.InvalidStatus as refused:
        response = refused.response
        return response.status_code, response.headers["content-type"], json.loads(response.body)
    raise AssertionError(f"{url} was upgraded")


async def connect(
    server: LiveServer,
    session_id,
    token: str,
    after: int | None = None,
    batch: bool = False,
    presence: str | None = None,
    **options,
):
    socket = await websockets.connect(
        server.live_url(session_id, after, batch=batch, presence=presence),
        additional_headers={"Authorization": f"Bearer {token}"},
        **options,
    )
    hello = await receive(socket)
    assert hello["type"] == "hello"
    return socket, hello


class PresenceView:
    """Who is online as a client knows it: each `presence` list it gets (on connecting; on every change unless it
    asked for deltas), each `presence_delta` applied by user id (docs/api.md, "Live stream"). After every frame
    its list has `online` entries."""

    def __init__(self) -> None:
        self.users: dict[str, str] = {}
        self.full_frames = self.deltas = self.bytes = 0

    def apply(self, text: str) -> None:
        frame = checked(text)
        if frame["type"] == "presence":
            self.users = {user["id"]: user["display_name"] for user in frame["users"]}
            self.full_frames += 1
        elif frame["type"] == "presence_delta":
            self.users.update({user["id"]: user["display_name"] for user in frame["joined"]})
            for user_id in frame["left"]:
                self.users.pop(user_id, None)
            self.deltas += 1
        else:
            return
        self.bytes += len(text)
        assert len(self.users) == frame["online"], frame

    async def follow(self, socket) -> None:
        """Apply every frame the socket receives until it closes."""
        with contextlib.suppress(websockets.ConnectionClosed):
            async for text in socket:
                self.apply(text)
