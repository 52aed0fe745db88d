"""Thread actions: list, create, read. Lock / pin is moderation (threads.moderation); posts are threads.posts.

Reading needs an account (any signed-in user, member or not); writing is for members, moderating for the
session's moderators and admins. Each public function runs one transaction.
"""

from __future__ import annotations

import uuid

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from deliberation.accounts.models import User
from deliberation.db.engine import read_snapshot
from deliberation.forum.access import get_session_or_404, lock_session, require_moderator
from deliberation.forum.models import Thread
from deliberation.pagination import keyset_page
from deliberation.realtime.events import as_of_seq, emit
from deliberation.threads.access import get_thread_or_404
from deliberation.threads.presenters import thread_out
from deliberation.threads.schemas import ThreadIn, ThreadOut, ThreadPage

# Pinned threads first, then in the order they were made (guiding questions first).
THREAD_ORDER = (case((Thread.pinned, 0), else_=1), Thread.position, Thread.created_at, Thread.id)


async def list_threads(db: AsyncSession, session_id: uuid.UUID, *, cursor: str | None, limit: int) -> ThreadPage:
    """A session's threads, pinned first, then in order of creation."""
    async with db.begin():
        await read_snapshot(db)
        await get_session_or_404(db, session_id)
        rows, next_cursor = await keyset_page(
            db, select(Thread).where(Thread.session_id == session_id), THREAD_ORDER, cursor=cursor, limit=limit
        )
        seq = await as_of_seq(db, session_id)
    return ThreadPage(items=[thread_out(thread) for (thread,) in rows], next_cursor=next_cursor, as_of_seq=seq)


async def create_thread(db: AsyncSession, session_id: uuid.UUID, user: User, data: ThreadIn) -> ThreadOut:
    """A new thread after the session's others (moderators); emits thread.created."""
    async with db.begin():
        await lock_session(db, session_id, lambda session_id: require_moderator(db, session_id, user))
        last = await db.scalar(select(func.max(Thread.position)).where(Thread.session_id == session_id))
        thread = Thread(
            session_id=session_id,
            title=data.title,
            body=data.body,
            position=(last + 1) if last is not None else 0,
            created_by=user.id,
        )
        db.add(thread)
        await db.flush()
        out = thread_out(thread)
        await emit(db, session_id, "thread.created", out)
    return out


async def get_thread(db: AsyncSession, thread_id: uuid.UUID) -> ThreadOut:
    """One thread."""
    async with db.begin():
        return thread_out(await get_thread_or_404(db, thread_id))
