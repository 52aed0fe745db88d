"""Live: a member's websocket sees every change, and replaying the events rebuilds what HTTP shows.
Reactions racing over real connections keep exact counts; their events are coalesced, the last counts always sent."""

import asyncio
import json
import time

import httpx
import msgspec
from sqlalchemy import func, select, text

from deliberation.threads.models import Post, Reaction
from tests.factories import make_forum, make_forum_session, make_thread, reactions_published, signed_in
from tests.live import connect, live_server, receive, receive_events


def apply(state: dict, event: str, data: dict) -> None:
    """What a client does with each event: replace the object; take the counters it carries (never add).

    Replayed after a deletion, a `post.created` carries the tombstone (the log is redacted) and its counters."""
    threads, posts, order = state["threads"], state["posts"], state["order"]
    if event in ("thread.created", "thread.updated"):
        threads[data["id"]] = data
        return
    post = {key: value for key, value in data.items() if key not in ("thread_post_count", "parent_reply_count")}
    if event == "post.created" and post["id"] not in posts:
        order.append(post["id"])
    posts[post["id"]] = post
    if data.get("thread_post_count") is not None:  # post.created, post.deleted
        threads[data["thread_id"]]["post_count"] = data["thread_post_count"]
    if data.get("parent_reply_count") is not None:  # a reply's post.created
        posts[data["parent_id"]]["reply_count"] = data["parent_reply_count"]


def tree(state: dict, thread_id: str) -> list[dict]:
    """The thread's posts as `GET /api/threads/{id}/posts?sort=oldest` nests them."""
    nodes = {post_id: {**state["posts"][post_id], "replies": []} for post_id in state["order"]}
    roots = []
    for post_id in state["order"]:
        node = nodes[post_id]
        if node["thread_id"] != thread_id:
            continue
        (roots if node["parent_id"] is None else nodes[node["parent_id"]]["replies"]).append(node)
    return roots


