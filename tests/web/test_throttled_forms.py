"""Account forms refused for now answer as the API does: 429 when throttled, 503 when every password-hashing
slot is taken, with `Retry-After` and a message next to the field; wrong current passwords on the account page
are throttled like sign-ins. In-process (httpx over ASGI), no browser needed."""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta

import msgspec

from deliberation.accounts import passwords
from deliberation.accounts.auth import hash_token
from deliberation.accounts.models import PasswordReset
from deliberation.app import create_app
from deliberation.db.base import utcnow
from tests.conftest import serve_in_process
from tests.factories import PASSWORD, make_user
from tests.web.test_sessions_and_csrf import csrf_of, log_in

NEW_PASSWORD = "seven green lanterns glowing"


async def change_password(client, current: str):
    token = csrf_of((await client.get("/account")).text)
    form = {"current_password": current, "password": NEW_PASSWORD, "csrf_token": token}
    return await client.post("/account/password", data=form)


async def test_wrong_current_passwords_on_the_account_page_are_throttled_like_sign_ins(app, client, db, settings):
    user = await make_user(db)
    await log_in(client, user.email)
    for _ in range(settings.login_max_failures):
        wrong = await change_password(client, "not my password at all")
        assert wrong.status_code == 422 and "The current password is not correct." in wrong.text

    throttled = await change_password(client, "not my password at all")
    assert throttled.status_code == 429
    assert 1 <= int(throttled.headers["retry-after"]) <= settings.login_window_minutes * 60
    assert "Too many wrong current passwords; try again later." in throttled.text
    # Even the right password waits: guessing from a stolen session is what is slowed down.
    assert (await change_password(client, PASSWORD)).status_code == 429

    later = utcnow() + timedelta(minutes=settings.login_window_minutes + 1)
    app.state.clock = lambda: later
    changed = await change_password(client, PASSWORD)
    assert changed.status_code == 303 and changed.headers["location"] == "/account?saved=password"


async def test_a_right_current_password_forgets_the_earlier_wrong_ones(client, db, settings):
    user = await make_user(db)
    await log_in(client, user.email)
    for _ in range(settings.login_max_failures - 1):
        assert (await change_password(client, "a typo in my password")).status_code == 422
    assert (await change_password(client, PASSWORD)).status_code == 303
    for _ in range(settings.login_max_failures - 1):  # counted afresh against the new password
        assert (await change_password(client, "another typo somewhere")).status_code == 422


async def test_a_throttled_login_page_says_when_to_try_again(client, db, settings):
    user = await make_user(db)
    token = csrf_of((await client.get("/login")).text)
    wrong = {"email": user.email, "password": "not the right one", "csrf_token": token}
    for _ in range(settings.login_max_failures):
        assert (await client.post("/login", data=wrong)).status_code == 401

    throttled = await client.post("/login", data=wrong)

    assert throttled.status_code == 429
    assert 1 <= int(throttled.headers["retry-after"]) <= settings.login_window_minutes * 60
    assert "Too many failed sign-in attempts; try again later." in throttled.text


async def test_a_throttled_recovery_page_says_when_to_try_again(settings, sessionmaker):
    app = create_app(msgspec.structs.replace(settings, password_reset_max_per_address=1), sessionmaker=sessionmaker)
    async with serve_in_process(app, client_host="203.0.113.60") as client:
        token = csrf_of((await client.get("/recover-password")).text)
        assert (await client.post("/recover-password", data={"email": "a@example.org", "csrf_token": token})).is_success
        throttled = await client.post("/recover-password", data={"email": "b@example.org", "csrf_token": token})
    assert throttled.status_code == 429
    assert 1 <= int(throttled.headers["retry-after"]) <= settings.password_reset_window_minutes * 60
    assert "Too many password reset requests; try again later." in throttled.text


async def test_the_reset_page_answers_503_with_retry_after_while_every_hashing_slot_is_taken(
    settings, sessionmaker, db
):
    user = await make_user(db)
    raw = secrets.token_urlsafe(32)
    async with db.begin():
        db.add(PasswordReset(user_id=user.id, token_hash=hash_token(raw), expires_at=utcnow() + timedelta(minutes=30)))
    app = create_app(msgspec.structs.replace(settings, password_hash_wait_seconds=0.05), sessionmaker=sessionmaker)
    async with serve_in_process(app) as client:
        token = csrf_of((await client.get(f"/reset-password?token={raw}")).text)
        passwords._slots[asyncio.get_running_loop()] = asyncio.Semaphore(0)  # every slot busy hashing
        try:
            busy = await client.post(
                "/reset-password", data={"token": raw, "password": NEW_PASSWORD, "csrf_token": token}
            )
        finally:
            passwords._slots.clear()
        assert busy.status_code == 503
        assert busy.headers["retry-after"] == "1"
        assert "Too many sign-ins at once; try again in a moment." in busy.text
        # Nothing was used up: once a slot is free, the same link sets the password.
        done = await client.post("/reset-password", data={"token": raw, "password": NEW_PASSWORD, "csrf_token": token})
        assert done.status_code == 303 and done.headers["location"] == "/login?reset=1"
