"""Draft conclusions over HTTP: creating, versions with If-Match, voting rules, votes, tallies, the audit trail."""

from __future__ import annotations

import uuid
from datetime import timedelta

from deliberation.db.base import utcnow
from tests.factories import close_vote, draft, make_forum_session, make_thread, open_vote, vote, write_post


async def test_moderator_drafts_a_conclusion_from_posts_of_the_session(client, db, forum):
    first, second = await write_post(client, forum), await write_post(client, forum, "And train local suppliers.")
    created = await draft(client, forum, thread_id=str(forum.thread.id), source_post_ids=[first, second, first])
    assert created["version"] == 1 and created["status"] == "draft"
    assert created["source_post_ids"] == [first, second]
    assert created["voting"] is None and created["my_vote"] is None

    for who in ("ana", "outsider"):  # any signed-in user reads
        response = await client.get(f"/api/conclusions/{created['id']}", headers=forum.as_(who))
        assert response.status_code == 200 and response.json()["title"] == "Buy local"
    assert (await client.get(f"/api/conclusions/{created['id']}")).status_code == 401
    listed = (await client.get(f"/api/sessions/{forum.session.id}/conclusions", headers=forum.as_("ben"))).json()
    assert [item["id"] for item in listed["items"]] == [created["id"]]

    response = await client.post(
        f"/api/sessions/{forum.session.id}/conclusions", json={"title": "Mine", "body": ""}, headers=forum.as_("ana")
    )
    assert response.status_code == 403


async def test_sources_and_thread_must_belong_to_the_session(client, db, forum):
    other_session = await make_forum_session(db, members={forum.users["ana"]: "participant"})
    other_thread = await make_thread(db, other_session)
    response = await client.post(f"/api/threads/{other_thread.id}/posts", json={"body": "x"}, headers=forum.as_("ana"))
    foreign_post = response.json()["id"]
    url = f"/api/sessions/{forum.session.id}/conclusions"
    for body, field in (
        ({"source_post_ids": [foreign_post]}, "source_post_ids"),
        ({"source_post_ids": [str(uuid.uuid4())]}, "source_post_ids"),
        ({"thread_id": str(other_thread.id)}, "thread_id"),
    ):
        response = await client.post(url, json={"title": "T", "body": "B", **body}, headers=forum.as_("moderator"))
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == field


async def test_edits_make_versions_guarded_by_if_match(client, forum):
    conclusion = await draft(client, forum)
    url = f"/api/conclusions/{conclusion['id']}"
    mod = forum.as_("moderator")

    assert (await client.patch(url, json={"title": "New"}, headers=mod)).status_code == 428
    assert (await client.patch(url, json={"title": "New"}, headers={**mod, "If-Match": "v1"})).status_code == 400
    assert (
        await client.patch(url, json={"title": "New"}, headers={**forum.as_("ana"), "If-Match": "1"})
    ).status_code == 403

    etag = (await client.get(url, headers=mod)).headers["etag"]
    assert etag == '"1"'
    edited = await client.patch(url, json={"title": "Buy local first"}, headers={**mod, "If-Match": etag})
    assert edited.status_code == 200 and edited.json()["version"] == 2
    assert edited.json()["body"] == conclusion["body"]
    assert edited.headers["etag"] == '"2"' == (await client.get(url, headers=forum.as_("ana"))).headers["etag"]

    stale = await client.patch(url, json={"body": "Lost update"}, headers={**mod, "If-Match": "1"})
    assert stale.status_code == 412

    unchanged = await client.patch(url, json={"title": "Buy local first"}, headers={**mod, "If-Match": "2"})
    assert unchanged.json()["version"] == 2

    versions = (await client.get(f"{url}/versions", headers=forum.as_("outsider"))).json()["items"]
    assert [(v["version"], v["title"]) for v in versions] == [(1, "Buy local"), (2, "Buy local first")]
    assert versions[1]["author"]["display_name"] == "Mod"

    page = (await client.get(f"{url}/versions", params={"limit": 1}, headers=mod)).json()
    rest = (await client.get(f"{url}/versions", params={"cursor": page["next_cursor"]}, headers=mod)).json()
    assert [v["version"] for v in page["items"] + rest["items"]] == [1, 2] and rest["next_cursor"] is None


