"""`GET /api/sessions/{id}/live` (websocket) and `GET /api/sessions/{id}/events` (polling)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from collections import deque
from datetime import timedelta

import msgspec
from litestar import Controller, Request, WebSocket, get, post, websocket
from litestar.datastructures import State
from litestar.exceptions import WebSocketDisconnect
from litestar.params import FromPath

from deliberation.accounts.auth import CurrentUser, bearer_token, origin_allowed
from deliberation.asyncapi import LIVE_QUERY
from deliberation.deps import DB, Now
from deliberation.errors import PROBLEM_JSON, BadRequest, DomainError, FieldError, problem_of
from deliberation.openapi import query_parameters_problem
from deliberation.pagination import DEFAULT_LIMIT, After, Cursor, Limit
from deliberation.realtime import admission as live_admission
from deliberation.realtime import service
from deliberation.realtime.events import (
    EventPage,
    HeartbeatFrame,
    HelloFrame,
    PongFrame,
    client_frames,
    encode_frame,
    event_frame,
    read_events,
)
from deliberation.realtime.hub import (
    CLOSE_FORBIDDEN,
    CLOSE_RESTART,
    CLOSE_SLOW,
    CLOSE_UNAUTHENTICATED,
    FETCH_PAGE,
    Hub,
    Subscriber,
)
from deliberation.realtime.schemas import LiveTicketOut, PresenceOut
from deliberation.settings import Settings

# Close codes: 4xxx mirror HTTP statuses; 4008 means "too slow, reconnect with after=".
CLOSE_BAD_REQUEST = 4400
CLOSE_CODES = {400: CLOSE_BAD_REQUEST, 401: CLOSE_UNAUTHENTICATED, 403: CLOSE_FORBIDDEN, 404: 4404}
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_TRY_ELSEWHERE = 1013
CLOSE_TOO_MANY = 4429
AFTER_PATTERN = re.compile(r"[0-9]{1,18}")  # ASCII digits only (str.isdigit admits other scripts)
DROP_REASONS = {
    CLOSE_SLOW: "slow",
    CLOSE_UNAUTHENTICATED: "revoked",
    CLOSE_FORBIDDEN: "removed",
    CLOSE_RESTART: "restart",
}
PONG = encode_frame(PongFrame())
CLOSE_TIMEOUT = 2.0
# The stream's choices: each query parameter's values (the first is the default) and whether it turns the choice on.
LIVE_OPTIONS = {"batch": {"false": False, "true": True}, "presence": {"full": False, "delta": True}}


class EventsController(Controller):
    path = "/api/sessions/{session_id:uuid}/events"
    tags = ["live stream"]

    @get("/", summary="The session's events after a seq, for clients that poll (members)")
    async def list_events(
        self,
        db: DB,
        user: CurrentUser,
        session_id: FromPath[uuid.UUID],
        after: After = 0,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> EventPage:
        return await service.list_events(db, session_id, user, after=after, cursor=cursor, limit=limit)


class PresenceController(Controller):
    path = "/api/sessions/{session_id:uuid}/presence"
    tags = ["live stream"]

    @get("/", summary="Who is online in the session, across all instances (members)")
    async def get_presence(
        self, db: DB, user: CurrentUser, state: State, session_id: FromPath[uuid.UUID]
    ) -> PresenceOut:
        return await service.get_presence(db, session_id, user, state.hub)


class LiveTicketController(Controller):
    path = "/api/sessions/{session_id:uuid}/live-ticket"
    tags = ["live stream"]

    @post("/", summary="A single-use ticket (60 s) for `?ticket=` on the live stream (members)")
    async def issue_live_ticket(
        self, db: DB, user: CurrentUser, now: Now, state: State, request: Request, session_id: FromPath[uuid.UUID]
    ) -> LiveTicketOut:
        ttl = timedelta(seconds=state.settings.live_ticket_seconds)
        return await live_admission.issue_live_ticket(
            db, session_id, user, bearer_token(request) or "", ttl=ttl, now=now
        )


async def _close(socket: WebSocket, code: int, reason: str) -> None:
    """Close with a code and reason; a client that stopped reading cannot make this wait long."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(socket.close(code=code, reason=reason[:120]), CLOSE_TIMEOUT)


