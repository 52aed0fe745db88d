"""Load processes: websocket listeners and HTTP writers, several asyncio clients per process.

The coordinator starts workers with a spec, waits for each to report "ready", sends "go" with parameters,
and collects one result per worker. Every phase is bounded in time.

Listener spec: {"role": "listen", "host", "port", "clients": [(session, token, after | None)], "latency": bool,
  "batch": bool} go: {"final": {session: last_seq}, "timeout": s}; result: per-session completeness, violations,
  latencies, websocket messages and frames received, their bytes, the `online` counts the clients' last presence
  frames said.
Writer spec: {"role": "write", "host", "port", "connections": n, "requests": [(method, path, token, body)]}
  go: {"rate": per-second | None (closed loop), "duration": s, "start": wall-clock time}; result: counts, latencies.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import time
from collections import Counter
from typing import Any

from tests.bench.wire import Histogram, HttpConnection, LiveClient

CONNECT_CONCURRENCY = 50
STACK = "uvloop, wire.py's own HTTP/1.1 and websocket parsing"  # what every load process runs on


class _Pipe:
    """The worker's end: every result carries the process's CPU seconds so far and when it was sent."""

    def __init__(self, pipe) -> None:
        self.pipe = pipe

    def send(self, message: tuple) -> None:
        if message[0] == "result":
            message[1].update(cpu_total=_cpu(), at=time.monotonic())
        self.pipe.send(message)

    def recv(self) -> Any:
        return self.pipe.recv()


def raise_fd_limit(wanted: int = 20000) -> None:
    """Raise this process's soft open-file limit toward `wanted` (bounded by the hard limit)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def worker_main(spec: dict[str, Any], pipe) -> None:
    """Entry point of a load process. It imports this module and wire.py, not the service: a spawn then costs about
    0.1 s of CPU, where tests.bench.infra's imports cost 0.9 s in each of a full run's dozens of load processes."""
    raise_fd_limit()
    import uvloop  # a dependency: the load runs on the loop the service runs on, or not at all

    uvloop.install()
    pipe = _Pipe(pipe)
    role = {"listen": _listen, "write": _write, "sql": _sql, "catchup": _catchup}[spec["role"]]
    try:
        asyncio.run(role(spec, pipe))
    except Exception as exc:  # reported to the coordinator, which fails the run loudly
        pipe.send(("error", f"{type(exc).__name__}: {exc}"))


async def _recv(pipe) -> Any:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, pipe.recv)


def _cpu() -> float:
    times = os.times()
    return times.user + times.system


async def _listen(spec: dict[str, Any], pipe) -> None:
    latency = Histogram() if spec.get("latency") else None
    clients: list[LiveClient] = []
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    connect_started = time.monotonic()

    async def connect(session: str, token: str, after: int | None) -> None:
        async with gate:
            for attempt in range(5):
                try:
                    client = await LiveClient.connect(
                        spec["host"], spec["port"], session, token, after=after, latency=latency, batch=spec["batch"]
                    )
                    await asyncio.wait_for(asyncio.shield(client.hello), 60)
                    clients.append(client)
                    return
                except (ConnectionError, OSError, TimeoutError):
                    if attempt == 4:
                        raise
                    await asyncio.sleep(0.2 * (attempt + 1))

    await asyncio.gather(*(connect(*client) for client in spec["clients"]))
    pipe.send(("ready", {"clients": len(clients), "connect_seconds": time.monotonic() - connect_started}))
    go = await _recv(pipe)
    if go is None:
        return
    cpu0, t0 = _cpu(), time.monotonic()
    final: dict[str, int] = go["final"]
    deadline = time.monotonic() + go["timeout"]
    while time.monotonic() < deadline:
        if all(client.last >= final[client.session] or client.closed_code for client in clients):
            break
        await asyncio.sleep(0.02)
    cpu = _cpu() - cpu0
    incomplete = Counter()
    for client in clients:
        if client.last != final[client.session] or client.closed_code or client.violations:
            incomplete[client.session] += 1
    result = {
        "clients": len(clients),
        "events": sum(client.events for client in clients),
        "expected": sum(final[client.session] - client.after for client in clients),
        "violations": sum(client.violations for client in clients),
        "messages": sum(client.messages for client in clients),
        "frames": sum(client.frames for client in clients),
        "bytes": sum(client.bytes for client in clients),
        "online": sorted({client.online for client in clients if client.online is not None}),
        "closed": dict(Counter(client.closed_code for client in clients if client.closed_code)),
        "incomplete": sum(incomplete.values()),
        "first_at": min((client.first_at for client in clients if client.first_at), default=0.0),
        "last_at": max((client.last_at for client in clients), default=0.0),
        "latency": latency,
        "cpu_seconds": cpu,
        "seconds": time.monotonic() - t0,
    }
    for client in clients:
        client.close()
    await asyncio.sleep(0.1)
    pipe.send(("result", result))