async def test_votes_need_membership_and_an_open_vote(client, forum):
    conclusion = await draft(client, forum)
    cid = conclusion["id"]
    assert (await vote(client, forum, "ana", cid, "support")).status_code == 409  # still a draft
    await open_vote(client, forum, cid)
    assert (await vote(client, forum, "outsider", cid, "support")).status_code == 403
    assert (await vote(client, forum, "ana", cid, "maybe")).status_code == 422
    assert (await vote(client, forum, "ana", cid, "support", comment="x" * 2001)).status_code == 422

    cast = await vote(client, forum, "ana", cid, "support", comment="Yes, with training.")
    assert cast.status_code == 200
    assert cast.json() == {"choice": "support", "version": 1, "comment": "Yes, with training."}
    changed = await vote(client, forum, "ana", cid, "oppose")
    assert changed.json()["choice"] == "oppose"
    mine = (await client.get(f"/api/conclusions/{cid}", headers=forum.as_("ana"))).json()["my_vote"]
    assert mine == {"choice": "oppose", "version": 1, "stale": False, "comment": None}

    assert (await client.delete(f"/api/conclusions/{cid}/vote", headers=forum.as_("ana"))).status_code == 204
    assert (await client.get(f"/api/conclusions/{cid}", headers=forum.as_("ana"))).json()["my_vote"] is None
    assert (await client.delete(f"/api/conclusions/{cid}/vote", headers=forum.as_("ana"))).status_code == 204

    await close_vote(client, forum, cid)
    assert (await vote(client, forum, "ana", cid, "support")).status_code == 409
    assert (await client.delete(f"/api/conclusions/{cid}/vote", headers=forum.as_("ben"))).status_code == 409


async def test_a_new_version_makes_earlier_votes_stale(client, forum):
    cid = (await draft(client, forum))["id"]
    await open_vote(client, forum, cid)
    await vote(client, forum, "ana", cid, "support")
    await vote(client, forum, "ben", cid, "oppose")
    edited = await client.patch(
        f"/api/conclusions/{cid}", json={"body": "Clearer text."}, headers={**forum.as_("moderator"), "If-Match": "1"}
    )
    assert edited.status_code == 200 and edited.json()["status"] == "voting"

    mine = (await client.get(f"/api/conclusions/{cid}", headers=forum.as_("ana"))).json()["my_vote"]
    assert mine["stale"] is True and mine["version"] == 1
    tally = (await client.get(f"/api/conclusions/{cid}/tally", headers=forum.as_("ana"))).json()
    assert (tally["version"], tally["voters"], tally["support"], tally["oppose"], tally["stale"]) == (2, 0, 0, 0, 2)

    await vote(client, forum, "ana", cid, "support")  # confirming again counts for version 2
    tally = (await client.get(f"/api/conclusions/{cid}/tally", headers=forum.as_("ana"))).json()
    assert (tally["support"], tally["stale"]) == (1, 1)


async def test_tally_by_actor_type_and_cross_actor_consensus(client, forum):
    cid = (await draft(client, forum))["id"]
    await open_vote(client, forum, cid)
    await vote(client, forum, "ana", cid, "support")  # civil_society
    await vote(client, forum, "moderator", cid, "support")  # civil_society
    await vote(client, forum, "ben", cid, "oppose")  # local_government
    url = f"/api/conclusions/{cid}/tally"
    tally = (await client.get(url, headers=forum.as_("ana"))).json()
    assert tally["by_actor_type"] == {
        "civil_society": {"support": 2, "oppose": 0, "abstain": 0},
        "local_government": {"support": 0, "oppose": 1, "abstain": 0},
    }
    assert tally["cross_actor_consensus"] is False
    assert (await client.get(url, headers=forum.as_("outsider"))).json() == tally  # any signed-in user
    assert (await client.get(url)).status_code == 401

    await vote(client, forum, "ben", cid, "support")
    await vote(client, forum, "cai", cid, "abstain")  # academia: abstaining only, so no majority for
    assert (await client.get(url, headers=forum.as_("ana"))).json()["cross_actor_consensus"] is False
    await client.delete(f"/api/conclusions/{cid}/vote", headers=forum.as_("cai"))
    assert (await client.get(url, headers=forum.as_("ana"))).json()["cross_actor_consensus"] is True


async def test_actor_type_is_the_one_at_vote_time(client, forum):
    cid = (await draft(client, forum))["id"]
    await open_vote(client, forum, cid)
    await vote(client, forum, "ben", cid, "support")
    response = await client.patch("/api/me", json={"actor_type": "academia"}, headers=forum.as_("ben"))
    assert response.status_code == 200
    tally = (await client.get(f"/api/conclusions/{cid}/tally", headers=forum.as_("ana"))).json()
    assert list(tally["by_actor_type"]) == ["local_government"]


