from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from deliberation.db.base import Base, CreatedAt, UUIDPrimaryKey


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

    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    display_name: Mapped[str] = mapped_column(String(120))
    organization: Mapped[str | None] = mapped_column(String(200))
    actor_type: Mapped[str] = mapped_column(String(32), default=ActorType.citizen.value)
    territory: Mapped[str | None] = mapped_column(String(200))
    is_admin: Mapped[bool] = mapped_column(default=False)


class AccessToken(UUIDPrimaryKey, CreatedAt, Base):
    """A bearer token; only the SHA-256 of the token is stored."""

    __tablename__ = "access_tokens"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
