import asyncio
import secrets
import threading
from datetime import timedelta

from aiosmtpd.controller import Controller
from sqlalchemy import select, text

from deliberation.app import create_app
from deliberation.db.base import utcnow
from deliberation.db.engine import create_sessionmaker
from deliberation.mail import service as mail
from deliberation.mail.models import OutboxMail
from deliberation.settings import Settings
from tests.conftest import serve_in_process
from tests.factories import make_user
from tests.netutil import free_port
from tests.smtp import Inbox, reset_token


def address() -> str:
    return f"reader-{secrets.token_hex(4)}@example.org"


def smtp_settings(settings: Settings, url: str, **overrides) -> Settings:
    return Settings(database_url=settings.database_url, smtp_url=url, mail_worker=False, **overrides)


async def enqueue(db, config: Settings, to: str, subject: str = "Hello") -> OutboxMail:
    async with db.begin():
        return await mail.enqueue(db, config, to=to, subject=subject, body="Body text.\n", now=utcnow())


async def reload(db, mail_id) -> OutboxMail:
    async with db.begin():
        return await db.scalar(
            select(OutboxMail).where(OutboxMail.id == mail_id).execution_options(populate_existing=True)
        )


async def test_a_mail_survives_an_smtp_outage(settings, sessionmaker, db, smtp_down):
    config = smtp_settings(settings, smtp_down.url)
    to = address()
    queued = await enqueue(db, config, to)

    await mail.deliver_pending(sessionmaker, config, now=utcnow())
    row = await reload(db, queued.id)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error
    assert row.next_attempt_at > utcnow()

    smtp_down.start()
    # Not due yet: the backoff holds it back.
    await mail.deliver_pending(sessionmaker, config, now=utcnow())
    assert smtp_down.inbox.to(to) == []

    await mail.deliver_pending(sessionmaker, config, now=row.next_attempt_at)
    [message] = smtp_down.inbox.to(to)
    assert message["Subject"] == "Hello"
    row = await reload(db, queued.id)
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, None)

    await mail.deliver_pending(sessionmaker, config, now=utcnow() + timedelta(days=1))
    assert len(smtp_down.inbox.to(to)) == 1


def test_backoff_doubles_up_to_the_cap():
    delays = [mail.retry_delay(attempt, 600).total_seconds() for attempt in range(1, 7)]
    assert delays == [30, 60, 120, 240, 480, 600]


class Refusing:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return "550 No such mailbox"


async def test_a_refused_mail_is_not_retried(settings, sessionmaker, db):
    port = free_port()
    controller = Controller(Refusing(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        config = smtp_settings(settings, f"smtp://127.0.0.1:{port}")
        queued = await enqueue(db, config, address())
        await mail.deliver_pending(sessionmaker, config, now=utcnow())
    finally:
        controller.stop()
    row = await reload(db, queued.id)
    assert (row.status, row.attempts, row.body) == ("failed", 1, "")
    assert "550" in row.last_error


async def test_concurrent_senders_deliver_each_mail_once(own_database_url, own_engine, smtp_server):
    """Several instances run the sender at once (separate connections, real commits): no mail goes twice."""
    config = smtp_settings(Settings(database_url=own_database_url), smtp_server.url)
    sessionmaker = create_sessionmaker(own_engine)
    recipients = [address() for _ in range(45)]
    async with sessionmaker() as db, db.begin():
        for to in recipients:
            await mail.enqueue(db, config, to=to, subject="Once", body="Only once.\n", now=utcnow())

    await asyncio.gather(*(mail.deliver_pending(sessionmaker, config, now=utcnow()) for _ in range(4)))
    assert sorted(message["To"] for message in smtp_server.inbox.messages if message["To"] in recipients) == sorted(
        recipients
    )


async def test_the_app_runs_the_sender(own_database_url, own_engine, smtp_server):
    """The lifespan starts the sender: a reset request reaches the SMTP server without any test help."""
    config = Settings(database_url=own_database_url, smtp_url=smtp_server.url, mail_poll_seconds=0.05)
    async with create_sessionmaker(own_engine)() as db:
        user = await make_user(db)
    async with serve_in_process(create_app(config)) as client:
        assert (await client.post("/api/auth/password-reset", json={"email": user.email})).status_code == 202
        message = await smtp_server.inbox.wait_for(user.email)
    assert reset_token(message)


async def test_a_refused_mail_loses_its_body_and_a_bad_address_fails_alone(settings, sessionmaker, db, smtp_server):
    """A mail refused for good keeps no body (it may hold a reset token); an address no header can hold fails
    that mail only, and To carries exactly the stored address."""
    config = smtp_settings(settings, smtp_server.url)
    good, bad = address(), "x<victim@corp.example>"
    bad_mail, good_mail = await enqueue(db, config, bad), await enqueue(db, config, good)
    await mail.deliver_pending(sessionmaker, config, now=utcnow())
    [message] = smtp_server.inbox.to(good)
    assert message["To"] == good
    assert [m for m in smtp_server.inbox.messages if "victim" in str(m["To"])] == []
    row = await reload(db, bad_mail.id)
    assert (row.status, row.body) == ("failed", "")
    assert (await reload(db, good_mail.id)).status == "sent"


class HeldInbox(Inbox):
    """An SMTP handler that holds every message until `release` is set (a slow server)."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived, self.release = threading.Event(), threading.Event()

    async def handle_DATA(self, server, session, envelope) -> str:
        self.arrived.set()
        await asyncio.to_thread(self.release.wait, 20)
        return await super().handle_DATA(server, session, envelope)


async def test_smtp_runs_outside_any_transaction_under_a_lease(own_database_url, own_engine):
    """While the SMTP server takes its time, the sender holds no row lock (its lease keeps others off the mail)."""
    inbox, port = HeldInbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        config = smtp_settings(Settings(database_url=own_database_url), f"smtp://127.0.0.1:{port}")
        sessionmaker = create_sessionmaker(own_engine)
        to = address()
        async with sessionmaker() as db:
            queued = await enqueue(db, config, to)
        sending = asyncio.create_task(mail.deliver_pending(sessionmaker, config, now=utcnow()))
        assert await asyncio.to_thread(inbox.arrived.wait, 10)
        async with own_engine.begin() as connection:  # NOWAIT: fails at once if a transaction holds the row
            leased = await connection.scalar(
                text("SELECT locked_until FROM mail_outbox WHERE id = :id FOR UPDATE NOWAIT"), {"id": queued.id}
            )
        assert leased is not None and leased > utcnow()
        await mail.deliver_pending(
            sessionmaker, config, now=utcnow()
        )  # another sender meanwhile: the lease keeps it off
        inbox.release.set()
        await asyncio.wait_for(sending, 20)
    finally:
        inbox.release.set()
        controller.stop()
    assert [message["To"] for message in inbox.messages] == [to]
    async with sessionmaker() as db:
        row = await reload(db, queued.id)
    assert (row.status, row.attempts, row.locked_until) == ("sent", 1, None)