async def test_closing_applies_the_rule_and_quorum_and_is_audited(client, forum):
    adopted_id = (await draft(client, forum))["id"]
    await open_vote(client, forum, adopted_id)
    await vote(client, forum, "ana", adopted_id, "support")
    await vote(client, forum, "ben", adopted_id, "abstain")
    closed = await close_vote(client, forum, adopted_id)
    assert closed["status"] == "adopted" and closed["voting"]["closed_at"] is not None

    tie_id = (await draft(client, forum))["id"]
    await open_vote(client, forum, tie_id)
    await vote(client, forum, "ana", tie_id, "support")
    await vote(client, forum, "ben", tie_id, "oppose")
    assert (await close_vote(client, forum, tie_id))["status"] == "rejected"

    quorum_id = (await draft(client, forum))["id"]
    opened = await open_vote(client, forum, quorum_id, quorum=3, results_visibility="after_close")
    assert opened["voting"]["quorum"] == 3 and opened["voting"]["rule"] == "support_over_oppose"
    await vote(client, forum, "ana", quorum_id, "support")
    await vote(client, forum, "ben", quorum_id, "abstain")  # abstentions count toward the quorum
    assert (await close_vote(client, forum, quorum_id))["status"] == "rejected"  # 2 voters < quorum 3

    # Once closed: the final tally is public and nothing changes any more.
    tally = (await client.get(f"/api/conclusions/{adopted_id}/tally")).json()
    assert (tally["status"], tally["support"], tally["abstain"], tally["voters"]) == ("adopted", 1, 1, 2)
    mod = forum.as_("moderator")
    response = await client.patch(
        f"/api/conclusions/{adopted_id}", json={"title": "x"}, headers={**mod, "If-Match": "1"}
    )
    assert response.status_code == 409
    for action in ("open", "close"):
        response = await client.post(f"/api/conclusions/{adopted_id}/voting", json={"action": action}, headers=mod)
        assert response.status_code == 409

    entries = (await client.get("/api/audit", params={"session": str(forum.session.id), "limit": 200})).json()["items"]
    closes = [e for e in entries if e["action"] == "conclusion.vote_closed" and e["target_id"] == adopted_id]
    assert closes[0]["data"]["result"] == "adopted"
    assert closes[0]["data"]["tally"]["support"] == 1 and closes[0]["data"]["closed_by"] == "moderator"
    actions = {e["action"] for e in entries if e["target_id"] == quorum_id}
    assert {"conclusion.created", "conclusion.vote_opened", "conclusion.vote_closed"} <= actions


async def test_only_moderators_open_and_close_and_close_times_lie_ahead(client, forum):
    cid = (await draft(client, forum))["id"]
    url = f"/api/conclusions/{cid}/voting"
    assert (await client.post(url, json={"action": "open"}, headers=forum.as_("ana"))).status_code == 403
    assert (await client.post(url, json={"action": "close"}, headers=forum.as_("moderator"))).status_code == 409
    past = (utcnow() - timedelta(minutes=1)).isoformat()
    response = await client.post(url, json={"action": "open", "closes_at": past}, headers=forum.as_("moderator"))
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "closes_at"
    await open_vote(client, forum, cid)
    assert (await client.post(url, json={"action": "open"}, headers=forum.as_("moderator"))).status_code == 409
    assert (await client.post(url, json={"action": "close"}, headers=forum.as_("ben"))).status_code == 403


async def test_a_vote_past_its_close_time_refuses_votes_before_the_closer_runs(app, client, forum):
    start = utcnow()
    app.state.clock = lambda: start
    cid = (await draft(client, forum))["id"]
    await open_vote(client, forum, cid, closes_at=(start + timedelta(minutes=5)).isoformat())
    assert (await vote(client, forum, "ana", cid, "support")).status_code == 200

    app.state.clock = lambda: start + timedelta(minutes=5)
    assert (await vote(client, forum, "ben", cid, "support")).status_code == 409
    assert (await client.delete(f"/api/conclusions/{cid}/vote", headers=forum.as_("ana"))).status_code == 409
    closed = await close_vote(client, forum, cid)
    assert closed["status"] == "adopted"
    assert closed["voting"]["closed_at"] == closed["voting"]["closes_at"]


