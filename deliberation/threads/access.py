"""How thread actions get at their rows: 404 for unknown ids, and the thread or post read under its session's lock.

Every write in a session first takes the session row (`forum.access.lock_session`), then reads what it changes;
see docs/architecture.md, "Lock order".
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from deliberation.errors import NotFound
from deliberation.forum.access import SessionCheck, lock_session
from deliberation.forum.models import Session, Thread
from deliberation.threads.models import Post

# The same for a post, given the post as read before the lock (author checks; its session is `post.session_id`).
PostCheck = Callable[[Post], Awaitable[object]]


async def get_thread_or_404(db: AsyncSession, thread_id: uuid.UUID) -> Thread:
    thread = await db.get(Thread, thread_id)
    if thread is None:
        raise NotFound("No such thread.")
    return thread


async def get_post_or_404(db: AsyncSession, post_id: uuid.UUID) -> Post:
    post = await db.get(Post, post_id)
    if post is None:
        raise NotFound("No such post.")
    return post


async def lock_thread(db: AsyncSession, thread_id: uuid.UUID, check: SessionCheck) -> tuple[Thread, Session]:
    """The thread, read after taking its session's row (`check`: see `lock_session`)."""
    session_id = await db.scalar(select(Thread.session_id).where(Thread.id == thread_id))
    if session_id is None:
        raise NotFound("No such thread.")
    session = await lock_session(db, session_id, check)
    thread = await db.scalar(select(Thread).where(Thread.id == thread_id).execution_options(populate_existing=True))
    assert thread is not None  # deleting a thread takes the session row too (cascade from the session)
    return thread, session


async def lock_post(db: AsyncSession, post_id: uuid.UUID, check: PostCheck) -> tuple[Post, Thread, Session]:
    """The post and its thread, read after taking their session's row; three statements.

    `check` runs on the post as read before the lock (a refused caller never queues behind the session's
    writers) and again on the post read under it.
    """
    post = await get_post_or_404(db, post_id)
    await check(post)
    session = await lock_session(db, post.session_id)
    post, thread = (
        await db.execute(
            select(Post, Thread)
            .join(Thread, Thread.id == Post.thread_id)
            .where(Post.id == post_id)
            .execution_options(populate_existing=True)
        )
    ).one()  # posts go only with their session (cascade), whose row this transaction holds
    await check(post)
    return post, thread, session
