"""Draft conclusions of a session: versions, the source posts they rest on, one vote window, votes.

A conclusion's current text is its row in `conclusion_versions` with `version = conclusions.version`; every
earlier version stays. The vote window and its rule set (`rule`, `quorum`, `results_visibility`) live on the
conclusion row and are fixed when the vote opens; a conclusion is voted on once (draft -> voting -> adopted
or rejected). When the vote closes, `final_tally` keeps the tally as it stood, so proposals and exports cite
exactly what was decided.

Votes are one row per (conclusion, user) by a unique constraint; each names the version it was cast on and
the voter's actor type at that moment (so a later profile change does not rewrite a tally). Tallies are
counted with GROUP BY at read time: nothing to keep in step, exact under any interleaving.

`conclusion_tally_marks` drives the coalesced `tally.updated` events (see conclusions.tally): a vote sets
`dirty`, a background loop on any instance claims dirty marks whose last event is old enough, emits one
snapshot and clears the mark.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from deliberation.conclusions.schemas import ChoiceName, StatusName, VisibilityName
from deliberation.db.base import Base, CoalescedMark, CreatedAt, UUIDPrimaryKey, one_of, utcnow


class ConclusionStatus(enum.StrEnum):
    draft = "draft"
    voting = "voting"
    adopted = "adopted"
    rejected = "rejected"


class Visibility(enum.StrEnum):
    live = "live"
    after_close = "after_close"


CLOSED = (ConclusionStatus.adopted, ConclusionStatus.rejected)  # the statuses a closed vote leaves

# The decision rule, named so a stored vote says which rule decided it.
RULE_SUPPORT_OVER_OPPOSE = "support_over_oppose"


class Conclusion(UUIDPrimaryKey, CreatedAt, Base):
    """A draft conclusion; `version` names its current text in `conclusion_versions`."""

    __tablename__ = "conclusions"
    __table_args__ = (
        CheckConstraint(one_of("status", StatusName), name="status"),
        CheckConstraint(one_of("results_visibility", VisibilityName), name="results_visibility"),
        CheckConstraint("quorum IS NULL OR quorum >= 1", name="quorum"),
        CheckConstraint("version >= 1", name="version"),
        Index("ix_conclusions_session_order", "session_id", "created_at", "id"),
        # What the auto-closer scans: open votes with a close time.
        Index("ix_conclusions_due", "closes_at", postgresql_where=text("status = 'voting' AND closes_at IS NOT NULL")),
    )

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    thread_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("threads.id", ondelete="SET NULL"), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default=ConclusionStatus.draft.value)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The vote window and the rule set it was opened with.
    opened_at: Mapped[datetime | None]
    opened_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    closes_at: Mapped[datetime | None]
    results_visibility: Mapped[str] = mapped_column(String(16), default=Visibility.live.value)
    quorum: Mapped[int | None] = mapped_column(Integer)
    rule: Mapped[str | None] = mapped_column(String(32))
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    final_tally: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class ConclusionVersion(Base):
    """One version of a conclusion's text; never changed once written."""

    __tablename__ = "conclusion_versions"

    conclusion_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conclusions.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConclusionSource(Base):
    """A post of the same session that a conclusion rests on (checked by the service)."""

    __tablename__ = "conclusion_sources"

    conclusion_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conclusions.id", ondelete="CASCADE"), primary_key=True)
    post_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Vote(Base):
    """A member's vote on a conclusion: the version it was cast on and their actor type at that moment."""

    __tablename__ = "conclusion_votes"
    __table_args__ = (
        # One vote per member per conclusion: the database says so, not a check in Python.
        UniqueConstraint("conclusion_id", "user_id"),
        CheckConstraint(one_of("choice", ChoiceName), name="choice"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    conclusion_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conclusions.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    choice: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    actor_type: Mapped[str] = mapped_column(String(32))
    comment: Mapped[str | None] = mapped_column(Text)
    cast_at: Mapped[datetime] = mapped_column(default=utcnow)


class TallyMark(CoalescedMark, Base):
    """Per conclusion: whether its tally changed since the last `tally.updated`, and when that was sent."""

    __tablename__ = "conclusion_tally_marks"
    __table_args__ = (Index("ix_conclusion_tally_marks_dirty", "emitted_at", postgresql_where=text("dirty")),)

    conclusion_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conclusions.id", ondelete="CASCADE"), primary_key=True)
