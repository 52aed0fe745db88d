"""Input and output of the thread routes (see docs/api.md, "Threads and posts")."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal, get_args

import msgspec
from msgspec import UNSET, UnsetType

from deliberation.accounts.schemas import AuthorRef
from deliberation.pagination import AsOfSeq, SnapshotPage
from deliberation.text import Body, Reason, Text, Title

# The one list of reaction kinds and flag reasons: the tables' CHECK constraints are built from these.
ReactionName = Literal["agree", "disagree", "insightful"]
REACTION_KINDS: tuple[str, ...] = get_args(ReactionName)
FlagReasonName = Literal["spam", "offensive", "off_topic", "other"]
FLAG_REASONS: tuple[str, ...] = get_args(FlagReasonName)
FlagStatusName = Literal["open", "dismissed", "post_hidden", "post_deleted"]
SortName = Literal["oldest", "newest", "top"]


class ThreadIn(msgspec.Struct, forbid_unknown_fields=True):
    title: Title
    body: Text = ""


class ThreadOut(msgspec.Struct):
    id: uuid.UUID
    session_id: uuid.UUID
    title: str
    body: str
    locked: bool
    pinned: bool
    post_count: int
    created_at: datetime


class ThreadPage(SnapshotPage):
    items: list[ThreadOut]


class ThreadModerationIn(msgspec.Struct, forbid_unknown_fields=True):
    action: Literal["lock", "unlock", "pin", "unpin"]
    reason: Reason | None = None


class PostIn(msgspec.Struct, forbid_unknown_fields=True):
    body: Body
    parent_id: uuid.UUID | None = None


class PostPatch(msgspec.Struct, forbid_unknown_fields=True):
    body: Body


class Hidden(msgspec.Struct):
    reason: str


class Reactions(msgspec.Struct):
    agree: int
    disagree: int
    insightful: int


class PostOut(msgspec.Struct):
    """A post as a viewer sees it; `replies` only in tree listings (absent elsewhere, events included)."""

    id: uuid.UUID
    thread_id: uuid.UUID
    parent_id: uuid.UUID | None
    author: AuthorRef
    body: str
    created_at: datetime
    edited_at: datetime | None
    deleted: bool
    hidden: Hidden | None
    reactions: Reactions
    my_reactions: list[ReactionName]
    reply_count: int
    depth: int
    replies: list[PostOut] | UnsetType = UNSET


class PostEventOut(PostOut):
    """`post.created` / `post.deleted`: the post's public view and the counters it moved, as they are now (a
    client takes the values, never adds: a repeated or overlapping event cannot count twice)."""

    thread_post_count: int | None = None  # the thread's `post_count` after this change
    parent_reply_count: int | None = None  # the parent's `reply_count` after a reply (null for a top-level post)


class PostPage(SnapshotPage):
    items: list[PostOut]


class RevisionOut(msgspec.Struct):
    """An earlier text of a post: current from `written_at` until `replaced_at`."""

    body: str
    written_at: datetime
    replaced_at: datetime


class RevisionList(msgspec.Struct):
    """Every earlier text of a post (not paginated), read in one snapshot like a `SnapshotPage`."""

    items: list[RevisionOut]
    as_of_seq: AsOfSeq


class PostModerationIn(msgspec.Struct, forbid_unknown_fields=True):
    action: Literal["hide", "unhide"]
    reason: Reason | None = None


class FlagIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: FlagReasonName
    note: Reason | None = None


class FlagOut(msgspec.Struct):
    id: uuid.UUID
    post_id: uuid.UUID
    thread_id: uuid.UUID
    session_id: uuid.UUID
    reason: FlagReasonName
    note: str | None
    flagged_by: AuthorRef
    created_at: datetime
    status: FlagStatusName
    resolved_at: datetime | None
    resolution_reason: str | None
    post: PostOut


class FlagPage(SnapshotPage):
    items: list[FlagOut]


class FlagsChanged(msgspec.Struct):
    """`flags.changed`: how many flags of the session are open now (no reporter, no reason, no post)."""

    open_flags: int


FlagQueueName = Literal["open", "resolved"]


class FlagResolutionIn(msgspec.Struct, forbid_unknown_fields=True):
    action: Literal["dismiss", "hide_post"]
    reason: Reason | None = None
