import asyncio
import secrets
from datetime import date, datetime, timedelta

import msgspec
import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

from deliberation.accounts import passwords
from deliberation.accounts.models import AccessToken, ThrottleEvent, User
from deliberation.accounts.service import user_out
from deliberation.app import create_app
from deliberation.db.base import utcnow
from deliberation.settings import Settings
from tests.conftest import serve_in_process
from tests.factories import PASSWORD, bearer, make_token, make_user

GOOD_PASSWORD = "a quiet river at dawn"


def new_email() -> str:
    return f"someone-{secrets.token_hex(4)}@example.org"


async def sign_up(client, email: str, password: str = GOOD_PASSWORD, **fields):
    return await client.post(
        "/api/auth/signup", json={"email": email, "password": password, "display_name": "Ana", **fields}
    )


async def log_in(client, email: str, password: str = GOOD_PASSWORD):
    return await client.post("/api/auth/login", json={"email": email, "password": password})


async def test_sign_up_log_in_me_log_out(client):
    email = new_email()
    created = await sign_up(
        client, f"  {email.upper()} ", organization="City of Rosario", actor_type="local_government", territory="AR"
    )
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["email"] == email
    assert user["display_name"] == "Ana"
    assert user["actor_type"] == "local_government"
    assert user["organization"] == "City of Rosario"
    assert user["is_admin"] is False
    assert user["representative"] is None

    login = await log_in(client, email.upper())
    assert login.status_code == 200, login.text
    body = login.json()
    assert body["token_type"] == "bearer"
    assert body["user"]["id"] == user["id"]
    headers = bearer(body["access_token"])

    me = await client.get("/api/me", headers=headers)
    assert me.status_code == 200
    assert me.json() == user

    assert (await client.post("/api/auth/logout", headers=headers)).status_code == 204
    again = await client.get("/api/me", headers=headers)
    assert again.status_code == 401
    assert again.headers["content-type"].startswith("application/problem+json")


async def test_a_token_stops_working_when_it_expires_by_the_app_clock(app, client, db):
    user = await make_user(db)
    now = utcnow()
    app.state.clock = lambda: now
    login = await log_in(client, user.email, PASSWORD)
    expires_at = datetime.fromisoformat(login.json()["expires_at"])
    assert expires_at == now + timedelta(days=14)
    headers = bearer(login.json()["access_token"])

    app.state.clock = lambda: expires_at - timedelta(seconds=1)
    assert (await client.get("/api/me", headers=headers)).status_code == 200
    app.state.clock = lambda: expires_at
    expired = await client.get("/api/me", headers=headers)
    assert expired.status_code == 401
    assert "expired" in expired.json()["detail"]


async def test_a_token_in_the_query_string_is_refused_over_http(client, db):
    user = await make_user(db)
    token = (await log_in(client, user.email, PASSWORD)).json()["access_token"]
    refused = await client.get("/api/me", params={"access_token": token})
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "access_token"
    assert (await client.get("/api/me", headers=bearer(token))).status_code == 200


@pytest.mark.parametrize(
    "email",
    [
        "x<victim@corp.com>",
        "a:b@c.de",
        "a,b@evil.org",
        "a;b@evil.org",
        '"a b"@evil.org',
        "(comment)a@evil.org",
        "a@evil.org(comment)",
        "Ana <a@evil.org>",
        "a@[10.0.0.1]",
        "a@localhost",
        ".a@evil.org",
    ],
)
async def test_only_plain_addresses_are_accepted(client, email):
    response = await sign_up(client, email)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "email"


async def test_lookalike_addresses_are_the_same_account_or_refused(client, db):
    local = f"alice-{secrets.token_hex(4)}"
    assert (await sign_up(client, f"{local}@example.org")).status_code == 201
    for lookalike in (f"{local}@\uff45xample.org", f"{local.upper()}@EXAMPLE.org", f"{local}@example.\uff4frg"):
        response = await sign_up(client, lookalike)  # fullwidth letters, case: the same address
        assert response.status_code == 409, (lookalike, response.text)
    for lookalike in (f"{local}@example.org\u200b", f"{local}\u00ad@example.org", f"{local}@\u0435xample.org"):
        response = await sign_up(client, lookalike)  # invisible characters; a Cyrillic e among Latin ones
        assert response.status_code == 422, (lookalike, response.text)
        assert response.json()["errors"][0]["field"] == "email"
    assert await db.scalar(select(func.count()).select_from(User).where(User.email.like(f"{local}%"))) == 1
    whole_script = await sign_up(client, f"{local}@\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444")
    assert whole_script.status_code == 201  # one alphabet per part is an address like any other
    login = await log_in(client, f"{local}@\uff45xample.org")
    assert login.status_code == 200 and login.json()["user"]["email"] == f"{local}@example.org"


