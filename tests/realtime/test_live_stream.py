import asyncio
import contextlib
import os
import random
import socket
import uuid
from datetime import timedelta

import httpx
import pytest
import websockets
from sqlalchemy import text

from deliberation.app import create_app
from deliberation.db.base import utcnow
from deliberation.realtime.hub import FrameLog, Subscriber
from deliberation.realtime.routes import Sender, _write
from deliberation.settings import Settings
from tests.factories import bearer, make_forum_session, make_token, make_user
from tests.live import connect, live_server, receive, receive_events, receive_message, refused_upgrade
from tests.realtime.frames import checked


async def member_session(db, role: str = "participant"):
    user = await make_user(db)
    session = await make_forum_session(db, members={user: role})
    return session, await make_token(db, user)


async def close_code(socket) -> int:
    """The close code the server sends, after any frames still on their way (bounded wait)."""
    with pytest.raises(websockets.ConnectionClosed) as closed:
        async with asyncio.timeout(10):
            while True:
                checked(await socket.recv())
    return closed.value.rcvd.code


async def test_connections_without_auth_or_membership_are_refused_with_close_codes(server, committed):
    session, token = await member_session(committed)
    outsider = await make_token(committed, await make_user(committed))
    cases = [
        (server.live_url(session.id), None, 4401),
        (server.live_url(session.id), "not-a-token", 4401),
        (server.live_url(session.id), outsider, 4403),
        (server.live_url("00000000-0000-0000-0000-000000000000"), token, 4404),
        (server.live_url(session.id) + "?after=-1", token, 4400),
        (server.live_url(session.id) + "?after=%C2%B2", token, 4400),  # "²" is a digit to str.isdigit
        (server.live_url(session.id, after=99), token, 4400),  # beyond the session's last seq
    ]
    for url, auth, code in cases:
        async with websockets.connect(url, additional_headers=bearer(auth) if auth else {}) as socket:
            assert await close_code(socket) == code, url


async def test_hello_then_replay_then_live_in_order(server, committed):
    session, token = await member_session(committed)
    await server.write_events(session.id, 3)
    socket, hello = await connect(server, session.id, token, after=1)
    async with socket:
        assert hello == {"type": "hello", "session_id": str(session.id), "last_seq": 3}
        replayed = await receive_events(socket, 2)
        assert [frame["seq"] for frame in replayed] == [2, 3]
        assert replayed[0]["event"] == "flags.changed" and replayed[0]["data"] == {"open_flags": 1}
        await server.write_events(session.id, 2)
        live = await receive_events(socket, 2)
        assert [frame["seq"] for frame in live] == [4, 5]


async def test_without_after_only_new_events_arrive(server, committed):
    session, token = await member_session(committed)
    await server.write_events(session.id, 2)
    socket, _ = await connect(server, session.id, token)
    async with socket:
        await server.write_events(session.id, 1)
        assert [frame["seq"] for frame in await receive_events(socket, 1)] == [3]


async def test_ping_pong_and_oversized_messages(server, committed):
    session, token = await member_session(committed)
    socket, _ = await connect(server, session.id, token)
    async with socket:
        await socket.send('{"type": "ping"}')
        while (frame := await receive(socket))["type"] != "pong":
            assert frame["type"] in ("presence", "presence_delta")
        await socket.send("x" * (server.app.state.settings.ws_max_message_bytes + 1))
        assert await close_code(socket) == 1009


async def test_a_ping_flood_ends_the_stream_with_a_close_code_every_time(server, committed):
    """1,500 pings sent as fast as possible once silenced a stream (open, no events, no close): never again."""
    session, token = await member_session(committed)
    for _ in range(10):
        socket, _ = await connect(server, session.id, token)
        async with socket:
            with contextlib.suppress(websockets.ConnectionClosed):  # the server may close before the last one
                for _ in range(1500):
                    await socket.send('{"type": "ping"}')
            await server.write_events(session.id, 1)
            frames = []
            with pytest.raises(websockets.ConnectionClosed) as closed:
                async with asyncio.timeout(10):
                    while True:
                        frames.append(checked(await socket.recv())["type"])
        assert closed.value.rcvd.code == 1008, frames[-5:]
        assert "too many pings" in closed.value.rcvd.reason
        assert frames.count("pong") <= server.app.state.settings.ws_max_pings_per_minute


