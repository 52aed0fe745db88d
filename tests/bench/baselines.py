"""Raw baselines measured in the same run: a bare `websockets` broadcaster and straight asyncpg SQL.

raw_ws: `python -m tests.bench.baselines PORT FRAME_FILE` serves websockets on 127.0.0.1:PORT; every client
gets a hello, and on "go M" (stdin) the server broadcasts M pre-encoded event frames, shaped and sized like
the service's post.created frame (seq 1..M), with `websockets.broadcast`, then prints "done".
"""

from __future__ import annotations

import asyncio
import random
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec

RAW_TABLES = """
CREATE TABLE IF NOT EXISTS bench_raw_posts (LIKE posts INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING CONSTRAINTS
  INCLUDING INDEXES);
CREATE TABLE IF NOT EXISTS bench_raw_votes (LIKE conclusion_votes INCLUDING DEFAULTS INCLUDING IDENTITY
  INCLUDING CONSTRAINTS INCLUDING INDEXES);
CREATE TABLE IF NOT EXISTS bench_raw_counts (thread_id uuid PRIMARY KEY, posts integer NOT NULL);
"""

INSERT_POST = (
    "INSERT INTO bench_raw_posts (id, thread_id, session_id, root_id, depth, author_id, body, created_at)"
    " VALUES ($1, $2, $3, $1, 0, $4, $5, $6)"
)
UPSERT_VOTE = (
    "INSERT INTO bench_raw_votes (conclusion_id, user_id, choice, version, actor_type, cast_at)"
    " VALUES ($1, $2, $3, 1, 'citizen', $4)"
    " ON CONFLICT (conclusion_id, user_id) DO UPDATE SET choice = excluded.choice, version = excluded.version,"
    " cast_at = excluded.cast_at"
)
POST_BODY = (
    "In our municipality the local development agency works because it sits between the council and the "
    "cooperatives; what made it work was a shared budget line and a yearly public review of results."
)


def _post_args(spec: dict[str, Any]):
    thread, session, author = (uuid.UUID(value) for value in spec["ids"][:3])

    def make() -> tuple:
        return uuid.uuid4(), thread, session, author, POST_BODY, datetime.now(UTC)

    return make


def _vote_args(spec: dict[str, Any]):
    conclusions = [uuid.UUID(value) for value in spec["conclusions"]]
    users = [uuid.UUID(value) for value in spec["users"]]

    def make() -> tuple:
        return (
            random.choice(conclusions),
            random.choice(users),
            random.choice(("support", "oppose", "abstain")),
            datetime.now(UTC),
        )

    return make


SQL_ARGS = {"post": _post_args, "vote": _vote_args}

# What each baseline runs on, for the bench lines (`uvloop.install()` is required, never tried).
STACKS = {
    "raw_ws": "websockets on uvloop",
    "raw_insert": "asyncpg on uvloop",
    "raw_upsert": "asyncpg on uvloop",
    "bare_stack": "a bare Litestar app on uvicorn, uvloop + httptools, 1 worker, asyncpg pool",
}


async def _serve(port: int, frame: dict[str, Any]) -> None:
    from websockets.asyncio.server import broadcast, serve

    clients: set = set()
    hello = msgspec.json.encode({"type": "hello", "session_id": str(uuid.uuid4()), "last_seq": 0}).decode()

    async def handler(connection) -> None:
        await connection.send(hello)
        clients.add(connection)
        try:
            await connection.wait_closed()
        finally:
            clients.discard(connection)

    async with serve(handler, "127.0.0.1", port, compression=None, max_queue=16):
        print("listening", flush=True)
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line or line.strip() == "quit":
                return
            count = int(line.split()[1])
            frames = [msgspec.json.encode({**frame, "seq": seq}).decode() for seq in range(1, count + 1)]
            for text in frames:
                broadcast(clients, text)
                await asyncio.sleep(0)  # let the transports write, as the service's writer tasks do
            print("done", flush=True)


if __name__ == "__main__":
    with open(sys.argv[2]) as source:
        template = msgspec.json.decode(source.read())
    import uvloop  # a dependency (uvicorn[standard]): never a silent fallback to asyncio's loop

    uvloop.install()
    asyncio.run(_serve(int(sys.argv[1]), template))