async def test_replaying_the_events_gives_what_the_api_returns(server, committed):
    forum = await make_forum(committed)
    _, observer_headers = await signed_in(committed, display_name="Watcher")
    async with httpx.AsyncClient(base_url=server.http) as http:
        assert (await http.post(f"/api/sessions/{forum.session.id}/join", headers=observer_headers)).status_code == 204
        session_url = f"/api/sessions/{forum.session.id}"
        before = (await http.get(session_url, headers=observer_headers)).json()["last_seq"]
        listed = (await http.get(f"{session_url}/threads", headers=observer_headers)).json()["items"]
        state = {"threads": {t["id"]: t for t in listed}, "posts": {}, "order": []}
        socket, _ = await connect(server, forum.session.id, observer_headers["Authorization"][7:], after=before)

        async def call(method: str, url: str, who: str, expected: int, **kwargs) -> dict | None:
            response = await http.request(method, url, headers=forum.as_(who), **kwargs)
            assert response.status_code == expected, response.text
            return response.json() if response.content else None

        new = await call("POST", f"{session_url}/threads", "moderator", 201, json={"title": "Funding", "body": "?"})
        threads = [str(forum.thread.id), new["id"]]
        a = await call("POST", f"/api/threads/{new['id']}/posts", "ana", 201, json={"body": "A"})
        b = await call("POST", f"/api/threads/{new['id']}/posts", "ben", 201, json={"body": "B", "parent_id": a["id"]})
        c = await call("POST", f"/api/threads/{new['id']}/posts", "ana", 201, json={"body": "C", "parent_id": b["id"]})
        d = await call("POST", f"/api/threads/{new['id']}/posts", "ben", 201, json={"body": "D"})
        e = await call("POST", f"/api/threads/{forum.thread.id}/posts", "ben", 201, json={"body": "E"})
        await call("PUT", f"/api/posts/{a['id']}/reactions/agree", "ben", 204)
        await call("PUT", f"/api/posts/{a['id']}/reactions/insightful", "ben", 204)
        await call("PUT", f"/api/posts/{d['id']}/reactions/agree", "ana", 204)
        await call("DELETE", f"/api/posts/{a['id']}/reactions/insightful", "ben", 204)
        await reactions_published(committed, forum.session.id)  # coalesced: one to four events, the last counts
        await call("PATCH", f"/api/posts/{a['id']}", "ana", 200, json={"body": "A, edited"})
        await call(
            "POST", f"/api/posts/{c['id']}/moderation", "moderator", 200, json={"action": "hide", "reason": "rude"}
        )
        await call("PATCH", f"/api/posts/{c['id']}", "ana", 200, json={"body": "C, still hidden"})
        await call("POST", f"/api/posts/{b['id']}/moderation", "moderator", 200, json={"action": "hide", "reason": "x"})
        await call("POST", f"/api/posts/{b['id']}/moderation", "moderator", 200, json={"action": "unhide"})
        await call("DELETE", f"/api/posts/{d['id']}", "ben", 204)
        await call("DELETE", f"/api/posts/{e['id']}", "moderator", 204)
        await call("POST", f"/api/threads/{new['id']}/moderation", "moderator", 200, json={"action": "pin"})
        await call("POST", f"/api/threads/{forum.thread.id}/moderation", "moderator", 200, json={"action": "lock"})

        after = (await http.get(session_url, headers=observer_headers)).json()["last_seq"]
        async with socket:
            frames = await receive_events(socket, after - before)
        for frame in frames:
            apply(state, frame["event"], frame["data"])
        reacted = [f["data"] for f in frames if f["event"] == "reactions.updated"]
        assert 2 <= len(reacted) <= 4
        last = {data["id"]: data["reactions"] for data in reacted}
        agreed = {"agree": 1, "disagree": 0, "insightful": 0}
        assert last == {a["id"]: agreed, d["id"]: agreed}  # the final counts reach the client
        assert [f["event"] for f in frames] == [
            "thread.created",
            *["post.created"] * 5,
            *["reactions.updated"] * len(reacted),
            "post.updated",
            "post.hidden",
            "post.updated",
            "post.hidden",
            "post.unhidden",
            "post.deleted",
            "post.deleted",
            "thread.updated",
            "thread.updated",
        ]

        for thread_id in threads:
            page = (await http.get(f"/api/threads/{thread_id}/posts", headers=observer_headers)).json()
            assert page["items"] == tree(state, thread_id)
            assert (await http.get(f"/api/threads/{thread_id}", headers=observer_headers)).json() == state["threads"][
                thread_id
            ]
        listed = (await http.get(f"{session_url}/threads", headers=observer_headers)).json()["items"]
        assert {t["id"]: t for t in listed} == state["threads"]
        # What was checked is not trivially empty: the hidden reply has no body for the observer, its author sees it.
        hidden = state["posts"][c["id"]]
        assert (hidden["body"], hidden["hidden"]) == ("", {"reason": "rude"})
        assert (await http.get(f"/api/posts/{c['id']}", headers=forum.as_("ana"))).json()["body"] == "C, still hidden"


