"""Final proposals over HTTP: drafting from adopted conclusions, visibility, versions with If-Match, publishing."""

from __future__ import annotations

import uuid

from tests.factories import draft, make_forum_session, make_thread
from tests.proposals.conftest import decided, propose, publish


async def test_moderator_drafts_a_proposal_from_adopted_conclusions(client, forum):
    first, second = await decided(client, forum, "Buy local"), await decided(client, forum, "Train suppliers")
    created = await propose(client, forum, [second["id"], first["id"]])
    assert created["status"] == "draft" and created["version"] == 1
    assert created["conclusion_ids"] == [second["id"], first["id"]]  # the proposal's order
    assert created["published_at"] is None and created["content_sha256"] is None
    assert created["endorsement_count"] == 0

    url = f"/api/sessions/{forum.session.id}/proposals"
    body = {"title": "T", "summary": "S", "body": "B", "conclusion_ids": [first["id"]]}
    assert (await client.post(url, json=body, headers=forum.as_("ana"))).status_code == 403
    assert (await client.post(url, json=body)).status_code == 401
    assert (await client.post(url, json=body, headers=forum.as_("admin"))).status_code == 201


async def test_only_adopted_conclusions_of_the_session_may_be_included(client, db, forum):
    adopted = await decided(client, forum, "Buy local")
    rejected = await decided(client, forum, "Close the market", adopt=False)
    still_draft = await draft(client, forum, title="Not voted yet")
    other = await make_forum_session(db, members={forum.users["moderator"]: "moderator"})
    await make_thread(db, other)
    elsewhere = (
        await client.post(
            f"/api/sessions/{other.id}/conclusions", json={"title": "X", "body": "Y"}, headers=forum.as_("moderator")
        )
    ).json()
    url = f"/api/sessions/{forum.session.id}/proposals"
    for ids in (
        [adopted["id"], rejected["id"]],
        [still_draft["id"]],
        [elsewhere["id"]],
        [str(uuid.uuid4())],
        [adopted["id"], adopted["id"]],
        [],
    ):
        body = {"title": "T", "summary": "S", "body": "B", "conclusion_ids": ids}
        response = await client.post(url, json=body, headers=forum.as_("moderator"))
        assert response.status_code == 422, (ids, response.text)
        assert response.json()["errors"][0]["field"] == "conclusion_ids"


async def test_drafts_are_for_signed_in_users_published_proposals_for_everyone(client, forum):
    adopted = await decided(client, forum, "Buy local")
    first = await propose(client, forum, [adopted["id"]], title="First")
    second = await propose(client, forum, [adopted["id"]], title="Second")
    url = f"/api/sessions/{forum.session.id}/proposals"

    assert (await client.get(f"/api/proposals/{first['id']}", headers=forum.as_("outsider"))).status_code == 200
    assert (await client.get(f"/api/proposals/{first['id']}")).status_code == 404
    assert (await client.get(f"/api/proposals/{first['id']}/versions")).status_code == 404
    assert (await client.get(f"/api/proposals/{first['id']}/export")).status_code == 404
    assert (await client.get(f"/api/proposals/{first['id']}/endorsements")).status_code == 404
    assert (await client.get(url)).json()["items"] == []

    await publish(client, forum, second["id"])
    anonymous = await client.get(f"/api/proposals/{second['id']}")
    assert anonymous.status_code == 200 and anonymous.json()["status"] == "published"
    assert [item["title"] for item in (await client.get(url)).json()["items"]] == ["Second"]
    signed_in = (await client.get(url, headers=forum.as_("outsider"))).json()["items"]
    assert [item["title"] for item in signed_in] == ["First", "Second"]
    page = (await client.get(url, params={"limit": 1}, headers=forum.as_("ana"))).json()
    rest = (await client.get(url, params={"cursor": page["next_cursor"]}, headers=forum.as_("ana"))).json()
    assert [item["title"] for item in page["items"] + rest["items"]] == ["First", "Second"]
    assert (await client.get(f"/api/sessions/{uuid.uuid4()}/proposals")).status_code == 404


