from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from deliberation.db.base import Base, CreatedAt, UUIDPrimaryKey, utcnow


class ActorType(enum.StrEnum):
    local_government = "local_government"
    regional_government = "regional_government"
    national_government = "national_government"
    civil_society = "civil_society"
    academia = "academia"
    private_sector = "private_sector"
    international_organization = "international_organization"
    citizen = "citizen"


class User(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint("language IN ('en', 'es', 'fr')", name="language"),)

    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    display_name: Mapped[str] = mapped_column(String(120))
    organization: Mapped[str | None] = mapped_column(String(200))
    actor_type: Mapped[str] = mapped_column(String(32), default=ActorType.citizen.value)
    territory: Mapped[str | None] = mapped_column(String(200))
    is_admin: Mapped[bool] = mapped_column(default=False)
    language: Mapped[str | None] = mapped_column(String(8))  # pages and mails; None: not chosen (English)


class AccessToken(UUIDPrimaryKey, CreatedAt, Base):
    """A bearer token; only the SHA-256 of the token is stored."""

    __tablename__ = "access_tokens"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class PasswordReset(UUIDPrimaryKey, CreatedAt, Base):
    """A single-use password reset token; only its SHA-256 is stored."""

    __tablename__ = "password_resets"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class ClaimStatus(enum.StrEnum):
    pending = "pending"
    verified = "verified"
    unverified = "unverified"


class RepresentativeClaim(Base):
    """A user's current claim to hold an elected office; one per user, a new claim replaces the old one."""

    __tablename__ = "representative_claims"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    office: Mapped[str] = mapped_column(String(200))
    territory: Mapped[str] = mapped_column(String(200))
    term_ends: Mapped[date | None]
    status: Mapped[str] = mapped_column(String(16), default=ClaimStatus.pending.value)
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)
    reviewed_at: Mapped[datetime | None]
    reviewed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class ThrottleEvent(Base):
    """One counted attempt (a failed login, a reset request) for a throttling key, e.g. ("login.address", ip).

    Events older than a day are deleted by any check (`throttle.retry_after`), through the index on `at`.
    """

    __tablename__ = "throttle_events"
    __table_args__ = (Index("ix_throttle_events_scope_key_at", "scope", "key", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(320))
    at: Mapped[datetime] = mapped_column(index=True)


class KnownNetwork(Base):
    """A client network (`client_address`) an account signed in from: failures counted against the account as a
    whole (strangers guessing from elsewhere) do not stop it signing in from here."""

    __tablename__ = "known_networks"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    network: Mapped[str] = mapped_column(String(64), primary_key=True)
    signed_in_at: Mapped[datetime]
