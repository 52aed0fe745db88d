"""A session with a moderator, two participants, an outsider and one thread, for the thread tests."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from deliberation.accounts.models import User
from deliberation.forum.models import Session, Thread
from tests.factories import make_forum_session, make_thread, signed_in
from tests.realtime.conftest import committed, live_settings, server

__all__ = ["committed", "live_settings", "server"]


@dataclass
class Forum:
    session: Session
    thread: Thread
    moderator: User
    ana: User
    ben: User
    outsider: User
    admin: User
    headers: dict[str, dict[str, str]]

    def as_(self, who: str) -> dict[str, str]:
        return self.headers[who]


async def make_forum(db) -> Forum:
    people = {}
    for name, fields in {
        "moderator": {"display_name": "Mod"},
        "ana": {"display_name": "Ana", "actor_type": "civil_society"},
        "ben": {"display_name": "Ben", "actor_type": "local_government"},
        "outsider": {"display_name": "Out"},
        "admin": {"display_name": "Org", "is_admin": True},
    }.items():
        people[name] = await signed_in(db, **fields)
    session = await make_forum_session(
        db,
        members={people["moderator"][0]: "moderator", people["ana"][0]: "participant", people["ben"][0]: "participant"},
    )
    thread = await make_thread(db, session)
    return Forum(
        session=session,
        thread=thread,
        headers={name: headers for name, (_, headers) in people.items()},
        **{name: user for name, (user, _) in people.items()},
    )


@pytest.fixture
async def forum(db) -> Forum:
    return await make_forum(db)


async def write(client, forum: Forum, who: str, body: str, parent_id: str | None = None) -> dict:
    """Post as `who` (201 expected); the post as the author sees it."""
    payload = {"body": body} if parent_id is None else {"body": body, "parent_id": parent_id}
    response = await client.post(f"/api/threads/{forum.thread.id}/posts", json=payload, headers=forum.as_(who))
    assert response.status_code == 201, response.text
    return response.json()
