"""`GET /api/sessions/{id}/state`: one consistent snapshot; a snapshot plus the events after its `as_of_seq`
equals a fresh snapshot, for every event type (counters included)."""

from __future__ import annotations

import asyncio
import copy

import httpx
from sqlalchemy import text

from deliberation.db.engine import create_sessionmaker, read_snapshot
from deliberation.realtime.events import EVENT_NAMES
from tests.factories import draft, make_forum, open_vote, vote, write_post
from tests.proposals.conftest import propose, publish


def apply(state: dict, me: str, seq: int, event: str, data: dict) -> None:
    """What a client does with one event (docs/api.md, "Applying events to the state"): take the values it
    carries; never add or subtract."""
    session = state["session"]
    threads = {thread["id"]: thread for thread in state["threads"]}
    conclusions = {conclusion["id"]: conclusion for conclusion in state["conclusions"]}
    proposals = {proposal["id"]: proposal for proposal in state["proposals"]}
    if event == "session.updated":
        state["session"] = {**data, "my_role": session["my_role"]}
    elif event in ("member.joined", "member.updated") and data["user"]["id"] == me:
        session["my_role"] = data["role"]
    elif event == "member.removed" and data["user"]["id"] == me:
        session["my_role"] = None
    elif event in ("thread.created", "thread.updated"):
        threads[data["id"]] = data
    elif event in ("post.created", "post.deleted"):
        threads[data["thread_id"]]["post_count"] = data["thread_post_count"]
    elif event in ("conclusion.created", "conclusion.updated", "voting.opened", "voting.closed"):
        previous = conclusions.get(data["id"], {"my_vote": None, "tally": None})
        my_vote = previous["my_vote"] and {
            **previous["my_vote"],
            "stale": previous["my_vote"]["version"] != data["version"],
        }
        conclusions[data["id"]] = {**data, "my_vote": my_vote, "tally": previous["tally"]}
    elif event == "tally.updated":
        conclusions[data["conclusion_id"]]["tally"] = data
    elif event in ("proposal.created", "proposal.updated", "proposal.published"):
        proposals[data["id"]] = data
    elif event in ("endorsement.created", "endorsement.withdrawn"):
        proposals[data["proposal_id"]]["endorsement_count"] = data["endorsement_count"]
    elif event == "flags.changed":
        state["open_flags"] = data["open_flags"]
    state["threads"] = list(threads.values())
    state["conclusions"] = list(conclusions.values())
    state["proposals"] = list(proposals.values())
    state["as_of_seq"] = state["session"]["last_seq"] = seq


def comparable(state: dict) -> dict:
    """The state without presence (not sequenced), lists keyed by id (a client sorts them as it shows them)."""
    return {
        **{key: value for key, value in state.items() if key != "presence"},
        "threads": {thread["id"]: thread for thread in state["threads"]},
        "conclusions": {conclusion["id"]: conclusion for conclusion in state["conclusions"]},
        "proposals": {proposal["id"]: proposal for proposal in state["proposals"]},
    }


def differences(left, right, path: str = "") -> list[str]:
    """Where two states differ (for the failure message)."""
    if isinstance(left, dict) and isinstance(right, dict):
        return [
            d for key in left.keys() | right.keys() for d in differences(left.get(key), right.get(key), f"{path}.{key}")
        ]
    return [] if left == right else [f"{path}: {left!r} != {right!r}"]


async def settled_state(http: httpx.AsyncClient, url: str, headers: dict) -> dict:
    """The state once nothing more is coming (tally events follow votes by a fraction of a second)."""
    previous = None
    while True:
        response = await http.get(url, headers=headers)
        assert response.status_code == 200, response.text
        current = response.json()
        if previous is not None and current == previous:
            return current
        previous = current
        await asyncio.sleep(0.6)


async def events_after(http: httpx.AsyncClient, session_url: str, headers: dict, after: int) -> list[dict]:
    items, cursor = [], None
    while True:
        params = {"after": after, "limit": 200} | ({"cursor": cursor} if cursor else {})
        page = (await http.get(f"{session_url}/events", params=params, headers=headers)).json()
        items += page["items"]
        if not (cursor := page["next_cursor"]):
            return items


