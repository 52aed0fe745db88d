"""Thread actions: list, create, read, lock / pin; and the reply-tree listing of a thread's posts.

Reading needs an account (any signed-in user, member or not); writing is for members, moderating for the
session's moderators and admins. Each public function runs one transaction.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Select, case, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from deliberation.accounts.models import User
from deliberation.audit import service as audit
from deliberation.errors import BadRequest, Conflict
from deliberation.forum.access import get_session_or_404, require_moderator
from deliberation.forum.models import Thread
from deliberation.pagination import Int32, Seq, paginate
from deliberation.realtime.events import emit
from deliberation.threads.models import Post
from deliberation.threads.schemas import (
    PostOut,
    PostPage,
    SortName,
    ThreadIn,
    ThreadModerationIn,
    ThreadOut,
    ThreadPage,
)
from deliberation.threads.views import (
    check_reason,
    check_text,
    get_thread_or_404,
    is_moderator,
    lock_session,
    lock_thread,
    my_reactions,
    post_out,
    posts_with_authors,
    thread_out,
)

# Pinned threads first, then in the order they were made (guiding questions first).
_THREAD_KEY = (case((Thread.pinned, 0), else_=1), Thread.position, Thread.created_at, Thread.id)
ThreadAfter = tuple[Int32, Int32, datetime, uuid.UUID]
# Cursor of a posts page: (sort, score, seq) of its last top-level post; score is 0 unless sort is "top".
PostAfter = tuple[str, Int32, Seq]

_MODERATION = {
    "lock": ("locked", True, "thread.locked"),
    "unlock": ("locked", False, "thread.unlocked"),
    "pin": ("pinned", True, "thread.pinned"),
    "unpin": ("pinned", False, "thread.unpinned"),
}


async def list_threads(db: AsyncSession, session_id: uuid.UUID, *, after: ThreadAfter | None, limit: int) -> ThreadPage:
    """A session's threads, pinned first, then in order of creation."""
    query = select(Thread).where(Thread.session_id == session_id).order_by(*_THREAD_KEY).limit(limit + 1)
    if after is not None:
        query = query.where(tuple_(*_THREAD_KEY) > tuple_(*after))
    async with db.begin():
        await get_session_or_404(db, session_id)
        rows = (await db.scalars(query)).all()
    threads, next_cursor = paginate(
        rows, limit, lambda last: (0 if last.pinned else 1, last.position, last.created_at, last.id)
    )
    return ThreadPage(items=[thread_out(thread) for thread in threads], next_cursor=next_cursor)


async def create_thread(db: AsyncSession, session_id: uuid.UUID, user: User, data: ThreadIn) -> ThreadOut:
    """A new thread after the session's others (moderators); emits thread.created."""
    check_text("title", data.title)
    check_text("body", data.body)
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


async def moderate_thread(db: AsyncSession, thread_id: uuid.UUID, user: User, data: ThreadModerationIn) -> ThreadOut:
    """Lock, unlock, pin or unpin (moderators); audited, emits thread.updated; 409 when it is so already."""
    reason = check_reason(data.reason, required=False)
    field, value, action = _MODERATION[data.action]
    async with db.begin():
        thread, session = await lock_thread(db, thread_id, lambda session_id: require_moderator(db, session_id, user))
        if getattr(thread, field) == value:
            raise Conflict(f"This thread is already {field if value else 'un' + field}.")
        setattr(thread, field, value)
        await audit.record(
            db,
            action=action,
            target_type="thread",
            target_id=thread.id,
            actor_id=user.id,
            session_id=session.id,
            reason=reason,
        )
        await db.flush()
        out = thread_out(thread)
        await emit(db, session.id, "thread.updated", out)
    return out


def _roots_query(thread_id: uuid.UUID, sort: SortName, after: PostAfter | None) -> Select[tuple[Post, User, int]]:
    """Top-level posts in `sort` order after the cursor, each with its author and the size of its tree."""
    score = Post.agree_count + Post.insightful_count
    in_tree = aliased(Post)
    size = select(func.count()).select_from(in_tree).where(in_tree.root_id == Post.id).scalar_subquery()
    query = posts_with_authors().add_columns(size).where(Post.thread_id == thread_id, Post.parent_id.is_(None))
    if sort == "oldest":
        query = query.order_by(Post.seq)
        if after is not None:
            query = query.where(Post.seq > after[2])
    elif sort == "newest":
        query = query.order_by(Post.seq.desc())
        if after is not None:
            query = query.where(Post.seq < after[2])
    else:
        # Row-value keyset on (-score, seq): one range of ix_posts_thread_top, however deep the page.
        query = query.order_by(-score, Post.seq)
        if after is not None:
            query = query.where(tuple_(-score, Post.seq) > tuple_(-after[1], after[2]))
    return query


async def list_posts(
    db: AsyncSession,
    thread_id: uuid.UUID,
    user: User,
    *,
    sort: SortName,
    after: PostAfter | None,
    limit: int,
    max_posts: int,
) -> PostPage:
    """A page of top-level posts, each with its whole reply tree; five queries whatever the depth.

    The page stops taking roots before its posts (replies included) would exceed `max_posts`, but it holds
    at least one root; the cursor then continues after the last root returned.

    Roots are ordered by `sort`; replies under each post oldest first. Keyset cursors: posts arriving while a
    client pages never shift the pages (new roots sort after every cursor for oldest and top, before it for
    newest). "top" is agree + insightful reactions, most first, ties oldest first.
    """
    if after is not None and after[0] != sort:
        raise BadRequest("This cursor belongs to another sort order; start again without it.")
    async with db.begin():
        thread = await get_thread_or_404(db, thread_id)
        moderator = await is_moderator(db, thread.session_id, user)
        roots = (await db.execute(_roots_query(thread_id, sort, after).limit(limit + 1))).all()
        taken = total = 0
        for *_, size in roots[:limit]:
            if taken and total + size > max_posts:
                break
            taken, total = taken + 1, total + size
        page, next_cursor = paginate(roots, taken, lambda root: _post_cursor(sort, root[0]))
        root_ids = [post.id for post, _, _ in page]
        replies = (
            await db.execute(
                posts_with_authors()
                .where(Post.root_id.in_(root_ids), Post.parent_id.is_not(None))
                .order_by(Post.depth, Post.seq)
            )
        ).all()
        mine = await my_reactions(db, user, Post.root_id.in_(root_ids))
    nodes: dict[uuid.UUID, PostOut] = {}
    items = []
    # Depth order puts every parent before its replies whatever their seqs; seq orders siblings oldest first.
    for post, author in [*((post, author) for post, author, _ in page), *replies]:
        out = post_out(post, author, reveal=moderator or post.author_id == user.id, mine=mine.get(post.id, ()))
        out.replies = []
        nodes[post.id] = out
        if post.parent_id is None:
            items.append(out)
        else:
            nodes[post.parent_id].replies.append(out)  # type: ignore[union-attr]
    return PostPage(items=items, next_cursor=next_cursor)


def _post_cursor(sort: str, last: Post) -> tuple[str, int, int]:
    """The keyset of a root post in `sort` order: (sort, score, seq); "top" scores agree + insightful."""
    return sort, last.agree_count + last.insightful_count if sort == "top" else 0, last.seq