async def _deny(socket: WebSocket, refusal: DomainError) -> None:
    """Refuse the upgrade with an HTTP problem-details answer (the ASGI websocket denial response); a server
    without that extension cannot send one: then accept and close at once with the matching code and detail."""
    if "websocket.http.response" not in (socket.scope.get("extensions") or {}):
        await socket.accept()
        await _close(socket, CLOSE_CODES.get(refusal.status_code, CLOSE_BAD_REQUEST), refusal.detail)
        return
    body = msgspec.json.encode(problem_of(refusal.status_code, refusal.detail, refusal.errors))
    headers = [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode())]
    await socket.receive()  # the connect request, answered here instead of accepted
    await socket.send({"type": "websocket.http.response.start", "status": refusal.status_code, "headers": headers})
    await socket.send({"type": "websocket.http.response.body", "body": body})


@websocket("/api/sessions/{session_id:uuid}/live")
async def live(socket: WebSocket, session_id: FromPath[uuid.UUID]) -> None:
    """Hello, then every event with seq > after (replayed, then live), exactly once, in order."""
    if (refusal := query_parameters_problem(socket.query_params, LIVE_QUERY["properties"])) is not None:
        await _deny(socket, refusal)  # the rule of every route: no parameter it does not take, none twice
        return
    options = {}
    for name, values in LIVE_OPTIONS.items():
        if (option := values.get(socket.query_params.get(name, next(iter(values))))) is None:
            allowed = " or ".join(values)
            error = FieldError(field=name, message=f"must be {allowed}")
            await _deny(socket, BadRequest(f"Query parameter `{name}` must be {allowed}.", errors=[error]))
            return
        options[name] = option
    settings: Settings = socket.app.state.settings
    hub: Hub | None = socket.app.state.hub
    metrics = socket.app.state.metrics
    await socket.accept()
    if hub is None:
        await _close(socket, CLOSE_TRY_ELSEWHERE, "this instance serves no live stream (DELIBERATION_LIVE_FANOUT=0)")
        return
    origin = socket.headers.get("origin")
    if settings.allowed_origins and origin is not None and not origin_allowed(origin, settings):
        await _close(socket, CLOSE_FORBIDDEN, "origin not allowed")
        return
    try:
        credential = live_admission.live_credential(socket, settings)
        async with socket.app.state.sessionmaker() as db:
            admission = await live_admission.admit_to_stream(db, session_id, credential, now=socket.app.state.clock())
    except DomainError as exc:
        metrics.ws_disconnects.labels("refused").inc()
        await _close(socket, CLOSE_CODES.get(exc.status_code, CLOSE_BAD_REQUEST), exc.detail)
        return
    raw_after = socket.query_params.get("after")
    if raw_after is not None and not AFTER_PATTERN.fullmatch(raw_after):
        await _close(socket, CLOSE_BAD_REQUEST, "after must be a non-negative integer")
        return
    user, last_seq = admission.user, admission.last_seq
    after = int(raw_after) if raw_after is not None else last_seq
    if after > last_seq:  # a seq this session never had (a restored database?): the client's state is not ours
        beyond = f"after is beyond the session's last seq ({last_seq}): reload, then reconnect"
        await _close(socket, CLOSE_BAD_REQUEST, beyond)
        return
    if hub.connections[user.id] >= settings.ws_max_connections_per_user:
        metrics.ws_disconnects.labels("refused").inc()
        await _close(
            socket, CLOSE_TOO_MANY, f"at most {settings.ws_max_connections_per_user} live connections per user"
        )
        return

    subscriber = await hub.subscribe(
        session_id, user.id, user.display_name, admission.token_hash, presence_deltas=options["presence"]
    )
    reason = "closed"
    sender = Sender(socket, settings.ws_batch_max_chars if options["batch"] else None)
    try:
        await sender.send([encode_frame(HelloFrame(session_id=session_id, last_seq=last_seq))])
        tasks = {
            asyncio.create_task(_write(sender, hub, subscriber, after)),
            asyncio.create_task(_heartbeat(sender, subscriber, settings.ws_heartbeat_seconds)),
            asyncio.create_task(
                _read(socket, subscriber, settings.ws_max_message_bytes, settings.ws_max_pings_per_minute)
            ),
            asyncio.create_task(subscriber.dropped.wait()),
        }
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        outcomes = [task.result() if task.exception() is None else "disconnected" for task in done]
        if True in outcomes:  # the hub dropped the client: too slow, no longer allowed, or shutting down
            reason = DROP_REASONS.get(subscriber.close_code, "dropped")
            await _close(socket, subscriber.close_code, subscriber.close_reason)
        elif "too big" in outcomes:
            reason = "too big"
            await _close(socket, CLOSE_TOO_BIG, f"messages are limited to {settings.ws_max_message_bytes} bytes")
        elif "too many pings" in outcomes:
            reason = "too many pings"
            await _close(socket, CLOSE_POLICY, f"too many pings: at most {settings.ws_max_pings_per_minute} a minute")
        else:
            reason = outcomes[0]
    finally:
        hub.unsubscribe(subscriber)
        metrics.ws_disconnects.labels(reason).inc()