async def test_a_snapshot_plus_the_events_after_it_is_a_fresh_snapshot_for_every_event_type(server, committed):
    forum = await make_forum(committed, representatives=True)
    me = str(forum.users["cai"].id)
    session_url = f"/api/sessions/{forum.session.id}"
    state_url = f"{session_url}/state"
    seen: set[str] = set()
    async with httpx.AsyncClient(base_url=server.http) as http:

        async def call(method: str, url: str, who: str, expected: int = 200, if_match: str | None = None, **kwargs):
            headers = forum.as_(who) | ({"If-Match": if_match} if if_match else {})
            response = await http.request(method, url, headers=headers, **kwargs)
            assert response.status_code == expected, f"{method} {url}: {response.text}"
            return response.json() if response.content else {}

        my_votes: dict[str, dict] = {}  # the answers to my own votes (no event carries `my_vote`)

        async def step(*writes) -> None:
            """Snapshot, write, then: snapshot + events after it (+ my own votes' answers) == a fresh snapshot."""
            before = await settled_state(http, state_url, forum.as_("cai"))
            for write in writes:
                await write()
            fresh = await settled_state(http, state_url, forum.as_("cai"))
            events = await events_after(http, session_url, forum.as_("cai"), before["as_of_seq"])
            assert events, "the step wrote nothing"
            rebuilt = copy.deepcopy(before)
            for item in events:
                apply(rebuilt, me, item["seq"], item["event"], item["data"])
                seen.add(item["event"])
            for conclusion in rebuilt["conclusions"]:
                if (mine := my_votes.pop(conclusion["id"], None)) is not None:
                    conclusion["my_vote"] = {**mine, "stale": mine["version"] != conclusion["version"]}
            assert comparable(rebuilt) == comparable(fresh), differences(comparable(rebuilt), comparable(fresh))
            # Applying the same events twice (a replay overlapping a reconnect) changes nothing.
            for item in events:
                apply(rebuilt, me, item["seq"], item["event"], item["data"])
            assert comparable(rebuilt) == comparable(fresh)

        outsider = str(forum.users["outsider"].id)
        member_url = f"{session_url}/members/{outsider}"
        await step(lambda: call("PUT", member_url, "moderator", json={"role": "participant"}))
        await step(lambda: call("PUT", member_url, "moderator", json={"role": "moderator"}))
        await step(lambda: call("DELETE", member_url, "moderator", 204))
        await step(lambda: call("PATCH", session_url, "moderator", json={"title": "Renamed"}))

        thread = {}

        async def new_thread():
            thread.update(await call("POST", f"{session_url}/threads", "moderator", 201, json={"title": "Funding"}))

        await step(new_thread)
        await step(lambda: call("POST", f"/api/threads/{thread['id']}/moderation", "moderator", json={"action": "pin"}))
        posts = {}

        async def write_posts():
            posts["root"] = await call("POST", f"/api/threads/{thread['id']}/posts", "ana", 201, json={"body": "A"})
            posts["reply"] = await call(
                "POST",
                f"/api/threads/{thread['id']}/posts",
                "ben",
                201,
                json={"body": "B", "parent_id": posts["root"]["id"]},
            )

        await step(write_posts)
        root, reply = posts["root"]["id"], posts["reply"]["id"]
        await step(lambda: call("PATCH", f"/api/posts/{root}", "ana", json={"body": "A, edited"}))
        await step(lambda: call("PUT", f"/api/posts/{root}/reactions/agree", "ben", 204))
        await step(lambda: call("POST", f"/api/posts/{reply}/flags", "ana", 201, json={"reason": "spam"}))
        hide = {"action": "hide", "reason": "Off topic"}
        await step(lambda: call("POST", f"/api/posts/{reply}/moderation", "moderator", json=hide))
        await step(lambda: call("POST", f"/api/posts/{reply}/moderation", "moderator", json={"action": "unhide"}))
        await step(lambda: call("DELETE", f"/api/posts/{reply}", "ben", 204))

        conclusion = {}

        async def new_conclusion():
            conclusion.update(await draft(http, forum, source_post_ids=[root]))

        await step(new_conclusion)
        cid = conclusion["id"]
        new_title = {"title": "Buy local first"}
        await step(lambda: call("PATCH", f"/api/conclusions/{cid}", "moderator", if_match="1", json=new_title))
        await step(lambda: open_vote(http, forum, cid))

        async def votes():
            for who, choice in (("ana", "support"), ("ben", "support"), ("cai", "oppose")):
                answer = await vote(http, forum, who, cid, choice)
                assert answer.status_code == 200
            my_votes[cid] = answer.json()

        await step(votes)
        await step(
            lambda: call("PATCH", f"/api/conclusions/{cid}", "moderator", if_match="2", json={"body": "Sharper."})
        )

        async def confirm_and_close():
            for who in ("ana", "ben"):
                assert (await vote(http, forum, who, cid, "support")).status_code == 200
            await call("POST", f"/api/conclusions/{cid}/voting", "moderator", json={"action": "close"})

        await step(confirm_and_close)
        proposal = {}

        async def new_proposal():
            proposal.update(await propose(http, forum, [cid]))

        await step(new_proposal)
        pid = proposal["id"]
        await step(lambda: call("PATCH", f"/api/proposals/{pid}", "moderator", if_match="1", json={"title": "Sharper"}))
        await step(lambda: publish(http, forum, pid))
        await step(lambda: call("POST", f"/api/proposals/{pid}/endorsements", "mayor", 201, json={"stance": "endorse"}))
        await step(lambda: call("DELETE", f"/api/proposals/{pid}/endorsements/mine", "mayor", 204))

        final = (await http.get(state_url, headers=forum.as_("cai"))).json()
    assert seen == EVENT_NAMES
    # What was compared is not trivially empty.
    (closed,) = final["conclusions"]
    assert closed["status"] == "adopted" and closed["tally"]["support"] == 2 and closed["tally"]["stale"] == 1
    assert closed["my_vote"] == {"choice": "oppose", "version": 2, "stale": True, "comment": None}
    threads = {item["id"]: item for item in final["threads"]}
    assert threads[thread["id"]]["post_count"] == 1 and threads[thread["id"]]["pinned"] is True
    assert final["proposals"][0]["endorsement_count"] == 0 and final["open_flags"] == 0


