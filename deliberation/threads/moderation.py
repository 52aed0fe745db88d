"""Moderation: moderators lock / pin threads and hide / unhide posts; members flag posts, moderators work the queue.

Hiding keeps the post in its place with a public reason; its body is shown to its author and moderators
only. Every moderator action is written to the audit log in its transaction.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from deliberation.accounts.models import User
from deliberation.accounts.schemas import AuthorRef
from deliberation.audit import service as audit
from deliberation.db.engine import read_snapshot
from deliberation.errors import Conflict, NotFound
from deliberation.forum.access import lock_session, require_member, require_moderator
from deliberation.i18n import N_
from deliberation.pagination import keyset_page
from deliberation.realtime.events import as_of_seq, emit
from deliberation.threads.access import lock_post, lock_thread
from deliberation.threads.models import Flag, FlagStatus, Post
from deliberation.threads.presenters import (
    emit_erasure,
    my_reactions,
    post_out,
    posts_with_authors,
    public_post_out,
    thread_out,
    viewer_post_out,
)
from deliberation.threads.rules import check_reason, ensure_not_deleted
from deliberation.threads.schemas import (
    FlagIn,
    FlagOut,
    FlagPage,
    FlagQueueName,
    FlagResolutionIn,
    FlagsChanged,
    PostModerationIn,
    PostOut,
    ThreadModerationIn,
    ThreadOut,
)

_MODERATION = {
    "lock": ("locked", True, "thread.locked", N_("This thread is already locked.")),
    "unlock": ("locked", False, "thread.unlocked", N_("This thread is already unlocked.")),
    "pin": ("pinned", True, "thread.pinned", N_("This thread is already pinned.")),
    "unpin": ("pinned", False, "thread.unpinned", N_("This thread is already unpinned.")),
}


async def moderate_thread(
    db: AsyncSession, thread_id: uuid.UUID, user: User, data: ThreadModerationIn, *, now: datetime
) -> ThreadOut:
    """Lock, unlock, pin or unpin (moderators); audited, emits thread.updated; 409 when it is so already."""
    reason = check_reason(data.reason, required=False)
    field, value, action, already = _MODERATION[data.action]
    async with db.begin():
        thread, session = await lock_thread(db, thread_id, lambda session_id: require_moderator(db, session_id, user))
        if getattr(thread, field) == value:
            raise Conflict(already)
        setattr(thread, field, value)
        await audit.record(
            db,
            now=now,
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


def _flag_out(flag: Flag, flagger: User, post: PostOut) -> FlagOut:
    return FlagOut(
        id=flag.id,
        post_id=flag.post_id,
        thread_id=post.thread_id,
        session_id=flag.session_id,
        reason=flag.reason,
        note=flag.note,
        flagged_by=AuthorRef(id=flagger.id, display_name=flagger.display_name, actor_type=flagger.actor_type),
        created_at=flag.created_at,
        status=flag.status,
        resolved_at=flag.resolved_at,
        resolution_reason=flag.resolution_note,
        post=post,
    )


async def resolve_open_flags(
    db: AsyncSession, post: Post, user: User, status: FlagStatus, *, reason: str | None, now: datetime
) -> None:
    """Close every open flag on the post (it was hidden or deleted), inside the caller's transaction."""
    closed = await db.execute(
        update(Flag)
        .where(Flag.post_id == post.id, Flag.status == FlagStatus.open.value)
        .values(status=status.value, resolved_at=now, resolved_by=user.id, resolution_note=reason)
        .execution_options(synchronize_session="fetch")
    )
    if closed.rowcount:
        await announce_open_flags(db, post.session_id)


async def announce_open_flags(db: AsyncSession, session_id: uuid.UUID) -> None:
    """Emit `flags.changed` with the session's open-flag count, after a flag was raised or resolved."""
    await db.flush()
    await emit(db, session_id, "flags.changed", FlagsChanged(open_flags=await open_flag_count(db, session_id)))


async def open_flag_count(db: AsyncSession, session_id: uuid.UUID) -> int:
    """How many flags of the session wait for a moderator (inside the caller's transaction)."""
    count = await db.scalar(
        select(func.count()).where(Flag.session_id == session_id, Flag.status == FlagStatus.open.value)
    )
    return count or 0


async def _hide(db: AsyncSession, post: Post, user: User, reason: str, *, now: datetime, data: dict) -> None:
    """Hide a post with a public reason: audited, its open flags closed, post.hidden emitted (no body), and the
    post's earlier events given its hidden view."""
    ensure_not_deleted(post)
    if post.hidden_reason is not None:
        raise Conflict(N_("This post is already hidden."))
    post.hidden_reason, post.hidden_at, post.hidden_by = reason, now, user.id
    await resolve_open_flags(db, post, user, FlagStatus.post_hidden, reason=reason, now=now)
    await audit.record(
        db,
        now=now,
        action="post.hidden",
        target_type="post",
        target_id=post.id,
        actor_id=user.id,
        session_id=post.session_id,
        reason=reason,
        data={"thread_id": post.thread_id, "author_id": post.author_id, **data},
    )
    await db.flush()
    await emit_erasure(db, post, "post.hidden")


