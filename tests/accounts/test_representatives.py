import uuid
from datetime import UTC, date, datetime, timedelta

from deliberation.accounts.representatives import verified_claim
from deliberation.accounts.service import claim_is_verified, user_out
from deliberation.db.base import utcnow
from tests.factories import make_representative, make_user, signed_in

CLAIM = {"office": "Mayor", "territory": "Rosario, Santa Fe", "term_ends": "2099-12-10"}


async def audit_entries(client, action: str, user_id: str) -> list[dict]:
    """The public log's entries with this action about this user, read page by page."""
    found, params = [], {"limit": 200}
    while True:
        page = (await client.get("/api/audit", params=params)).json()
        found += [item for item in page["items"] if item["action"] == action and item["target_id"] == user_id]
        if page["next_cursor"] is None:
            return found
        params = {"limit": 200, "cursor": page["next_cursor"]}


async def test_claim_then_verification_shows_in_me_and_in_the_audit_log(client, db):
    user, headers = await signed_in(db)
    admin, admin_headers = await signed_in(db, is_admin=True)

    claimed = await client.post("/api/me/representative-claim", headers=headers, json=CLAIM)
    assert claimed.status_code == 202, claimed.text
    pending = {"office": "Mayor", "territory": "Rosario, Santa Fe", "term_ends": "2099-12-10", "verified": False}
    assert claimed.json()["representative"] == pending
    assert (await client.get("/api/me", headers=headers)).json()["representative"] == pending

    listed = (await client.get("/api/admin/representative-claims", headers=admin_headers)).json()
    [item] = [item for item in listed["items"] if item["user"]["id"] == str(user.id)]
    assert item["status"] == "pending"
    assert item["user"]["email"] == user.email

    verified = await client.post(
        f"/api/admin/users/{user.id}/representative", headers=admin_headers, json={"verified": True}
    )
    assert verified.status_code == 200
    assert verified.json()["representative"]["verified"] is True
    assert (await client.get("/api/me", headers=headers)).json()["representative"]["verified"] is True
    async with db.begin():
        assert await verified_claim(db, user.id, utcnow().date()) is not None
    [entry] = await audit_entries(client, "representative.verified", str(user.id))
    assert entry["target_type"] == "user"
    assert entry["actor"]["id"] == str(admin.id)
    assert entry["data"]["office"] == "Mayor"

    # Verifying again changes nothing and logs nothing.
    await client.post(f"/api/admin/users/{user.id}/representative", headers=admin_headers, json={"verified": True})
    assert len(await audit_entries(client, "representative.verified", str(user.id))) == 1

    pending_now = (await client.get("/api/admin/representative-claims", headers=admin_headers)).json()["items"]
    assert str(user.id) not in [item["user"]["id"] for item in pending_now]

    removed = await client.post(
        f"/api/admin/users/{user.id}/representative",
        headers=admin_headers,
        json={"verified": False, "reason": "Term ended early."},
    )
    assert removed.json()["representative"]["verified"] is False
    [entry] = await audit_entries(client, "representative.unverified", str(user.id))
    assert entry["reason"] == "Term ended early."
    async with db.begin():
        assert await verified_claim(db, user.id, utcnow().date()) is None


async def test_a_new_claim_waits_for_verification_again(client, db):
    user, headers = await signed_in(db)
    await make_representative(db, user)
    replaced = await client.post("/api/me/representative-claim", headers=headers, json=CLAIM | {"office": "Governor"})
    assert replaced.json()["representative"]["verified"] is False
    assert replaced.json()["representative"]["office"] == "Governor"
    [entry] = await audit_entries(client, "representative.unverified", str(user.id))
    assert entry["actor"]["id"] == str(user.id)


async def test_only_verified_claims_show_to_others_and_terms_end(db):
    user, other = await make_user(db), await make_user(db)
    claim = await make_representative(db, user, verified=False)
    today = datetime.now(UTC).date()
    assert user_out(user, other, claim, today=today).representative is None
    assert user_out(user, user, claim, today=today).representative is not None
    claim.status = "verified"
    assert user_out(user, other, claim, today=today).representative.verified is True
    claim.term_ends = today - timedelta(days=1)
    assert user_out(user, user, claim, today=today).representative.verified is False
    assert claim_is_verified(claim, today=date(2020, 1, 1)) is True  # the date is the caller's (the action's now)


async def test_a_claim_whose_term_has_ended_cannot_be_verified(app, client, db):
    user, headers = await signed_in(db)
    _, admin_headers = await signed_in(db, is_admin=True)
    term_ends = date(2031, 6, 30)
    app.state.clock = lambda: datetime(2031, 6, 1, tzinfo=UTC)
    claimed = await client.post(
        "/api/me/representative-claim", headers=headers, json=CLAIM | {"term_ends": "2031-06-30"}
    )
    assert claimed.status_code == 202
    url = f"/api/admin/users/{user.id}/representative"
    app.state.clock = lambda: datetime.combine(term_ends + timedelta(days=1), datetime.min.time(), UTC)
    late = await client.post(url, headers=admin_headers, json={"verified": True})
    assert late.status_code == 422
    assert late.json()["errors"][0]["field"] == "verified"
    assert (await client.post(url, headers=admin_headers, json={"verified": False})).status_code == 200
    app.state.clock = lambda: datetime.combine(term_ends, datetime.min.time(), UTC)
    assert (await client.post(url, headers=admin_headers, json={"verified": True})).status_code == 200


async def test_claims_and_verification_are_refused_where_they_should_be(client, db):
    user, headers = await signed_in(db)
    _, admin_headers = await signed_in(db, is_admin=True)
    past = await client.post("/api/me/representative-claim", headers=headers, json=CLAIM | {"term_ends": "2001-01-01"})
    assert past.status_code == 422
    assert (await client.post("/api/me/representative-claim", json=CLAIM)).status_code == 401
    assert (await client.get("/api/admin/representative-claims", headers=headers)).status_code == 403
    body = {"verified": True}
    assert (
        await client.post(f"/api/admin/users/{user.id}/representative", headers=headers, json=body)
    ).status_code == 403
    no_claim = await client.post(f"/api/admin/users/{user.id}/representative", headers=admin_headers, json=body)
    assert no_claim.status_code == 409
    unknown = await client.post(f"/api/admin/users/{uuid.uuid4()}/representative", headers=admin_headers, json=body)
    assert unknown.status_code == 404


async def test_claims_page_with_a_cursor(client, db):
    _, admin_headers = await signed_in(db, is_admin=True)
    for _ in range(3):
        await make_representative(db, await make_user(db), verified=False)
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/api/admin/representative-claims", headers=admin_headers, params=params)).json()
        seen += [item["user"]["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) >= 3
