"""`deliberation serve --workers 2`: each worker is an instance of its own, and a post made through either one
reaches every live stream and the presence list, whichever worker holds it. A real subprocess on its own database;
which worker accepted a connection is read from the workers' sockets (psutil)."""

from __future__ import annotations

import asyncio
import json
import uuid

import anyio
import psutil
import websockets

from deliberation.db.engine import create_engine, create_sessionmaker
from tests.factories import bearer, make_forum_session, make_thread, signed_in
from tests.realtime.frames import checked
from tests.security.conftest import fresh_database, services

SETTINGS = {"post_rate_per_minute": 1_000_000, "conclusion_workers": False}


def serving(supervisor: psutil.Process, port: int) -> set[int]:
    """The supervisor's children that listen on the service's port (not multiprocessing's resource tracker)."""
    found = set()
    for child in supervisor.children():
        try:
            connections = child.net_connections(kind="tcp")
        except psutil.NoSuchProcess:
            continue
        if any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in connections):
            found.add(child.pid)
    return found


def worker_holding(supervisor: psutil.Process, local_port: int) -> int:
    """The pid of the worker whose socket is the server end of the client's connection from `local_port`."""
    for worker in supervisor.children():
        try:
            connections = worker.net_connections(kind="tcp")
        except psutil.NoSuchProcess:  # multiprocessing's helper processes come and go
            continue
        if any(connection.raddr and connection.raddr.port == local_port for connection in connections):
            return worker.pid
    raise LookupError(local_port)


async def accepted_by(supervisor: psutil.Process, local_port: int) -> int:
    with anyio.fail_after(10):
        while True:
            try:
                return worker_holding(supervisor, local_port)
            except LookupError:
                await asyncio.sleep(0.05)


class Pinned:
    """One keep-alive HTTP/1.1 connection, so every request it sends goes to the worker that accepted it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.local_port = writer.get_extra_info("sockname")[1]

    @classmethod
    async def open(cls, port: int) -> Pinned:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def request(self, method: str, path: str, token: str, body: dict | None = None) -> tuple[int, dict]:
        payload = json.dumps(body).encode() if body is not None else b""
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        )
        self.writer.write(head.encode() + payload)
        status = int((await self.reader.readline()).split()[1])
        length = 0
        while (line := await self.reader.readline()) != b"\r\n":
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return status, json.loads(await self.reader.readexactly(length))

    def close(self) -> None:
        self.writer.close()


async def one_on_each(workers: set[int], open_one, where) -> dict[int, object]:
    """Open connections until every worker holds one; {worker pid: connection}; the extra ones are closed."""
    held: dict[int, object] = {}
    with anyio.move_on_after(60):  # a worker still starting accepts nothing yet
        while set(held) != workers:
            connection = await open_one()
            worker = await where(connection)
            if worker in held:
                await close(connection)
                await asyncio.sleep(0.05)
            else:
                held[worker] = connection
        return held
    raise AssertionError(f"in 60 s every connection went to workers {set(held)} of {workers}")


async def close(connection) -> None:
    if isinstance(connection, Pinned):
        connection.close()
    else:
        await connection.close()


async def test_two_workers_share_posts_and_presence_whichever_worker_holds_each_connection(create_database):
    async with fresh_database(create_database) as url, services(url, workers=2, **SETTINGS) as (service,):
        engine = create_engine(url)
        try:
            async with create_sessionmaker(engine)() as db:
                (ana, ana_headers), (ben, ben_headers) = await signed_in(db), await signed_in(db)
                session = await make_forum_session(db, members={ana: "participant", ben: "participant"})
                thread = await make_thread(db, session)
        finally:
            await engine.dispose()
        tokens = {ana.id: ana_headers["Authorization"][7:], ben.id: ben_headers["Authorization"][7:]}
        supervisor = psutil.Process(service.process.pid)
        with anyio.fail_after(60):  # the service answered /ready through one worker; the other may still start
            while len(workers := serving(supervisor, service.port)) < 2:
                await asyncio.sleep(0.1)
        assert len(workers) == 2

        live = f"{service.ws}/api/sessions/{session.id}/live"

        async def stream(user_id: uuid.UUID):
            socket = await websockets.connect(live, additional_headers=bearer(tokens[user_id]), open_timeout=10)
            assert checked(await socket.recv())["type"] == "hello"
            return socket

        def on_worker(connection) -> asyncio.Future:
            port = connection.local_port if isinstance(connection, Pinned) else connection.local_address[1]
            return accepted_by(supervisor, port)

        # Ana's stream on one worker, Ben's on the other; a writer connection on each worker.
        ana_streams = await one_on_each(workers, lambda: stream(ana.id), on_worker)
        first, second = sorted(workers)
        await close(ana_streams.pop(second))
        ben_streams = await one_on_each(workers, lambda: stream(ben.id), on_worker)
        await close(ben_streams.pop(first))
        streams = {"ana": ana_streams[first], "ben": ben_streams[second]}
        writers = await one_on_each(workers, lambda: Pinned.open(service.port), on_worker)
        try:
            for worker, writer in writers.items():
                status, post = await writer.request(
                    "POST", f"/api/threads/{thread.id}/posts", tokens[ana.id], {"body": f"Through worker {worker}"}
                )
                assert status == 201
                for name, socket in streams.items():
                    with anyio.fail_after(10):
                        while True:
                            frame = checked(await socket.recv())
                            if frame["type"] == "event":
                                break
                    assert (frame["event"], frame["data"]["id"]) == ("post.created", post["id"]), name
                # Each worker's presence list has both users, one of whom it does not hold a stream of.
                with anyio.fail_after(10):
                    while True:
                        status, presence = await writer.request(
                            "GET", f"/api/sessions/{session.id}/presence", tokens[ben.id]
                        )
                        assert status == 200
                        if {user["id"] for user in presence["users"]} == {str(ana.id), str(ben.id)}:
                            break
                        await asyncio.sleep(0.1)
        finally:
            for connection in [*writers.values(), *streams.values()]:
                await close(connection)