async def test_a_late_member_replaying_from_zero_never_sees_erased_text(server, committed):
    """Done when 2 of issue 14: a deleted post and a post hidden after an edit leave no text in the event log."""
    forum = await make_forum(committed)
    _, late = await signed_in(committed, display_name="Late")
    async with httpx.AsyncClient(base_url=server.http) as http:

        async def call(method: str, url: str, who: str, expected: int, **kwargs) -> dict | None:
            response = await http.request(method, url, headers=forum.as_(who), **kwargs)
            assert response.status_code == expected, response.text
            return response.json() if response.content else None

        posts = f"/api/threads/{forum.thread.id}/posts"
        kept = await call("POST", posts, "ben", 201, json={"body": "A kept post."})
        deleted = await call("POST", posts, "ana", 201, json={"body": "ERASED-1 my phone number"})
        await call("PUT", f"/api/posts/{deleted['id']}/reactions/agree", "ben", 204)
        await reactions_published(committed, forum.session.id)
        await call("PATCH", f"/api/posts/{deleted['id']}", "ana", 200, json={"body": "ERASED-2 still my number"})
        await call("DELETE", f"/api/posts/{deleted['id']}", "ana", 204)
        hidden = await call("POST", posts, "ben", 201, json={"body": "ERASED-3 an insult"})
        await call("PATCH", f"/api/posts/{hidden['id']}", "ben", 200, json={"body": "ERASED-4 a worse insult"})
        await call(
            "POST", f"/api/posts/{hidden['id']}/moderation", "moderator", 200, json={"action": "hide", "reason": "x"}
        )

        session_url = f"/api/sessions/{forum.session.id}"
        assert (await http.post(f"{session_url}/join", headers=late)).status_code == 204
        last_seq = (await http.get(session_url, headers=late)).json()["last_seq"]
        over_http, cursor = [], None
        while True:
            params = {"after": 0, "limit": 2} if cursor is None else {"cursor": cursor, "limit": 2}
            page = (await http.get(f"{session_url}/events", params=params, headers=late)).json()
            over_http += page["items"]
            if (cursor := page["next_cursor"]) is None:
                break
        socket, _ = await connect(server, forum.session.id, late["Authorization"][7:], after=0)
        async with socket:
            over_websocket = await receive_events(socket, last_seq)

    assert [e["seq"] for e in over_http] == [f["seq"] for f in over_websocket] == list(range(1, last_seq + 1))
    about = {post["id"]: [] for post in (kept, deleted, hidden)}
    for frame in over_websocket:
        if frame["event"].startswith(("post.", "reactions.")):
            about[frame["data"]["id"]].append(frame["event"])
    # The events keep their seq and type; their data is each post's view as it is now.
    assert about[deleted["id"]] == ["post.created", "reactions.updated", "post.updated", "post.deleted"]
    assert about[hidden["id"]] == ["post.created", "post.updated", "post.hidden"]
    assert "A kept post." in json.dumps(over_websocket)
    for replay in (over_http, over_websocket):
        assert "ERASED" not in json.dumps(replay)
    assert [e["data"] for e in over_http] == [f["data"] for f in over_websocket]


async def test_racing_reactions_keep_exact_counts(live_client, committed):
    people = [await signed_in(committed) for _ in range(12)]
    session = await make_forum_session(committed, members={user: "participant" for user, _ in people})
    thread = await make_thread(committed, session)
    post = (
        await live_client.post(f"/api/threads/{thread.id}/posts", json={"body": "vote"}, headers=people[0][1])
    ).json()
    url = f"/api/posts/{post['id']}/reactions"

    # Every member agrees at once, the first one eight times over, while others add and take back "disagree".
    calls = [live_client.put(f"{url}/agree", headers=headers) for _, headers in people]
    calls += [live_client.put(f"{url}/agree", headers=people[0][1]) for _ in range(8)]
    calls += [live_client.put(f"{url}/disagree", headers=headers) for _, headers in people[:6]]
    calls += [live_client.delete(f"{url}/disagree", headers=headers) for _, headers in people[:3]]
    answers = await asyncio.gather(*calls)
    assert {answer.status_code for answer in answers} == {204}
    await reactions_published(committed, session.id)

    seen = (await live_client.get(f"/api/posts/{post['id']}", headers=people[0][1])).json()
    async with committed.begin():
        rows = dict(
            (
                await committed.execute(
                    select(Reaction.kind, func.count()).where(Reaction.post_id == post["id"]).group_by(Reaction.kind)
                )
            ).all()
        )
        stored = await committed.get(Post, post["id"])
    assert seen["reactions"]["agree"] == rows["agree"] == 12
    assert seen["reactions"]["disagree"] == rows.get("disagree", 0) == stored.disagree_count
    assert 3 <= seen["reactions"]["disagree"] <= 6
    # Coalesced: at most one reactions.updated per real change (fewer when they came close together), the last
    # with the final counts.
    events = (await live_client.get(f"/api/sessions/{session.id}/events", headers=people[0][1])).json()["items"]
    changes = [e["data"]["reactions"] for e in events if e["event"] == "reactions.updated"]
    assert 1 <= len(changes) <= 12 + seen["reactions"]["disagree"] + 2 * (6 - seen["reactions"]["disagree"])
    assert changes[-1] == seen["reactions"]