class Recorder:
    """A websocket that takes every frame at once."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send_text(self, text: str) -> None:
        self.sent.append(text)


async def test_the_stream_writer_never_loses_a_cancellation(server, committed):
    """A frame arriving just as the connection's handler cancels the writer (the stream closing) must not keep the
    writer running: with `asyncio.wait_for(queue.get())` on Python 3.11 it did, and the socket was never closed."""
    session, _ = await member_session(committed)
    for _ in range(20):
        subscriber = Subscriber(session.id, uuid.uuid4(), "A", "token hash", FrameLog(10))
        writer = asyncio.create_task(_write(Sender(Recorder(), None), server.app.state.hub, subscriber, 0))
        async with asyncio.timeout(10):
            while subscriber not in subscriber.log.sleepers:  # the writer waits for its next frame
                await asyncio.sleep(0.001)
        subscriber.push('{"type": "pong"}')
        await asyncio.sleep(0)  # the frame is taken...
        writer.cancel()  # ...as the handler cancels the writer
        done, _ = await asyncio.wait({writer}, timeout=5)
        assert writer in done and writer.cancelled()


async def test_pings_at_a_sane_rate_are_answered_and_events_keep_coming(server, committed):
    session, token = await member_session(committed)
    pings = server.app.state.settings.ws_max_pings_per_minute
    socket, _ = await connect(server, session.id, token)
    async with socket:
        for _ in range(pings):
            await socket.send('{"type": "ping"}')
        seqs = await server.write_events(session.id, 3)
        frames = []
        while len([f for f in frames if f["type"] == "event"]) < 3 or frames.count({"type": "pong"}) < pings:
            frames.append(await receive(socket))
        assert [f["seq"] for f in frames if f["type"] == "event"] == seqs


async def _write_one_by_one(server, session_id, count: int, rng: random.Random) -> None:
    """A writer committing `count` events one at a time, a few random milliseconds apart."""
    for _ in range(count):
        await server.write_events(session_id, 1)
        await asyncio.sleep(rng.random() / 200)


async def test_concurrent_writers_and_resuming_clients_get_every_event_once_in_order(server, committed):
    """Writers commit concurrently while clients, batching or not, drop off and resume at random points."""
    session, token = await member_session(committed)
    writers, per_writer, clients = 8, 25, 6
    total = writers * per_writer
    rng = random.Random(7)

    async def client(batch: bool) -> list[int]:
        seen: list[int] = []
        while len(seen) < total:
            socket, _ = await connect(server, session.id, token, after=seen[-1] if seen else 0, batch=batch)
            for _ in range(rng.randint(1, 60)):
                seen += [frame["seq"] for frame in await receive_message(socket, 20) if frame["type"] == "event"]
                if len(seen) >= total:
                    break
            socket.transport.abort()  # the train enters a tunnel: the connection just drops
        return seen

    half = [client(batch=n % 2 == 0) for n in range(clients)]  # half the clients batch
    writing = [_write_one_by_one(server, session.id, per_writer, rng) for _ in range(writers)]
    results = await asyncio.gather(*half, *writing)
    for seen in results[:clients]:
        assert seen == list(range(1, total + 1))


async def test_clients_joining_a_streamed_session_during_writes_get_every_later_event_once(server, committed):
    """Clients connect without `after` to a session already streamed here while writers commit: each gets every event
    after its hello's last seq once, in order (one committed between its hello and its subscription included), with
    or without a replay read; and the session's shared log keeps no frame once every connection has taken it."""
    session, token = await member_session(committed)
    first, _ = await connect(server, session.id, token)
    writers, per_writer, joining = 4, 25, 8
    total = writers * per_writer
    rng = random.Random(19)

    async def client() -> tuple[int, list[int]]:
        await asyncio.sleep(rng.random() / 5)
        socket, hello = await connect(server, session.id, token)
        seen: list[int] = []
        async with socket:
            while hello["last_seq"] + len(seen) < total:
                seen += [frame["seq"] for frame in await receive_message(socket, 20) if frame["type"] == "event"]
        return hello["last_seq"], seen

    writing = [_write_one_by_one(server, session.id, per_writer, rng) for _ in range(writers)]
    async with first:
        results = await asyncio.gather(receive_events(first, total), *(client() for _ in range(joining)), *writing)
        assert [frame["seq"] for frame in results[0]] == list(range(1, total + 1))
        for after, seen in results[1 : joining + 1]:
            assert seen == list(range(after + 1, total + 1))
        log = server.app.state.hub.channels[session.id].log
        assert log.frames == [] and log.start == log.end == total


