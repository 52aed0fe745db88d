"""Final proposals of a session, their versions and the conclusions each version includes; endorsements.

A proposal's current text is its row in `proposal_versions` with `version = proposals.version`; every earlier
version stays, with the adopted conclusions it included (`proposal_conclusions`, in the proposal's order).
Publishing freezes the current version: `published_at` and `content_sha256` (see proposals.canonical) are set
once and the row never changes again, except `endorsement_count`.

Endorsements are one row per act: withdrawing sets `withdrawn_at` and keeps the row; a partial unique index
allows one active (not withdrawn) endorsement per representative per proposal. `office` and `territory` are
the representative's verified claim when they endorsed (the capacity in which they did).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, ForeignKeyConstraint, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from deliberation.db.base import Base, CreatedAt, UUIDPrimaryKey, one_of, utcnow
from deliberation.proposals.schemas import StanceName, StatusName


class ProposalStatus(enum.StrEnum):
    draft = "draft"
    published = "published"


class Proposal(UUIDPrimaryKey, CreatedAt, Base):
    """A final proposal; `version` names its current text in `proposal_versions`."""

    __tablename__ = "proposals"
    __table_args__ = (
        CheckConstraint(one_of("status", StatusName), name="status"),
        CheckConstraint("version >= 1", name="version"),
        CheckConstraint("endorsement_count >= 0", name="endorsement_count"),
        # Published exactly when it has a publication time and a hash.
        CheckConstraint(
            "(status = 'published') = (published_at IS NOT NULL AND content_sha256 IS NOT NULL)", name="published"
        ),
        Index("ix_proposals_session_order", "session_id", "created_at", "id"),
    )

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default=ProposalStatus.draft.value)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None]
    published_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    content_sha256: Mapped[str | None] = mapped_column(String(64))
    endorsement_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ProposalVersion(Base):
    """One version of a proposal's text; never changed once written."""

    __tablename__ = "proposal_versions"

    proposal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProposalConclusion(Base):
    """An adopted conclusion included in a version of a proposal, at `position` in the proposal's order."""

    __tablename__ = "proposal_conclusions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["proposal_id", "version"],
            ["proposal_versions.proposal_id", "proposal_versions.version"],
            ondelete="CASCADE",
            name="fk_proposal_conclusions_proposal_id_proposal_versions",
        ),
    )

    proposal_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    # No ON DELETE: a conclusion cited by a proposal is not deleted (a session's deletion cascades to both).
    conclusion_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conclusions.id"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer)


ACTIVE_ENDORSEMENT_INDEX = "uq_endorsements_active_proposal_id_representative_id"


class Endorsement(UUIDPrimaryKey, CreatedAt, Base):
    """A verified representative's endorsement of a published proposal; withdrawn ones stay, with `withdrawn_at`."""

    __tablename__ = "endorsements"
    __table_args__ = (
        CheckConstraint(one_of("stance", StanceName), name="stance"),
        # One active endorsement per representative per proposal: the database says so.
        Index(
            ACTIVE_ENDORSEMENT_INDEX,
            "proposal_id",
            "representative_id",
            unique=True,
            postgresql_where=text("withdrawn_at IS NULL"),
        ),
        Index("ix_endorsements_proposal_order", "proposal_id", "created_at", "id"),
    )

    proposal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"))
    representative_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    stance: Mapped[str] = mapped_column(String(32))
    statement: Mapped[str | None] = mapped_column(Text)
    office: Mapped[str] = mapped_column(String(200))
    territory: Mapped[str] = mapped_column(String(200))
    withdrawn_at: Mapped[datetime | None]
