"""The posting rate per user: 429 with Retry-After, shared by every instance (it is kept in PostgreSQL).

The other abuse limits have their tests where their feature lives (see docs/security.md, "Limits").
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import msgspec

from deliberation.app import create_app
from deliberation.db.base import utcnow
from deliberation.settings import load_settings
from tests.conftest import serve_in_process
from tests.factories import make_forum_session, make_thread, signed_in


async def test_posting_rate_is_per_user_and_holds_across_instances(committed, live_settings):
    settings = live_settings  # the committed database
    limited = msgspec.structs.replace(settings, post_rate_per_minute=3)
    (author, mine), (other, theirs) = await signed_in(committed), await signed_in(committed)
    session = await make_forum_session(committed, members={author: "participant", other: "participant"})
    thread = await make_thread(committed, session)
    url = f"/api/threads/{thread.id}/posts"
    first, second = create_app(limited), create_app(limited)
    async with serve_in_process(first) as one, serve_in_process(second) as two:
        for client in (one, two, one):
            assert (await client.post(url, json={"body": "hi"}, headers=mine)).status_code == 201
        refused = await two.post(url, json={"body": "one too many"}, headers=mine)
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert (await one.post(url, json={"body": "someone else"}, headers=theirs)).status_code == 201

        second.state.clock = lambda: utcnow() + timedelta(seconds=61)  # a minute later the window has moved on
        assert (await two.post(url, json={"body": "again"}, headers=mine)).status_code == 201

    thread_posts = (await one_page(settings, url, mine))["items"]
    assert "one too many" not in [post["body"] for post in thread_posts]


async def one_page(settings, url: str, headers: dict[str, str]) -> dict:
    async with serve_in_process(create_app(settings)) as client:
        return (await client.get(url, headers=headers)).json()


def test_the_posting_rate_is_a_setting():
    assert load_settings({}).post_rate_per_minute == 30
    assert load_settings({"DELIBERATION_POST_RATE_PER_MINUTE": "5"}).post_rate_per_minute == 5


async def test_simultaneous_posts_cannot_share_the_last_slot(committed, live_settings):
    """The check and the count are atomic (one advisory lock per user, held to commit): 12 posts at once, 3 slots."""
    limited = msgspec.structs.replace(live_settings, post_rate_per_minute=3)  # the committed database
    author, headers = await signed_in(committed)
    session = await make_forum_session(committed, members={author: "participant"})
    thread = await make_thread(committed, session)
    url = f"/api/threads/{thread.id}/posts"
    async with serve_in_process(create_app(limited)) as one, serve_in_process(create_app(limited)) as two:
        answers = await asyncio.gather(
            *((one, two)[n % 2].post(url, json={"body": f"post {n}"}, headers=headers) for n in range(12))
        )
    assert sorted(answer.status_code for answer in answers) == [201] * 3 + [429] * 9
    assert len((await one_page(live_settings, url, headers))["items"]) == 3
