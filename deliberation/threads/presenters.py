"""How threads and posts are shown: the output Structs, as a viewer or as events carry them."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import msgspec
from sqlalchemy import ColumnElement, Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from deliberation.accounts.models import User
from deliberation.accounts.schemas import AuthorRef
from deliberation.forum.models import Thread
from deliberation.realtime.events import emit, redact_events
from deliberation.threads.models import Post, Reaction, ReactionMark
from deliberation.threads.schemas import REACTION_KINDS, Hidden, PostEventOut, PostOut, Reactions, ThreadOut


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


# The events whose data is a post's public view.
POST_EVENTS = ("post.created", "post.updated", "post.deleted", "post.hidden", "post.unhidden", "reactions.updated")


async def emit_erasure(db: AsyncSession, post: Post, event: str, *, thread_post_count: int | None = None) -> None:
    """Emit `event` (a post deleted or hidden) with the post's public view, after giving that view to every earlier
    event about the post: replaying the log (`after=0`, any member, later ones too) never shows the erased text.
    Earlier events keep the counters they carried (`thread_post_count`, `parent_reply_count`). A pending coalesced
    `reactions.updated` is dropped: this event carries the counts."""
    view = await public_post_out(db, post)
    await redact_events(db, post.session_id, POST_EVENTS, post.id, view)
    await db.execute(delete(ReactionMark).where(ReactionMark.post_id == post.id))
    if thread_post_count is not None:
        view = PostEventOut(**msgspec.structs.asdict(view), thread_post_count=thread_post_count)
    await emit(db, post.session_id, event, view)