async def _write(spec: dict[str, Any], pipe) -> None:
    connections = [await HttpConnection(spec["host"], spec["port"]).open() for _ in range(spec["connections"])]
    requests = spec["requests"]
    pipe.send(("ready", {"connections": len(connections)}))
    go = await _recv(pipe)
    if go is None:
        return
    await asyncio.sleep(max(0.0, go["start"] - time.time()))
    latency = Histogram()
    statuses: Counter = Counter()
    free: asyncio.Queue[HttpConnection] = asyncio.Queue()
    for connection in connections:
        free.put_nowait(connection)
    rate, duration = spec.get("rate"), go["duration"]
    cpu0, t0 = _cpu(), time.monotonic()
    end = t0 + duration
    expected = {"POST": {201}, "PUT": {200, 204}, "GET": {200}}  # a vote answers 200, a reaction 204

    async def one(connection: HttpConnection, index: int) -> None:
        method, path, token, body = requests[index % len(requests)]
        started = time.monotonic()
        try:
            status, _ = await connection.request(method, path, token, body)
        except (ConnectionError, OSError, asyncio.IncompleteReadError) as exc:
            statuses[type(exc).__name__] += 1
            connection.close()
            connection.writer = None
        else:
            statuses[status] += 1
            if status in expected[method]:
                latency.add(time.monotonic() - started)
        finally:
            free.put_nowait(connection)

    tasks: set[asyncio.Task] = set()
    index = 0
    limit, taken = go.get("count"), [0]
    if rate is None:  # closed loop: every connection sends its next request as soon as the last one is answered

        async def loop_on(connection: HttpConnection, offset: int) -> None:
            count = 0
            while time.monotonic() < end and (limit is None or taken[0] < limit):
                taken[0] += 1
                await one(connection, offset + count * len(connections))
                count += 1

        await asyncio.gather(*(loop_on(connection, i) for i, connection in enumerate(connections)))
        index = sum(statuses.values())
    else:  # open loop at a fixed rate; a request waits for a free connection if the server falls behind
        total = int(rate * duration)
        while index < total and time.monotonic() < end + 5:
            delay = t0 + index / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            connection = await free.get()
            task = asyncio.create_task(one(connection, index))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            index += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*tasks), 30)
    elapsed = time.monotonic() - t0
    for connection in connections:
        connection.close()
    pipe.send(
        (
            "result",
            {
                "sent": index,
                "statuses": {str(k): v for k, v in statuses.items()},
                "ok": latency.n,
                "latency": latency,
                "seconds": elapsed,
                "cpu_seconds": _cpu() - cpu0,
            },
        )
    )


async def _sql(spec: dict[str, Any], pipe) -> None:
    """Straight SQL with asyncpg: one statement per transaction (autocommit), closed loop per connection."""
    import asyncpg

    from tests.bench.baselines import SQL_ARGS

    connections = [await asyncpg.connect(spec["dsn"]) for _ in range(spec["connections"])]
    make_args = SQL_ARGS[spec["shape"]](spec)
    pipe.send(("ready", {"connections": len(connections)}))
    go = await _recv(pipe)
    latency = Histogram()
    cpu0, t0 = _cpu(), time.monotonic()
    end = t0 + go["duration"]

    async def loop_on(connection) -> None:
        while time.monotonic() < end:
            started = time.monotonic()
            await connection.execute(spec["statement"], *make_args())
            latency.add(time.monotonic() - started)

    await asyncio.gather(*(loop_on(connection) for connection in connections))
    elapsed = time.monotonic() - t0
    for connection in connections:
        await connection.close()
    pipe.send(("result", {"ok": latency.n, "latency": latency, "seconds": elapsed, "cpu_seconds": _cpu() - cpu0}))


async def _catchup(spec: dict[str, Any], pipe) -> None:
    """Reconnect `repeats` times with `after` = last_seq - missed; time until the last missed event arrives."""
    pipe.send(("ready", {}))
    await _recv(pipe)
    latency = Histogram()
    violations = 0
    cpu0 = _cpu()
    for _ in range(spec["repeats"]):
        started = time.time()
        done = asyncio.get_running_loop().create_future()

        def on_event(client: LiveClient, seq: int, now: float, done=done) -> None:
            if seq == spec["final"] and not done.done():
                done.set_result(now)

        client = await LiveClient.connect(
            spec["host"],
            spec["port"],
            spec["session"],
            spec["token"],
            after=spec["final"] - spec["missed"],
            on_event=on_event,
        )
        finished = await asyncio.wait_for(done, 30)
        latency.add(finished - started)
        violations += client.violations + (client.events != spec["missed"])
        client.close()
    pipe.send(("result", {"latency": latency, "violations": violations, "cpu_seconds": _cpu() - cpu0}))


class Workers:
    """A group of load processes started with their specs; ready(), go(), results(), all bounded in time."""

    def __init__(self, specs: list[dict[str, Any]]) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipes = []
        self.processes = []
        for spec in specs:
            mine, theirs = context.Pipe()
            process = context.Process(target=worker_main, args=(spec, theirs), daemon=True)
            process.start()
            self.pipes.append(mine)
            self.processes.append(process)

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self.processes]

    def _expect(self, kind: str, timeout: float) -> list[Any]:
        out = []
        deadline = time.monotonic() + timeout
        for pipe in self.pipes:
            if not pipe.poll(max(0.0, deadline - time.monotonic())):
                raise RuntimeError(f"a load process sent no {kind!r} within {timeout:.0f} s")
            message, payload = pipe.recv()
            if message == "error":
                raise RuntimeError(f"a load process failed: {payload}")
            assert message == kind, (message, payload)
            out.append(payload)
        return out

    def ready(self, timeout: float = 180) -> list[dict]:
        return self._expect("ready", timeout)

    def go(self, **params: Any) -> None:
        for pipe in self.pipes:
            pipe.send(params)

    def results(self, timeout: float = 120) -> list[dict]:
        try:
            return self._expect("result", timeout)
        finally:
            self.close()

    def close(self) -> None:
        for process in self.processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)


def split(items: list, parts: int) -> list[list]:
    """`items` dealt round-robin into `parts` lists."""
    return [items[i::parts] for i in range(parts)]
