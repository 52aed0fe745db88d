from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from deliberation.db.base import Base, CreatedAt, UUIDPrimaryKey, utcnow


class MailStatus(enum.StrEnum):
    pending = "pending"
    sent = "sent"
    failed = "failed"  # the SMTP server refused it for good (5xx); never retried


class OutboxMail(UUIDPrimaryKey, CreatedAt, Base):
    """A mail waiting to be delivered, or its record once delivered."""

    __tablename__ = "mail_outbox"
    __table_args__ = (Index("ix_mail_outbox_pending", "next_attempt_at", postgresql_where="status = 'pending'"),)

    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=MailStatus.pending.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
    locked_until: Mapped[datetime | None]  # a sender's lease: no other sender claims the mail before then