async def test_organization_and_territory_are_trimmed(client):
    created = await sign_up(client, new_email(), organization="  City of Rosario ", territory="   ")
    assert (created.json()["organization"], created.json()["territory"]) == ("City of Rosario", None)


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short pass", "at least 12"),
        ("password2024!", "most common"),
        ("qwertyuiop123", "most common"),
        ("SAME", "email"),
    ],
)
async def test_weak_passwords_are_refused(client, db, password, message):
    email = new_email()
    response = await sign_up(client, email, email.upper() if password == "SAME" else password)
    assert response.status_code == 422
    body = response.json()
    assert body["errors"][0]["field"] == "password"
    assert message in body["detail"]
    async with db.begin():
        assert await db.scalar(select(func.count()).select_from(User).where(User.email == email)) == 0


async def test_bad_input_is_refused(client):
    assert (await sign_up(client, "not-an-address")).status_code == 422
    assert (await sign_up(client, new_email(), actor_type="wizard")).status_code == 422
    missing = await client.post("/api/auth/signup", json={"email": new_email()})
    assert missing.status_code == 400
    assert (await client.post("/api/auth/signup", content=b"{not json")).status_code == 400


async def test_an_email_is_taken_whatever_its_case(client):
    email = new_email()
    assert (await sign_up(client, email)).status_code == 201
    taken = await sign_up(client, f" {email.upper()}")
    assert taken.status_code == 409
    assert taken.json()["status"] == 409


async def test_racing_sign_ups_for_one_address_give_one_account(own_database_url):
    email = new_email()
    async with serve_in_process(create_app(Settings(database_url=own_database_url))) as client:
        answers = await asyncio.gather(*(sign_up(client, email) for _ in range(4)))
    assert sorted(answer.status_code for answer in answers) == [201, 409, 409, 409]


async def test_unknown_email_and_wrong_password_answer_alike(client, db):
    user = await make_user(db)
    unknown = await log_in(client, new_email(), PASSWORD)
    wrong = await log_in(client, user.email, "not the right password")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()
    assert unknown.headers["www-authenticate"] == wrong.headers["www-authenticate"]
    assert unknown.headers["content-type"] == wrong.headers["content-type"]


async def test_the_sixth_rapid_failure_is_throttled(app, client, db):
    user = await make_user(db)
    for _ in range(5):
        assert (await log_in(client, user.email, "not the right password")).status_code == 401
    throttled = await log_in(client, user.email, "not the right password")
    assert throttled.status_code == 429
    assert 1 <= int(throttled.headers["retry-after"]) <= 15 * 60
    # Even the right password waits: the account is throttled, not the guess.
    assert (await log_in(client, user.email, PASSWORD)).status_code == 429

    later = utcnow() + timedelta(minutes=16)
    app.state.clock = lambda: later
    assert (await log_in(client, user.email, PASSWORD)).status_code == 200


async def test_a_success_clears_the_account_failures(client, db):
    user = await make_user(db)
    for _ in range(4):
        await log_in(client, user.email, "not the right password")
    assert (await log_in(client, user.email, PASSWORD)).status_code == 200
    for _ in range(4):
        assert (await log_in(client, user.email, "not the right password")).status_code == 401


async def test_failures_are_throttled_per_address(settings, sessionmaker):
    app = create_app(
        Settings(database_url=settings.database_url, login_max_failures_per_address=3), sessionmaker=sessionmaker
    )
    async with serve_in_process(app, client_host="203.0.113.7") as client:
        for _ in range(3):
            assert (await log_in(client, new_email(), "whatever it is")).status_code == 401
        assert (await log_in(client, new_email(), "whatever it is")).status_code == 429
    async with serve_in_process(app, client_host="203.0.113.8") as other:
        assert (await log_in(other, new_email(), "whatever it is")).status_code == 401


