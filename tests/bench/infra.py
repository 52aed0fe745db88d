"""The bench's database, its seed rows, `deliberation serve` subprocesses and CPU accounting.

Seed rows are written straight into the tables (one INSERT ... SELECT or executemany each), shaped as the
factories in tests/factories.py make them, so seeding 10,000 users with tokens takes a second or two.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

import asyncpg
import httpx
import psutil
from sqlalchemy.engine import make_url

from deliberation.accounts.auth import hash_token
from deliberation.cli import SERVER_HTTP, SERVER_LOOP, SERVER_WS
from deliberation.db import migrate
from deliberation.db.base import utcnow
from deliberation.db.embedded import EmbeddedPostgres
from tests.bench.servers import SERVERS

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def plain_dsn(url: str) -> str:
    """A URL asyncpg accepts (no `+asyncpg` driver suffix)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def bench_database() -> Iterator[str]:
    """A fresh, migrated database on DELIBERATION_TEST_DATABASE_URL's server (else an embedded one), dropped after."""
    import asyncio

    configured = os.environ.get("DELIBERATION_TEST_DATABASE_URL")
    data_dir = None
    embedded = None
    if configured:
        server_url = configured
    else:
        data_dir = tempfile.mkdtemp(prefix="deliberation-bench-")
        embedded = EmbeddedPostgres(data_dir)
        server_url = embedded.start()
    name = f"deliberation_bench_{os.getpid()}_{secrets.token_hex(3)}"

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect(plain_dsn(server_url))
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    try:
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
        url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
        migrate.upgrade(url)
        try:
            yield url
        finally:
            asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        if embedded is not None:
            embedded.stop()
            shutil.rmtree(data_dir, ignore_errors=True)


@dataclass
class Seeded:
    """Users with bearer tokens, sessions with one thread each, memberships."""

    tokens: list[str] = field(default_factory=list)  # tokens[i] belongs to user i
    user_ids: list[uuid.UUID] = field(default_factory=list)
    sessions: list[uuid.UUID] = field(default_factory=list)
    threads: list[uuid.UUID] = field(default_factory=list)  # threads[j] is in sessions[j]


async def seed(db: asyncpg.Connection, users: int, sessions: int, tag: str) -> Seeded:
    """`users` users (with tokens), `sessions` sessions each with one open thread; nobody is a member yet."""
    now = utcnow()
    out = Seeded()
    out.user_ids = [uuid.uuid4() for _ in range(users)]
    out.tokens = [secrets.token_urlsafe(32) for _ in range(users)]
    await db.executemany(
        "INSERT INTO users (id, email, password_hash, display_name, actor_type, is_admin, created_at)"
        " VALUES ($1, $2, 'x', $3, $4, false, $5)",
        [
            (uid, f"{tag}-{i}@bench.example.org", f"Bench {tag} {i}", ("citizen", "civil_society")[i % 2], now)
            for i, uid in enumerate(out.user_ids)
        ],
    )
    await db.executemany(
        "INSERT INTO access_tokens (id, user_id, token_hash, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)",
        [
            (uuid.uuid4(), uid, hash_token(raw), now + timedelta(days=1), now)
            for uid, raw in zip(out.user_ids, out.tokens, strict=False)
        ],
    )
    line, subline = uuid.uuid4(), uuid.uuid4()
    await db.execute(
        "INSERT INTO thematic_lines (id, number, title, description, created_at) VALUES ($1, $2, 'Bench', '', $3)",
        line,
        f"B{tag}",
        now,
    )
    await db.execute(
        "INSERT INTO sublines (id, line_id, number, title, created_at) VALUES ($1, $2, $3, 'Bench', $4)",
        subline,
        line,
        f"B{tag}.1",
        now,
    )
    out.sessions = [uuid.uuid4() for _ in range(sessions)]
    out.threads = [uuid.uuid4() for _ in range(sessions)]
    await db.executemany(
        "INSERT INTO sessions (id, code, title, subline_id, category, description, starts_at, duration_minutes,"
        " platform, meeting_url, discussion_open, last_seq, created_at)"
        " VALUES ($1, $2, $3, $4, 'round_table', '', $5, 600, 'Zoom', NULL, true, 0, $5)",
        [(sid, f"B{tag}.1.{j}", f"Bench session {j}", subline, now) for j, sid in enumerate(out.sessions)],
    )
    await db.executemany(
        "INSERT INTO threads (id, session_id, title, body, position, locked, pinned, post_count, created_at)"
        " VALUES ($1, $2, 'What works?', '', 0, false, false, 0, $3)",
        [(tid, sid, now) for tid, sid in zip(out.threads, out.sessions, strict=False)],
    )
    return out


