"""Mail: `enqueue` writes to the outbox in the caller's transaction; `deliver_pending` sends what is due.

A mail is written in the same transaction as the change it reports (a password reset token), so it exists
if and only if that change committed. Delivery is at least once: a mail is marked sent in the transaction
that holds its row lock, after the SMTP server accepted it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import aiosmtplib
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from deliberation.mail.models import MailStatus, OutboxMail
from deliberation.settings import Settings

log = logging.getLogger("deliberation.mail")

BATCH_SIZE = 20
RETRY_BASE_SECONDS = 30
SMTP_TIMEOUT_SECONDS = 30


async def enqueue(
    db: AsyncSession, settings: Settings, *, to: str, subject: str, body: str, now: datetime
) -> OutboxMail:
    """Put a mail in the outbox inside the caller's transaction; without SMTP configured, log it."""
    mail = OutboxMail(to_address=to, subject=subject, body=body, next_attempt_at=now)
    db.add(mail)
    await db.flush()
    if settings.smtp_url is None:
        # Deliberate: without SMTP the operator of a local instance reads reset links here. Never in production.
        log.warning(
            "DELIBERATION_SMTP_URL is not set: mail %s to %s stays in the outbox; logged for local use only"
            " (it may hold a live reset link).\nSubject: %s\n\n%s",
            mail.id,
            to,
            subject,
            body,
        )
    return mail


def retry_delay(attempts: int, cap_seconds: int) -> timedelta:
    """Exponential backoff after the `attempts`-th failed attempt: 30 s, 60 s, 120 s, ... up to the cap."""
    return timedelta(seconds=min(cap_seconds, RETRY_BASE_SECONDS * 2 ** min(attempts - 1, 20)))


def smtp_client(url: str) -> aiosmtplib.SMTP:
    """An SMTP client for `smtp://[user:password@]host[:port]` (STARTTLS when offered) or `smtps://`."""
    parts = urlsplit(url)
    implicit_tls = parts.scheme == "smtps"
    return aiosmtplib.SMTP(
        hostname=parts.hostname,
        port=parts.port or (465 if implicit_tls else 25),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        use_tls=implicit_tls,
        timeout=SMTP_TIMEOUT_SECONDS,
    )


def _message(mail: OutboxMail, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    # An Address object, not text: the header holds exactly this one address (ValueError if it is not one).
    message["To"] = Address(addr_spec=mail.to_address)
    message["Subject"] = mail.subject
    message["Message-ID"] = f"<{mail.id}@deliberation>"
    message.set_content(mail.body)
    return message


def _is_permanent(exc: Exception) -> bool:
    """A 5xx answer (or an address no header can hold) means this mail never goes; anything else may pass later."""
    if isinstance(exc, ValueError):
        return True
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(refused.code >= 500 for refused in exc.recipients)
    return isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code >= 500


def _attempt_failed(mail: OutboxMail, exc: Exception, now: datetime, settings: Settings) -> None:
    mail.attempts += 1
    mail.last_error = f"{type(exc).__name__}: {exc}"[:2000]
    if _is_permanent(exc):
        mail.status = MailStatus.failed.value
        mail.body = ""  # as for a sent mail: the body may hold a live reset token
        log.error("mail %s to %s refused for good: %s", mail.id, mail.to_address, mail.last_error)
        return
    mail.next_attempt_at = now + retry_delay(mail.attempts, settings.mail_retry_max_seconds)
    log.warning(
        "mail %s to %s not delivered (attempt %d), retry at %s: %s",
        mail.id,
        mail.to_address,
        mail.attempts,
        mail.next_attempt_at,
        mail.last_error,
    )


async def _deliver_batch(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, now: datetime) -> int:
    """Claim up to BATCH_SIZE due mails and try each once; return how many were claimed."""
    assert settings.smtp_url is not None
    async with sessionmaker() as db, db.begin():
        # SKIP LOCKED: instances running this at once claim disjoint rows, so no mail is sent twice.
        mails = (
            await db.scalars(
                select(OutboxMail)
                .where(OutboxMail.status == MailStatus.pending.value, OutboxMail.next_attempt_at <= now)
                .order_by(OutboxMail.next_attempt_at)
                .limit(BATCH_SIZE)
                .with_for_update(skip_locked=True)
            )
        ).all()
        if not mails:
            return 0
        client = smtp_client(settings.smtp_url)
        try:
            await client.connect()
        except (aiosmtplib.SMTPException, OSError) as exc:
            for mail in mails:
                _attempt_failed(mail, exc, now, settings)
            return len(mails)
        try:
            for mail in mails:
                try:
                    await client.send_message(_message(mail, settings.mail_from))
                except (aiosmtplib.SMTPException, OSError, ValueError) as exc:
                    _attempt_failed(mail, exc, now, settings)
                else:
                    mail.attempts += 1
                    mail.status, mail.sent_at, mail.last_error = MailStatus.sent.value, now, None
                    # A delivered body may hold a live token: the outbox is not an archive.
                    mail.body = ""
                    log.info("mail %s delivered to %s", mail.id, mail.to_address)
        finally:
            if client.is_connected:
                try:
                    await client.quit()
                except (aiosmtplib.SMTPException, OSError):
                    client.close()
        return len(mails)


async def deliver_pending(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, *, now: datetime) -> None:
    """Try every mail that is due at `now` once; safe to run in several instances at once."""
    if settings.smtp_url is None:
        return
    while await _deliver_batch(sessionmaker, settings, now) == BATCH_SIZE:
        pass
