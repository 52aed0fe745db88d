"""The one declarative base, with a constraint naming convention so Alembic names are stable."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, get_args

from sqlalchemy import DateTime, ForeignKey, MetaData, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Now, in UTC, with microseconds (what PostgreSQL keeps)."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: DateTime(timezone=True), uuid.UUID: UUID(as_uuid=True)}


class UUIDPrimaryKey:
    """An opaque UUID id, made in Python so a new row knows its id before flush."""

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class CreatedAt:
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class CoalescedMark:
    """The columns of a coalesced event's mark (tally, reactions): its session, whether what the event tells of
    changed since the last one (`dirty`), and when that was sent. Each table adds its subject as primary key
    and a partial index on `emitted_at` where `dirty`, which the publisher scans."""

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    dirty: Mapped[bool] = mapped_column(default=False, server_default="false")
    emitted_at: Mapped[datetime | None]


def one_of(column: str, choices: Any) -> str:
    """A CHECK expression: `column` holds one of the values of the `Literal` type `choices` (its one list)."""
    return f"{column} IN ({', '.join(repr(value) for value in get_args(choices))})"