async def test_a_batching_client_gets_pending_frames_in_one_message_and_others_one_frame_per_message(server, committed):
    """`?batch=true`: what is pending goes in one message, a frame per line; every event still once, in order."""
    session, token = await member_session(committed)
    batching, hello = await connect(server, session.id, token, batch=True)
    plain, _ = await connect(server, session.id, token)
    writers, per_writer = 8, 25
    total = writers * per_writer
    async with batching, plain:
        await asyncio.gather(*(server.write_events(session.id, per_writer) for _ in range(writers)))
        messages: list[list[dict]] = []
        while sum(frame["type"] == "event" for message in messages for frame in message) < total:
            messages.append(await receive_message(batching))
        events = [frame["seq"] for message in messages for frame in message if frame["type"] == "event"]
        assert events == list(range(hello["last_seq"] + 1, total + 1))
        assert max(len(message) for message in messages) > 1  # the writers outran the stream: batches formed
        seen = []
        while len(seen) < total:
            text = await asyncio.wait_for(plain.recv(), 10)
            assert "\n" not in text  # one frame per message for a client that did not ask
            if (frame := checked(text))["type"] == "event":
                seen.append(frame["seq"])
        assert seen == events


async def test_a_heartbeat_comes_on_an_idle_stream_batching_or_not(committed_database_url, committed):
    settings = Settings(database_url=committed_database_url, ws_heartbeat_seconds=0.3)
    session, token = await member_session(committed)
    async with live_server(settings) as server:
        batching, _ = await connect(server, session.id, token, batch=True)
        plain, _ = await connect(server, session.id, token)
        async with batching, plain:
            await server.write_events(session.id, 2)
            for stream in (batching, plain):
                heartbeats = []
                while len(heartbeats) < 2:  # once quiet, a heartbeat each period, saying the last seq sent
                    frames = await receive_message(stream, timeout=5)
                    if frames[0]["type"] == "heartbeat":
                        assert len(frames) == 1
                        heartbeats.append(frames[0])
                assert heartbeats == [{"type": "heartbeat", "last_seq": 2}] * 2


async def test_events_over_http_for_polling_clients(server, committed):
    session, token = await member_session(committed)
    outsider = await make_token(committed, await make_user(committed))
    await server.write_events(session.id, 5)
    async with httpx.AsyncClient(base_url=server.http, headers=bearer(token)) as client:
        page = (await client.get(f"/api/sessions/{session.id}/events", params={"after": 1, "limit": 3})).json()
        assert [item["seq"] for item in page["items"]] == [2, 3, 4]
        assert page["items"][0]["data"] == {"open_flags": 1}
        rest = (await client.get(f"/api/sessions/{session.id}/events", params={"cursor": page["next_cursor"]})).json()
        assert [item["seq"] for item in rest["items"]] == [5]
        assert rest["next_cursor"] is None
        refused = await client.get(f"/api/sessions/{session.id}/events", headers=bearer(outsider))
        assert refused.status_code == 403
        assert (
            await client.get(f"/api/sessions/{session.id}/events", headers={"Authorization": ""})
        ).status_code == 401


async def test_two_instances_share_events_and_survive_a_killed_listener(committed_database_url, committed):
    # The safety-net poll is a minute away: only NOTIFY, and the catch-up after a reconnect, deliver here.
    settings = Settings(database_url=committed_database_url, live_poll_seconds=60)
    session, token = await member_session(committed)
    async with live_server(settings) as a, live_server(settings) as b:
        socket, _ = await connect(b, session.id, token, after=0)
        async with socket:
            await a.write_events(session.id, 3)
            assert [f["seq"] for f in await receive_events(socket, 3)] == [1, 2, 3]

            # Kill every LISTEN connection from the database side; B must notice, reconnect and catch up.
            async with committed.begin():
                killed = await committed.scalar(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                        " WHERE application_name = 'deliberation-listen'"
                    )
                )
            assert killed >= 2
            await a.write_events(session.id, 3)  # written while B's listener may be down
            assert [f["seq"] for f in await receive_events(socket, 3)] == [4, 5, 6]
            for _ in range(100):
                if b.app.state.hub.listening:
                    break
                await asyncio.sleep(0.1)
            assert b.app.state.hub.listening
            await a.write_events(session.id, 2)
            assert [f["seq"] for f in await receive_events(socket, 2)] == [7, 8]


