"""Post actions: list a thread's reply trees, write, read, edit (keeping revisions), delete (a tombstone).

Reactions are in reactions.py.

Each public function runs one transaction; every change emits its event with the post's public view.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from functools import cache

import msgspec
from sqlalchemy import Insert, Row, Select, and_, bindparam, delete, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from deliberation.accounts import throttle
from deliberation.accounts.models import User
from deliberation.audit import service as audit
from deliberation.db.engine import read_snapshot
from deliberation.errors import BadRequest, Conflict, Forbidden, Invalid, NotFound
from deliberation.forum.access import NOT_A_MEMBER, is_moderator, require_member
from deliberation.forum.models import Session, SessionMember, Thread
from deliberation.i18n import N_
from deliberation.pagination import Int32, Seq, decode_cursor, encode_cursor, keyset_page, paginate
from deliberation.realtime.events import as_of_seq, emit, event_statement
from deliberation.settings import Settings
from deliberation.threads.access import get_post_or_404, get_thread_or_404, lock_post, lock_thread_as_member
from deliberation.threads.models import FlagStatus, Post, PostRevision
from deliberation.threads.moderation import resolve_open_flags
from deliberation.threads.presenters import (
    emit_erasure,
    my_reactions,
    post_out,
    posts_with_authors,
    public_post_out,
    viewer_post_out,
)
from deliberation.threads.rules import (
    check_body,
    check_reason,
    ensure_discussion_open,
    ensure_not_deleted,
    ensure_writable,
)
from deliberation.threads.schemas import (
    PostEventOut,
    PostIn,
    PostOut,
    PostPage,
    RevisionList,
    RevisionOut,
    SortName,
)

POST_RATE_SCOPE = "post"

# Cursor of a posts page: (sort, score, seq) of its last top-level post; score is 0 unless sort is "top".
PostAfter = tuple[str, Int32, Seq]


async def create_post(
    db: AsyncSession, thread_id: uuid.UUID, user: User, data: PostIn, *, settings: Settings, now: datetime
) -> PostOut:
    """A post, or a reply to `parent_id` (members; 409 locked or closed; 404 parent not in this thread; 429 rate).

    The hot path in SQLAlchemy Core, four statements: the rate, the session row, what the post depends on (read
    under the lock), and one statement writing the post, the counters, the seq and the event.
    """
    body = check_body(data.body, settings)
    async with db.begin():
        # Counted before the session row is taken: a refused or failed post rolls the count back with it.
        await _count_post(db, user, settings, now)
        session_id = await lock_thread_as_member(db, thread_id, user)
        place = await _place_under_lock(db, thread_id, user, data.parent_id)
        if not user.is_admin and place.role is None:
            raise Forbidden(NOT_A_MEMBER)
        ensure_writable(discussion_open=place.discussion_open, locked=place.locked)
        post = Post(
            id=uuid.uuid4(),
            thread_id=thread_id,
            session_id=session_id,
            author_id=user.id,
            body=body,
            created_at=now,
            parent_id=None,
            root_id=None,
            depth=0,
            edited_at=None,
            deleted_at=None,
            hidden_reason=None,
            agree_count=0,
            disagree_count=0,
            insightful_count=0,
            reply_count=0,
        )
        post.root_id = post.id
        parent_reply_count = None
        if data.parent_id is not None:
            if place.parent_thread_id != thread_id:
                raise NotFound(N_("No such post in this thread to reply to."))
            if place.parent_deleted_at is not None:
                raise Conflict(N_("A deleted post takes no replies."))
            if place.parent_depth + 1 > settings.max_reply_depth:
                raise Invalid.field(
                    "parent_id", N_("replies may nest at most %(depth)s deep"), {"depth": settings.max_reply_depth}
                )
            post.parent_id, post.root_id, post.depth = data.parent_id, place.parent_root_id, place.parent_depth + 1
            # Exact: every writer of this thread holds the session row, and these were read under it.
            parent_reply_count = place.parent_reply_count + 1
        await emit(
            db,
            session_id,
            "post.created",
            PostEventOut(
                **msgspec.structs.asdict(post_out(post, user)),
                thread_post_count=place.post_count + 1,
                parent_reply_count=parent_reply_count,
            ),
            statement=_writing(reply=data.parent_id is not None),
            params={f"new_{column}": getattr(post, column) for column in _NEW_POST},
        )
    return post_out(post, user, reveal=True)


# The columns a new post is written with, all but its seq (from its identity). Named, counters included: a
# statement inside a CTE gets no Python-side column defaults.
_NEW_POST = (
    "id",
    "thread_id",
    "session_id",
    "parent_id",
    "root_id",
    "depth",
    "author_id",
    "body",
    "created_at",
    "agree_count",
    "disagree_count",
    "insightful_count",
    "reply_count",
)


@cache
def _writing(*, reply: bool) -> Insert:
    """`create_post`'s statement, built once per shape (building it cost more CPU than running it): the post (its
    columns the parameters `new_<column>`), the thread's `post_count`, the parent's `reply_count` (`reply`), the
    seq and the event."""
    columns = Post.__table__.c
    new = {column: bindparam(f"new_{column}", type_=columns[column].type) for column in _NEW_POST}
    along = [
        insert(Post).values(new).cte("written"),
        update(Thread).where(Thread.id == new["thread_id"]).values(post_count=Thread.post_count + 1).cte("counted"),
    ]
    if reply:
        replied = update(Post).where(Post.id == new["parent_id"]).values(reply_count=Post.reply_count + 1)
        along.append(replied.cte("replied"))
    return event_statement(along)


async def _place_under_lock(db: AsyncSession, thread_id: uuid.UUID, user: User, parent_id: uuid.UUID | None) -> Row:
    """What a new post depends on, read afresh under the session row: the thread, the session's discussion, the
    author's membership role, and the parent's place (its columns None when there is no such post)."""
    params = {"thread_id": thread_id, "user_id": user.id, "parent_id": parent_id}
    # The thread goes only with its session, whose row is held.
    return (await db.execute(_place_query(reply=parent_id is not None), params)).one()


@cache
def _place_query(*, reply: bool) -> Select:
    """`_place_under_lock`'s statement, built once per shape (building it cost more CPU than running it)."""
    member = and_(SessionMember.session_id == Session.id, SessionMember.user_id == bindparam("user_id"))
    query = (
        select(Thread.locked, Thread.post_count, Session.discussion_open, SessionMember.role)
        .join(Session, Session.id == Thread.session_id)
        .outerjoin(SessionMember, member)
        .where(Thread.id == bindparam("thread_id"))
    )
    if reply:
        parent = aliased(Post)
        query = query.add_columns(
            parent.thread_id.label("parent_thread_id"),
            parent.root_id.label("parent_root_id"),
            parent.depth.label("parent_depth"),
            parent.deleted_at.label("parent_deleted_at"),
            parent.reply_count.label("parent_reply_count"),
        ).outerjoin(parent, parent.id == bindparam("parent_id"))
    return query


