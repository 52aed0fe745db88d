"""Thread tests use the one forum of tests/factories.py; `write` posts as anyone."""

from __future__ import annotations

import pytest

from tests.factories import Forum, make_forum


@pytest.fixture
async def forum(db) -> Forum:
    return await make_forum(db)


async def write(client, forum: Forum, who: str, body: str, parent_id: str | None = None) -> dict:
    """Post as `who` (201 expected); the post as the author sees it."""
    payload = {"body": body} if parent_id is None else {"body": body, "parent_id": parent_id}
    response = await client.post(f"/api/threads/{forum.thread.id}/posts", json=payload, headers=forum.as_(who))
    assert response.status_code == 201, response.text
    return response.json()
