"""The README's first command: `deliberation serve` on the embedded database, stopped and started again.

It runs with two workers, as on a 2-core machine by default: the first worker to start runs the one embedded
PostgreSQL, the other joins it, and the last one to stop stops it."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.netutil import free_port

RECORD_ENTRY = """
from deliberation.audit.service import record
from deliberation.db.base import utcnow
from deliberation.cli import run_with_session
from deliberation.settings import load_settings

async def act(db):
    async with db.begin():
        await record(db, action="test.persisted", target_type="test", now=utcnow())

run_with_session(load_settings(), act)
"""


def postgres_processes(pgdata: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        if process.info["name"] == "postgres" and str(pgdata) in " ".join(process.info["cmdline"] or []):
            found.append(process)
    return found


def wait_ready(base: str, process: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"serve exited with {process.returncode}: {process.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"{base}/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("service did not become ready")


@pytest.fixture
def embedded_env(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("DELIBERATION_")}
    env["DELIBERATION_DATA_DIR"] = str(tmp_path / "data")
    return env


def serve(env: dict[str, str], port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "deliberation.cli", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def stop(process: subprocess.Popen, how: signal.Signals = signal.SIGTERM) -> None:
    """SIGTERM or SIGINT (Ctrl-C): uvicorn shuts down gracefully (lifespan included), then exits."""
    process.send_signal(how)
    assert process.wait(timeout=30) in (0, -how)


def test_serve_on_embedded_database_stops_cleanly_and_keeps_data(embedded_env, tmp_path):
    pgdata = (tmp_path / "data" / "pgdata").resolve()
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    first = serve(embedded_env, port)
    try:
        wait_ready(base, first)
        assert httpx.get(f"{base}/health").status_code == 200
        assert httpx.get(f"{base}/schema/openapi.json").json()["openapi"].startswith("3.")
        # A CLI command joins the running server instead of starting a second one on the same directory.
        subprocess.run([sys.executable, "-c", RECORD_ENTRY], env=embedded_env, check=True, timeout=60)
        verify = subprocess.run(
            [sys.executable, "-m", "deliberation.cli", "audit", "verify"],
            env=embedded_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert verify.returncode == 0, verify.stderr
        assert verify.stdout.startswith("ok: 1 entries")
        running = postgres_processes(pgdata)
        postmasters = [p for p in running if p.ppid() not in {other.pid for other in running}]
        assert len(postmasters) == 1
        assert httpx.get(f"{base}/ready").status_code == 200
    finally:
        stop(first)
    assert postgres_processes(pgdata) == []

    second = serve(embedded_env, port)
    try:
        wait_ready(base, second)
        actions = [item["action"] for item in httpx.get(f"{base}/api/audit").json()["items"]]
        assert actions == ["test.persisted"]
    finally:
        stop(second, signal.SIGINT)  # Ctrl-C stops the embedded PostgreSQL too
    assert postgres_processes(pgdata) == []
