"""Results hidden until the close on every route and in every event; live events, coalesced tally snapshots."""

from __future__ import annotations

from datetime import timedelta

from deliberation.conclusions.tally import publish_due_tally
from deliberation.db.base import utcnow
from tests.factories import close_vote, draft, open_vote, vote

COUNT_FIELDS = ("support", "oppose", "abstain", "stale", "by_actor_type", "cross_actor_consensus")


def leaked_counts(value) -> list:
    """Every count field holding a value anywhere in a JSON document (None and {} hide nothing).

    `my_vote` is the viewer's own vote (its `stale` says whether it still counts), not a count of anyone's.
    """
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "my_vote":
                continue
            if key in COUNT_FIELDS and item not in (None, {}):
                found.append((key, item))
            found += leaked_counts(item)
    elif isinstance(value, list):
        for item in value:
            found += leaked_counts(item)
    return found


async def events(client, forum, who: str = "ana") -> list[dict]:
    response = await client.get(
        f"/api/sessions/{forum.session.id}/events", params={"limit": 200}, headers=forum.as_(who)
    )
    assert response.status_code == 200
    return response.json()["items"]


async def publish_all(db, now) -> int:
    """What the background loop does on one tick: send every due tally snapshot."""
    sent = 0
    while await publish_due_tally(db, now=now, interval=0.25):
        sent += 1
    return sent


async def test_after_close_no_route_and_no_event_shows_counts_before_the_close(client, db, forum):
    cid = (await draft(client, forum))["id"]
    opened = await open_vote(client, forum, cid, results_visibility="after_close")
    assert opened["voting"]["results_visibility"] == "after_close"
    now = utcnow()
    for who, choice in (("ana", "support"), ("ben", "oppose"), ("cai", "support"), ("moderator", "abstain")):
        assert (await vote(client, forum, who, cid, choice)).status_code == 200
        now += timedelta(seconds=1)
        assert await publish_all(db, now) == 1
    edited = await client.patch(
        f"/api/conclusions/{cid}", json={"body": "Reworded."}, headers={**forum.as_("moderator"), "If-Match": "1"}
    )
    assert edited.status_code == 200
    await vote(client, forum, "ana", cid, "support")
    assert await publish_all(db, now + timedelta(seconds=1)) == 1

    for who in ("moderator", "admin", "ana"):
        tally = (await client.get(f"/api/conclusions/{cid}/tally", headers=forum.as_(who))).json()
        assert tally["voters"] == 1 and tally["hidden"] is True
        assert leaked_counts(tally) == []
        for url in (f"/api/conclusions/{cid}", f"/api/sessions/{forum.session.id}/conclusions"):
            assert leaked_counts((await client.get(url, headers=forum.as_(who))).json()) == []
    seen = await events(client, forum, "moderator")
    tallies = [event["data"] for event in seen if event["event"] == "tally.updated"]
    assert [t["voters"] for t in tallies] == [1, 2, 3, 4, 1]
    assert leaked_counts(seen) == []
    assert {"conclusion.created", "voting.opened", "conclusion.updated"} <= {event["event"] for event in seen}

    closed = await close_vote(client, forum, cid)
    assert closed["status"] == "adopted"
    tally = (await client.get(f"/api/conclusions/{cid}/tally")).json()
    assert (tally["support"], tally["oppose"], tally["stale"], tally["hidden"]) == (1, 0, 3, False)
    after = (await events(client, forum))[len(seen) :]
    assert [event["event"] for event in after] == ["tally.updated", "voting.closed"]
    assert after[0]["data"]["support"] == 1 and after[0]["data"]["status"] == "adopted"


async def test_tally_events_are_coalesced_and_the_last_change_is_always_sent(client, db, forum):
    cid = (await draft(client, forum))["id"]
    await open_vote(client, forum, cid)
    start = utcnow()
    assert await publish_all(db, start) == 1  # opening asks for a first snapshot
    await vote(client, forum, "ana", cid, "support")
    await vote(client, forum, "ben", cid, "support")
    assert await publish_all(db, start + timedelta(milliseconds=100)) == 0  # too soon after the last one
    await vote(client, forum, "cai", cid, "oppose")
    assert await publish_all(db, start + timedelta(milliseconds=300)) == 1  # one snapshot for three votes
    assert await publish_all(db, start + timedelta(seconds=5)) == 0  # nothing changed since

    await client.delete(f"/api/conclusions/{cid}/vote", headers=forum.as_("cai"))
    assert await publish_all(db, start + timedelta(seconds=6)) == 1
    tallies = [event["data"] for event in await events(client, forum) if event["event"] == "tally.updated"]
    assert [(t["support"], t["oppose"]) for t in tallies] == [(0, 0), (2, 1), (2, 0)]
    assert all(t["conclusion_id"] == cid for t in tallies)


async def test_conclusion_events_carry_the_shared_view(client, forum):
    cid = (await draft(client, forum))["id"]
    await open_vote(client, forum, cid)
    await vote(client, forum, "ana", cid, "support")
    await close_vote(client, forum, cid)
    seen = {event["event"]: event["data"] for event in await events(client, forum)}
    assert seen["conclusion.created"]["id"] == cid and seen["conclusion.created"]["my_vote"] is None
    assert seen["voting.opened"]["status"] == "voting"
    assert seen["voting.closed"]["status"] == "adopted" and seen["voting.closed"]["my_vote"] is None