async def _count_post(db: AsyncSession, user: User, settings: Settings, now: datetime) -> None:
    """Count a post against its author's rate, or 429. Kept in PostgreSQL, so the rate holds across instances;
    a refused or failed post rolls back with its transaction, uncounted."""
    limit = settings.post_rate_per_minute
    await throttle.admit(
        db,
        POST_RATE_SCOPE,
        str(user.id),
        limit=limit,
        window=timedelta(minutes=1),
        now=now,
        refusal=N_("At most %(limit)s posts a minute; try again within a minute."),
        refusal_values={"limit": limit},
    )


async def get_post(db: AsyncSession, post_id: uuid.UUID, user: User) -> PostOut:
    """One post, without its replies."""
    async with db.begin():
        post = await get_post_or_404(db, post_id)
        return await viewer_post_out(db, post, user, moderator=await is_moderator(db, post.session_id, user))


async def edit_post(
    db: AsyncSession, post_id: uuid.UUID, user: User, body: str, *, settings: Settings, now: datetime
) -> PostOut:
    """Replace a post's text (its author, still a member); the earlier text is kept as a revision."""
    body = check_body(body, settings)

    async def author_and_member(post: Post) -> None:
        if post.author_id != user.id:
            raise Forbidden(N_("Only the author may edit a post."))
        await require_member(db, post.session_id, user)

    async with db.begin():
        post, thread, session = await lock_post(db, post_id, author_and_member)
        ensure_not_deleted(post)
        ensure_discussion_open(session, thread)
        if body != post.body:
            db.add(
                PostRevision(
                    post_id=post.id,
                    body=post.body,
                    written_at=post.edited_at or post.created_at,
                    replaced_at=now,
                    hidden=post.hidden_reason is not None,
                )
            )
            post.body, post.edited_at = body, now
            await db.flush()
            await emit(db, session.id, "post.updated", await public_post_out(db, post))
        return await viewer_post_out(db, post, user, moderator=await is_moderator(db, session.id, user))


async def list_revisions(db: AsyncSession, post_id: uuid.UUID, user: User) -> RevisionList:
    """Every earlier text of a post, oldest first.

    Bodies of a hidden post, and texts replaced while it was hidden (even once unhidden), are for its author
    and moderators only; everyone else gets "".
    """
    async with db.begin():
        await read_snapshot(db)
        post = await get_post_or_404(db, post_id)
        privileged = post.author_id == user.id or await is_moderator(db, post.session_id, user)
        revisions = (
            await db.scalars(select(PostRevision).where(PostRevision.post_id == post_id).order_by(PostRevision.id))
        ).all()
        seq = await as_of_seq(db, post.session_id)
    return RevisionList(
        as_of_seq=seq,
        items=[
            RevisionOut(
                body=rev.body if privileged or not (rev.hidden or post.hidden_reason is not None) else "",
                written_at=rev.written_at,
                replaced_at=rev.replaced_at,
            )
            for rev in revisions
        ],
    )


