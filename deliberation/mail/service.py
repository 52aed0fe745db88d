"""Mail: `enqueue` writes to the outbox in the caller's transaction; `deliver_pending` sends what is due.

A mail is written in the same transaction as the change it reports (a password reset token), so it exists
if and only if that change committed. A sender claims due mails with a lease (`locked_until`, in one short
transaction: no other sender takes them until it expires), sends them with no transaction open (SMTP may
take `SMTP_TIMEOUT_SECONDS` per mail), then records each result in a short transaction of its own, if the
lease is still its own. Delivery is at least once: a sender that dies mid-batch leaves its mails to be claimed
again when the lease runs out.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import aiosmtplib
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from deliberation.mail.models import MailStatus, OutboxMail
from deliberation.settings import Settings

log = logging.getLogger("deliberation.mail")

BATCH_SIZE = 20
RETRY_BASE_SECONDS = 30
SMTP_TIMEOUT_SECONDS = 30
# Longer than a whole batch can take (a connection, then every send timing out), so a live sender keeps its mails.
LEASE = timedelta(seconds=SMTP_TIMEOUT_SECONDS * (BATCH_SIZE + 2))


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
        log.error("mail %s refused for good: %s", mail.id, mail.last_error)
        return
    mail.next_attempt_at = now + retry_delay(mail.attempts, settings.mail_retry_max_seconds)
    log.warning(
        "mail %s not delivered (attempt %d), retry at %s: %s",
        mail.id,
        mail.attempts,
        mail.next_attempt_at,
        mail.last_error,
    )


async def _claim(sessionmaker: async_sessionmaker[AsyncSession], now: datetime) -> list[OutboxMail]:
    """Lease up to BATCH_SIZE due mails to this sender (one short transaction); the leased rows, detached."""
    lease = now + LEASE
    async with sessionmaker() as db, db.begin():
        # SKIP LOCKED: senders claiming at once take disjoint rows; the lease keeps them apart afterwards.
        due = (
            select(OutboxMail.id)
            .where(
                OutboxMail.status == MailStatus.pending.value,
                OutboxMail.next_attempt_at <= now,
                or_(OutboxMail.locked_until.is_(None), OutboxMail.locked_until <= now),
            )
            .order_by(OutboxMail.next_attempt_at)
            .limit(BATCH_SIZE)
            .with_for_update(skip_locked=True)
        )
        mails = (
            await db.scalars(
                update(OutboxMail)
                .where(OutboxMail.id.in_(due))
                .values(locked_until=lease)
                .returning(OutboxMail)
                .execution_options(synchronize_session=False)
            )
        ).all()
        db.expunge_all()
    return sorted(mails, key=lambda mail: mail.next_attempt_at)


async def _record(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    claimed: OutboxMail,
    error: Exception | None,
    now: datetime,
) -> None:
    """Store the outcome of one attempt and end the lease (one short transaction); nothing if the lease was lost."""
    async with sessionmaker() as db, db.begin():
        mail = await db.scalar(
            select(OutboxMail)
            .where(OutboxMail.id == claimed.id, OutboxMail.locked_until == claimed.locked_until)
            .with_for_update()
        )
        if mail is None:  # the lease ran out and another sender claimed the mail: its outcome counts
            log.warning("mail %s: lease lost before its outcome was recorded", claimed.id)
            return
        mail.locked_until = None
        if error is not None:
            _attempt_failed(mail, error, now, settings)
            return
        mail.attempts += 1
        mail.status, mail.sent_at, mail.last_error = MailStatus.sent.value, now, None
        mail.body = ""  # a delivered body may hold a live token: the outbox is not an archive
        log.info("mail %s delivered", mail.id)


async def _deliver_batch(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, now: datetime) -> int:
    """Claim up to BATCH_SIZE due mails and try each once, outside any transaction; return how many were claimed."""
    assert settings.smtp_url is not None
    mails = await _claim(sessionmaker, now)
    if not mails:
        return 0
    client = smtp_client(settings.smtp_url)
    try:
        await client.connect()
    except (aiosmtplib.SMTPException, OSError) as exc:
        for mail in mails:
            await _record(sessionmaker, settings, mail, exc, now)
        return len(mails)
    try:
        for mail in mails:
            error: Exception | None = None
            try:
                await client.send_message(_message(mail, settings.mail_from))
            except (aiosmtplib.SMTPException, OSError, ValueError) as exc:
                error = exc
            await _record(sessionmaker, settings, mail, error, now)
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
