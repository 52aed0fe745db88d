"""Live-stream scenarios: fan-out (1), latency under load (2), two instances (5), idle memory (6), catch-up (7),
the fan-out on each ASGI server (14)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
import uuid

import asyncpg
import httpx
import psutil

from deliberation.realtime.events import event_frame
from deliberation.realtime.transport import EVENTS_CHANNEL
from tests.bench.harness import (
    Forum,
    Load,
    Row,
    Sizes,
    check_listeners,
    last_seqs,
    listen_specs,
    merged,
    ms,
    ran_on,
    stamp,
    workers_suffix,
    write_spec,
)
from tests.bench.infra import ROOT, Service, free_port, plain_dsn
from tests.bench.servers import SERVICE_SERVERS


def listeners_of(forum: Forum, sessions: list[uuid.UUID], per_session: slice = slice(None)) -> list:
    """(session, token, after) of every connection: members in turn, `forum.clients[session]` connections."""
    out = []
    for session in sessions:
        members = forum.members[session]
        count = forum.clients.get(session, len(members))
        out += [(str(session), forum.token(members[i % len(members)]), None) for i in range(count)][per_session]
    return out


BENCH_SETTINGS = {"ws_queue_size": 5000, "ws_max_connections_per_user": 200, "post_rate_per_minute": 1_000_000}


def fanout(
    forum: Forum,
    service: Service,
    sizes: Sizes,
    clients: int,
    *,
    batch: bool = True,
    name: str = "",
    raw: tuple[float, float, list[float], float] | None = None,
) -> Row:
    """Scenario 1: `clients` listeners in one session (`?batch=true` unless told); a burst of post events committed
    at once; deliveries/s until the last one lands; websocket messages against frames received. Against a raw_ws
    run of the same size (`raw`: one already taken)."""
    session = forum.groups[f"fanout{clients}"][0]
    posts = sizes.fanout_deliveries // clients
    frame = _one_post(forum, service, session)
    listeners = Load(listen_specs(service, listeners_of(forum, [session]), latency=False, batch=batch), [service])
    listeners.measure()
    start = time.time()
    asyncio.run(_burst(forum.url, session, posts))
    final = asyncio.run(last_seqs(forum.url, [session]))
    results = listeners.results(final=final, timeout=180)
    checked = check_listeners(f"fan-out {clients}", results)
    deliveries = checked["events"] / (max(r["last_at"] for r in results) - start)
    messages = sum(r["messages"] for r in results)
    server_cpu, load_cpu = listeners.cpu()
    figures = {
        "deliveries_per_s": deliveries,
        "posts": posts,
        "frames_per_message": sum(r["frames"] for r in results) / messages,
        "server_cpu_us_per_delivery": listeners.server_meter.seconds / checked["events"] * 1e6,
        "lost": checked["lost"],
    }
    row = Row(name or f"1 fan-out {clients} clients", figures, target=">= 0.6 x raw_ws")
    stamp(row, server_cpu, load_cpu)
    raw_rate, raw_server_cpu, raw_load_cpu, raw_per_delivery = raw or raw_ws(clients, posts, frame)
    row.baseline = "raw_ws"
    row.baseline_figures = {"deliveries_per_s": raw_rate, "server_cpu_us_per_delivery": raw_per_delivery}
    row.ratio = deliveries / raw_rate
    return stamp(row, raw_server_cpu, raw_load_cpu)


def fanouts(forum: Forum, service: Service, sizes: Sizes) -> list[Row]:
    """Scenario 1: the fan-out at each size to batching clients; at the first size also to clients taking one frame
    per message, like for like with raw_ws (which sends one), against the same raw_ws run."""
    first = sizes.fanout_clients[0]
    session = forum.groups[f"fanout{first}"][0]
    raw = raw_ws(first, sizes.fanout_deliveries // first, _one_post(forum, service, session))
    one_frame = f"1 fan-out {first} clients, a frame a message"
    rows = [
        fanout(forum, service, sizes, first, raw=raw),
        fanout(forum, service, sizes, first, batch=False, name=one_frame, raw=raw),
    ]
    return rows + [fanout(forum, service, sizes, clients) for clients in sizes.fanout_clients[1:]]


def servers(forum: Forum, sizes: Sizes) -> list[Row]:
    """Scenario 14: scenario 1's fan-out at its first size on each ASGI server, batching clients and clients taking
    one frame per message; every row against one raw_ws run."""
    clients = sizes.fanout_clients[0]
    session = forum.groups[f"fanout{clients}"][0]
    rows, raw = [], None
    for server, runs_on in SERVICE_SERVERS.items():
        service = Service(forum.url, server=server, **BENCH_SETTINGS).wait_ready()
        try:
            if raw is None:
                raw = raw_ws(clients, sizes.fanout_deliveries // clients, _one_post(forum, service, session))
            for batch in (True, False):
                label = f"14 fan-out {clients} on {runs_on}" + (", batch" if batch else ", a frame a message")
                row = fanout(forum, service, sizes, clients, batch=batch, name=label, raw=raw)
                row.stack = ran_on(row, service)
                rows.append(row)
        finally:
            service.stop()
    return rows


def _one_post(forum: Forum, service: Service, session: uuid.UUID) -> str:
    """Post once through HTTP; the event frame it made (the burst copies it; raw_ws sends frames of its size)."""
    method, path, token, body = forum.post_requests([session])[0]
    headers = {"Authorization": f"Bearer {token}"}
    httpx.request(method, service.base + path, content=body, headers=headers, timeout=30).raise_for_status()
    return asyncio.run(_post_frame(forum.url, session))


async def _burst(url: str, session: uuid.UUID, posts: int) -> None:
    """Commit `posts` copies of the session's last post.created event at once, then wake the instances as a writer's
    commit does (NOTIFY `session:seq`): the fan-out alone, as raw_ws has its frames at once (writes: scenario 3)."""
    connection = await asyncpg.connect(plain_dsn(url))
    try:
        async with connection.transaction():
            seq = await connection.fetchval(
                "UPDATE sessions SET last_seq = last_seq + $2 WHERE id = $1 RETURNING last_seq", session, posts
            )
            await connection.execute(
                "INSERT INTO session_events (session_id, seq, type, data, created_at)"
                " SELECT $1, $2 - $3 + n, 'post.created', data, now() FROM generate_series(1, $3) AS n,"
                " (SELECT data FROM session_events WHERE session_id = $1 AND type = 'post.created'"
                " ORDER BY seq DESC LIMIT 1) AS last",
                session,
                seq,
                posts,
            )
        await connection.execute("SELECT pg_notify($1, $2)", EVENTS_CHANNEL, f"{session}:{seq}")
    finally:
        await connection.close()


async def _post_frame(url: str, session: uuid.UUID) -> str:
    connection = await asyncpg.connect(plain_dsn(url))
    try:
        row = await connection.fetchrow(
            "SELECT seq, type, created_at, data::text FROM session_events WHERE session_id = $1"
            " AND type = 'post.created' ORDER BY seq DESC LIMIT 1",
            session,
        )
    finally:
        await connection.close()
    return event_frame(tuple(row))


def raw_ws(clients: int, frames: int, frame: str) -> tuple[float, float, list[float], float]:
    """The raw_ws baseline: the same clients on a bare websockets broadcaster; deliveries/s, the server's cores, the
    load processes' cores, the server's CPU microseconds per delivery."""
    port = free_port()
    with tempfile.NamedTemporaryFile("w", suffix=".json") as template:
        template.write(frame)
        template.flush()
        server = subprocess.Popen(
            [sys.executable, "-m", "tests.bench.baselines", str(port), template.name],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout.readline().strip() == "listening"
            session = str(uuid.uuid4())
            listeners = Load(
                listen_specs(port, [(session, "x", None)] * clients, latency=False), [psutil.Process(server.pid)]
            )
            listeners.measure()
            start = time.time()
            server.stdin.write(f"go {frames}\n")
            server.stdin.flush()
            assert server.stdout.readline().strip() == "done"
            results = listeners.results(final={session: frames}, timeout=180)
            checked = check_listeners(f"raw_ws {clients}", results)
            rate = checked["events"] / (max(r["last_at"] for r in results) - start)
            server_cpu, load_cpu = listeners.cpu()
            per_delivery = listeners.server_meter.seconds / checked["events"] * 1e6
        finally:
            server.stdin.write("quit\n")
            server.stdin.flush()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
    return rate, server_cpu, load_cpu, per_delivery


def realistic(forum: Forum, service: Service, sizes: Sizes) -> Row:
    """Scenario 2 (and 9 with two workers): sessions of members, posts and votes at fixed rates; commit-to-receipt
    latency; nothing lost."""
    sessions = forum.groups["realistic"]
    listeners = Load(listen_specs(service, listeners_of(forum, sessions), latency=True), [service])
    specs = [write_spec(service, 8, forum.post_requests(sessions), rate=sizes.realistic_posts_per_s)]
    votes = forum.extra.get("vote_requests")
    if votes:
        specs.append(write_spec(service, 24, votes, rate=sizes.realistic_votes_per_s))
    writers = Load(specs, [service])
    listeners.measure()
    writers.measure()
    written = writers.results(
        timeout=sizes.realistic_seconds + 60, duration=sizes.realistic_seconds, start=time.time() + 0.5
    )
    time.sleep(1.5)  # the coalesced tally events of the last votes
    final = asyncio.run(last_seqs(forum.url, sessions))
    results = listeners.results(final=final, timeout=60)
    checked = check_listeners("latency", results)
    latency = merged(results)
    server_cpu, load_cpu = listeners.cpu()
    _, writer_cpu = writers.cpu()
    figures = {
        "clients": sum(r["clients"] for r in results),
        "posts_per_s": written[0]["ok"] / written[0]["seconds"],
        "votes_per_s": written[1]["ok"] / written[1]["seconds"] if votes else "n/a (no votes route)",
        "p50_ms": ms(latency.percentile(50)),
        "p99_ms": ms(latency.percentile(99)),
        "max_ms": ms(latency.max),
        "events": checked["events"],
        "lost": checked["lost"],
    }
    row = Row(f"2 latency under load{workers_suffix(service)}", figures, target="p99 <= 100 ms, lost 0")
    return stamp(row, server_cpu, load_cpu + writer_cpu)


def two_instances(forum: Forum, service: Service, sizes: Sizes) -> Row:
    """Scenario 5: posts/s through two instances sharing wake-ups (a listener per session on each) vs one
    instance with fan-out off; the same writers and connection count."""
    sessions = forum.groups["realistic"]
    requests = forum.post_requests(sessions)
    half = max(1, sizes.write_connections // 2)
    second = Service(forum.url, **BENCH_SETTINGS).wait_ready()
    try:
        clients = listeners_of(forum, sessions, slice(0, 1))
        listeners = Load(
            listen_specs(service, clients, latency=False)[:1]
            + listen_specs(second, listeners_of(forum, sessions, slice(1, 2)), latency=False)[:1],
            [service, second],
        )
        writers = Load(
            [write_spec(service, half, requests[0::2]), write_spec(second, half, requests[1::2])], [service, second]
        )
        listeners.measure()
        writers.measure()
        written = writers.results(
            duration=sizes.write_seconds, start=time.time() + 0.3, timeout=sizes.write_seconds + 60
        )
        final = asyncio.run(last_seqs(forum.url, sessions))
        checked = check_listeners("two instances", listeners.results(final=final, timeout=60))
        two = sum(r["ok"] for r in written) / max(r["seconds"] for r in written)
        server_cpu, load_cpu = writers.cpu()
        _, listen_cpu = listeners.cpu()
    finally:
        second.stop()
    single = Service(forum.url, live_fanout="false", **BENCH_SETTINGS).wait_ready()
    try:
        writers = Load([write_spec(single, half * 2, requests)], [single])
        writers.measure()
        written = writers.results(
            duration=sizes.write_seconds, start=time.time() + 0.3, timeout=sizes.write_seconds + 60
        )
        one = written[0]["ok"] / written[0]["seconds"]
        single_server_cpu, single_load_cpu = writers.cpu()
    finally:
        single.stop()
    row = Row(
        "5 two instances, wake-ups on",
        {"posts_per_s": two, "listeners": len(clients) * 2, "lost": checked["lost"]},
        baseline="one instance, fan-out off",
        baseline_figures={"posts_per_s": one},
        ratio=two / one,
        target=">= 0.9",
    )
    stamp(row, server_cpu, load_cpu + listen_cpu)
    return stamp(row, single_server_cpu, single_load_cpu)


def idle_memory(forum: Forum, sizes: Sizes) -> Row:
    """Scenario 6: a fresh instance; RSS after warm-up, then with N idle clients connected; delta / N."""
    service = Service(forum.url, **BENCH_SETTINGS).wait_ready()
    try:
        sessions = forum.groups["memory"]
        warm = Load(listen_specs(service, listeners_of(forum, sessions[:1], slice(0, 50)), latency=False), [service])
        warm.measure()
        check_listeners(
            "memory warm-up", warm.results(final=asyncio.run(last_seqs(forum.url, sessions[:1])), timeout=30)
        )
        time.sleep(2)
        before = service.rss()
        clients = listeners_of(forum, sessions)[: sizes.idle_clients]
        started = time.monotonic()
        listeners = Load(listen_specs(service, clients, latency=False), [service])
        connect_seconds = time.monotonic() - started
        listeners.measure()
        time.sleep(3)
        after = service.rss()
        final = asyncio.run(last_seqs(forum.url, sessions))
        checked = check_listeners("idle memory", listeners.results(final=final, timeout=60))
        server_cpu, load_cpu = listeners.cpu()
    finally:
        service.stop()
    per_client = (after - before) / len(clients)
    row = Row(
        f"6 memory, {len(clients)} idle clients",
        {
            "kb_per_client": per_client / 1024,
            "rss_before_mb": before / 2**20,
            "rss_after_mb": after / 2**20,
            "connect_s": connect_seconds,
            "lost": checked["lost"],
        },
        target="<= 50 KB",
    )
    return stamp(row, server_cpu, load_cpu)


def catch_up(forum: Forum, service: Service, sizes: Sizes) -> Row:
    """Scenario 7: reconnect with after = last_seq - 1000, time until the 1000th missed event arrives."""
    session = forum.groups["catchup"][0]
    final = forum.extra["catchup_final"]
    spec = {
        "role": "catchup",
        "host": "127.0.0.1",
        "port": service.port,
        "session": str(session),
        "token": forum.token(forum.members[session][0]),
        "final": final,
        "missed": sizes.catchup_events,
        "repeats": sizes.catchup_repeats,
    }
    load = Load([spec], [service])
    load.measure()
    (result,) = load.results(timeout=sizes.catchup_repeats * 30 + 30)
    if result["violations"]:
        raise AssertionError(f"catch-up: {result['violations']} replays were incomplete or out of order")
    server_cpu, load_cpu = load.cpu()
    latency = result["latency"]
    row = Row(
        f"7 catch-up of {sizes.catchup_events} events",
        {"p50_ms": ms(latency.percentile(50)), "p99_ms": ms(latency.percentile(99)), "repeats": latency.n, "lost": 0},
        target="p99 <= 250 ms",
    )
    return stamp(row, server_cpu, load_cpu)
