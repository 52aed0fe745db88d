"""Forum structure: thematic lines, sublines, sessions, their members, and the threads of a session."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from deliberation.db.base import Base, CreatedAt, UUIDPrimaryKey, one_of, utcnow
from deliberation.forum.schemas import CategoryName, RoleName


class Role(enum.StrEnum):
    moderator = "moderator"
    participant = "participant"


class ThematicLine(UUIDPrimaryKey, CreatedAt, Base):
    """A thematic line of the forum, e.g. "1. The Territory as a basis for ... innovation"."""

    __tablename__ = "thematic_lines"

    number: Mapped[str] = mapped_column(String(16), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")


class Subline(UUIDPrimaryKey, CreatedAt, Base):
    """A subline of a thematic line, e.g. "1.1"."""

    __tablename__ = "sublines"
    __table_args__ = (UniqueConstraint("line_id", "number"),)

    line_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("thematic_lines.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(300))


class Session(UUIDPrimaryKey, CreatedAt, Base):
    """A forum session ("1.1.1", a round table); `last_seq` numbers its live events (see realtime)."""

    __tablename__ = "sessions"
    __table_args__ = (
        CheckConstraint(one_of("category", CategoryName), name="category"),
        CheckConstraint("duration_minutes > 0", name="duration_minutes"),
    )

    code: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    subline_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sublines.id", ondelete="RESTRICT"), index=True)
    category: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime] = mapped_column(index=True)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    platform: Mapped[str] = mapped_column(String(100))
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")  # IANA name
    meeting_url: Mapped[str | None] = mapped_column(String(2000))
    discussion_open: Mapped[bool] = mapped_column(default=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # [{position (1, 2, ...), question, thread_id}] in the organizer's order; set at creation, with the threads.
    guiding_questions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list, server_default="[]")

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.duration_minutes)

    def status_at(self, now: datetime) -> str:
        """ "upcoming" before the start, "live" from start to end, "passed" from the end on."""
        if now < self.starts_at:
            return "upcoming"
        return "live" if now < self.ends_at else "passed"


class SessionMember(Base):
    """A user's role in a session. Admins count as moderators everywhere without a row here."""

    __tablename__ = "session_members"
    __table_args__ = (CheckConstraint(one_of("role", RoleName), name="role"),)

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(16), default=Role.participant.value)
    joined_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class Thread(UUIDPrimaryKey, CreatedAt, Base):
    """A discussion thread of a session; one is created per guiding question, in order (`position`).

    Its posts, moderation and routes live in the threads package; `post_count` (posts not deleted) is kept
    there in the writer's transaction.
    """

    __tablename__ = "threads"

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    locked: Mapped[bool] = mapped_column(default=False, server_default="false")
    pinned: Mapped[bool] = mapped_column(default=False, server_default="false")
    post_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
