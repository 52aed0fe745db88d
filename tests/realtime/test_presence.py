"""Presence: the full list when a stream opens, then coalesced lists or (`?presence=delta`) deltas; every client
ends with the server's list."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.factories import bearer, make_forum_session, make_token, make_user
from tests.live import PresenceView, connect, live_server


async def online_over_http(server, session_id, token: str) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=server.http, headers=bearer(token)) as client:
        answer = (await client.get(f"/api/sessions/{session_id}/presence")).json()
    assert answer["online"] == len(answer["users"])
    return {user["id"]: user["display_name"] for user in answer["users"]}


async def converged(clients: list[PresenceView], servers, session_id, token: str, expected: set[str]) -> None:
    """Wait (bounded) until every server's `GET .../presence` names exactly `expected` and every client holds
    exactly that list."""
    lists: list[dict[str, str]] = []
    try:
        async with asyncio.timeout(20):
            while True:
                lists = [await online_over_http(server, session_id, token) for server in servers]
                if all(set(listed) == expected for listed in lists) and all(c.users == lists[0] for c in clients):
                    return
                await asyncio.sleep(0.05)
    except TimeoutError:
        wrong = [(len(c.users), c.deltas) for c in clients if c.users != lists[0]]
        counts = [len(listed) for listed in lists]
        raise AssertionError(f"servers: {counts} of {len(expected)}; clients (users, deltas): {wrong}") from None


@pytest.mark.parametrize("presence", ["delta", "full"])
async def test_a_join_storm_is_a_few_frames_and_every_client_ends_with_the_servers_list(server, committed, presence):
    """`?presence=delta`: one whole list, then deltas; without it (the contract's default) a whole list on every
    change, coalesced alike."""
    people = [await make_user(committed, display_name=f"Person {n}") for n in range(30)]
    session = await make_forum_session(committed, members=dict.fromkeys(people, "participant"))
    tokens = [await make_token(committed, person) for person in people]
    observer_socket, _ = await connect(server, session.id, tokens[0], presence=presence)
    observer = PresenceView()
    followers = [asyncio.create_task(observer.follow(observer_socket))]

    async def join(token: str):
        socket, _ = await connect(server, session.id, token, presence=presence)
        view = PresenceView()
        followers.append(asyncio.create_task(view.follow(socket)))
        return socket, view

    started = time.monotonic()
    joined = await asyncio.gather(*[join(token) for token in tokens[1:]])
    sockets, views = [socket for socket, _ in joined], [observer, *(view for _, view in joined)]
    for socket in sockets[:10]:  # and some leave again
        await socket.close()
    took = time.monotonic() - started
    staying = {str(person.id) for person in people[:1] + people[11:]}
    await converged(views[:1] + views[11:], [server], session.id, tokens[0], staying)
    # 29 joins and 10 leaves: the observer had one full list, then changes at most one per 0.25 s (not 39).
    changes = observer.deltas if presence == "delta" else observer.full_frames - 1
    assert 1 <= changes <= took / 0.25 + 2, (changes, took)
    if presence == "delta":
        assert observer.full_frames == 1 and all(view.full_frames == 1 for view in views)
    else:
        assert observer.deltas == 0 and all(view.deltas == 0 for view in views)
    for socket in [observer_socket, *sockets[10:]]:
        await socket.close()
    await asyncio.gather(*followers)


async def test_clients_of_two_instances_converge_to_the_merged_list(live_settings, committed):
    people = [await make_user(committed, display_name=f"Member {n}") for n in range(12)]
    session = await make_forum_session(committed, members=dict.fromkeys(people, "participant"))
    tokens = [await make_token(committed, person) for person in people]
    async with live_server(live_settings) as a, live_server(live_settings) as b:
        views, sockets, followers = [], [], []
        for n, token in enumerate(tokens):  # alternately on each instance
            socket, _ = await connect((a, b)[n % 2], session.id, token, presence="delta")
            view = PresenceView()
            views.append(view)
            sockets.append(socket)
            followers.append(asyncio.create_task(view.follow(socket)))
        await converged(views, [a, b], session.id, tokens[0], {str(person.id) for person in people})
        for socket in sockets[6:]:  # three leave each instance
            await socket.close()
        await converged(views[:6], [a, b], session.id, tokens[0], {str(person.id) for person in people[:6]})
        for socket in sockets[:6]:
            await socket.close()
        await asyncio.gather(*followers)
