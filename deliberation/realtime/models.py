from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from deliberation.db.base import Base, utcnow


class SessionEvent(Base):
    """One change members of a session see live; `seq` is gap-free per session and in commit order."""

    __tablename__ = "session_events"
    # `redact_events` finds a subject's events (`data.id`) within a session through this index.
    __table_args__ = (Index("ix_session_events_subject", "session_id", text("(data->>'id')")),)

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    type: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LiveTicket(Base):
    """A single-use credential for `?ticket=` on one session's live stream; only its SHA-256 is stored.

    It names the access token it was issued under (`token_hash`): the stream it opens lives as long as that token.
    Redeeming deletes the row, so a ticket works once.
    """

    __tablename__ = "live_tickets"

    ticket_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(ForeignKey("access_tokens.token_hash", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime]