async def moderate_post(
    db: AsyncSession, post_id: uuid.UUID, user: User, data: PostModerationIn, *, now: datetime
) -> PostOut:
    """Hide (reason required) or unhide (reason optional) a post (moderators); 409 when it is so already or deleted."""
    reason = check_reason(data.reason, required=data.action == "hide")
    async with db.begin():
        post, _, session = await lock_post(db, post_id, lambda post: require_moderator(db, post.session_id, user))
        if data.action == "hide":
            assert reason is not None
            await _hide(db, post, user, reason, now=now, data={})
        else:
            ensure_not_deleted(post)
            if post.hidden_reason is None:
                raise Conflict(N_("This post is not hidden."))
            post.hidden_reason, post.hidden_at, post.hidden_by = None, None, None
            await audit.record(
                db,
                now=now,
                action="post.unhidden",
                target_type="post",
                target_id=post.id,
                actor_id=user.id,
                session_id=session.id,
                reason=reason,
                data={"thread_id": post.thread_id, "author_id": post.author_id},
            )
            await db.flush()
            await emit(db, session.id, "post.unhidden", await public_post_out(db, post))
        return await viewer_post_out(db, post, user, moderator=True)


async def flag_post(db: AsyncSession, post_id: uuid.UUID, user: User, data: FlagIn, *, now: datetime) -> FlagOut:
    """Report a post to the moderators (members); 409 when deleted, hidden, or already flagged by this user."""
    try:
        async with db.begin():
            post, _, session = await lock_post(db, post_id, lambda post: require_member(db, post.session_id, user))
            ensure_not_deleted(post)
            if post.hidden_reason is not None:
                raise Conflict(N_("This post is already hidden by a moderator."))
            flag = Flag(
                post_id=post.id,
                session_id=session.id,
                user_id=user.id,
                reason=data.reason,
                note=data.note,
                created_at=now,
            )
            db.add(flag)
            await db.flush()
            await announce_open_flags(db, session.id)
            return _flag_out(flag, user, await viewer_post_out(db, post, user, moderator=False))
    except IntegrityError:
        raise Conflict(N_("You have already flagged this post; a moderator will look at it.")) from None


async def list_flags(
    db: AsyncSession,
    session_id: uuid.UUID,
    user: User,
    *,
    status: FlagQueueName = "open",
    cursor: str | None,
    limit: int,
) -> FlagPage:
    """Open (or resolved) flags of a session, oldest first (moderators)."""
    open_ = Flag.status == FlagStatus.open.value
    flagger = aliased(User)
    query = (
        posts_with_authors()
        .add_columns(Flag, flagger)
        .join(Flag, Flag.post_id == Post.id)
        .join(flagger, flagger.id == Flag.user_id)
        .where(Flag.session_id == session_id, open_ if status == "open" else ~open_)
    )
    async with db.begin():
        await read_snapshot(db)
        await require_moderator(db, session_id, user)
        rows, next_cursor = await keyset_page(db, query, (Flag.created_at, Flag.id), cursor=cursor, limit=limit)
        mine = await my_reactions(db, user, Post.id.in_([post.id for post, *_ in rows]))
        seq = await as_of_seq(db, session_id)
    items = [
        _flag_out(flag, flag_user, post_out(post, author, reveal=True, mine=mine.get(post.id, ())))
        for post, author, flag, flag_user in rows
    ]
    return FlagPage(items=items, next_cursor=next_cursor, as_of_seq=seq)


async def resolve_flag(
    db: AsyncSession, flag_id: uuid.UUID, user: User, data: FlagResolutionIn, *, now: datetime
) -> FlagOut:
    """Dismiss a flag, or hide its post (reason required; closes every open flag on it); moderators; audited."""
    reason = check_reason(data.reason, required=data.action == "hide_post")
    async with db.begin():
        session_id = await db.scalar(select(Flag.session_id).where(Flag.id == flag_id))
        if session_id is None:
            raise NotFound(N_("No such flag."))
        await lock_session(db, session_id, lambda session_id: require_moderator(db, session_id, user))
        flag, post = (
            await db.execute(
                select(Flag, Post)
                .join(Post, Post.id == Flag.post_id)
                .where(Flag.id == flag_id)
                .execution_options(populate_existing=True)
            )
        ).one()  # flags and posts go only with their session, whose row this transaction holds
        if flag.status != FlagStatus.open:
            raise Conflict(N_("This flag has been resolved already."))
        if data.action == "hide_post":
            assert reason is not None
            await _hide(db, post, user, reason, now=now, data={"flag_id": flag.id, "flag_reason": flag.reason})
        else:
            flag.status, flag.resolved_at, flag.resolved_by, flag.resolution_note = (
                FlagStatus.dismissed.value,
                now,
                user.id,
                reason,
            )
            await audit.record(
                db,
                now=now,
                action="flag.dismissed",
                target_type="post",
                target_id=post.id,
                actor_id=user.id,
                session_id=session_id,
                reason=reason,
                data={"flag_id": flag.id, "flag_reason": flag.reason},
            )
            await announce_open_flags(db, session_id)
        await db.flush()
        await db.refresh(flag)
        flagger = await db.get(User, flag.user_id)
        assert flagger is not None
        return _flag_out(flag, flagger, await viewer_post_out(db, post, user, moderator=True))
