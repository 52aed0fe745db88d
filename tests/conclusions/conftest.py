"""A session with a moderator, members of several actor types and an outsider, and helpers for conclusions."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from deliberation.accounts.models import User
from deliberation.forum.models import Session, Thread
from tests.factories import make_forum_session, make_thread, signed_in

PEOPLE = {
    "moderator": {"display_name": "Mod", "actor_type": "civil_society"},
    "ana": {"display_name": "Ana", "actor_type": "civil_society"},
    "ben": {"display_name": "Ben", "actor_type": "local_government"},
    "cai": {"display_name": "Cai", "actor_type": "academia"},
    "outsider": {"display_name": "Out"},
    "admin": {"display_name": "Org", "is_admin": True},
}
MEMBERS = {"moderator": "moderator", "ana": "participant", "ben": "participant", "cai": "participant"}


@dataclass
class Forum:
    session: Session
    thread: Thread
    users: dict[str, User]
    headers: dict[str, dict[str, str]]

    def as_(self, who: str) -> dict[str, str]:
        return self.headers[who]


@pytest.fixture
async def forum(db) -> Forum:
    people = {name: await signed_in(db, **fields) for name, fields in PEOPLE.items()}
    session = await make_forum_session(db, members={people[name][0]: role for name, role in MEMBERS.items()})
    return Forum(
        session=session,
        thread=await make_thread(db, session),
        users={name: user for name, (user, _) in people.items()},
        headers={name: headers for name, (_, headers) in people.items()},
    )


async def write_post(client, forum: Forum, body: str = "We need local procurement.") -> str:
    response = await client.post(f"/api/threads/{forum.thread.id}/posts", json={"body": body}, headers=forum.as_("ana"))
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def draft(client, forum: Forum, **fields) -> dict:
    """A draft conclusion made by the moderator."""
    body = {"title": "Buy local", "body": "Municipalities should buy from local firms.", **fields}
    response = await client.post(
        f"/api/sessions/{forum.session.id}/conclusions", json=body, headers=forum.as_("moderator")
    )
    assert response.status_code == 201, response.text
    return response.json()


async def open_vote(client, forum: Forum, conclusion_id: str, **rules) -> dict:
    response = await client.post(
        f"/api/conclusions/{conclusion_id}/voting", json={"action": "open", **rules}, headers=forum.as_("moderator")
    )
    assert response.status_code == 200, response.text
    return response.json()


async def close_vote(client, forum: Forum, conclusion_id: str) -> dict:
    response = await client.post(
        f"/api/conclusions/{conclusion_id}/voting", json={"action": "close"}, headers=forum.as_("moderator")
    )
    assert response.status_code == 200, response.text
    return response.json()


async def vote(client, forum: Forum, who: str, conclusion_id: str, choice: str, **extra):
    return await client.put(
        f"/api/conclusions/{conclusion_id}/vote", json={"choice": choice, **extra}, headers=forum.as_(who)
    )
