"""Every session-scoped list carries `as_of_seq`, read in the same snapshot as its items: a list plus the events
after its `as_of_seq` is the list read afterwards, even while writes commit as it is read."""

from __future__ import annotations

import asyncio
import copy

from tests.factories import make_forum, reactions_published, write_post
from tests.proposals.conftest import decided, endorse, propose, publish
from tests.state.test_session_state import events_after

# Lists that are not of one session (their paths name no session resource): no `as_of_seq`.
GLOBAL_LISTS = {"listSessions", "listMySessions", "listLines", "listClaims", "listAudit"}


def list_operations(schema: dict) -> dict[str, tuple[str, dict]]:
    """operationId -> (path, the answer's schema) of every GET whose answer is a list (an object with `items`)."""
    lists = {}
    for path, item in schema["paths"].items():
        operation = item.get("get")
        content = (operation or {}).get("responses", {}).get("200", {}).get("content", {})
        ref = content.get("application/json", {}).get("schema", {}).get("$ref", "")
        answer = schema["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {})
        if "items" in answer.get("properties", {}):
            lists[operation["operationId"]] = (path, answer)
    return lists


def session_scoped(schema: dict) -> dict[str, tuple[str, dict]]:
    """The lists under a path naming a session or something in one (`{session_id}`, `{thread_id}`, ...)."""
    return {name: entry for name, entry in list_operations(schema).items() if "{" in entry[0]}


async def test_the_schema_gives_every_session_scoped_list_an_as_of_seq(client):
    schema = (await client.get("/schema/openapi.json")).json()
    lists, scoped = list_operations(schema), session_scoped(schema)
    # A new list is either under a session's resource (and then needs as_of_seq) or consciously global.
    assert set(lists) - set(scoped) == GLOBAL_LISTS
    assert len(scoped) >= 11  # threads, posts, revisions, flags, members, events, conclusions, versions, ...
    for name, (_, answer) in scoped.items():
        assert "as_of_seq" in answer["required"], name
        assert answer["properties"]["as_of_seq"]["type"] == "integer", name
    for name in GLOBAL_LISTS:
        assert "as_of_seq" not in lists[name][1]["properties"], name


async def test_every_session_scoped_list_answers_the_session_last_seq(live_client, committed):
    """Each list the schema names, called with real ids on the committed database (where the snapshot is a
    real read-only REPEATABLE READ transaction), answers the seq its items are as of."""
    forum = await make_forum(committed, representatives=True)
    moderator = forum.as_("moderator")
    post = await write_post(live_client, forum)
    edited = await live_client.patch(f"/api/posts/{post}", json={"body": "Edited."}, headers=forum.as_("ana"))
    assert edited.status_code == 200
    flagged = await live_client.post(f"/api/posts/{post}/flags", json={"reason": "spam"}, headers=forum.as_("ben"))
    assert flagged.status_code == 201
    conclusion = await decided(live_client, forum, "Buy local")
    proposal = await propose(live_client, forum, [conclusion["id"]])
    await publish(live_client, forum, proposal["id"])
    assert (await endorse(live_client, forum, "mayor", proposal["id"])).status_code == 201
    ids = {
        "session_id": forum.session.id,
        "thread_id": forum.thread.id,
        "post_id": post,
        "conclusion_id": conclusion["id"],
        "proposal_id": proposal["id"],
    }
    session = (await live_client.get(f"/api/sessions/{forum.session.id}", headers=moderator)).json()
    assert session["last_seq"] >= 10
    schema = (await live_client.get("/schema/openapi.json")).json()
    for name, (path, _) in session_scoped(schema).items():
        response = await live_client.get(path.format(**ids), headers=moderator)
        assert response.status_code == 200, (name, response.text)
        page = response.json()
        assert page["items"], name  # something was read in the snapshot, not just the seq
        assert page["as_of_seq"] == session["last_seq"], name


def apply_to_posts(page: dict, events: list[dict]) -> None:
    """What a client does with a thread's posts page (oldest first) and the events after its `as_of_seq`:
    a new post goes at the end of its siblings, every change takes the values the event carries."""
    nodes, stack = {}, list(page["items"])
    while stack:
        node = stack.pop()
        nodes[node["id"]] = node
        stack += node["replies"]
    for event in events:
        data = {key: value for key, value in event["data"].items() if key not in ("thread_post_count", "my_reactions")}
        if event["event"] == "post.created":
            assert data["id"] not in nodes, f"post {data['id']} is in the page and in an event after its as_of_seq"
            parent_reply_count = data.pop("parent_reply_count")
            node = nodes[data["id"]] = {**data, "my_reactions": [], "replies": []}
            if data["parent_id"] is None:
                page["items"].append(node)
            else:
                nodes[data["parent_id"]]["replies"].append(node)
                nodes[data["parent_id"]]["reply_count"] = parent_reply_count
        elif event["event"] == "reactions.updated":
            nodes[data["id"]].update(data)
        page["as_of_seq"] = event["seq"]


def apply_to_threads(page: dict, events: list[dict]) -> None:
    threads = {thread["id"]: thread for thread in page["items"]}
    for event in events:
        if event["event"] == "post.created":
            threads[event["data"]["thread_id"]]["post_count"] = event["data"]["thread_post_count"]
        page["as_of_seq"] = event["seq"]


async def test_a_list_read_while_writes_commit_plus_the_events_after_it_is_the_list_read_afterwards(
    live_client, committed
):
    forum = await make_forum(committed)
    session_url = f"/api/sessions/{forum.session.id}"
    posts_url, threads_url = f"/api/threads/{forum.thread.id}/posts", f"{session_url}/threads"
    reader = forum.as_("cai")
    start = (await live_client.get(session_url, headers=reader)).json()["last_seq"]
    roots: list[str] = []
    writing = True

    async def write(who: str) -> None:
        for n in range(14):
            parent = roots[n % len(roots)] if roots and n % 3 else None
            body = {"body": f"{who} {n}"} | ({"parent_id": parent} if parent else {})
            created = await live_client.post(posts_url, json=body, headers=forum.as_(who))
            assert created.status_code == 201, created.text
            if parent is None:
                roots.append(created.json()["id"])
            elif n % 2:
                reacted = await live_client.put(f"/api/posts/{parent}/reactions/agree", headers=forum.as_(who))
                assert reacted.status_code == 204

    async def read() -> list[tuple[dict, dict]]:
        pages = []
        while writing:
            posts = await live_client.get(posts_url, params={"limit": 200}, headers=reader)
            threads = await live_client.get(threads_url, headers=reader)
            pages.append((posts.json(), threads.json()))
        return pages

    reading = asyncio.create_task(read())
    await asyncio.gather(write("ana"), write("ben"))
    writing = False
    pages = await reading
    await reactions_published(committed, forum.session.id)  # the last counts are in an event (coalesced)
    final_posts = (await live_client.get(posts_url, params={"limit": 200}, headers=reader)).json()
    final_threads = (await live_client.get(threads_url, headers=reader)).json()
    end = final_posts["as_of_seq"]
    assert final_posts["next_cursor"] is None and len(roots) >= 4
    assert any(start < posts["as_of_seq"] < end for posts, _ in pages), "no list was read while writes committed"
    for posts, threads in pages:
        for page, apply, final in ((posts, apply_to_posts, final_posts), (threads, apply_to_threads, final_threads)):
            rebuilt = copy.deepcopy(page)
            apply(rebuilt, await events_after(live_client, session_url, reader, page["as_of_seq"]))
            assert rebuilt == final, f"as of {page['as_of_seq']}"
