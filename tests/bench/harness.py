"""Shared machinery of the scenarios: sizes, the seeded forum, load groups with CPU checks, result rows."""

from __future__ import annotations

import json
import math
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import msgspec
import psutil

from tests.bench.baselines import STACKS
from tests.bench.infra import CpuMeter, Seeded, Service, plain_dsn
from tests.bench.load import STACK, Workers, split
from tests.bench.wire import Histogram

# A load process is saturated when it used this share of one core over a measured phase: it may then be
# what limits the figure, and the run says so.
SATURATED = 0.9
LISTEN_PROCESSES = 2
POST_BODY = msgspec.json.encode(
    {
        "body": "In our municipality the local development agency works because it sits between the council and "
        "the cooperatives; what made it work was a shared budget line and a yearly public review of results."
    }
)


@dataclass(frozen=True)
class Sizes:
    fanout_clients: tuple[int, ...]
    fanout_deliveries: int  # posts per fan-out run = this / clients, so each run delivers about as much
    realistic_sessions: int
    realistic_members: int
    realistic_posts_per_s: int
    realistic_votes_per_s: int
    realistic_seconds: float
    write_connections: int
    write_seconds: float
    idle_clients: int
    catchup_events: int
    catchup_repeats: int
    thread_posts: tuple[int, int]  # chains, depth: chains * (depth + 1) posts
    thread_reads: int
    page_posts: int  # scenario 9: the thread page's posts
    page_rounds: int
    storm_clients: int  # scenario 12: listeners of the session whose post gets `storm_reactions`
    storm_reactions: int  # ... within `storm_seconds`, two kinds by each of storm_reactions / 2 members
    storm_seconds: float
    presence_users: int  # scenario 13: distinct users joining one session at once


FULL = Sizes(
    fanout_clients=(1000, 5000),
    fanout_deliveries=200_000,
    realistic_sessions=100,
    realistic_members=20,
    realistic_posts_per_s=100,
    realistic_votes_per_s=500,
    realistic_seconds=30,
    write_connections=10,
    write_seconds=10,
    idle_clients=10_000,
    catchup_events=1000,
    catchup_repeats=50,
    thread_posts=(196, 50),  # 9,996 posts; 50 roots of 51 posts on the first page
    thread_reads=60,
    page_posts=2000,
    page_rounds=8,
    storm_clients=1000,
    storm_reactions=500,
    storm_seconds=5,
    presence_users=2000,
)
QUICK = Sizes(
    fanout_clients=(100, 300),
    fanout_deliveries=15_000,
    realistic_sessions=5,
    realistic_members=10,
    realistic_posts_per_s=10,
    realistic_votes_per_s=50,
    realistic_seconds=3,
    write_connections=10,
    write_seconds=1,
    idle_clients=300,
    catchup_events=1000,
    catchup_repeats=5,
    thread_posts=(196, 50),
    thread_reads=8,
    page_posts=300,
    page_rounds=3,
    storm_clients=200,
    storm_reactions=100,
    storm_seconds=2,
    presence_users=200,
)


class LostEvents(AssertionError):
    """A client missed, repeated or reordered an event, or was closed by the server: the run fails."""


@dataclass
class Row:
    scenario: str
    figures: dict[str, Any]
    baseline: str | None = None
    baseline_figures: dict[str, Any] = field(default_factory=dict)
    ratio: float | None = None
    target: str = ""
    server_cpu: float = 0.0
    load_cpu_max: float = 0.0
    load_saturated: bool = False
    stack: str = ""  # the event loop and HTTP parser each side ran (service, load, baseline)

    def line(self) -> str:
        figures = ", ".join(f"{k}={_fmt(v)}" for k, v in self.figures.items())
        out = f"[{self.scenario}] {figures}"
        if self.baseline:
            base = ", ".join(f"{k}={_fmt(v)}" for k, v in self.baseline_figures.items())
            out += f" | {self.baseline}: {base} | ratio {_fmt(self.ratio)} (target {self.target})"
        elif self.target:
            out += f" (target {self.target})"
        out += f" | cpu server {self.server_cpu:.2f} load max {self.load_cpu_max:.2f}"
        if self.load_saturated:
            out += "  LOAD SATURATED: the load generator may be the limit"
        if self.stack:
            out += f" | ran on: {self.stack}"
        return out


def workers_suffix(service: Service) -> str:
    """How a row names a service of several workers (scenario 9)."""
    return f", {service.workers} workers" if service.workers > 1 else ""


def ran_on(row: Row, service: Service) -> str:
    """What each side of a row ran on: the service, the load processes, the baseline."""
    parts = [f"service {service.stack}", f"load {STACK}"]
    if row.baseline in STACKS:
        parts.append(f"{row.baseline} {STACKS[row.baseline]}")
    return "; ".join(parts)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        return f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


