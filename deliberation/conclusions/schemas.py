"""Input and output of the conclusion routes (see docs/api.md, "Draft conclusions and votes")."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from deliberation.accounts.schemas import AuthorRef
from deliberation.pagination import SnapshotPage
from deliberation.text import Reason, Text, Title

StatusName = Literal["draft", "voting", "adopted", "rejected"]
ChoiceName = Literal["support", "oppose", "abstain"]
VisibilityName = Literal["live", "after_close"]
AwareTime = Annotated[datetime, Meta(tz=True)]
MAX_SOURCES = 100


class ConclusionIn(msgspec.Struct, forbid_unknown_fields=True):
    title: Title
    body: Text
    thread_id: uuid.UUID | None = None
    source_post_ids: Annotated[list[uuid.UUID], Meta(max_length=MAX_SOURCES)] = []


class ConclusionPatch(msgspec.Struct, forbid_unknown_fields=True):
    title: Title | UnsetType = UNSET
    body: Text | UnsetType = UNSET


class VotingIn(msgspec.Struct, forbid_unknown_fields=True):
    action: Literal["open", "close"]
    closes_at: AwareTime | None = None
    results_visibility: VisibilityName = "live"
    quorum: Annotated[int, Meta(ge=1, le=1_000_000)] | None = None


class VoteIn(msgspec.Struct, forbid_unknown_fields=True):
    choice: ChoiceName
    comment: Reason | None = None


class VoteOut(msgspec.Struct):
    choice: ChoiceName
    version: int
    comment: str | None


class MyVote(msgspec.Struct):
    """The viewer's own vote; `stale` when it was cast on an earlier version (it does not count)."""

    choice: ChoiceName
    version: int
    stale: bool
    comment: str | None = None


class VotingOut(msgspec.Struct):
    """The vote window and the rule set fixed when it opened."""

    opened_at: datetime
    closes_at: datetime | None
    results_visibility: VisibilityName
    quorum: int | None
    rule: str
    closed_at: datetime | None = None


class ConclusionOut(msgspec.Struct):
    id: uuid.UUID
    session_id: uuid.UUID
    thread_id: uuid.UUID | None
    title: str
    body: str
    version: int
    status: StatusName
    source_post_ids: list[uuid.UUID]
    voting: VotingOut | None
    my_vote: MyVote | None
    created_at: datetime
    updated_at: datetime


class ConclusionPage(SnapshotPage):
    items: list[ConclusionOut]


class VersionOut(msgspec.Struct):
    version: int
    title: str
    body: str
    created_at: datetime
    author: AuthorRef | None


class VersionPage(SnapshotPage):
    items: list[VersionOut]


class ChoiceCounts(msgspec.Struct):
    support: int = 0
    oppose: int = 0
    abstain: int = 0


class TallyOut(msgspec.Struct):
    """Counts for the current version. Hidden (null / empty) while an `after_close` vote is open."""

    conclusion_id: uuid.UUID
    version: int
    status: StatusName
    voters: int
    support: int | None
    oppose: int | None
    abstain: int | None
    stale: int | None
    by_actor_type: dict[str, ChoiceCounts]
    cross_actor_consensus: bool | None
    results_visibility: VisibilityName = "live"
    hidden: bool = False