async def test_a_client_that_never_reads_is_dropped_and_others_keep_receiving(committed_database_url, committed):
    settings = Settings(database_url=committed_database_url, ws_queue_size=20)
    session, token = await member_session(committed)
    async with live_server(settings) as server:
        # The stuck client reads nothing after hello: its library buffer and its (small) TCP buffer fill up.
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw.setblocking(False)
        await asyncio.get_running_loop().sock_connect(raw, server.server.servers[0].sockets[0].getsockname())
        stuck, _ = await connect(server, session.id, token, max_queue=1, sock=raw)
        good, _ = await connect(server, session.id, token)
        count, blob = 200, "x" * 50_000  # 10 MB: more than the server's TCP send buffer holds
        received: list[int] = []

        async def read_good():
            while len(received) < count:
                frame = await receive(good, 20)
                if frame["type"] == "event":
                    received.append(frame["seq"])

        reader = asyncio.create_task(read_good())
        await server.write_events(session.id, count, blob=blob)
        await reader
        assert received == list(range(1, count + 1))

        channel = server.app.state.hub.channels[session.id]
        for _ in range(100):  # the server gives a stuck client a moment to take its close frame
            if len(channel.subscribers) == 1:
                break
            await asyncio.sleep(0.1)
        assert len(channel.subscribers) == 1  # the stuck one is gone; its queue went with it
        with pytest.raises(websockets.ConnectionClosed):
            while True:
                await asyncio.wait_for(stuck.recv(), 10)
        # It cannot read the close frame (it reads nothing); the server says why it let it go.
        slow = server.app.state.metrics.ws_disconnects.labels("slow")
        assert slow._value.get() == 1
        await good.close()


