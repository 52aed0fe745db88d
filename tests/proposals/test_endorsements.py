"""Endorsements: verified representatives only, on published proposals, one active each, withdrawals kept."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.exc import IntegrityError

from deliberation.db.base import utcnow
from deliberation.proposals import endorsements
from deliberation.proposals.models import Endorsement
from deliberation.proposals.schemas import EndorsementIn
from tests.proposals.conftest import decided, endorse, propose, publish


@pytest.fixture
async def published(client, forum) -> dict:
    adopted = await decided(client, forum, "Buy local")
    return await publish(client, forum, (await propose(client, forum, [adopted["id"]]))["id"])


async def test_only_verified_representatives_endorse(client, forum, published):
    for who in ("ana", "moderator", "outsider", "claimant", "admin"):
        response = await endorse(client, forum, who, published["id"])
        assert response.status_code == 403, who
    assert (
        await client.post(f"/api/proposals/{published['id']}/endorsements", json={"stance": "endorse"})
    ).status_code == 401

    given = await endorse(client, forum, "mayor", published["id"], statement="  Valle Norte will fund it.  ")
    assert given.status_code == 201, given.text
    body = given.json()
    assert body["representative"] == {
        "id": str(forum.users["mayor"].id),
        "display_name": "Mayor Elena",
        "office": "Mayor",
        "territory": "Valle Norte",
    }
    assert body["stance"] == "endorse" and body["statement"] == "Valle Norte will fund it."
    assert body["representative_verified"] is True and body["withdrawn_at"] is None

    again = await endorse(client, forum, "mayor", published["id"], "endorse_with_reservations")
    assert again.status_code == 409
    reserved = await endorse(client, forum, "councillor", published["id"], "endorse_with_reservations")
    assert reserved.status_code == 201 and reserved.json()["statement"] is None
    assert (await client.get(f"/api/proposals/{published['id']}")).json()["endorsement_count"] == 2

    listed = (await client.get(f"/api/proposals/{published['id']}/endorsements")).json()  # no account needed
    assert [(item["representative"]["display_name"], item["stance"]) for item in listed["items"]] == [
        ("Mayor Elena", "endorse"),
        ("Councillor Sam", "endorse_with_reservations"),
    ]
    assert listed["next_cursor"] is None


async def test_drafts_cannot_be_endorsed_and_statements_have_a_limit(client, forum, published):
    adopted = await decided(client, forum, "Train suppliers")
    draft = await propose(client, forum, [adopted["id"]])
    assert (await endorse(client, forum, "mayor", draft["id"])).status_code == 409
    assert (await endorse(client, forum, "ana", draft["id"])).status_code == 403

    too_long = await endorse(client, forum, "mayor", published["id"], statement="x" * 2001)
    assert too_long.status_code == 422 and too_long.json()["errors"][0]["field"].endswith("statement")
    assert (await endorse(client, forum, "mayor", published["id"], "maybe")).status_code == 422
    assert (await endorse(client, forum, "mayor", published["id"], statement="x" * 2000)).status_code == 201


async def test_withdrawing_keeps_the_record_and_allows_endorsing_again(client, forum, published):
    url = f"/api/proposals/{published['id']}"
    assert (await endorse(client, forum, "mayor", published["id"], statement="Yes.")).status_code == 201
    assert (await client.delete(f"{url}/endorsements/mine", headers=forum.as_("councillor"))).status_code == 404
    assert (await client.delete(f"{url}/endorsements/mine", headers=forum.as_("mayor"))).status_code == 204
    assert (await client.delete(f"{url}/endorsements/mine", headers=forum.as_("mayor"))).status_code == 404
    assert (await client.get(url)).json()["endorsement_count"] == 0

    items = (await client.get(f"{url}/endorsements")).json()["items"]
    assert len(items) == 1 and items[0]["withdrawn_at"] is not None and items[0]["statement"] == "Yes."

    again = await endorse(client, forum, "mayor", published["id"], "endorse_with_reservations", statement="On terms.")
    assert again.status_code == 201
    items = (await client.get(f"{url}/endorsements")).json()["items"]
    assert [(item["stance"], item["withdrawn_at"] is None) for item in items] == [
        ("endorse", False),
        ("endorse_with_reservations", True),
    ]
    assert (await client.get(url)).json()["endorsement_count"] == 1
    page = (await client.get(f"{url}/endorsements", params={"limit": 1})).json()
    rest = (await client.get(f"{url}/endorsements", params={"cursor": page["next_cursor"]})).json()
    assert [item["id"] for item in page["items"] + rest["items"]] == [item["id"] for item in items]


async def test_a_representative_no_longer_verified_keeps_earlier_endorsements_marked(client, forum, published):
    url = f"/api/proposals/{published['id']}"
    assert (await endorse(client, forum, "councillor", published["id"])).status_code == 201
    unverify = await client.post(
        f"/api/admin/users/{forum.users['councillor'].id}/representative",
        json={"verified": False, "reason": "Term ended early."},
        headers=forum.as_("admin"),
    )
    assert unverify.status_code == 200
    (item,) = (await client.get(f"{url}/endorsements")).json()["items"]
    assert item["representative_verified"] is False and item["withdrawn_at"] is None
    assert item["representative"]["office"] == "Regional Councillor"  # the capacity in which they endorsed
    assert (await client.get(url)).json()["endorsement_count"] == 1

    # They may still withdraw it, but cannot endorse again.
    assert (await client.delete(f"{url}/endorsements/mine", headers=forum.as_("councillor"))).status_code == 204
    assert (await endorse(client, forum, "councillor", published["id"])).status_code == 403


async def test_endorsing_and_withdrawing_are_audited_and_announced(client, forum, published):
    url = f"/api/proposals/{published['id']}"
    given = (await endorse(client, forum, "mayor", published["id"], statement="Yes.")).json()
    await client.delete(f"{url}/endorsements/mine", headers=forum.as_("mayor"))

    entries = (await client.get("/api/audit", params={"session": str(forum.session.id)})).json()["items"]
    steps = [(e["action"], e["actor"]["display_name"]) for e in entries if e["action"].startswith("endorsement.")]
    assert steps == [("endorsement.given", "Mayor Elena"), ("endorsement.withdrawn", "Mayor Elena")]
    assert entries[-2]["data"]["statement"] == "Yes." and entries[-2]["target_id"] == published["id"]

    events = (await client.get(f"/api/sessions/{forum.session.id}/events", headers=forum.as_("ana"))).json()["items"]
    endorsement_events = [e for e in events if e["event"].startswith("endorsement.")]
    assert [e["event"] for e in endorsement_events] == ["endorsement.created", "endorsement.withdrawn"]
    assert endorsement_events[0]["data"] == {**given, "endorsement_count": 1}  # the count after, not a delta
    assert endorsement_events[1]["data"]["withdrawn_at"] is not None
    assert endorsement_events[1]["data"]["endorsement_count"] == 0


async def test_the_database_allows_one_active_endorsement_per_representative(db, forum, published, client):
    def row(**extra):
        fields = {"office": "Mayor", "territory": "Valle Norte", "stance": "endorse", **extra}
        return Endorsement(proposal_id=published["id"], representative_id=forum.users["mayor"].id, **fields)

    async with db.begin():
        db.add_all([row(withdrawn_at=utcnow()), row()])  # a withdrawn one does not count
    with pytest.raises(IntegrityError):
        async with db.begin():
            db.add(row())


async def test_only_the_active_endorsement_index_means_already_endorsed(db, client, forum, published, monkeypatch):
    """Past the check (as two racing requests would be), the unique index answers 409; other errors are not 409."""

    async def none(*_):
        return None

    assert (await endorse(client, forum, "mayor", published["id"])).status_code == 201
    monkeypatch.setattr(endorsements, "_active_endorsement", none)
    assert (await endorse(client, forum, "mayor", published["id"])).status_code == 409
    monkeypatch.setattr(endorsements, "ACTIVE_ENDORSEMENT_INDEX", "another_constraint")
    with pytest.raises(IntegrityError):
        data = EndorsementIn(stance="endorse")
        await endorsements.endorse(db, uuid.UUID(published["id"]), forum.users["mayor"], data, now=utcnow())