class Sender:
    """What one connection sends: one frame per websocket message, or for a client that asked for `?batch=true` the
    frames at hand in as few messages as fit `max_chars`, one JSON frame per line (docs/api.md, "Batched framing")."""

    def __init__(self, socket: WebSocket, max_chars: int | None) -> None:
        self.socket = socket
        self.max_chars = max_chars
        self.loop = asyncio.get_running_loop()
        self.sent_at = self.loop.time()  # when something was last sent (the heartbeat timer reads it)

    async def send(self, frames: list[str]) -> None:
        if not frames:
            return
        if self.max_chars is None:
            for frame in frames:
                await self.socket.send_text(frame)
        else:
            start, size = 0, 0
            for end, frame in enumerate(frames):
                if end > start and size + len(frame) > self.max_chars:  # a frame longer than the limit goes alone
                    await self.socket.send_text("\n".join(frames[start:end]))
                    start, size = end, 0
                size += len(frame) + 1
            await self.socket.send_text("\n".join(frames[start:]))
        self.sent_at = self.loop.time()


async def _replay(sender: Sender, hub: Hub, session_id: uuid.UUID, after: int, until: int | None = None) -> int:
    """Send stored events with seq > after (up to `until`) straight from the table; return the last seq sent."""
    sent = 0
    while until is None or after < until:
        async with hub.sessionmaker() as db:
            rows = await read_events(db, session_id, after, FETCH_PAGE)
        frames = []
        for row in rows:
            if until is not None and row.seq > until:
                break
            frames.append(event_frame(row))
            after = row.seq
        await sender.send(frames)
        sent += len(frames)
        if len(rows) < FETCH_PAGE:
            break
    hub.metrics.replay_events.observe(sent)
    return after


async def _write(sender: Sender, hub: Hub, subscriber: Subscriber, after: int) -> str:
    """Replay, then send what reaches the subscriber, everything pending at once: each event once, in seq order."""
    if subscriber.logged_after is not None and after >= subscriber.logged_after:
        last_sent = after  # every event after `after` is still to come through the log: nothing to read
        hub.metrics.replay_events.observe(0)
    else:
        last_sent = await _replay(sender, hub, subscriber.session_id, after)
    while True:
        own, events, heartbeat_due = await subscriber.take()
        frames = own
        for seq, frame in events:
            if seq <= last_sent:
                continue  # already replayed
            if seq > last_sent + 1:  # never expected; the table has what is missing
                await sender.send(frames)
                frames = []
                last_sent = await _replay(sender, hub, subscriber.session_id, last_sent, until=seq - 1)
            last_sent = seq
            frames.append(frame)
        if heartbeat_due and not frames:
            frames.append(encode_frame(HeartbeatFrame(last_seq=last_sent)))
        await sender.send(frames)


async def _heartbeat(sender: Sender, subscriber: Subscriber, seconds: float) -> str:
    """One timer per connection: once nothing was sent for `seconds`, ask the writer for a heartbeat (once a period)."""
    loop, asked_at = sender.loop, float("-inf")
    while True:
        due = max(sender.sent_at, asked_at) + seconds
        if (wait := due - loop.time()) > 0:
            await asyncio.sleep(wait)
            continue
        asked_at = loop.time()
        subscriber.ask_heartbeat()


async def _read(socket: WebSocket, subscriber: Subscriber, max_bytes: int, max_pings_per_minute: int) -> str:
    pings: deque[float] = deque(maxlen=max_pings_per_minute)  # when the latest pings arrived
    while True:
        try:
            message = await socket.receive_data(mode="text")
        except WebSocketDisconnect:
            return "client"
        if len(message) > max_bytes:
            return "too big"
        try:
            client_frames.decode(message)  # a ping, the one frame clients send; anything else is ignored
        except (msgspec.DecodeError, RecursionError):
            continue
        now = time.monotonic()
        if len(pings) == pings.maxlen and now - pings[0] < 60:
            return "too many pings"
        pings.append(now)
        subscriber.push(PONG)
