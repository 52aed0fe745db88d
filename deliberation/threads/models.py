"""Posts of a thread (a reply tree), their revisions, reactions and flags. The Thread itself is in forum.models.

Tree storage: every post keeps `root_id` (its top-level ancestor; itself for a top-level post) and `depth`,
so a page of top-level posts with all their replies reads posts in two queries whatever the depth: the page
of roots (with their tree sizes), then every reply whose `root_id` is on the page, ordered by `depth`, `seq`
(see threads.service.list_posts; with the thread, the viewer's role and reactions, five statements).
`seq` is taken under the session row lock (`forum.access.lock_session`), so within a session it follows commit order.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Identity, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from deliberation.db.base import Base, CoalescedMark, CreatedAt, UUIDPrimaryKey, one_of, utcnow
from deliberation.threads.schemas import FlagReasonName, FlagStatusName, ReactionName


class FlagStatus(enum.StrEnum):
    open = "open"
    dismissed = "dismissed"
    post_hidden = "post_hidden"
    post_deleted = "post_deleted"


class Post(UUIDPrimaryKey, CreatedAt, Base):
    """A post or a reply. Deleting keeps a tombstone (`deleted_at`, body erased); hiding keeps the body."""

    __tablename__ = "posts"
    __table_args__ = (
        CheckConstraint("depth >= 0", name="depth"),
        CheckConstraint("(parent_id IS NULL) = (depth = 0)", name="parent_depth"),
        # Top-level posts of a thread, for the oldest / newest pages and the top page.
        Index("ix_posts_thread_roots", "thread_id", "seq", postgresql_where=text("parent_id IS NULL")),
        # Ascending on the negated score, so the "top" keyset `(-score, seq) > (...)` is one index range.
        Index(
            "ix_posts_thread_top",
            "thread_id",
            text("(-(agree_count + insightful_count))"),
            "seq",
            postgresql_where=text("parent_id IS NULL"),
        ),
    )

    seq: Mapped[int] = mapped_column(BigInteger, Identity(), unique=True)
    thread_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"))
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    root_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    depth: Mapped[int] = mapped_column(Integer, default=0)
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    body: Mapped[str] = mapped_column(Text)
    edited_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    deleted_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    hidden_reason: Mapped[str | None] = mapped_column(Text)
    hidden_at: Mapped[datetime | None]
    hidden_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    # Counters kept in the writer's transaction (reactions: only when a reaction row really came or went).
    agree_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    disagree_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    insightful_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reply_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class PostRevision(Base):
    """An earlier text of a post: what it said from `written_at` until `replaced_at`.

    `hidden`: the text was replaced while the post was hidden, so only its author and moderators ever read it,
    whether or not the post is unhidden later.
    """

    __tablename__ = "post_revisions"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    post_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    body: Mapped[str] = mapped_column(Text)
    written_at: Mapped[datetime]
    replaced_at: Mapped[datetime] = mapped_column(default=utcnow)
    hidden: Mapped[bool] = mapped_column(default=False, server_default="false")


class Reaction(Base):
    """One reaction of a user to a post; the primary key allows one of each kind per user."""

    __tablename__ = "post_reactions"
    __table_args__ = (CheckConstraint(one_of("kind", ReactionName), name="kind"),)

    post_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReactionMark(CoalescedMark, Base):
    """Per post: whether its reaction counts changed since the last `reactions.updated`, and when that was sent.

    A reaction sets `dirty` in its own statement; `threads.reactions.publish_due_reactions` sends the counts and
    clears it (coalesced events, like `conclusion_tally_marks`).
    """

    __tablename__ = "post_reaction_marks"
    __table_args__ = (Index("ix_post_reaction_marks_dirty", "emitted_at", postgresql_where=text("dirty")),)

    post_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True)


class Flag(UUIDPrimaryKey, CreatedAt, Base):
    """A member's report of a post to the session's moderators; open until a moderator resolves it."""

    __tablename__ = "post_flags"
    __table_args__ = (
        CheckConstraint(one_of("reason", FlagReasonName), name="reason"),
        CheckConstraint(one_of("status", FlagStatusName), name="status"),
        # One open flag per user per post (a second one is 409); resolved flags do not count.
        Index(
            "uq_post_flags_open_post_id_user_id",
            "post_id",
            "user_id",
            unique=True,
            postgresql_where=text("status = 'open'"),
        ),
        Index("ix_post_flags_open_queue", "session_id", "created_at", "id", postgresql_where=text("status = 'open'")),
    )

    post_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=FlagStatus.open.value)
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    resolution_note: Mapped[str | None] = mapped_column(Text)
