"""Done when 4: the deciding pages (conclusions, moderation, proposal, audit) read well at 1280 px in English and on a
390 px phone in Spanish (nothing wider than the screen, text large enough, controls big enough to tap and
none broken over two lines) and pass the accessibility check. With DELIBERATION_WRITE_SCREENSHOTS=1 the
screenshots in docs/web.md are written again:

    DELIBERATION_WRITE_SCREENSHOTS=1 .venv/bin/pytest -q tests/web/test_deciding_layout.py

The scene is set through the services: an adopted conclusion with its chart, one still being voted on with the
counts hidden and the viewer's vote on an earlier version, a published proposal endorsed with reservations.
"""

from __future__ import annotations

import os

import pytest

from deliberation.conclusions import service as conclusions
from deliberation.conclusions import voting
from deliberation.conclusions.schemas import ConclusionIn, ConclusionPatch, VoteIn, VotingIn
from deliberation.db.base import utcnow
from deliberation.proposals import endorsements
from deliberation.proposals import service as proposals
from deliberation.proposals.schemas import EndorsementIn
from tests.factories import make_representative, make_user
from tests.web.conftest import DESKTOP, PHONE, check_axe
from tests.web.test_deciding import log_in, proposal_in, round_table, web_db  # noqa: F401 - the fixture
from tests.web.test_layout import SHOTS, assert_fits


@pytest.fixture
async def scene(web_db, web_server):  # noqa: F811
    session, moderator, voters, adopted, sources = await round_table(web_db, web_server.settings, adopted=True)
    now = utcnow()
    open_one = await conclusions.create_conclusion(
        web_db,
        session.id,
        moderator,
        ConclusionIn(
            title="Pay small suppliers within 30 days",
            body="Municipalities pay **every invoice** of a small supplier within 30 days.",
            source_post_ids=[sources[1].id],
        ),
        now=now,
    )
    await voting.open_voting(
        web_db, open_one.id, moderator, VotingIn(action="open", results_visibility="after_close"), now=now
    )
    await voting.cast_vote(web_db, open_one.id, voters[0], VoteIn(choice="support", comment="Yes."), now=now)
    await conclusions.update_conclusion(
        web_db,
        open_one.id,
        moderator,
        ConclusionPatch(body="Municipalities pay every invoice of a small supplier within 30 days of delivery."),
        expected=1,
        now=utcnow(),
    )
    draft = await proposals.create_proposal(web_db, session.id, moderator, proposal_in(adopted.id), now=utcnow())
    published = await proposals.publish_proposal(web_db, draft.id, moderator, expected=None, now=utcnow())
    mayor = await make_user(web_db, display_name="Rosa Intendenta", actor_type="local_government")
    await make_representative(web_db, mayor, office="Mayor", territory="Rosario")
    await endorsements.endorse(
        web_db,
        published.id,
        mayor,
        EndorsementIn(stance="endorse_with_reservations", statement="We will start with two pilot districts."),
        now=utcnow(),
    )
    return {
        "conclusions": (voters[0], f"/sessions/{session.code}/conclusions"),
        "moderation": (moderator, f"/sessions/{session.code}/moderation"),
        "proposal": (mayor, f"/proposals/{published.id}"),
        "audit": (None, f"/audit?session={session.code}"),
    }


@pytest.mark.parametrize(("width", "viewport", "language"), [("1280", DESKTOP, "en"), ("390", PHONE, "es")])
async def test_the_deciding_pages_fit_the_screen(open_page, web_server, scene, width, viewport, language):
    for name, (person, path) in scene.items():
        page = await open_page(viewport=viewport)
        if person is not None:
            await log_in(page, person.email, path)
        # The header's Language choice, as a person who picked it.
        await page.context.add_cookies([{"name": "deliberation_language", "value": language, "url": web_server.url}])
        await page.goto(path)
        assert await page.get_attribute("html", "lang") == language
        if os.environ.get("DELIBERATION_WRITE_SCREENSHOTS") and name != "audit":
            SHOTS.mkdir(exist_ok=True)
            await page.screenshot(path=SHOTS / f"{name}-{width}.png", full_page=True)
        await assert_fits(page, name, width)
        await check_axe(page)
        await page.context.close()