async def add_members(db: asyncpg.Connection, pairs: list[tuple[uuid.UUID, uuid.UUID]]) -> None:
    """(session_id, user_id) memberships as participants."""
    await db.executemany(
        "INSERT INTO session_members (session_id, user_id, role, joined_at) VALUES ($1, $2, 'participant', now())"
        " ON CONFLICT DO NOTHING",
        pairs,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Service:
    """`deliberation serve` in a subprocess, as a user starts it, on 127.0.0.1."""

    def __init__(
        self,
        database_url: str,
        *,
        port: int | None = None,
        workers: int = 1,
        profile: str | None = None,
        server: str | None = None,
        **settings: object,
    ) -> None:
        """`server`: one of `tests.bench.servers.SERVERS` instead of `deliberation serve` as it is (scenario 14)."""
        self.workers, self.profile, self.server = workers, profile, server
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {key: value for key, value in os.environ.items() if not key.startswith("DELIBERATION_")}
        env.update(
            DELIBERATION_DATABASE_URL=database_url,
            DELIBERATION_LOG_LEVEL="WARNING",
            DELIBERATION_LOGIN_MAX_FAILURES="100000",
            DELIBERATION_LOGIN_MAX_FAILURES_PER_ADDRESS="100000",
            DELIBERATION_POST_RATE_PER_MINUTE="100000000",  # the load posts far faster than a person may
        )
        env.update({f"DELIBERATION_{key.upper()}": str(value) for key, value in settings.items()})
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the service; closed in stop())
        self.process = subprocess.Popen(
            [
                sys.executable,
                # `--profile PATH`: pyinstrument's text summary of the whole run, written when the service stops.
                *(["-m", "pyinstrument", "-r", "text", "-o", profile] if profile else []),
                *(["-m", "tests.bench.servers", server] if server else ["-c", _SERVE, "serve"]),
                "--port",
                str(self.port),
                "--workers",
                str(workers),
            ],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        self.ps = psutil.Process(self.process.pid)

    @property
    def stack(self) -> str:
        """What `deliberation serve` runs on (named in deliberation.cli, so uvicorn cannot fall back)."""
        server = SERVERS[self.server] if self.server else f"uvicorn ws={SERVER_WS}"
        return f"{server}, {SERVER_LOOP} + {SERVER_HTTP}, {self.workers} worker{'s' if self.workers > 1 else ''}"

    def processes(self) -> list[psutil.Process]:
        """The process and, with several workers, the workers under it: all their CPU is the server's."""
        return [self.ps, *self.ps.children(recursive=True)]

    def wait_ready(self, timeout: float = 60) -> Service:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited with {self.process.returncode}: {self.stderr()}")
            try:
                if httpx.get(f"{self.base}/ready", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError("service did not become ready")

    def stderr(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-3000:]

    def round_trips(self) -> dict[str, float]:
        """`deliberation_db_round_trips_total` by kind, read from /metrics (one worker's: use with one worker)."""
        text = httpx.get(f"{self.base}/metrics", timeout=10).text
        out = {}
        for line in text.splitlines():
            if line.startswith("deliberation_db_round_trips_total{"):
                labels, _, value = line.rpartition(" ")
                out[labels.split('"')[1]] = float(value)
        return out

    def rss(self) -> int:
        return self.ps.memory_info().rss

    def stop(self) -> None:
        if self.process.poll() is None:
            # Ctrl-C under the profiler: it writes its report as the service exits (SIGTERM would not let it).
            self.process.send_signal(signal.SIGINT if self.profile else signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()


# The service's process raises its own open-file limit (10,000 websockets) before uvicorn starts.
_SERVE = (
    "import resource, sys\n"
    "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
    "resource.setrlimit(resource.RLIMIT_NOFILE, (min(20000, hard), hard))\n"
    "from deliberation.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


class CpuMeter:
    """CPU seconds used by some processes between start() and stop(), as a share of one core."""

    def __init__(self, processes: list[psutil.Process]) -> None:
        self.processes = processes

    def _total(self) -> float:
        total = 0.0
        for process in self.processes:
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total

    def start(self) -> CpuMeter:
        self._t0, self._c0 = time.monotonic(), self._total()
        return self

    def stop(self) -> float:
        """Average cores used (1.0 = one core busy the whole time); `self.seconds`: the CPU seconds used."""
        elapsed = time.monotonic() - self._t0
        self.seconds = self._total() - self._c0
        return self.seconds / elapsed if elapsed > 0 else 0.0


class DatabaseMeter(CpuMeter):
    """The CPU PostgreSQL's processes on this machine use (the bench's server is local: 127.0.0.1 or embedded),
    so that a phase says how much of the cores the database itself took. Backends that start during the phase
    are counted, and those that end in it through their postmaster's reaped children's times. A shared server
    counts its other work too."""

    def __init__(self) -> None:
        super().__init__([])

    def _total(self) -> float:
        total = 0.0
        for process in psutil.process_iter(["name"]):
            if process.info["name"] not in ("postgres", "postmaster"):
                continue
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system + times.children_user + times.children_system
        return total
