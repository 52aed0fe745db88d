"""Reactions: set in three statements (SQLAlchemy Core), their counts sent as coalesced `reactions.updated` events.

A reaction does not emit an event: in a storm (hundreds of people reacting to one striking post) that would be
one event, and one frame to every client of the session, per reaction. It changes the reaction row, the post's
counter and the post's mark (`post_reaction_marks.dirty`) in one statement, under the session row as every write
in a session. `publish_due_reactions` (a loop in every instance, see conclusions/worker.py) takes the session row,
then clears the session's marks whose last event is at least `interval` old and emits each post's public view as
it is now. Every transaction that touches a mark holds the session row first (reactions, the publisher, hiding
and deleting a post, which drop the mark: their own event carries the counts), so two instances never send one
change twice, and a reaction that commits after the counts were read sets `dirty` again: at most one event per
post per `interval`, and the last counts are always sent.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import msgspec
from sqlalchemy import and_, delete, func, literal, or_, select, true, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from deliberation.accounts.models import User
from deliberation.db.engine import wake_after_commit
from deliberation.db.locks import lock_session_row
from deliberation.errors import Conflict, Forbidden
from deliberation.forum.access import NOT_A_MEMBER
from deliberation.forum.models import Session, SessionMember, Thread
from deliberation.i18n import N_
from deliberation.realtime.events import emit
from deliberation.threads.access import lock_post_as_member
from deliberation.threads.models import Post, Reaction, ReactionMark
from deliberation.threads.presenters import post_out, posts_with_authors
from deliberation.threads.rules import ensure_not_deleted, ensure_writable
from deliberation.threads.schemas import PostOut, ReactionName, Reactions

REACTIONS_MARK = "reactions"  # the name its publisher is woken by (db.engine.wake_after_commit)
_COUNTS = (Post.agree_count, Post.disagree_count, Post.insightful_count)


async def set_reaction(
    db: AsyncSession, post_id: uuid.UUID, user: User, kind: ReactionName, *, present: bool, now: datetime
) -> PostOut:
    """Add (`present`) or remove the user's reaction of `kind` (members); idempotent; the post as the user sees
    it now (its counts and `my_reactions`). Everyone else learns the counts from a coalesced `reactions.updated`.

    The primary key (post, user, kind) decides between racing requests of one user; the counter moves and the
    post is marked only when a row really came or went, in the same statement, so counts equal the rows.
    """
    async with db.begin():
        session_id = await lock_post_as_member(db, post_id, user)
        mine = select(func.array_agg(Reaction.kind)).where(Reaction.post_id == post_id, Reaction.user_id == user.id)
        post, author, locked, discussion_open, role, had = (
            await db.execute(
                posts_with_authors()
                .add_columns(Thread.locked, Session.discussion_open, SessionMember.role, mine.scalar_subquery())
                .join(Thread, Thread.id == Post.thread_id)
                .join(Session, Session.id == Post.session_id)
                .outerjoin(
                    SessionMember, and_(SessionMember.session_id == session_id, SessionMember.user_id == user.id)
                )
                .where(Post.id == post_id)
                .execution_options(populate_existing=True)
            )
        ).one()  # read under the session row, which posts go with
        if not user.is_admin and role is None:
            raise Forbidden(NOT_A_MEMBER)
        ensure_not_deleted(post)
        if post.hidden_reason is not None:
            raise Conflict(N_("This post is hidden by a moderator."))
        ensure_writable(discussion_open=discussion_open, locked=locked)
        counts = (await db.execute(_changing(post, user, kind, present=present, now=now))).one_or_none()
        if counts is not None:
            wake_after_commit(db, REACTIONS_MARK)
    had = set(had or ())
    out = post_out(post, author, mine=had | {kind} if present else had - {kind})
    if counts is None:  # nothing changed: the counts read under the lock are current
        return out
    return msgspec.structs.replace(out, reactions=Reactions(*counts))


def _changing(post: Post, user: User, kind: ReactionName, *, present: bool, now: datetime):
    """One statement: the reaction row inserted or deleted; if it really came or went, the counter moved and the
    post's mark set dirty (made on its first reaction); the new counts returned (no row: nothing changed)."""
    if present:
        row = insert(Reaction).values(post_id=post.id, user_id=user.id, kind=kind, created_at=now)
        changed = row.on_conflict_do_nothing().returning(Reaction.kind).cte("changed")
    else:
        mine = and_(Reaction.post_id == post.id, Reaction.user_id == user.id, Reaction.kind == kind)
        changed = delete(Reaction).where(mine).returning(Reaction.kind).cte("changed")
    did_change = select(changed.c.kind).exists()
    mark = select(literal(post.id, ReactionMark.post_id.type), literal(post.session_id, ReactionMark.session_id.type))
    marked = (
        insert(ReactionMark)
        .from_select(["post_id", "session_id", "dirty"], mark.add_columns(true()).where(did_change))
        .on_conflict_do_update(index_elements=[ReactionMark.post_id], set_={"dirty": True})
        .cte("marked")
    )
    counter = getattr(Post, f"{kind}_count")
    return (
        update(Post)
        .where(Post.id == post.id, did_change)
        .values({counter: counter + (1 if present else -1)})
        .returning(*_COUNTS)
        .add_cte(changed, marked)
        .execution_options(synchronize_session=False)  # the counts come back in its RETURNING
    )


async def publish_due_reactions(db: AsyncSession, *, now: datetime, interval: float) -> bool:
    """Send `reactions.updated` for the posts of one session whose counts changed and whose last event is at least
    `interval` old, with the counts as they are now; False when no post is due."""
    due = and_(
        ReactionMark.dirty,
        or_(ReactionMark.emitted_at.is_(None), ReactionMark.emitted_at <= now - timedelta(seconds=interval)),
    )
    async with db.begin():
        session_id = await db.scalar(
            select(ReactionMark.session_id).where(due).order_by(ReactionMark.emitted_at.asc().nulls_first()).limit(1)
        )
        if session_id is None:
            return False
        # The session row before the marks, as reactions take them: no reaction is in flight while the counts are
        # read; another instance that chose this session too finds its marks clear once it has the row.
        await lock_session_row(db, session_id)
        cleared = (
            update(ReactionMark)
            .where(ReactionMark.session_id == session_id, due)
            .values(dirty=False, emitted_at=now)
            .returning(ReactionMark.post_id)
        )
        post_ids = (await db.scalars(cleared)).all()
        rows = await db.execute(
            posts_with_authors()
            .where(Post.id.in_(post_ids))
            .order_by(Post.seq)
            .execution_options(populate_existing=True)
        )
        for post, author in rows:
            await emit(db, session_id, "reactions.updated", post_out(post, author))
        return True
