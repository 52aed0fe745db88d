"""Done when 2: the sign-in cookie's flags, CSRF on every unsafe page request (403, nothing changes), the JSON
API outside it (bearer only), the CSP header on every page. In-process (httpx over ASGI), no browser needed."""

from __future__ import annotations

import re

import httpx
import pytest
from msgspec.structs import replace

from deliberation.accounts.models import User
from deliberation.app import create_app
from deliberation.security import BOARD_CSP, PAGE_CSP
from tests.conftest import app_running
from tests.factories import PASSWORD, bearer, make_forum_session, make_token, make_user

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, html
    return match.group(1)


async def log_in(client, email: str) -> str:
    """Sign in through the /login form; the session cookie's Set-Cookie header."""
    form = await client.get("/login")
    response = await client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf_of(form.text), "next": "/account"}
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/account"
    return next(value for value in response.headers.get_list("set-cookie") if value.startswith("deliberation_session="))


async def test_the_session_cookie_is_httponly_lax_and_as_long_lived_as_a_token(client, db, settings):
    user = await make_user(db)
    cookie = await log_in(client, user.email)
    flags = {part.strip().split("=")[0].lower(): part.strip() for part in cookie.split(";")}
    assert "httponly" in flags
    assert flags["samesite"].lower() == "samesite=lax"
    assert flags["path"] == "Path=/"
    assert flags["max-age"] == f"Max-Age={settings.token_ttl_days * 24 * 3600}"
    assert "secure" not in flags  # the public URL is http here
    assert (await client.get("/account")).status_code == 200


async def test_the_session_cookie_is_secure_when_the_public_url_is_https(settings, sessionmaker, db):
    user = await make_user(db)
    app = create_app(replace(settings, public_url="https://forum.example.org"), sessionmaker=sessionmaker)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with app_running(app), httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        cookie = await log_in(client, user.email)
    assert "secure" in [part.strip().lower() for part in cookie.split(";")]


async def test_a_post_without_the_csrf_token_is_403_and_changes_nothing(client, db):
    user = await make_user(db, display_name="Before")
    await log_in(client, user.email)
    account = await client.get("/account")
    token = csrf_of(account.text)
    form = {"display_name": "After", "actor_type": "citizen", "organization": "", "territory": ""}

    for sent in ({}, {"csrf_token": "not the token"}):
        refused = await client.post("/account/profile", data={**form, **sent})
        assert refused.status_code == 403
        assert "This form has expired" in refused.text
        async with db.begin():
            assert (await db.get_one(User, user.id, populate_existing=True)).display_name == "Before"
    # Logging out is a form too: without the token the cookie keeps working.
    assert (await client.post("/logout")).status_code == 403
    assert (await client.get("/account")).status_code == 200

    accepted = await client.post("/account/profile", data={**form, "csrf_token": token})
    assert accepted.status_code == 303
    async with db.begin():
        assert (await db.get_one(User, user.id, populate_existing=True)).display_name == "After"


async def test_a_form_of_another_browser_or_another_sign_in_is_refused(client, db, app):
    user = await make_user(db)
    anonymous_token = csrf_of((await client.get("/login")).text)
    await log_in(client, user.email)
    # The token of the page before signing in no longer counts: it follows the session cookie.
    refused = await client.post("/logout", data={"csrf_token": anonymous_token})
    assert refused.status_code == 403


async def test_log_out_revokes_the_cookies_token(client, db):
    user = await make_user(db)
    cookie = await log_in(client, user.email)
    raw = cookie.split(";")[0].split("=", 1)[1]
    assert (await client.get("/api/me", headers=bearer(raw))).status_code == 200
    token = csrf_of((await client.get("/account")).text)
    out = await client.post("/logout", data={"csrf_token": token})
    assert out.status_code == 303
    assert (await client.get("/api/me", headers=bearer(raw))).status_code == 401
    assert (await client.get("/account")).headers["location"].startswith("/login")


async def test_the_json_api_is_bearer_only_and_outside_csrf(client, db):
    user = await make_user(db)
    cookie = await log_in(client, user.email)
    # The cookie alone does not authenticate the API (no ambient authority there, so no CSRF either) ...
    assert (await client.get("/api/me")).status_code == 401
    assert (await client.patch("/api/me", json={"display_name": "Cookie"})).status_code == 401
    # ... and a bearer request needs no CSRF token.
    headers = bearer(await make_token(db, user))
    changed = await client.patch("/api/me", json={"display_name": "Bearer"}, headers=headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["display_name"] == "Bearer"
    assert cookie


@pytest.mark.parametrize(
    "path", ["/", "/sessions/{code}", "/signup", "/login", "/recover-password", "/reset-password?token=x", "/nowhere"]
)
async def test_every_page_carries_the_csp_and_security_headers(client, db, path):
    session = await make_forum_session(db)
    response = await client.get(path.format(code=session.code))
    assert response.status_code == (404 if path == "/nowhere" else 200)
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == PAGE_CSP
    assert "unsafe-inline" not in PAGE_CSP and "unsafe-eval" not in PAGE_CSP
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_the_board_alone_may_be_framed_and_only_by_the_service_s_own_pages(client, db):
    user = await make_user(db)
    session = await make_forum_session(db, members={user: "participant"})
    await log_in(client, user.email)
    board = await client.get(f"/sessions/{session.code}/board")
    assert board.status_code == 200
    assert board.headers["content-security-policy"] == BOARD_CSP
    assert PAGE_CSP.replace("frame-ancestors 'none'", "frame-ancestors 'self'") == BOARD_CSP
    assert board.headers["x-frame-options"] == "SAMEORIGIN"
    assert '<svg viewBox="0 0 ' in board.text and "style=" not in board.text  # the QR code, inline, no inline style
    fragment = await client.get(f"/sessions/{session.code}/board/votes")
    assert (fragment.headers["content-security-policy"], fragment.headers["x-frame-options"]) == (PAGE_CSP, "DENY")


async def test_pages_for_signed_in_people_stay_out_of_shared_caches(client, db):
    user = await make_user(db)
    await log_in(client, user.email)
    assert (await client.get("/account")).headers["cache-control"] == "no-store"
