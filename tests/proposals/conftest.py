"""A session with adopted and rejected conclusions, representatives, and helpers for proposals."""

from __future__ import annotations

import pytest

from tests.factories import Forum, close_vote, draft, make_forum, open_vote, vote, write_post


@pytest.fixture
async def forum(db) -> Forum:
    """The forum with its representatives: two verified (not members) and one unverified claimant."""
    return await make_forum(db, representatives=True)


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