async def test_strangers_guessing_elsewhere_do_not_lock_the_owner_out(settings, sessionmaker, db):
    user = await make_user(db)
    app = create_app(
        msgspec.structs.replace(settings, login_max_failures=3, login_max_failures_per_account=6),
        sessionmaker=sessionmaker,
    )
    async with serve_in_process(app, client_host="198.51.100.10") as home:
        assert (await log_in(home, user.email, PASSWORD)).status_code == 200  # the owner's earlier device
    for stranger in ("203.0.113.1", "203.0.113.2", "203.0.113.3"):
        async with serve_in_process(app, client_host=stranger) as client:
            answers = [(await log_in(client, user.email, "a guess")).status_code for _ in range(3)]
            assert answers == ([401, 401, 401] if stranger != "203.0.113.3" else [429, 429, 429])
            # The right password from a stranger's network waits too: that network is throttled for the account.
            assert (await log_in(client, user.email, PASSWORD)).status_code == 429
    async with serve_in_process(app, client_host="192.0.2.50") as new_place:
        assert (await log_in(new_place, user.email, PASSWORD)).status_code == 429  # the account-wide ceiling
    async with serve_in_process(app, client_host="198.51.100.10") as home:
        for _ in range(2):
            assert (await log_in(home, user.email, "a typo")).status_code == 401
        assert (await log_in(home, user.email, PASSWORD)).status_code == 200  # still signs in, from home


async def test_sign_ups_are_limited_per_address(settings, sessionmaker):
    app = create_app(msgspec.structs.replace(settings, signup_max_per_address=2), sessionmaker=sessionmaker)
    async with serve_in_process(app, client_host="203.0.113.20") as client:
        for _ in range(2):
            assert (await sign_up(client, new_email())).status_code == 201
        refused = await sign_up(client, new_email())
        assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 3600
    async with serve_in_process(app, client_host="203.0.113.21") as other:
        assert (await sign_up(other, new_email())).status_code == 201


async def test_sign_ins_past_the_hashing_slots_wait_then_answer_503(settings, monkeypatch):
    monkeypatch.setattr(passwords, "HASH_SLOTS", 1)
    passwords._slots.clear()
    app = create_app(msgspec.structs.replace(settings, password_hash_wait_seconds=0.05))  # its own pool: concurrent
    async with serve_in_process(app, client_host="203.0.113.30") as client:
        answers = await asyncio.gather(*(log_in(client, new_email(), "a guess") for _ in range(6)))
    passwords._slots.clear()
    statuses = [answer.status_code for answer in answers]
    assert 401 in statuses and 503 in statuses and set(statuses) == {401, 503}, statuses
    busy = next(answer for answer in answers if answer.status_code == 503)
    assert busy.headers["retry-after"] == "1" and busy.headers["content-type"] == "application/problem+json"


async def test_profile_edit(client, db):
    user = await make_user(db)
    headers = bearer((await log_in(client, user.email, PASSWORD)).json()["access_token"])
    patched = await client.patch(
        "/api/me", headers=headers, json={"display_name": " Ana B. ", "territory": "Santa Fe", "actor_type": "academia"}
    )
    assert patched.status_code == 200
    body = patched.json()
    assert (body["display_name"], body["territory"], body["actor_type"]) == ("Ana B.", "Santa Fe", "academia")
    cleared = (await client.patch("/api/me", headers=headers, json={"territory": None})).json()
    assert cleared["territory"] is None and cleared["display_name"] == "Ana B."
    assert (await client.patch("/api/me", headers=headers, json={"email": "x@example.org"})).status_code == 400
    assert (await client.patch("/api/me", headers=headers, json={"display_name": "  "})).status_code == 422
    assert (await client.patch("/api/me", json={"territory": "x"})).status_code == 401


async def test_email_is_shown_to_the_user_and_admins_only(db):
    user, admin, other = await make_user(db), await make_user(db, is_admin=True), await make_user(db)
    assert user_out(user, user, None, today=date.today()).email == user.email
    assert user_out(user, admin, None, today=date.today()).email == user.email
    assert "email" not in msgspec.to_builtins(user_out(user, other, None, today=date.today()))
    assert "email" not in msgspec.to_builtins(user_out(user, None, None, today=date.today()))