def redis_available(url: str) -> bool:
    import redis

    try:
        return bool(redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


async def test_redis_transport_carries_wake_ups_between_instances(committed_database_url, committed):
    """With DELIBERATION_REDIS_URL, wake-ups and presence go through Redis pub/sub instead of NOTIFY."""

    redis_url = os.environ.get("DELIBERATION_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    if not redis_available(redis_url):
        if os.environ.get("DELIBERATION_TEST_REQUIRE_REDIS"):
            pytest.fail(f"Redis is required but not reachable at {redis_url}")
        pytest.skip(f"no Redis at {redis_url} (CI sets DELIBERATION_TEST_REQUIRE_REDIS=1)")
    settings = Settings(database_url=committed_database_url, redis_url=redis_url, live_poll_seconds=60)
    session, token = await member_session(committed)
    async with live_server(settings) as a, live_server(settings) as b:
        assert b.app.state.hub.listening
        socket, _ = await connect(b, session.id, token, after=0)
        async with socket:
            await a.write_events(session.id, 3)
            # The safety-net poll is a minute away: only a Redis wake-up can deliver these in time.
            assert [f["seq"] for f in await receive_events(socket, 3, timeout=10)] == [1, 2, 3]


async def test_an_instance_with_fanout_off_logs_events_but_serves_no_websockets(committed_database_url, committed):
    settings = Settings(database_url=committed_database_url, live_fanout=False)
    session, token = await member_session(committed)
    async with live_server(settings) as server:
        async with httpx.AsyncClient(base_url=server.http) as client:
            assert (await client.get("/ready")).json() == {"database": "ok"}
        await server.write_events(session.id, 2)
        async with websockets.connect(server.live_url(session.id), additional_headers=bearer(token)) as socket:
            assert await close_code(socket) == 1013
        async with httpx.AsyncClient(base_url=server.http, headers=bearer(token)) as client:
            items = (await client.get(f"/api/sessions/{session.id}/events")).json()["items"]
        assert [item["seq"] for item in items] == [1, 2]


async def test_live_connections_per_user_are_limited(committed_database_url, committed):
    settings = Settings(database_url=committed_database_url, ws_max_connections_per_user=2)
    session, token = await member_session(committed)
    async with live_server(settings) as server:
        first, _ = await connect(server, session.id, token)
        second, _ = await connect(server, session.id, token)
        async with websockets.connect(server.live_url(session.id), additional_headers=bearer(token)) as third:
            assert await close_code(third) == 4429
        await first.close()
        for _ in range(100):  # once the server has seen the close, a new connection fits again
            if sum(server.app.state.hub.connections.values()) < 2:
                break
            await asyncio.sleep(0.05)
        again, _ = await connect(server, session.id, token)
        await again.close()
        await second.close()


async def test_a_query_parameter_the_stream_does_not_take_or_takes_twice_is_400_before_the_upgrade(server, committed):
    session, token = await member_session(committed)
    for query, fields in [
        ("colour=red", ["colour"]),
        ("afterr=0&ticket=x", ["afterr"]),  # a typo must not pass as the default (only new events)
        ("after=0&after=5", ["after"]),  # which one would count?
        ("x=1&after=0&after=0", ["x", "after"]),
        ("batch=yes", ["batch"]),  # true or false only
        ("batch=true&batch=false", ["batch"]),
        ("presence=deltas", ["presence"]),  # full or delta only
    ]:
        url = f"{server.live_url(session.id)}?{query}"
        status, content_type, problem = await refused_upgrade(url, additional_headers=bearer(token))
        assert (status, content_type) == (400, "application/problem+json"), query
        assert [error["field"] for error in problem["errors"]] == fields, query
        assert problem["status"] == 400 and all(f"`{field}`" in problem["detail"] for field in fields)
    async with websockets.connect(server.live_url(session.id, after=0), additional_headers=bearer(token)) as socket:
        assert (await receive(socket))["type"] == "hello"  # its own parameters, once each


async def test_without_the_denial_extension_the_refusal_is_a_close_with_its_reason():
    """An ASGI server that cannot send an HTTP answer to an upgrade: accepted, then closed with 4400 and why."""
    app = create_app(Settings(database_url="postgresql://unused@127.0.0.1/unused"))
    path = f"/api/sessions/{uuid.uuid4()}/live"
    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "http_version": "1.1",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"colour=red",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "subprotocols": [],
        "extensions": {},
        "state": {},
    }
    incoming, sent = [{"type": "websocket.connect"}], []

    async def receive_message():
        return incoming.pop(0) if incoming else {"type": "websocket.disconnect", "code": 1000}

    async def send(message):
        sent.append(message)

    await app(scope, receive_message, send)
    assert [message["type"] for message in sent] == ["websocket.accept", "websocket.close"]
    assert sent[1]["code"] == 4400 and "`colour`" in sent[1]["reason"]


async def test_a_token_in_the_url_is_refused_and_tokens_expire_by_the_app_clock(server, committed):
    session, token = await member_session(committed)
    url = f"{server.live_url(session.id)}?access_token={token}"
    status, _, problem = await refused_upgrade(url)  # not a parameter of the stream, like any other
    assert status == 400 and problem["errors"][0]["field"] == "access_token"
    async with websockets.connect(server.live_url(session.id), additional_headers=bearer(token)) as socket:
        assert (await receive(socket))["type"] == "hello"
    async with httpx.AsyncClient(base_url=server.http) as client:
        for path in ("/api/me", f"/api/sessions/{session.id}/events"):
            assert (await client.get(path, params={"access_token": token})).status_code == 400, path
        huge = await client.get(f"/api/sessions/{session.id}/events", params={"after": 10**30}, headers=bearer(token))
        assert huge.status_code == 400 and huge.json()["errors"][0]["field"] == "after"

    short = await make_token(committed, await make_user(committed), expires_at=utcnow() + timedelta(hours=1))
    later = utcnow() + timedelta(hours=2)
    server.app.state.clock = lambda: later
    async with websockets.connect(server.live_url(session.id), additional_headers=bearer(short)) as socket:
        assert await close_code(socket) == 4401


async def test_a_removed_member_or_a_revoked_token_loses_the_stream(committed_database_url, committed):
    settings = Settings(database_url=committed_database_url, live_revalidate_seconds=0.2)
    moderator, removed, logged_out = [await make_user(committed) for _ in range(3)]
    session = await make_forum_session(
        committed, members={moderator: "moderator", removed: "participant", logged_out: "participant"}
    )
    tokens = {user: await make_token(committed, user) for user in (moderator, removed, logged_out)}
    async with live_server(settings) as server:
        removed_socket, _ = await connect(server, session.id, tokens[removed])
        logged_out_socket, _ = await connect(server, session.id, tokens[logged_out])
        async with httpx.AsyncClient(base_url=server.http) as client:
            gone = await client.delete(
                f"/api/sessions/{session.id}/members/{removed.id}", headers=bearer(tokens[moderator])
            )
            assert gone.status_code == 204
            assert (await client.post("/api/auth/logout", headers=bearer(tokens[logged_out]))).status_code == 204
        # The removed member receives their own removal, then the stream ends.
        assert (await receive_events(removed_socket, 1))[0]["event"] == "member.removed"
        assert await close_code(removed_socket) == 4403
        assert await close_code(logged_out_socket) == 4401


async def test_a_server_shutting_down_tells_clients_to_reconnect(committed_database_url, committed):
    session, token = await member_session(committed)
    async with live_server(Settings(database_url=committed_database_url)) as server:
        socket, _ = await connect(server, session.id, token)
        server.server.should_exit = True
        assert await close_code(socket) in (1001, 1012)