KINDS = ("agree", "insightful")


async def test_a_reaction_storm_is_a_few_events_and_the_last_carries_the_final_counts(server, committed):
    """50 reactions on one post in quick succession: a live client gets far fewer `reactions.updated` (at most
    one per post per DELIBERATION_REACTION_EVENT_INTERVAL_SECONDS, 0.25) and ends with the final counts."""
    people = [await signed_in(committed) for _ in range(25)]
    session = await make_forum_session(committed, members={user: "participant" for user, _ in people})
    thread = await make_thread(committed, session)
    async with httpx.AsyncClient(base_url=server.http, timeout=60) as http:  # 50 at once on a busy machine
        post = (await http.post(f"/api/threads/{thread.id}/posts", json={"body": "!"}, headers=people[0][1])).json()
        socket, hello = await connect(server, session.id, people[0][1]["Authorization"][7:])
        url = f"/api/posts/{post['id']}/reactions"
        started = time.monotonic()
        answers = await asyncio.gather(
            *[http.put(f"{url}/{kind}", headers=headers) for _, headers in people for kind in KINDS]
        )
        took = time.monotonic() - started
        assert {answer.status_code for answer in answers} == {204}
        final = {"agree": 25, "disagree": 0, "insightful": 25}
        seen = []
        async with socket:
            while not seen or seen[-1] != final:
                frame = await receive(socket)
                if frame["type"] == "event":
                    assert frame["event"] == "reactions.updated" and frame["data"]["id"] == post["id"]
                    seen.append(frame["data"]["reactions"])
        logged = await http.get(
            f"/api/sessions/{session.id}/events", params={"after": hello["last_seq"]}, headers=people[0][1]
        )
    assert [e["data"]["reactions"] for e in logged.json()["items"]] == seen  # the log holds these events only
    assert len(seen) <= min(took / 0.25 + 2, 25), f"{len(seen)} events for 50 reactions in {took:.1f} s"


async def test_two_instances_publishing_reactions_send_a_post_at_most_once_per_interval(live_settings, committed):
    """Both instances run the reaction publisher: together they still send at most one event for the post per
    interval (0.25 s), and the last carries the final counts."""
    people = [await signed_in(committed) for _ in range(20)]
    session = await make_forum_session(committed, members={user: "participant" for user, _ in people})
    thread = await make_thread(committed, session)
    async with live_server(live_settings) as a, live_server(live_settings) as b:
        clients = [httpx.AsyncClient(base_url=server.http, timeout=60) for server in (a, b)]
        post = (
            await clients[0].post(f"/api/threads/{thread.id}/posts", json={"body": "!"}, headers=people[0][1])
        ).json()
        url = f"/api/posts/{post['id']}/reactions"
        answers, started = [], time.monotonic()
        for n, (_, headers) in enumerate(people):  # in waves over about two seconds, through either instance
            answers += await asyncio.gather(*[clients[n % 2].put(f"{url}/{kind}", headers=headers) for kind in KINDS])
            await asyncio.sleep(0.1)
        assert {answer.status_code for answer in answers} == {204}
        await reactions_published(committed, session.id)
        took = time.monotonic() - started
        events = (await clients[1].get(f"/api/sessions/{session.id}/events", headers=people[0][1])).json()["items"]
        for client in clients:
            await client.aclose()
    reacted = [event for event in events if event["event"] == "reactions.updated"]
    assert len(reacted) >= 2, "one event: nothing to tell about two publishers"
    assert reacted[-1]["data"]["reactions"] == {"agree": 20, "disagree": 0, "insightful": 20}
    # One publisher's worth (two that did not see each other's claims would send up to twice as many).
    assert len(reacted) <= took / 0.25 + 2, f"{len(reacted)} events in {took:.1f} s"


