"""Input and output of the forum routes (see docs/api.md, "Forum structure and sessions")."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Literal
from zoneinfo import available_timezones

import msgspec
from msgspec import UNSET, Meta, UnsetType

from deliberation.accounts.schemas import UserOut
from deliberation.pagination import Page
from deliberation.text import Code, Number, Platform, Text, TimeZoneName, Title, Url

CategoryName = Literal["round_table", "workshop", "plenary", "other"]
RoleName = Literal["moderator", "participant"]
StatusName = Literal["upcoming", "live", "passed"]
AwareTime = Annotated[datetime, Meta(tz=True)]
Minutes = Annotated[int, Meta(ge=1, le=7 * 24 * 60)]
# Session times are bounded so that derived times (ends_at) always fit a datetime and a timestamp.
EARLIEST_START = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_START = datetime(2100, 1, 1, tzinfo=UTC)


def check_start(starts_at: datetime | UnsetType) -> None:
    """Refuse (400, through msgspec) a start time outside the years 2000 to 2099."""
    if starts_at is not UNSET and not EARLIEST_START <= starts_at < LATEST_START:
        raise ValueError("starts_at must be between 2000-01-01 and 2099-12-31 (UTC)")


@cache
def time_zone_names() -> frozenset[str]:
    """The IANA time zone names this machine knows."""
    return frozenset(available_timezones())


def check_time_zone(time_zone: str | UnsetType) -> None:
    """Refuse (400, through msgspec) a time zone that is not an IANA name ("Europe/Madrid", "UTC")."""
    if time_zone is not UNSET and time_zone not in time_zone_names():
        raise ValueError("time_zone must be an IANA time zone name, such as Europe/Madrid or UTC")


class LineIn(msgspec.Struct, forbid_unknown_fields=True):
    number: Number
    title: Title
    description: Text = ""


class SublineIn(msgspec.Struct, forbid_unknown_fields=True):
    number: Number
    title: Title


class NumberedRef(msgspec.Struct):
    """A thematic line or a subline where it is named (a session's placement, a line's sublines)."""

    id: uuid.UUID
    number: str
    title: str


class LineOut(msgspec.Struct):
    id: uuid.UUID
    number: str
    title: str
    description: str
    sublines: list[NumberedRef]


class LineList(msgspec.Struct):
    """Every line in one page: `next_cursor` is always null (kept for the shape every list has)."""

    items: list[LineOut]
    next_cursor: str | None = None


class SessionIn(msgspec.Struct, forbid_unknown_fields=True):
    code: Code
    title: Title
    subline_id: uuid.UUID
    category: CategoryName
    starts_at: AwareTime
    duration_minutes: Minutes
    platform: Platform
    description: Text = ""
    meeting_url: Url | None = None
    guiding_questions: Annotated[list[Title], Meta(max_length=50)] = []
    discussion_open: bool = True
    time_zone: TimeZoneName = "UTC"

    def __post_init__(self) -> None:
        check_start(self.starts_at)
        check_time_zone(self.time_zone)


class SessionPatch(msgspec.Struct, forbid_unknown_fields=True):
    title: Title | UnsetType = UNSET
    description: Text | UnsetType = UNSET
    starts_at: AwareTime | UnsetType = UNSET
    duration_minutes: Minutes | UnsetType = UNSET
    platform: Platform | UnsetType = UNSET
    meeting_url: Url | UnsetType | None = UNSET
    discussion_open: bool | UnsetType = UNSET
    category: CategoryName | UnsetType = UNSET
    time_zone: TimeZoneName | UnsetType = UNSET

    def __post_init__(self) -> None:
        check_start(self.starts_at)
        check_time_zone(self.time_zone)


class GuidingQuestion(msgspec.Struct):
    """A guiding question of a session (`position` 1, 2, ... in the organizer's order) and the thread debating it."""

    position: int
    question: str
    thread_id: uuid.UUID


class SessionOut(msgspec.Struct):
    id: uuid.UUID
    code: str
    title: str
    line: NumberedRef
    subline: NumberedRef
    category: CategoryName
    description: str
    starts_at: datetime
    ends_at: datetime
    duration_minutes: int
    platform: str
    time_zone: str
    meeting_url: str | None
    status: StatusName
    discussion_open: bool
    last_seq: int
    guiding_questions: list[GuidingQuestion] = []
    my_role: RoleName | None = None  # the viewer's role here; null when anonymous or not a member (and in events)


class SessionPage(Page):
    items: list[SessionOut]


class MemberOut(msgspec.Struct):
    user: UserOut
    role: RoleName
    joined_at: datetime