async def test_edits_are_versions_guarded_by_if_match_and_stop_at_publication(client, forum):
    first, second = await decided(client, forum, "Buy local"), await decided(client, forum, "Train suppliers")
    proposal = await propose(client, forum, [first["id"]])
    url = f"/api/proposals/{proposal['id']}"
    mod = forum.as_("moderator")

    assert (await client.patch(url, json={"title": "New"}, headers=mod)).status_code == 428
    assert (
        await client.patch(url, json={"title": "New"}, headers={**forum.as_("ana"), "If-Match": "1"})
    ).status_code == 403
    edited = await client.patch(
        url,
        json={"summary": "Sharper.", "conclusion_ids": [first["id"], second["id"]]},
        headers={**mod, "If-Match": '"1"'},
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["version"] == 2 and edited.json()["title"] == "Local alliances"
    assert edited.json()["conclusion_ids"] == [first["id"], second["id"]]
    assert (await client.patch(url, json={"body": "Lost"}, headers={**mod, "If-Match": "1"})).status_code == 412
    unchanged = await client.patch(url, json={"summary": "Sharper."}, headers={**mod, "If-Match": "2"})
    assert unchanged.json()["version"] == 2
    refused = await client.patch(url, json={"conclusion_ids": [str(uuid.uuid4())]}, headers={**mod, "If-Match": "2"})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "conclusion_ids"

    versions = (await client.get(f"{url}/versions", headers=forum.as_("outsider"))).json()["items"]
    assert [(v["version"], v["summary"], v["conclusion_ids"]) for v in versions] == [
        (1, "What we agreed.", [first["id"]]),
        (2, "Sharper.", [first["id"], second["id"]]),
    ]
    assert versions[1]["author"]["display_name"] == "Mod"

    assert (await client.post(f"{url}/publish", headers={**mod, "If-Match": "1"})).status_code == 412
    assert (await client.post(f"{url}/publish", headers=forum.as_("ana"))).status_code == 403
    published = await publish(client, forum, proposal["id"])
    assert published["version"] == 2 and published["published_at"] is not None
    assert len(published["content_sha256"]) == 64
    assert (await client.patch(url, json={"title": "Too late"}, headers={**mod, "If-Match": "2"})).status_code == 409
    assert (await client.post(f"{url}/publish", headers=mod)).status_code == 409
    assert (await client.get(url)).json() == published


async def test_steps_are_audited_and_announced(client, forum):
    adopted = await decided(client, forum, "Buy local")
    proposal = await propose(client, forum, [adopted["id"]])
    mod = forum.as_("moderator")
    await client.patch(f"/api/proposals/{proposal['id']}", json={"title": "Better"}, headers={**mod, "If-Match": "1"})
    published = await publish(client, forum, proposal["id"])

    entries = (await client.get("/api/audit", params={"session": str(forum.session.id)})).json()["items"]
    steps = [(e["action"], e["data"].get("version")) for e in entries if e["target_type"] == "proposal"]
    assert steps == [("proposal.created", 1), ("proposal.edited", 2), ("proposal.published", 2)]
    assert entries[-1]["data"]["content_sha256"] == published["content_sha256"]
    assert entries[-1]["actor"]["display_name"] == "Mod"

    events = (await client.get(f"/api/sessions/{forum.session.id}/events", headers=mod)).json()["items"]
    mine = [(e["event"], e["data"]["version"]) for e in events if e["event"].startswith("proposal.")]
    assert mine == [("proposal.created", 1), ("proposal.updated", 2), ("proposal.published", 2)]
    assert events[-1]["data"] == published


async def test_the_public_audit_log_does_not_disclose_drafts(client, forum):
    """Anonymous readers get 404 for drafts; the public log names them by id and version only."""
    adopted = await decided(client, forum, "Buy local")
    conclusion = await draft(client, forum, title="Secret conclusion draft")
    edited = await client.patch(
        f"/api/conclusions/{conclusion['id']}",
        json={"title": "Secret conclusion edit"},
        headers={**forum.as_("moderator"), "If-Match": "1"},
    )
    assert edited.status_code == 200
    proposal = await propose(client, forum, [adopted["id"]], title="Secret proposal draft")
    edited = await client.patch(
        f"/api/proposals/{proposal['id']}",
        json={"title": "Secret proposal edit"},
        headers={**forum.as_("moderator"), "If-Match": "1"},
    )
    assert edited.status_code == 200
    assert (await client.get(f"/api/proposals/{proposal['id']}")).status_code == 404
    log = await client.get(f"/api/audit?session={forum.session.id}&limit=100")
    actions = {entry["action"] for entry in log.json()["items"]}
    assert {"conclusion.created", "conclusion.edited", "proposal.created", "proposal.edited"} <= actions
    assert "Secret" not in log.text


async def test_a_proposal_carries_its_version_as_an_etag_that_if_match_takes_back(client, forum):
    adopted = await decided(client, forum, "Buy local")
    proposal = await propose(client, forum, [adopted["id"]])
    url = f"/api/proposals/{proposal['id']}"
    read = await client.get(url, headers=forum.as_("moderator"))
    assert read.headers["etag"] == '"1"'
    edited = await client.patch(
        url, json={"title": "Sharper"}, headers={**forum.as_("moderator"), "If-Match": read.headers["etag"]}
    )
    assert edited.status_code == 200 and edited.headers["etag"] == '"2"'
    stale = await client.patch(url, json={"title": "Lost"}, headers={**forum.as_("moderator"), "If-Match": '"1"'})
    assert stale.status_code == 412
    assert (await client.get(url, headers=forum.as_("ana"))).headers["etag"] == '"2"'
