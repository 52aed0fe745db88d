import logging
import secrets
from datetime import timedelta

import pytest
from sqlalchemy import select

from deliberation.accounts.models import PasswordReset
from deliberation.accounts.service import set_admin_account
from deliberation.app import create_app
from deliberation.db.base import utcnow
from deliberation.errors import Invalid
from deliberation.mail.models import OutboxMail
from deliberation.mail.service import deliver_pending
from deliberation.settings import Settings
from tests.conftest import serve_in_process
from tests.factories import PASSWORD, bearer, make_token, make_user
from tests.smtp import reset_token

NEW_PASSWORD = "seven green lanterns glowing"


def mail_settings(settings: Settings, smtp_url: str | None, **overrides) -> Settings:
    """Settings that send to `smtp_url`; the test delivers (the background sender is off)."""
    return Settings(
        database_url=settings.database_url,
        smtp_url=smtp_url,
        mail_worker=False,
        public_url="https://forum.example.org",
        **overrides,
    )


async def outbox_for(db, address: str) -> list[OutboxMail]:
    async with db.begin():
        return list((await db.scalars(select(OutboxMail).where(OutboxMail.to_address == address))).all())


async def test_reset_end_to_end_through_smtp(settings, sessionmaker, db, smtp_server):
    config = mail_settings(settings, smtp_server.url)
    user = await make_user(db)
    old_headers = bearer(await make_token(db, user))
    async with serve_in_process(create_app(config, sessionmaker=sessionmaker)) as client:
        assert (await client.get("/api/me", headers=old_headers)).status_code == 200
        asked = await client.post("/api/auth/password-reset", json={"email": f" {user.email.upper()} "})
        assert asked.status_code == 202

        await deliver_pending(sessionmaker, config, now=utcnow())
        [message] = smtp_server.inbox.to(user.email)
        assert message["From"] == config.mail_from
        assert "https://forum.example.org/reset-password?token=" in message.get_content()
        token = reset_token(message)

        confirm = {"token": token, "password": NEW_PASSWORD}
        assert (await client.post("/api/auth/password-reset/confirm", json=confirm)).status_code == 204
        # The token works once; every earlier access token stopped working.
        reused = await client.post(
            "/api/auth/password-reset/confirm", json=confirm | {"password": "another long one 2"}
        )
        assert reused.status_code == 400
        assert reused.json()["errors"][0]["field"] == "token"
        assert (await client.get("/api/me", headers=old_headers)).status_code == 401

        login = {"email": user.email}
        assert (await client.post("/api/auth/login", json=login | {"password": PASSWORD})).status_code == 401
        assert (await client.post("/api/auth/login", json=login | {"password": NEW_PASSWORD})).status_code == 200
    [row] = await outbox_for(db, user.email)
    assert (row.status, row.attempts, row.body) == ("sent", 1, "")


async def test_unknown_address_gets_202_and_no_mail(client, db):
    email = f"nobody-{secrets.token_hex(4)}@example.org"
    response = await client.post("/api/auth/password-reset", json={"email": email})
    assert response.status_code == 202
    assert await outbox_for(db, email) == []


async def test_without_smtp_the_mail_stays_in_the_outbox_and_the_link_is_logged(client, db, caplog):
    user = await make_user(db)
    with caplog.at_level(logging.WARNING, logger="deliberation.mail"):
        assert (await client.post("/api/auth/password-reset", json={"email": user.email})).status_code == 202
    [row] = await outbox_for(db, user.email)
    assert row.status == "pending"
    token = row.body.split("reset-password?token=")[1].split()[0]
    assert f"reset-password?token={token}" in caplog.text
    assert "for local use only" in caplog.text
    confirm = {"token": token, "password": NEW_PASSWORD}
    assert (await client.post("/api/auth/password-reset/confirm", json=confirm)).status_code == 204


async def test_a_new_reset_request_drops_used_and_expired_reset_tokens(app, client, db):
    user = await make_user(db)
    used = await pending_token(client, db, user.email)
    assert (
        await client.post("/api/auth/password-reset/confirm", json={"token": used, "password": NEW_PASSWORD})
    ).status_code == 204
    await pending_token(client, db, user.email)
    async with db.begin():
        rows = (await db.scalars(select(PasswordReset).where(PasswordReset.user_id == user.id))).all()
    assert len(rows) == 1 and rows[0].used_at is None


async def pending_token(client, db, email: str) -> str:
    assert (await client.post("/api/auth/password-reset", json={"email": email})).status_code == 202
    rows = await outbox_for(db, email)
    return rows[-1].body.split("reset-password?token=")[1].split()[0]


