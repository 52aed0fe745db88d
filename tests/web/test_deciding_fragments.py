"""The fragments live.js fetches on the deciding pages: each is the one element the page shows, drawn for the
viewer; a conclusion or proposal of another session is not found through this session's code; the
moderation page's cards are for its moderators only. In-process (httpx over ASGI)."""

from __future__ import annotations

import re

from tests.factories import draft, make_forum, make_forum_session, open_vote, vote
from tests.proposals.conftest import decided, propose
from tests.web.test_sessions_and_csrf import log_in


def root_id(html: str) -> str:
    """The id of the fragment's one top element."""
    match = re.match(r'\s*<(\w+)[^>]*\bid="([^"]+)"', html)
    assert match, html[:300]
    assert html.strip().endswith(f"</{match.group(1)}>"), html[-300:]
    return match.group(2)


async def test_a_conclusion_and_its_tally_as_the_voter_sees_them(client, db):
    forum = await make_forum(db)
    conclusion = await draft(client, forum, title="Monthly tables")
    base = f"/sessions/{forum.session.code}/conclusions/{conclusion['id']}"
    await log_in(client, forum.users["ana"].email)
    assert (await client.get(f"{base}/tally")).status_code == 404  # not put to the vote: no tally yet

    await open_vote(client, forum, conclusion["id"], results_visibility="after_close")
    assert (await vote(client, forum, "ana", conclusion["id"], "support")).status_code == 200
    card = (await client.get(base)).text
    assert root_id(card) == f"conclusion-{conclusion['id']}"
    assert "You voted: Support." in card
    assert "1 of 4 have voted" in card
    tally = (await client.get(f"{base}/tally")).text
    assert root_id(tally) == f"tally-{conclusion['id']}"
    assert "1 of 4 have voted" in tally
    assert "<svg" not in tally and "<table" not in tally  # the counts stay hidden until the vote closes

    response = await client.patch(
        f"/api/conclusions/{conclusion['id']}",
        json={"body": "Every month, in every territory."},
        headers={**forum.as_("moderator"), "If-Match": "1"},
    )
    assert response.status_code == 200, response.text
    card = (await client.get(base)).text
    assert "Your vote was on an earlier version" in card and "Confirm my vote" in card


async def test_another_sessions_conclusion_or_proposal_is_not_found_here(client, db):
    forum = await make_forum(db, representatives=True)
    adopted = await decided(client, forum, "Monthly tables")
    proposal = await propose(client, forum, [adopted["id"]])
    other = await make_forum_session(db, members={forum.users["moderator"]: "moderator"})
    await log_in(client, forum.users["moderator"].email)
    paths = [
        f"/sessions/{{code}}/conclusions/{adopted['id']}",
        f"/sessions/{{code}}/conclusions/{adopted['id']}/tally",
        f"/sessions/{{code}}/moderation/conclusions/{adopted['id']}",
        f"/sessions/{{code}}/moderation/proposals/{proposal['id']}",
    ]
    for path in paths:
        assert (await client.get(path.format(code=forum.session.code))).status_code == 200, path
        assert (await client.get(path.format(code=other.code))).status_code == 404, path


async def test_the_moderation_cards_are_for_moderators(client, db):
    forum = await make_forum(db, representatives=True)
    adopted = await decided(client, forum, "Monthly tables")
    proposal = await propose(client, forum, [adopted["id"]], title="Valle Norte compact")
    code = forum.session.code
    paths = {
        f"/sessions/{code}/moderation/conclusions/{adopted['id']}": f"mc-{adopted['id']}",
        f"/sessions/{code}/moderation/compose": "compose-part",
        f"/sessions/{code}/moderation/proposals/{proposal['id']}": f"mp-{proposal['id']}",
    }
    await log_in(client, forum.users["ana"].email)
    for path in paths:
        assert (await client.get(path)).status_code == 404, path
    client.cookies.clear()
    await log_in(client, forum.users["moderator"].email)
    for path, element in paths.items():
        html = (await client.get(path)).text
        assert root_id(html) == element, path
    compose = (await client.get(f"/sessions/{code}/moderation/compose")).text
    assert "Monthly tables" in compose  # the adopted conclusion, offered to the proposal
    card = (await client.get(f"/sessions/{code}/moderation/conclusions/{adopted['id']}")).text
    assert "Adopted" in card and "<svg" in card  # its final tally, drawn
