"""The event page shows the conclusions (to signed-in people) and the published final proposal as they stand;
user text on it is Markdown rendered safely. In-process (httpx over ASGI)."""

from __future__ import annotations

from deliberation.forum.models import Session
from tests.factories import make_forum
from tests.proposals.conftest import decided, propose, publish
from tests.web.test_sessions_and_csrf import log_in


async def test_the_event_page_shows_the_conclusions_and_the_published_proposal(client, db):
    forum = await make_forum(db, representatives=True)
    adopted = await decided(client, forum, "Monthly territorial tables")
    await decided(client, forum, "A new agency", adopt=False)
    proposal = await propose(
        client,
        forum,
        [adopted["id"]],
        title="Valle Norte compact",
        summary="We meet **every month**, see [the plan](https://example.org/plan).",
    )
    page = (await client.get(f"/sessions/{forum.session.code}")).text
    assert "Monthly territorial tables" not in page  # conclusions: signed-in people only
    assert "Valle Norte compact" not in page  # a draft proposal is nobody's business yet

    await publish(client, forum, proposal["id"])
    page = (await client.get(f"/sessions/{forum.session.code}")).text
    assert f'<a href="/proposals/{proposal["id"]}">Valle Norte compact</a>' in page
    assert "<strong>every month</strong>" in page
    assert '<a href="https://example.org/plan" rel="nofollow ugc noopener">the plan</a>' in page

    await log_in(client, forum.users["ana"].email)
    page = (await client.get(f"/sessions/{forum.session.code}")).text
    assert 'Monthly territorial tables</a> <span class="state">(Adopted)</span>' in page
    assert 'A new agency</a> <span class="state">(Rejected)</span>' in page


async def test_user_text_on_the_event_page_cannot_run_script(client, db):
    forum = await make_forum(db, representatives=True)
    async with db.begin():
        session = await db.get_one(Session, forum.session.id)
        session.description = (
            'Hello <script>alert(1)</script> [click](javascript:alert(2)) <img src=x onerror="alert(3)">\n\n'
            "[mail us](mailto:team@example.org)"
        )
    page = (await client.get(f"/sessions/{forum.session.code}")).text
    assert "<script>alert" not in page and "<img" not in page  # shown as text, never as markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'href="javascript:' not in page
    assert '<a href="mailto:team@example.org" rel="nofollow ugc noopener">mail us</a>' in page