async def delete_post(db: AsyncSession, post_id: uuid.UUID, user: User, *, reason: str | None, now: datetime) -> None:
    """Leave a tombstone (its author, or a moderator: then audited); its text and revisions are erased, from the
    post's earlier events too.

    Replies stay in place; open flags on it are closed as `post_deleted`. Deleting a tombstone is a no-op.
    """
    reason = check_reason(reason, required=False)

    async def author_or_moderator(post: Post) -> None:
        if post.author_id != user.id and not await is_moderator(db, post.session_id, user):
            raise Forbidden(N_("Only the author or a moderator may delete a post."))

    async with db.begin():
        post, thread, session = await lock_post(db, post_id, author_or_moderator)
        by_author = post.author_id == user.id
        if post.deleted_at is not None:
            return
        post.deleted_at, post.deleted_by, post.body = now, user.id, ""
        thread.post_count -= 1
        await db.execute(delete(PostRevision).where(PostRevision.post_id == post.id))
        await resolve_open_flags(db, post, user, FlagStatus.post_deleted, reason=reason, now=now)
        if not by_author:
            await audit.record(
                db,
                now=now,
                action="post.deleted",
                target_type="post",
                target_id=post.id,
                actor_id=user.id,
                session_id=session.id,
                reason=reason,
                data={"thread_id": thread.id, "author_id": post.author_id},
            )
        await db.flush()
        await emit_erasure(db, post, "post.deleted", thread_post_count=thread.post_count)


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
    cursor: str | None,
    limit: int,
    max_posts: int,
) -> PostPage:
    """A page of top-level posts, each with its whole reply tree; five queries whatever the depth.

    The page stops taking roots before its posts (replies included) would exceed `max_posts`, but it holds
    at least one root; the cursor then continues after the last root returned.

    Roots are ordered by `sort`; replies under each post oldest first. Keyset cursors: posts arriving while a
    client pages never shift the pages (new roots sort after every cursor for oldest and top, before it for
    newest). "top" is agree + insightful reactions, most first, ties oldest first. The cursor names its sort
    (its order is not a plain ascending keyset, nor its page a fixed number of rows, so not `keyset_page`).
    """
    after = decode_cursor(cursor, PostAfter) if cursor is not None else None
    if after is not None and after[0] != sort:
        raise BadRequest(N_("This cursor belongs to another sort order; start again without it."))
    async with db.begin():
        await read_snapshot(db)
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
        seq = await as_of_seq(db, thread.session_id)
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
    return PostPage(items=items, next_cursor=next_cursor, as_of_seq=seq)


async def page_of_post(db: AsyncSession, post_id: uuid.UUID, *, sort: SortName) -> tuple[uuid.UUID, str]:
    """Where a post is in the pages of `list_posts`: its thread, and the cursor whose page begins with the post's
    top-level post in `sort` order (404 for no such post)."""
    async with db.begin():
        post = await get_post_or_404(db, post_id)
        root = post if post.parent_id is None else await db.get_one(Post, post.root_id)
    # A cursor names the last root before a page: one seq short of the root (oldest, top) or beyond it (newest).
    sort_key, score, seq = _post_cursor(sort, root)
    return post.thread_id, encode_cursor(sort_key, score, seq + 1 if sort == "newest" else seq - 1)


async def latest_posts(
    db: AsyncSession,
    session_id: uuid.UUID,
    user: User,
    *,
    thread_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> PostPage:
    """The session's newest posts that anyone may read (neither deleted nor hidden), replies included, newest
    first, of one thread or (`thread_id` None) of every thread: what the live board shows (members, admins).

    Hidden posts are left out for moderators too: the board is on a screen everyone in the call sees.
    """
    async with db.begin():
        await read_snapshot(db)
        await require_member(db, session_id, user)
        query = posts_with_authors().where(
            Post.session_id == session_id, Post.deleted_at.is_(None), Post.hidden_reason.is_(None)
        )
        if thread_id is not None:
            query = query.where(Post.thread_id == thread_id)
        newest_first = (-Post.seq).label("newest_first")
        rows, next_cursor = await keyset_page(db, query, [newest_first], cursor=cursor, limit=limit)
        seq = await as_of_seq(db, session_id)
    return PostPage(items=[post_out(post, author) for post, author in rows], next_cursor=next_cursor, as_of_seq=seq)


def _post_cursor(sort: str, last: Post) -> tuple[str, int, int]:
    """The keyset of a root post in `sort` order: (sort, score, seq); "top" scores agree + insightful."""
    return sort, last.agree_count + last.insightful_count if sort == "top" else 0, last.seq
