"""Storm scenarios, counted at the clients: a reaction storm on one post (12), a join storm of one session (13).

The figures that matter are counts (messages and bytes the clients received, events written): they do not
depend on how busy the machine is. Times are what this machine gave in this run.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import asyncpg
import httpx
import msgspec

from deliberation.realtime.events import PresenceFrame, PresenceUser, encode_frame
from tests.bench.harness import (
    Forum,
    Load,
    LostEvents,
    Row,
    Sizes,
    check_listeners,
    last_seqs,
    listen_specs,
    ms,
    stamp,
    write_spec,
)
from tests.bench.infra import Service, plain_dsn
from tests.bench.live import listeners_of

KINDS = ("agree", "insightful")
SETTLE = 1.5  # seconds for the last coalesced reactions.updated (0.25 s interval) or presence delta to go out


def reactions(forum: Forum, service: Service, sizes: Sizes) -> Row:
    """Scenario 12: `storm_clients` listeners; `storm_reactions` reactions to one post within `storm_seconds`.

    Figures: the reactions.updated events written, the event messages the clients received (before coalescing:
    one per reaction to each client), every message and byte they received, and the time from the last
    reaction's answer until every client holds the final counts (the last event, which must carry them)."""
    session = forum.groups["reactions"][0]
    members = forum.members[session]
    with httpx.Client(base_url=service.base, timeout=30) as http:
        made = http.post(
            f"/api/threads/{forum.threads[session]}/posts",
            json={"body": "A striking post."},
            headers={"Authorization": f"Bearer {forum.token(members[0])}"},
        )
        made.raise_for_status()
    post = made.json()["id"]
    requests = [("PUT", f"/api/posts/{post}/reactions/{kind}", forum.token(u), b"") for u in members for kind in KINDS]
    requests = requests[: sizes.storm_reactions]
    before = asyncio.run(last_seqs(forum.url, [session]))[str(session)]
    listeners = Load(listen_specs(service, listeners_of(forum, [session]), latency=False), [service])
    writer = Load([write_spec(service, 16, requests, rate=len(requests) / sizes.storm_seconds)], [service])
    listeners.measure()
    writer.measure()
    trips = service.round_trips()
    start = time.time() + 0.5
    (written,) = writer.results(duration=sizes.storm_seconds, start=start, timeout=sizes.storm_seconds + 60)
    last_reaction = start + written["seconds"]
    if written["statuses"] != {"204": len(requests)}:  # PUT .../reactions/{kind} answers 204 (docs/api.md)
        raise RuntimeError(f"reaction storm: answers {written['statuses']} for {len(requests)} reactions")
    time.sleep(SETTLE)
    statements = service.round_trips().get("statement", 0) - trips.get("statement", 0)
    final = asyncio.run(last_seqs(forum.url, [session]))
    results = listeners.results(final=final, timeout=60)
    checked = check_listeners("reaction storm", results)
    counts, last_counts = asyncio.run(_final_counts(forum.url, post))
    if last_counts != counts:
        raise LostEvents(f"reaction storm: the last reactions.updated says {last_counts}, the post has {counts}")
    events = final[str(session)] - before
    clients = sum(r["clients"] for r in results)
    row = Row(
        f"12 reaction storm {clients} clients",
        {
            "reactions": len(requests),
            "events": events,
            "event_messages": checked["events"],
            "uncoalesced_event_messages": len(requests) * clients,  # before: one event per reaction, to everyone
            "all_messages": sum(r["messages"] for r in results),  # with hello and presence
            "bytes": sum(r["bytes"] for r in results),
            "final_counts_ms": ms(max(r["last_at"] for r in results) - last_reaction),
            # Per reaction, with the token check and the publisher's share (and the instance's other loops).
            "statements_per_reaction": round(statements / len(requests), 2),
            "lost": checked["lost"],
        },
        target="at most one reactions.updated per post per 0.25 s; every client ends with the final counts",
    )
    server_cpu, load_cpu = listeners.cpu()
    _, writer_cpu = writer.cpu()
    return stamp(row, server_cpu, load_cpu + writer_cpu)


async def _final_counts(url: str, post: str) -> tuple[dict, dict]:
    """The post's counts, and those of the last `reactions.updated` about it."""
    db = await asyncpg.connect(plain_dsn(url))
    try:
        row = await db.fetchrow(
            "SELECT agree_count, disagree_count, insightful_count FROM posts WHERE id = $1::uuid", post
        )
        last = await db.fetchval(
            "SELECT data->'reactions' FROM session_events WHERE type = 'reactions.updated'"
            " AND data->>'id' = $1 ORDER BY seq DESC LIMIT 1",
            post,
        )
    finally:
        await db.close()
    counts = {"agree": row["agree_count"], "disagree": row["disagree_count"], "insightful": row["insightful_count"]}
    return counts, msgspec.json.decode(last) if last else {}


def _full_list_bytes(users: int) -> int:
    """What the presence messages of a join storm of `users` cost before deltas: the k-th join sent the list of k
    users to each of the k clients then connected (names as the bench seeds them)."""
    entry = len(encode_frame(PresenceUser(id=uuid.uuid4(), display_name="Bench abcdef 1000"))) + 1  # and a comma
    empty = len(encode_frame(PresenceFrame(online=users, users=[])))
    return sum(k * (empty + k * entry - 1) for k in range(1, users + 1))


def presence(forum: Forum, service: Service, sizes: Sizes) -> Row:
    """Scenario 13: `presence_users` distinct users open the session's stream at once (as fast as the load
    connects them). Figures: the messages and bytes the clients received (hello, the full list on connecting,
    the deltas), against the full list to everyone on every join before deltas; every client must end with
    everyone online."""
    session = forum.groups["presence"][0]
    users = len(forum.members[session])
    started = time.monotonic()
    listeners = Load(listen_specs(service, listeners_of(forum, [session]), latency=False), [service])
    joined = time.monotonic() - started
    listeners.measure()
    time.sleep(SETTLE)
    final = asyncio.run(last_seqs(forum.url, [session]))
    results = listeners.results(final=final, timeout=60)
    check_listeners("presence storm", results)
    online = sorted({n for r in results for n in r["online"]})
    if online != [users]:
        raise LostEvents(f"presence storm: clients ended with {online} online, not {users}")
    messages, received = sum(r["messages"] for r in results), sum(r["bytes"] for r in results)
    row = Row(
        f"13 presence storm {users} users",
        {
            "join_s": round(joined, 1),
            "messages": messages,
            "bytes": received,
            # Before deltas every join sent the whole list to everyone: N(N+1)/2 presence messages.
            "full_list_messages": users * (users + 1) // 2,
            "full_list_bytes": _full_list_bytes(users),
            "lost": 0,
        },
        target="deltas coalesced per session; every client ends with the full list",
    )
    server_cpu, load_cpu = listeners.cpu()
    return stamp(row, server_cpu, load_cpu)