async def test_refusals_do_not_wait_for_the_session_row(live_client, committed, committed_engine):
    """A non-member (or a member where moderators act) is refused without queueing behind the session's writers."""
    forum = await make_forum(committed)
    post = (
        await live_client.post(f"/api/threads/{forum.thread.id}/posts", json={"body": "hi"}, headers=forum.as_("ana"))
    ).json()
    async with committed_engine.connect() as writer:  # a writer of the session, holding its row
        await writer.execute(text("SELECT 1 FROM sessions WHERE id = :id FOR NO KEY UPDATE"), {"id": forum.session.id})
        outsider, ana = forum.as_("outsider"), forum.as_("ana")
        for call in [
            live_client.post(f"/api/threads/{forum.thread.id}/posts", json={"body": "x"}, headers=outsider),
            live_client.put(f"/api/posts/{post['id']}/reactions/agree", headers=outsider),
            live_client.post(f"/api/posts/{post['id']}/flags", json={"reason": "spam"}, headers=outsider),
            live_client.patch(f"/api/posts/{post['id']}", json={"body": "y"}, headers=forum.as_("ben")),
            live_client.delete(f"/api/posts/{post['id']}", headers=forum.as_("ben")),
            live_client.post(f"/api/posts/{post['id']}/moderation", json={"action": "unhide"}, headers=ana),
            live_client.post(f"/api/threads/{forum.thread.id}/moderation", json={"action": "lock"}, headers=ana),
            live_client.post(f"/api/sessions/{forum.session.id}/threads", json={"title": "t"}, headers=ana),
        ]:
            assert (await asyncio.wait_for(call, timeout=10)).status_code == 403
        await writer.rollback()


async def _statements(http: httpx.AsyncClient) -> float:
    lines = (await http.get("/metrics")).text.splitlines()
    return next(float(line.rpartition(" ")[2]) for line in lines if 'round_trips_total{kind="statement"}' in line)


async def test_an_idle_service_leaves_the_database_alone_and_a_reaction_is_still_sent_at_once(live_settings, committed):
    """The tally and reaction publishers wait for a commit of their own instance (or
    DELIBERATION_PUBLISHER_IDLE_SECONDS) instead of asking the database four times per interval. Here the idle look
    is a minute away, so the reaction's event can only come within `receive`'s 10 s by the commit's wake-up."""
    (user, headers), (watcher, watcher_headers) = [await signed_in(committed) for _ in range(2)]
    session = await make_forum_session(committed, members={user: "participant", watcher: "participant"})
    thread = await make_thread(committed, session)
    settings = msgspec.structs.replace(live_settings, publisher_idle_seconds=60.0)
    async with live_server(settings) as server, httpx.AsyncClient(base_url=server.http, timeout=30) as http:
        post = (await http.post(f"/api/threads/{thread.id}/posts", json={"body": "!"}, headers=headers)).json()
        socket, _ = await connect(server, session.id, watcher_headers["Authorization"][7:])
        async with socket:
            await asyncio.sleep(0.5)  # the post's own round is over
            before = await _statements(http)
            await asyncio.sleep(2)
            idle = await _statements(http) - before
            assert (await http.put(f"/api/posts/{post['id']}/reactions/agree", headers=headers)).status_code == 204
            frame = await receive(socket)
            while frame["type"] != "event":
                frame = await receive(socket)
    assert frame["event"] == "reactions.updated" and frame["data"]["reactions"]["agree"] == 1
    # The vote closer's second (1 s) and the publishers' rounds after the post: a handful, where polling made ~50.
    assert idle <= 12, f"{idle} statements in 2 idle seconds"
