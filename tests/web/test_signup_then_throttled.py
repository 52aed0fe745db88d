"""Sign-up whose automatic sign-in is refused: the account exists, and the page says so instead of an error."""

from __future__ import annotations

from sqlalchemy import select

from deliberation.accounts.models import User
from tests.web.test_sessions_and_csrf import csrf_of


async def test_a_sign_up_whose_sign_in_is_throttled_shows_log_in_with_the_new_address(client, db, settings):
    token = csrf_of((await client.get("/login")).text)
    for attempt in range(settings.login_max_failures_per_address):  # someone guessed from this address before
        wrong = {"email": f"nobody{attempt}@example.org", "password": "wrong-password-123", "csrf_token": token}
        assert (await client.post("/login", data=wrong)).status_code == 401
    token = csrf_of((await client.get("/signup")).text)
    form = {
        "email": "fresh@example.org",
        "password": "a-good-long-passphrase-42",
        "display_name": "Fresh",
        "actor_type": "citizen",
        "organization": "",
        "territory": "",
        "next": "/account",
        "csrf_token": token,
    }

    answer = await client.post("/signup", data=form)

    assert answer.status_code == 429
    assert '<form class="stacked" method="post" action="/login"' in answer.text
    assert 'value="fresh@example.org"' in answer.text and 'value="/account"' in answer.text
    assert "Too many failed sign-in attempts; try again later." in answer.text
    assert "a-good-long-passphrase-42" not in answer.text
    async with db.begin():
        assert await db.scalar(select(User.display_name).where(User.email == "fresh@example.org")) == "Fresh"
