"""How threads and posts are shown, and the locks and checks every thread action shares.

Lock order: every write in a session first takes the session row (`lock_session`), then reads what it
changes. `emit` needs that row anyway, so this serializes nothing more; it gives one lock order (no
deadlocks between, say, a reaction and a hide), makes each check-then-write atomic (a post cannot slip into
a thread being locked), and makes `posts.seq` follow commit order within a session. Permissions are checked
before taking the row (a refused caller never queues behind the session's writers) and again under it, where
the answer counts.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from deliberation.accounts.models import User
from deliberation.accounts.schemas import AuthorRef
from deliberation.errors import Conflict, Invalid, NotFound
from deliberation.forum.access import membership_role
from deliberation.forum.models import Role, Session, Thread
from deliberation.settings import Settings
from deliberation.threads.models import Post, Reaction
from deliberation.threads.schemas import REACTION_KINDS, Hidden, PostOut, Reactions, ThreadOut


def thread_out(thread: Thread) -> ThreadOut:
    return ThreadOut(
        id=thread.id,
        session_id=thread.session_id,
        title=thread.title,
        body=thread.body,
        locked=thread.locked,
        pinned=thread.pinned,
        post_count=thread.post_count,
        created_at=thread.created_at,
    )


def post_out(post: Post, author: User, *, reveal: bool = False, mine: Iterable[str] = ()) -> PostOut:
    """A post as a viewer sees it. `reveal`: the viewer may read a hidden body (its author, moderators).

    With the defaults this is the public view that events carry: no hidden body, no `my_reactions`.
    """
    body, mine = post.body, set(mine)
    if post.deleted_at is not None or (post.hidden_reason is not None and not reveal):
        body = ""
    return PostOut(
        id=post.id,
        thread_id=post.thread_id,
        parent_id=post.parent_id,
        author=AuthorRef(id=author.id, display_name=author.display_name, actor_type=author.actor_type),
        body=body,
        created_at=post.created_at,
        edited_at=post.edited_at,
        deleted=post.deleted_at is not None,
        hidden=Hidden(reason=post.hidden_reason) if post.hidden_reason is not None else None,
        reactions=Reactions(agree=post.agree_count, disagree=post.disagree_count, insightful=post.insightful_count),
        my_reactions=[kind for kind in REACTION_KINDS if kind in mine],
        reply_count=post.reply_count,
        depth=post.depth,
    )


def posts_with_authors() -> Select[tuple[Post, User]]:
    return select(Post, User).join(User, User.id == Post.author_id)


async def my_reactions(db: AsyncSession, user: User, condition: ColumnElement[bool]) -> dict[uuid.UUID, set[str]]:
    """The user's reactions to the posts matching `condition` (a where clause on Post), by post id."""
    rows = await db.execute(
        select(Reaction.post_id, Reaction.kind)
        .join(Post, Post.id == Reaction.post_id)
        .where(Reaction.user_id == user.id, condition)
    )
    mine: dict[uuid.UUID, set[str]] = {}
    for post_id, kind in rows:
        mine.setdefault(post_id, set()).add(kind)
    return mine


async def viewer_post_out(db: AsyncSession, post: Post, user: User, *, moderator: bool) -> PostOut:
    """One post as `user` sees it (their reactions included)."""
    author = await db.get(User, post.author_id)
    assert author is not None  # posts.author_id is a foreign key
    mine = (await my_reactions(db, user, Post.id == post.id)).get(post.id, ())
    return post_out(post, author, reveal=moderator or post.author_id == user.id, mine=mine)


async def public_post_out(db: AsyncSession, post: Post) -> PostOut:
    """The public view of a post, as events carry it."""
    author = await db.get(User, post.author_id)
    assert author is not None
    return post_out(post, author)


async def is_moderator(db: AsyncSession, session_id: uuid.UUID, user: User) -> bool:
    """Admins moderate every session; others when their role in it says so."""
    return user.is_admin or await membership_role(db, session_id, user) == Role.moderator


# A permission check on a session (e.g. `require_member`), run before taking its row and again under it.
SessionCheck = Callable[[uuid.UUID], Awaitable[object]]
# The same for a post, given the post as read before the lock (author checks; its session is `post.session_id`).
PostCheck = Callable[[Post], Awaitable[object]]


async def lock_session(db: AsyncSession, session_id: uuid.UUID, check: SessionCheck | None = None) -> Session:
    """Take the session row (FOR NO KEY UPDATE, what `emit` takes too) and return it fresh.

    `check` runs first, so a refused caller never queues behind the session's writers, and again under the
    lock, where it is authoritative (a membership may have ended while this request waited).
    """
    if check is not None:
        await check(session_id)
    session = await db.scalar(
        select(Session)
        .where(Session.id == session_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    if session is None:
        raise NotFound("No such session.")
    if check is not None:
        await check(session_id)
    return session


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


def ensure_discussion_open(session: Session, thread: Thread) -> None:
    """409 unless members may write in the thread now."""
    if not session.discussion_open:
        raise Conflict("The discussion of this session is closed.")
    if thread.locked:
        raise Conflict("This thread is locked.")


def ensure_not_deleted(post: Post) -> None:
    if post.deleted_at is not None:
        raise Conflict("This post has been deleted.")


def check_text(field: str, value: str) -> str:
    """422 for text PostgreSQL cannot store (NUL characters)."""
    if "\x00" in value:
        raise Invalid.field(field, "must not contain NUL characters")
    return value


def check_body(body: str, settings: Settings) -> str:
    """A post body as written: not blank, no NUL, at most `max_post_length` characters (422 otherwise)."""
    check_text("body", body)
    if not body.strip():
        raise Invalid.field("body", "must not be empty")
    if len(body) > settings.max_post_length:
        raise Invalid.field("body", f"must be at most {settings.max_post_length} characters")
    return body


def check_reason(reason: str | None, *, required: bool) -> str | None:
    """A moderation reason (public): trimmed, None when blank; 422 when required and missing."""
    reason = check_text("reason", reason).strip() if reason is not None else ""
    if required and not reason:
        raise Invalid.field("reason", "a public reason is required")
    return reason or None
