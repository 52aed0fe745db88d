"""Write and read scenarios through HTTP: posts/s (3) vs raw_insert, votes/s (4) vs raw_upsert, a big thread (8)."""

from __future__ import annotations

import time
import uuid

from tests.bench import live
from tests.bench.baselines import INSERT_POST, UPSERT_VOTE
from tests.bench.harness import Forum, Load, Row, Sizes, merged, ms, ran_on, stamp, workers_suffix, write_spec
from tests.bench.infra import DatabaseMeter, Service, plain_dsn


def _closed_loop(service: Service, connections: int, requests: list, seconds: float) -> tuple[dict, float, list[float]]:
    """The load's result with, per answered request, the server's CPU and (one worker) its statements and commits."""
    load = Load([write_spec(service, connections, requests)], [service])
    before = service.round_trips() if service.workers == 1 and service.server != "bare" else {}
    database = DatabaseMeter()
    load.measure()
    database.start()
    (result,) = load.results(duration=seconds, start=time.time() + 0.3, timeout=seconds + 60)
    server_cpu, load_cpu = load.cpu()
    database.stop()
    bad = {status: count for status, count in result["statuses"].items() if status not in ("200", "201")}
    if bad:
        raise AssertionError(f"unexpected answers: {bad}")
    answered = max(1, result["ok"])
    # The server's CPU from measure() until now: the phase and its edges (the idle instance's timers, little).
    result["cpu_ms_per_req"] = load.server_meter.seconds * 1000 / answered
    result["db_cpu_ms_per_req"] = database.seconds * 1000 / answered
    if before:
        after = service.round_trips()
        for kind in ("statement", "commit"):
            result[f"{kind}s_per_req"] = (after.get(kind, 0) - before.get(kind, 0)) / answered
    return result, server_cpu, load_cpu


def _sql(
    forum: Forum, shape: str, statement: str, connections: int, seconds: float, **extra
) -> tuple[dict, float, list]:
    spec = {
        "role": "sql",
        "dsn": plain_dsn(forum.url),
        "connections": connections,
        "shape": shape,
        "statement": statement,
        **extra,
    }
    load = Load([spec], [])
    database = DatabaseMeter()
    load.measure()
    database.start()
    (result,) = load.results(duration=seconds, timeout=seconds + 60)
    _, load_cpu = load.cpu()
    database.stop()
    result["db_cpu_ms_per_req"] = database.seconds * 1000 / max(1, result["ok"])
    return result, 0.0, load_cpu


def _figures(result: dict, unit: str) -> dict:
    latency = result["latency"]
    figures = {
        f"{unit}_per_s": result["ok"] / result["seconds"],
        "p50_ms": ms(latency.percentile(50)),
        "p99_ms": ms(latency.percentile(99)),
    }
    for key in ("cpu_ms_per_req", "db_cpu_ms_per_req", "statements_per_req", "commits_per_req"):
        if key in result:
            figures[key] = round(result[key], 2)
    return figures


def posts(forum: Forum, service: Service, sizes: Sizes) -> Row:
    """Scenario 3 (and 9 with two workers): posts/s through HTTP (closed loop, spread over sessions) vs raw_insert."""
    sessions = forum.groups["realistic"]
    result, server_cpu, load_cpu = _closed_loop(
        service, sizes.write_connections, forum.post_requests(sessions), sizes.write_seconds
    )
    session = sessions[0]
    ids = [str(forum.threads[session]), str(session), str(forum.seeded.user_ids[forum.members[session][0]])]
    raw, _, raw_cpu = _sql(forum, "post", INSERT_POST, sizes.write_connections, sizes.write_seconds, ids=ids)
    row = Row(
        f"3 posts through HTTP{workers_suffix(service)}",
        _figures(result, "posts"),
        baseline="raw_insert",
        baseline_figures=_figures(raw, "rows"),
        target=">= 0.1 x raw_insert",
    )
    row.ratio = row.figures["posts_per_s"] / row.baseline_figures["rows_per_s"]
    if service.workers == 1:
        row.baseline_figures |= _bare_stack(forum, sessions, sizes, row.baseline_figures["rows_per_s"])
        row.figures["x_bare_stack"] = row.figures["posts_per_s"] / row.baseline_figures["bare_stack_posts_per_s"]
    row.stack = ran_on(row, service)
    return stamp(stamp(row, server_cpu, load_cpu), 0.0, raw_cpu)


