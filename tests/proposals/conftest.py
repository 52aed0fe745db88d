"""A session with adopted and rejected conclusions, representatives, and helpers for proposals."""

from __future__ import annotations

import pytest

from tests.conclusions.conftest import Forum, close_vote, draft, open_vote, vote, write_post
from tests.factories import make_forum_session, make_representative, make_thread, signed_in

PEOPLE = {
    "moderator": {"display_name": "Mod", "actor_type": "civil_society"},
    "ana": {"display_name": "Ana", "actor_type": "civil_society"},
    "ben": {"display_name": "Ben", "actor_type": "local_government"},
    "cai": {"display_name": "Cai", "actor_type": "academia"},
    "outsider": {"display_name": "Out"},
    "admin": {"display_name": "Org", "is_admin": True},
    "mayor": {"display_name": "Mayor Elena", "actor_type": "local_government"},
    "councillor": {"display_name": "Councillor Sam", "actor_type": "regional_government"},
    "claimant": {"display_name": "Pending Pat", "actor_type": "local_government"},
}
MEMBERS = {"moderator": "moderator", "ana": "participant", "ben": "participant", "cai": "participant"}


@pytest.fixture
async def forum(db) -> Forum:
    """Members, an outsider, an admin, two verified representatives (not members) and one unverified claimant."""
    return await make_forum(db)


async def make_forum(db) -> Forum:
    """The `forum` fixture's people and session, written through `db` (e.g. one that commits)."""
    people = {name: await signed_in(db, **fields) for name, fields in PEOPLE.items()}
    session = await make_forum_session(db, members={people[name][0]: role for name, role in MEMBERS.items()})
    await make_representative(db, people["mayor"][0], office="Mayor", territory="Valle Norte")
    await make_representative(db, people["councillor"][0], office="Regional Councillor", territory="Costa")
    await make_representative(db, people["claimant"][0], verified=False)
    return Forum(
        session=session,
        thread=await make_thread(db, session),
        users={name: user for name, (user, _) in people.items()},
        headers={name: headers for name, (_, headers) in people.items()},
    )


async def decided(client, forum: Forum, title: str, *, adopt: bool = True) -> dict:
    """A conclusion resting on a new post, voted on by three members and closed: adopted (2-1) or rejected (1-2)."""
    post = await write_post(client, forum, f"A post behind “{title}”.")
    conclusion = await draft(client, forum, title=title, body=f"{title}: the body.", source_post_ids=[post])
    await open_vote(client, forum, conclusion["id"])
    choices = ("support", "support", "oppose") if adopt else ("support", "oppose", "oppose")
    for who, choice in zip(("ana", "ben", "cai"), choices, strict=True):
        assert (await vote(client, forum, who, conclusion["id"], choice)).status_code == 200
    closed = await close_vote(client, forum, conclusion["id"])
    assert closed["status"] == ("adopted" if adopt else "rejected")
    return closed


async def propose(client, forum: Forum, conclusion_ids: list[str], **fields) -> dict:
    body = {"title": "Local alliances", "summary": "What we agreed.", "body": "## Plan\n\nDo it.", **fields}
    response = await client.post(
        f"/api/sessions/{forum.session.id}/proposals",
        json={**body, "conclusion_ids": conclusion_ids},
        headers=forum.as_("moderator"),
    )
    assert response.status_code == 201, response.text
    return response.json()


async def publish(client, forum: Forum, proposal_id: str) -> dict:
    response = await client.post(f"/api/proposals/{proposal_id}/publish", headers=forum.as_("moderator"))
    assert response.status_code == 200, response.text
    return response.json()


async def endorse(client, forum: Forum, who: str, proposal_id: str, stance: str = "endorse", **extra):
    return await client.post(
        f"/api/proposals/{proposal_id}/endorsements", json={"stance": stance, **extra}, headers=forum.as_(who)
    )
