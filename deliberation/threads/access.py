"""How thread actions get at their rows: 404 for unknown ids, and the thread or post read under its session's lock.

Every write in a session first takes the session row (`forum.access.lock_session`), then reads what it changes;
see docs/architecture.md, "Lock order".
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from functools import cache

from sqlalchemy import Select, bindparam, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from deliberation.accounts.models import User
from deliberation.errors import NotFound
from deliberation.forum.access import SessionCheck, lock_session, require_member
from deliberation.forum.models import Session, SessionMember, Thread
from deliberation.i18n import N_
from deliberation.threads.models import Post

# The same for a post, given the post as read before the lock (author checks; its session is `post.session_id`).
PostCheck = Callable[[Post], Awaitable[object]]


async def get_thread_or_404(db: AsyncSession, thread_id: uuid.UUID) -> Thread:
    thread = await db.get(Thread, thread_id)
    if thread is None:
        raise NotFound(N_("No such thread."))
    return thread


async def get_post_or_404(db: AsyncSession, post_id: uuid.UUID) -> Post:
    post = await db.get(Post, post_id)
    if post is None:
        raise NotFound(N_("No such post."))
    return post


async def lock_thread(db: AsyncSession, thread_id: uuid.UUID, check: SessionCheck) -> tuple[Thread, Session]:
    """The thread, read after taking its session's row (`check`: see `lock_session`)."""
    session_id = await db.scalar(select(Thread.session_id).where(Thread.id == thread_id))
    if session_id is None:
        raise NotFound(N_("No such thread."))
    session = await lock_session(db, session_id, check)
    thread = await db.scalar(select(Thread).where(Thread.id == thread_id).execution_options(populate_existing=True))
    assert thread is not None  # deleting a thread takes the session row too (cascade from the session)
    return thread, session


async def lock_thread_as_member(db: AsyncSession, thread_id: uuid.UUID, user: User) -> uuid.UUID:
    """Take the session row of a thread for a member (or an admin) of its session: one statement on the hot path.

    The membership is part of the locking statement's WHERE clause, read before the lock: a refused caller never
    queues behind the session's writers. It is not authoritative (a membership may end while this waits): the
    caller reads it again under the lock, in its next statement. A miss (404, 403) takes `lock_thread`'s path.
    """
    session_id = await _lock_session_of(db, Thread, thread_id, user)
    if session_id is None:
        _, session = await lock_thread(db, thread_id, lambda session_id: require_member(db, session_id, user))
        session_id = session.id  # joined while this ran: locked now, the slow way
    return session_id


async def lock_post_as_member(db: AsyncSession, post_id: uuid.UUID, user: User) -> uuid.UUID:
    """`lock_thread_as_member` for a post's session (a miss takes `lock_post`'s path: 404, 403)."""
    session_id = await _lock_session_of(db, Post, post_id, user)
    if session_id is None:
        post, _, _ = await lock_post(db, post_id, lambda post: require_member(db, post.session_id, user))
        session_id = post.session_id
    return session_id


async def _lock_session_of(
    db: AsyncSession, subject: type[Thread] | type[Post], subject_id: uuid.UUID, user: User
) -> uuid.UUID | None:
    """Lock the session row of the thread or post `subject_id`, when `user` may write there (a member or an admin,
    as read before the lock); None when there is no such row or the user is not a member."""
    return await db.scalar(_session_locking(subject, user.is_admin), {"subject_id": subject_id, "user_id": user.id})


@cache
def _session_locking(subject: type[Thread] | type[Post], admin: bool) -> Select[tuple[uuid.UUID]]:
    """`_lock_session_of`'s statement, built once per shape (building it cost more CPU than running it)."""
    session_id = subject.session_id
    query = select(session_id).join(Session, Session.id == session_id).where(subject.id == bindparam("subject_id"))
    if not admin:
        member = exists().where(SessionMember.session_id == session_id, SessionMember.user_id == bindparam("user_id"))
        query = query.where(member)
    return query.with_for_update(of=Session, key_share=True)


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