def _bare_stack(forum: Forum, sessions: list[uuid.UUID], sizes: Sizes, raw_rows_per_s: float) -> dict:
    """The same post requests on the bare stack (tests.bench.bare): the floor of HTTP, Litestar and asyncpg for a
    post's four statements in a transaction; its posts/s, CPU per post, and its own ratio to raw_insert."""
    bare = Service(forum.url, server="bare").wait_ready()
    try:
        result, _, _ = _closed_loop(bare, sizes.write_connections, forum.post_requests(sessions), sizes.write_seconds)
    finally:
        bare.stop()
    rate = result["ok"] / result["seconds"]
    return {
        "bare_stack_posts_per_s": rate,
        "bare_stack_cpu_ms_per_req": round(result["cpu_ms_per_req"], 2),
        "bare_stack_db_cpu_ms_per_req": round(result["db_cpu_ms_per_req"], 2),
        "bare_stack_x_raw": rate / raw_rows_per_s,
    }


def votes(forum: Forum, service: Service, sizes: Sizes) -> Row:
    """Scenario 4 (and 9 with two workers): votes/s through HTTP (closed loop, members changing votes) vs raw_upsert."""
    requests = forum.extra["vote_requests"]
    result, server_cpu, load_cpu = _closed_loop(service, sizes.write_connections, requests, sizes.write_seconds)
    users = [str(forum.seeded.user_ids[u]) for s in forum.groups["realistic"] for u in forum.members[s]]
    conclusions = [str(uuid.uuid4()) for _ in forum.extra["conclusions"]]
    raw, _, raw_cpu = _sql(
        forum,
        "vote",
        UPSERT_VOTE,
        sizes.write_connections,
        sizes.write_seconds,
        users=users,
        conclusions=conclusions,
    )
    row = Row(
        f"4 votes through HTTP{workers_suffix(service)}",
        _figures(result, "votes"),
        baseline="raw_upsert",
        baseline_figures=_figures(raw, "rows"),
        target=">= 0.1 x raw_upsert",
    )
    row.ratio = row.figures["votes_per_s"] / row.baseline_figures["rows_per_s"]
    row.stack = ran_on(row, service)
    return stamp(stamp(row, server_cpu, load_cpu), 0.0, raw_cpu)


def two_workers(forum: Forum, sizes: Sizes, votes_too: bool, latency_too: bool) -> list[Row]:
    """Scenario 9: scenarios 3 and 4 again on `deliberation serve --workers 2` (the default here: one per core), and
    scenario 2 when `latency_too` (`--two-worker-latency`: about a minute of a full run)."""
    service = Service(forum.url, workers=2, **live.BENCH_SETTINGS).wait_ready()
    try:
        rows = [posts(forum, service, sizes), *([votes(forum, service, sizes)] if votes_too else [])]
        if latency_too:
            rows.append(live.realistic(forum, service, sizes))
            rows[-1].stack = ran_on(rows[-1], service)
        return rows
    finally:
        service.stop()


GROWTH = (100, 100_000)  # posts already in the threads of scenario 10


def growth(forum: Forum, service: Service, sizes: Sizes) -> Row:
    """Scenario 10: server CPU per post in a thread of 100 posts and in one of 100,000 (closed loop each)."""
    figures, cpu = {}, []
    for session, size in zip(forum.groups["growth"], GROWTH, strict=True):
        result, server_cpu, load_cpu = _closed_loop(
            service, sizes.write_connections, forum.post_requests([session]), sizes.write_seconds
        )
        figures[f"cpu_ms_per_post_at_{size}"] = round(result["cpu_ms_per_req"], 2)
        figures[f"statements_per_post_at_{size}"] = round(result["statements_per_req"], 2)
        figures[f"posts_per_s_at_{size}"] = result["ok"] / result["seconds"]
        cpu.append(result["cpu_ms_per_req"])
    row = Row("10 cpu per post, thread of 100 vs 100,000 posts", figures, target="flat (ratio ~1)")
    row.ratio = cpu[1] / cpu[0]
    return stamp(row, server_cpu, load_cpu)


def big_thread(forum: Forum, service: Service, sizes: Sizes) -> Row:
    """Scenario 8: the first page (50 roots with every reply) of a 10,000-post thread, one reader at a time."""
    session = forum.groups["read"][0]
    token = forum.token(forum.members[session][0])
    requests = [("GET", f"/api/threads/{forum.threads[session]}/posts", token, b"")]
    load = Load([write_spec(service, 1, requests)], [service])
    load.measure()
    (result,) = load.results(duration=120, count=sizes.thread_reads, start=time.time() + 0.3, timeout=180)
    latency = merged([result])
    server_cpu, load_cpu = load.cpu()
    row = Row(
        f"8 first page of a {forum.extra['thread_posts']}-post thread",
        {
            "posts_on_page": forum.extra["page_posts"],
            "p50_ms": ms(latency.percentile(50)),
            "p95_ms": ms(latency.percentile(95)),
            "reads": latency.n,
        },
    )
    return stamp(row, server_cpu, load_cpu)