async def test_unknown_conclusions_are_404(client, forum):
    missing = uuid.uuid4()
    assert (await client.get(f"/api/conclusions/{missing}", headers=forum.as_("ana"))).status_code == 404
    assert (await client.get(f"/api/conclusions/{missing}/tally")).status_code == 404
    assert (await vote(client, forum, "ana", str(missing), "support")).status_code == 404
    response = await client.get(f"/api/sessions/{uuid.uuid4()}/conclusions", headers=forum.as_("ana"))
    assert response.status_code == 404


async def test_a_removed_members_votes_no_longer_count(client, forum):
    """Her votes on open votes go with her membership; her vote on a closed one stays in its final tally."""
    closed, open_ = (await draft(client, forum))["id"], (await draft(client, forum, title="Open"))["id"]
    for cid in (closed, open_):
        await open_vote(client, forum, cid)
        await vote(client, forum, "ana", cid, "support")
        await vote(client, forum, "ben", cid, "oppose")
    await close_vote(client, forum, closed)
    removed = await client.delete(
        f"/api/sessions/{forum.session.id}/members/{forum.users['ana'].id}", headers=forum.as_("moderator")
    )
    assert removed.status_code == 204
    tally = (await client.get(f"/api/conclusions/{open_}/tally", headers=forum.as_("ben"))).json()
    assert (tally["voters"], tally["support"], tally["oppose"]) == (1, 0, 1)
    assert (await client.get(f"/api/conclusions/{closed}/tally")).json()["support"] == 1
    assert (await vote(client, forum, "ana", open_, "support")).status_code == 403


async def test_a_member_who_leaves_takes_her_open_votes_with_her(client, forum):
    """`DELETE /api/sessions/{id}/members/me`: like a removal, but her own doing (not audited)."""
    closed, open_ = (await draft(client, forum))["id"], (await draft(client, forum, title="Open"))["id"]
    for cid in (closed, open_):
        await open_vote(client, forum, cid)
        await vote(client, forum, "ana", cid, "support")
        await vote(client, forum, "ben", cid, "oppose")
    await close_vote(client, forum, closed)
    me = f"/api/sessions/{forum.session.id}/members/me"
    assert (await client.delete(me, headers=forum.as_("ana"))).status_code == 204
    tally = (await client.get(f"/api/conclusions/{open_}/tally", headers=forum.as_("ben"))).json()
    assert (tally["voters"], tally["support"], tally["oppose"]) == (1, 0, 1)
    assert (await client.get(f"/api/conclusions/{closed}/tally")).json()["support"] == 1
    assert (await vote(client, forum, "ana", open_, "support")).status_code == 403
    session = (await client.get(f"/api/sessions/{forum.session.id}", headers=forum.as_("ana"))).json()
    assert session["my_role"] is None and session["meeting_url"] is None
    events = (await client.get(f"/api/sessions/{forum.session.id}/events", headers=forum.as_("ben"))).json()
    removal = [item for item in events["items"] if item["event"] == "member.removed"]
    assert [item["data"]["user"]["id"] for item in removal] == [str(forum.users["ana"].id)]
    audit = (await client.get("/api/audit", params={"session": str(forum.session.id)})).json()["items"]
    assert "member.removed" not in {entry["action"] for entry in audit}
    # Leaving twice, or a session one never joined: 404; without a token: 401.
    assert (await client.delete(me, headers=forum.as_("ana"))).status_code == 404
    assert (await client.delete(me, headers=forum.as_("outsider"))).status_code == 404
    assert (await client.delete(me)).status_code == 401


def fields(response) -> list[str]:
    assert response.status_code == 422, response.text
    return [error["field"] for error in response.json()["errors"]]


async def test_nul_characters_are_refused_naming_the_field(client, forum):
    url = f"/api/sessions/{forum.session.id}/conclusions"
    for body, field in [({"title": "a\u0000b", "body": "x"}, "title"), ({"title": "t", "body": "a\u0000"}, "body")]:
        response = await client.post(url, json=body, headers=forum.as_("moderator"))
        assert fields(response) == [field]
    cid = (await draft(client, forum))["id"]
    edited = await client.patch(
        f"/api/conclusions/{cid}", json={"body": "\u0000"}, headers={**forum.as_("moderator"), "If-Match": "1"}
    )
    assert fields(edited) == ["body"]
    await open_vote(client, forum, cid)
    cast = await vote(client, forum, "ana", cid, "support", comment="no\u0000")
    assert fields(cast) == ["comment"]