async def test_an_expired_token_is_refused(app, client, db):
    user = await make_user(db)
    token = await pending_token(client, db, user.email)
    later = utcnow() + timedelta(minutes=31)
    app.state.clock = lambda: later
    response = await client.post("/api/auth/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD})
    assert response.status_code == 400


async def test_a_weak_new_password_keeps_the_token(client, db):
    user = await make_user(db)
    token = await pending_token(client, db, user.email)
    weak = await client.post("/api/auth/password-reset/confirm", json={"token": token, "password": "password1234"})
    assert weak.status_code == 422
    confirm = {"token": token, "password": NEW_PASSWORD}
    assert (await client.post("/api/auth/password-reset/confirm", json=confirm)).status_code == 204


async def test_an_unknown_token_is_400(client):
    response = await client.post("/api/auth/password-reset/confirm", json={"token": "nope", "password": NEW_PASSWORD})
    assert response.status_code == 400


async def test_reset_requests_are_throttled(settings, sessionmaker, db):
    config = mail_settings(settings, None, password_reset_max_per_email=2, password_reset_max_per_address=4)
    user = await make_user(db)
    async with serve_in_process(create_app(config, sessionmaker=sessionmaker), client_host="198.51.100.9") as client:
        for _ in range(3):
            assert (await client.post("/api/auth/password-reset", json={"email": user.email})).status_code == 202
        # Per email address: the same 202 for a flooded mailbox, but only two mails.
        assert len(await outbox_for(db, user.email)) == 2
        assert (await client.post("/api/auth/password-reset", json={"email": "x@example.org"})).status_code == 202
        throttled = await client.post("/api/auth/password-reset", json={"email": "y@example.org"})
        assert throttled.status_code == 429
        assert int(throttled.headers["retry-after"]) >= 1


@pytest.fixture
async def one_mail_per_mailbox(settings, sessionmaker, smtp_server):
    """A client of an app sending through `smtp_server`, one reset mail per mailbox and window; started before
    the test (the app's logging setup replaces the root's handlers, the test's capture comes after it)."""
    config = mail_settings(settings, smtp_server.url, password_reset_max_per_email=1)
    async with serve_in_process(create_app(config, sessionmaker=sessionmaker)) as client:
        yield client, config


async def test_the_logs_of_reset_requests_and_their_mail_hold_no_address(
    one_mail_per_mailbox, sessionmaker, db, smtp_server, caplog
):
    client, config = one_mail_per_mailbox
    user = await make_user(db)
    with caplog.at_level(logging.DEBUG, logger="deliberation"):
        for _ in range(2):  # the second is one too many for this mailbox: accepted, no mail, logged
            assert (await client.post("/api/auth/password-reset", json={"email": user.email})).status_code == 202
        await deliver_pending(sessionmaker, config, now=utcnow())
    assert len(smtp_server.inbox.to(user.email)) == 1
    # Every record but those of the test's SMTP server (aiosmtpd's `mail.log` logs what it receives).
    ours = "\n".join(record.getMessage() for record in caplog.records if record.name != "mail.log")
    assert "not sent: too many requests" in ours and "delivered" in ours
    assert user.email.split("@")[0] not in ours


async def test_no_name_can_put_a_line_break_into_the_reset_mail(client, db):
    """Issue 14, item 8: names with CR/LF once reached the reset mail verbatim (a forged line in its text)."""
    injected = "Ana\r\nBcc: victim@example.org\r\n\r\nClick http://evil.example"
    email = f"reset-{secrets.token_hex(4)}@example.org"
    signup = {"email": email, "password": NEW_PASSWORD, "display_name": injected}
    refused = await client.post("/api/auth/signup", json=signup)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "display_name"
    user = await make_user(db, display_name="Ana")
    headers = bearer(await make_token(db, user))
    for field in ("display_name", "organization", "territory"):
        patched = await client.patch("/api/me", json={field: injected}, headers=headers)
        assert patched.status_code == 422 and patched.json()["errors"][0]["field"] == field
    with pytest.raises(Invalid) as admin:
        await set_admin_account(db, user.email, injected, NEW_PASSWORD, now=utcnow())
    assert admin.value.errors[0].field == "display_name"

    assert (await client.post("/api/auth/password-reset", json={"email": user.email})).status_code == 202
    (mail,) = await outbox_for(db, user.email)
    assert mail.body.splitlines()[0] == "Hello Ana,"
    assert "\r" not in mail.body and "Bcc" not in mail.body and "evil" not in mail.body
