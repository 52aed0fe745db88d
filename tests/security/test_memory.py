"""Password hashing has a memory bound: 40 concurrent sign-ins against a real `deliberation serve` process.

Each argon2 check takes 64 MiB; without a bound, 40 at once took the process from 150 MiB to 1.4 GiB. The
process's resident memory (psutil, the service and any children) is sampled while they run.
"""

from __future__ import annotations

import asyncio
import threading

import httpx
import psutil

from deliberation.accounts.models import User
from deliberation.db.engine import create_engine, create_sessionmaker
from tests.factories import PASSWORD, password_hash
from tests.security.conftest import fresh_database, services

SIGN_INS = 40
MIB = 1024 * 1024


def resident(process: psutil.Process) -> int:
    try:
        return sum(p.memory_info().rss for p in (process, *process.children(recursive=True)))
    except psutil.Error:
        return 0


class PeakSampler(threading.Thread):
    """The highest resident memory of a process while it runs (sampled every few milliseconds)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process, self.peak, self.done = psutil.Process(pid), 0, threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.005):
            self.peak = max(self.peak, resident(self.process))


async def test_forty_concurrent_sign_ins_stay_under_400_mib_more_than_idle(create_database):
    async with fresh_database(create_database) as url:
        engine = create_engine(url)
        try:
            async with create_sessionmaker(engine)() as db, db.begin():
                emails = [f"memory-{n}@example.org" for n in range(SIGN_INS + 1)]
                db.add_all(User(email=e, password_hash=password_hash(), display_name="M") for e in emails)
        finally:
            await engine.dispose()
        limits = {"login_max_failures_per_address": 1000}  # 40 at once from one address are not guesses here
        async with services(url, **limits) as (service,), httpx.AsyncClient(base_url=service.url, timeout=60) as client:
            warm = await client.post("/api/auth/login", json={"email": emails[-1], "password": PASSWORD})
            assert warm.status_code == 200
            idle = resident(psutil.Process(service.process.pid))
            sampler = PeakSampler(service.process.pid)
            sampler.start()
            answers = await asyncio.gather(
                *(client.post("/api/auth/login", json={"email": e, "password": PASSWORD}) for e in emails[:SIGN_INS])
            )
            sampler.done.set()
            sampler.join()
    statuses = [answer.status_code for answer in answers]
    assert set(statuses) <= {200, 503} and 200 in statuses, statuses
    assert all(answer.headers["retry-after"] for answer in answers if answer.status_code == 503)
    grown = (sampler.peak - idle) / MIB
    print(f"idle {idle / MIB:.0f} MiB, peak {sampler.peak / MIB:.0f} MiB, {statuses.count(503)} answered 503")
    assert grown < 400, f"resident memory grew by {grown:.0f} MiB"
