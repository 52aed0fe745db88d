"""The bare stack: a minimal Litestar app on the service's uvicorn, answering the same post requests as scenario 3.

`python -m tests.bench.servers bare --port P` serves it (`Service(url, server="bare")`). It measures what HTTP,
Litestar and asyncpg cost by themselves for a post's amount of database work, so that scenario 3's distance from
`raw_insert` splits into the stack's floor and our code on it. `POST /api/threads/{thread_id}/posts` (the path the
load already sends) decodes `{"body": ...}` with msgspec and runs, on an asyncpg pool of `DELIBERATION_DB_POOL_SIZE`
connections, in one transaction, four statements as a post does: an advisory lock (the rate's), the thread row
`FOR UPDATE` (the session lock), the row into `bench_raw_posts`, a counter upsert (the thread's count); then
answers 201 with the post as JSON. No token check, no membership, no event, no ORM.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import asyncpg
import msgspec
from litestar import Litestar, get, post

from tests.bench.infra import plain_dsn

LOCK = "SELECT pg_advisory_xact_lock(hashtext($1))"
THREAD = "SELECT id FROM threads WHERE id = $1 FOR UPDATE"
INSERT = (
    "INSERT INTO bench_raw_posts (id, thread_id, session_id, root_id, depth, author_id, body, created_at)"
    " SELECT $1, t.id, t.session_id, $1, 0, $3, $4, $5 FROM threads t WHERE t.id = $2"
)
COUNT = (
    "INSERT INTO bench_raw_counts (thread_id, posts) VALUES ($1, 1)"
    " ON CONFLICT (thread_id) DO UPDATE SET posts = bench_raw_counts.posts + 1"
)
AUTHOR = uuid.UUID(int=0)  # bench_raw_posts has no foreign keys (LIKE copies none)


class PostIn(msgspec.Struct):
    body: str


class PostOut(msgspec.Struct):
    id: uuid.UUID
    thread_id: uuid.UUID
    body: str
    created_at: datetime


def create_app() -> Litestar:
    pools: dict[str, asyncpg.Pool] = {}

    @asynccontextmanager
    async def pool(app: Litestar) -> AsyncIterator[None]:
        dsn = plain_dsn(os.environ["DELIBERATION_DATABASE_URL"])
        size = int(os.environ.get("DELIBERATION_DB_POOL_SIZE", "10"))
        async with asyncpg.create_pool(dsn, min_size=size, max_size=size) as created:
            pools["db"] = created
            yield

    @get("/ready")
    async def ready() -> str:
        return "ready"

    @post("/api/threads/{thread_id:uuid}/posts", status_code=201)
    async def create_post(thread_id: uuid.UUID, data: PostIn) -> PostOut:
        new = PostOut(id=uuid.uuid4(), thread_id=thread_id, body=data.body, created_at=datetime.now(UTC))
        async with pools["db"].acquire() as connection, connection.transaction():
            await connection.execute(LOCK, f"post:{thread_id}")
            await connection.execute(THREAD, thread_id)
            await connection.execute(INSERT, new.id, thread_id, AUTHOR, new.body, new.created_at)
            await connection.execute(COUNT, thread_id)
        return new

    return Litestar([ready, create_post], lifespan=[pool])