async def test_a_body_over_the_limit_is_413_and_creates_nothing(settings, sessionmaker, db):
    app = create_app(Settings(database_url=settings.database_url, max_body_bytes=512), sessionmaker=sessionmaker)
    email = new_email()
    async with serve_in_process(app) as client:
        response = await sign_up(client, email, display_name="x" * 100, organization="y" * 1000)
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 413
    async with db.begin():
        assert await db.scalar(select(func.count()).select_from(User).where(User.email == email)) == 0


async def test_openapi_describes_the_account_routes(client):
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    expected = {
        "/api/auth/signup": "post",
        "/api/auth/login": "post",
        "/api/auth/logout": "post",
        "/api/auth/password-reset": "post",
        "/api/auth/password-reset/confirm": "post",
        "/api/me": "patch",
        "/api/me/representative-claim": "post",
        "/api/admin/representative-claims": "get",
        "/api/admin/users/{user_id}/representative": "post",
    }
    for path, method in expected.items():
        assert method in paths[path], path
        assert paths[path][method]["summary"]
    assert "get" in paths["/api/me"]
    assert "200" in paths["/api/auth/login"]["post"]["responses"]
    assert "202" in paths["/api/auth/password-reset"]["post"]["responses"]


async def test_an_unknown_address_costs_one_password_check_like_a_known_one(settings, sessionmaker, db, monkeypatch):
    """The dummy hash is made at startup, so the first unknown-address login does not hash anything first."""
    from deliberation.accounts import passwords

    class Spy(PasswordHasher):
        calls: list[str] = []

        def hash(self, *args, **kwargs):
            self.calls.append("hash")
            return super().hash(*args, **kwargs)

        def verify(self, *args, **kwargs):
            self.calls.append("verify")
            return super().verify(*args, **kwargs)

    spy = Spy()
    monkeypatch.setattr(passwords, "_hasher", lambda: spy)
    passwords._dummy_hash.cache_clear()
    user = await make_user(db)
    async with serve_in_process(create_app(settings, sessionmaker=sessionmaker)) as client:
        Spy.calls.clear()
        assert (await log_in(client, new_email(), PASSWORD)).status_code == 401
        unknown = list(Spy.calls)
        Spy.calls.clear()
        assert (await log_in(client, user.email, "not the right password")).status_code == 401
        assert unknown == Spy.calls == ["verify"]
    passwords._dummy_hash.cache_clear()  # made with the spy; the next test makes its own


async def test_ipv6_clients_are_throttled_by_their_64(settings, sessionmaker):
    app = create_app(
        Settings(database_url=settings.database_url, login_max_failures_per_address=2), sessionmaker=sessionmaker
    )
    for host in ("2001:db8:1:2::1", "2001:db8:1:2:ffff::9"):  # one /64
        async with serve_in_process(app, client_host=host) as client:
            assert (await log_in(client, new_email(), "whatever it is")).status_code == 401
    async with serve_in_process(app, client_host="2001:db8:1:2::7") as client:
        assert (await log_in(client, new_email(), "whatever it is")).status_code == 429
    async with serve_in_process(app, client_host="2001:db8:1:3::1") as other:
        assert (await log_in(other, new_email(), "whatever it is")).status_code == 401


async def test_signing_in_prunes_old_throttle_events_and_dead_tokens(client, db):
    user = await make_user(db)
    now = utcnow()
    async with db.begin():
        db.add_all(
            [
                ThrottleEvent(scope="login.address", key="198.51.100.1", at=now - timedelta(days=2)),
                ThrottleEvent(scope="reset.email", key="x@example.org", at=now - timedelta(minutes=5)),
            ]
        )
    await make_token(db, user, expires_at=now - timedelta(days=2))
    await make_token(db, user, expires_at=now - timedelta(hours=1))  # expired, not yet a day ago: kept
    assert (await log_in(client, user.email, PASSWORD)).status_code == 200
    async with db.begin():
        events = (await db.execute(select(ThrottleEvent.scope, ThrottleEvent.key))).all()
        tokens = (await db.scalars(select(AccessToken.expires_at).where(AccessToken.user_id == user.id))).all()
    assert ("login.address", "198.51.100.1") not in events
    assert ("reset.email", "x@example.org") in events
    assert len(tokens) == 2 and min(tokens) > now - timedelta(days=1)