async def test_the_snapshot_is_one_read_only_repeatable_read_transaction(own_engine):
    async with create_sessionmaker(own_engine)() as db, db.begin():
        await read_snapshot(db)
        isolation = await db.scalar(text("SHOW transaction_isolation"))
        read_only = await db.scalar(text("SHOW transaction_read_only"))
    assert (isolation, read_only) == ("repeatable read", "on")


async def test_the_state_is_for_members_and_shows_my_view(client, db):
    forum = await make_forum(db, representatives=True)
    url = f"/api/sessions/{forum.session.id}/state"
    assert (await client.get(url)).status_code == 401
    assert (await client.get(url, headers=forum.as_("outsider"))).status_code == 403
    post = await write_post(client, forum)
    assert (
        await client.post(f"/api/posts/{post}/flags", json={"reason": "spam"}, headers=forum.as_("ben"))
    ).status_code == 201
    drafted = await draft(client, forum, source_post_ids=[post])
    voted = await draft(client, forum, title="Voted", source_post_ids=[post])
    await open_vote(client, forum, voted["id"], results_visibility="after_close")
    assert (await vote(client, forum, "ana", voted["id"], "support")).status_code == 200
    state = (await client.get(url, headers=forum.as_("ana"))).json()
    session = (await client.get(f"/api/sessions/{forum.session.id}", headers=forum.as_("ana"))).json()
    assert state["as_of_seq"] == session["last_seq"] and state["session"] == session
    assert state["session"]["my_role"] == "participant"
    threads = (await client.get(f"/api/sessions/{forum.session.id}/threads", headers=forum.as_("ana"))).json()
    assert state["threads"] == threads["items"] and state["threads"][0]["post_count"] == 1
    by_id = {item["id"]: item for item in state["conclusions"]}
    assert by_id[drafted["id"]]["tally"] is None and by_id[drafted["id"]]["my_vote"] is None
    assert by_id[voted["id"]]["my_vote"]["choice"] == "support"
    assert by_id[voted["id"]]["tally"]["voters"] == 1 and by_id[voted["id"]]["tally"]["support"] is None  # hidden
    assert state["open_flags"] == 1 and state["proposals"] == [] and state["presence"] == {"online": 0, "users": []}