class Load:
    """Load processes plus CPU meters on them and on the server processes, for one measured phase."""

    def __init__(self, specs: list[dict[str, Any]], servers: list[Service | psutil.Process]) -> None:
        self.workers = Workers(specs)
        self.servers = [
            process
            for server in servers
            for process in (server.processes() if isinstance(server, Service) else [server])
        ]
        clients = sum(len(spec.get("clients", ())) for spec in specs)
        self.ready_info = self.workers.ready(timeout=120 + clients * 0.05)  # connecting 10,000 takes minutes here

    def measure(self) -> Load:
        """Start the CPU meters: the server's here, each load process's from its own counters."""
        self.server_meter = CpuMeter(self.servers).start()
        self.load_start = []
        for pid in self.workers.pids:
            times = psutil.Process(pid).cpu_times()
            self.load_start.append((times.user + times.system, time.monotonic()))
        return self

    def results(self, timeout: float = 180, **go: Any) -> list[dict]:
        """Send go (with `timeout`, the phase's own bound) and collect every result, waiting a little longer."""
        self.workers.go(timeout=timeout, **go)
        self.collected = self.workers.results(timeout + 30)
        return self.collected

    def cpu(self) -> tuple[float, list[float]]:
        """Cores used since measure(): by the servers (until now), by each load process (until its result)."""
        load = []
        for (cpu0, t0), result in zip(self.load_start, self.collected, strict=False):
            elapsed = result["at"] - t0
            load.append((result["cpu_total"] - cpu0) / elapsed if elapsed > 0 else 0.0)
        return self.server_meter.stop(), load


def stamp(row: Row, server_cpu: float, load_cpu: list[float]) -> Row:
    row.server_cpu = max(row.server_cpu, server_cpu)
    row.load_cpu_max = max([row.load_cpu_max, *load_cpu])
    row.load_saturated = row.load_saturated or row.load_cpu_max >= SATURATED
    return row


def merged(results: list[dict], key: str = "latency") -> Histogram:
    histogram = Histogram()
    for result in results:
        if result.get(key) is not None:
            histogram.merge(result[key])
    return histogram


def check_listeners(scenario: str, results: list[dict]) -> dict[str, int]:
    """Every client got every event of its session exactly once, in order, and was not closed: else fail loudly."""
    events = sum(r["events"] for r in results)
    expected = sum(r["expected"] for r in results)
    violations = sum(r["violations"] for r in results)
    incomplete = sum(r["incomplete"] for r in results)
    closed: dict[str, int] = {}
    for r in results:
        for code, count in r["closed"].items():
            closed[str(code)] = closed.get(str(code), 0) + count
    if events != expected or violations or incomplete or closed:
        raise LostEvents(
            f"{scenario}: events lost or out of order: received {events} of {expected}, {violations} out of order,"
            f" {incomplete} clients incomplete, closed by the server: {closed}"
        )
    return {"events": events, "lost": expected - events}


def listen_specs(
    service_or_port: Service | int, clients: list[tuple[str, str, int | None]], *, latency: bool, batch: bool = False
) -> list:
    """Listener processes for these clients; `batch`: they ask for `?batch=true` (several frames a message)."""
    port = service_or_port if isinstance(service_or_port, int) else service_or_port.port
    return [
        {"role": "listen", "host": "127.0.0.1", "port": port, "clients": part, "latency": latency, "batch": batch}
        for part in split(clients, LISTEN_PROCESSES)
        if part
    ]


def write_spec(
    service: Service, connections: int, requests: list[tuple[str, str, str, bytes]], rate: float | None = None
) -> dict[str, Any]:
    """HTTP writers: closed loop on `connections` connections, or open loop at `rate` requests/s."""
    return {
        "role": "write",
        "host": "127.0.0.1",
        "port": service.port,
        "connections": connections,
        "requests": requests,
        "rate": rate,
    }


async def last_seqs(dsn: str, sessions: list[uuid.UUID]) -> dict[str, int]:
    connection = await asyncpg.connect(plain_dsn(dsn))
    try:
        rows = await connection.fetch("SELECT id, last_seq FROM sessions WHERE id = ANY($1)", sessions)
    finally:
        await connection.close()
    return {str(row["id"]): row["last_seq"] for row in rows}


@dataclass
class Forum:
    """What the scenarios share: seeded users, sessions by purpose, the main service."""

    url: str
    seeded: Seeded
    groups: dict[str, list[uuid.UUID]]  # purpose -> sessions
    members: dict[uuid.UUID, list[int]]  # session -> user indexes
    threads: dict[uuid.UUID, uuid.UUID]  # session -> its thread
    clients: dict[uuid.UUID, int] = field(default_factory=dict)  # session -> connections (default: one per member)
    extra: dict[str, Any] = field(default_factory=dict)

    def token(self, user: int) -> str:
        return self.seeded.tokens[user]

    def post_requests(self, sessions: list[uuid.UUID]) -> list[tuple[str, str, str, bytes]]:
        """One request per (session, member) pair, interleaved across sessions."""
        width = max(len(self.members[s]) for s in sessions)
        out = []
        for k in range(width):
            for session in sessions:
                members = self.members[session]
                out.append(
                    (
                        "POST",
                        f"/api/threads/{self.threads[session]}/posts",
                        self.token(members[k % len(members)]),
                        POST_BODY,
                    )
                )
        return out


def write_json(path: str, rows: list[Row], meta: dict[str, Any]) -> None:
    with open(path, "w") as out:
        json.dump({"meta": meta, "rows": [row.__dict__ for row in rows]}, out, indent=2, default=str)


def table(rows: list[Row]) -> str:
    lines = [
        "| scenario | figures | baseline | ratio | target | server cpu | load cpu max |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        figures = ", ".join(f"{k} {_fmt(v)}" for k, v in row.figures.items())
        base = ""
        if row.baseline:
            base = f"{row.baseline}: " + ", ".join(f"{k} {_fmt(v)}" for k, v in row.baseline_figures.items())
        saturated = " (saturated)" if row.load_saturated else ""
        lines.append(
            f"| {row.scenario} | {figures} | {base} | {_fmt(row.ratio) if row.ratio is not None else ''} |"
            f" {row.target} | {row.server_cpu:.2f} | {row.load_cpu_max:.2f}{saturated} |"
        )
    return "\n".join(lines)


def now() -> float:
    return time.time()
