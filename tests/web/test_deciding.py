"""Deciding in a browser: members vote on the conclusions page (a vote on an earlier version is marked stale and
confirmed), tallies are charts per actor type once visible and only "N of M have voted" while hidden; a
verified representative endorses the published proposal; a visitor reads it, downloads both exports and
verifies the log; the event page shows what was decided.

The moderators' steps (drafting, editing, opening and closing the vote, composing and publishing) are done
here through the same service functions the moderation page calls.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from datetime import timedelta

import pytest
from playwright.async_api import expect
from sqlalchemy import text

from deliberation import i18n
from deliberation.conclusions import service as conclusions
from deliberation.conclusions import voting
from deliberation.conclusions.schemas import ConclusionIn, ConclusionPatch, VoteIn, VotingIn
from deliberation.db.base import utcnow
from deliberation.db.engine import PUBLISHER_KEY, create_engine, create_sessionmaker, share_with_sessions
from deliberation.forum.models import Session
from deliberation.proposals import service as proposals
from deliberation.proposals.schemas import ProposalIn
from deliberation.realtime.transport import EVENTS_CHANNEL
from deliberation.threads import posts
from deliberation.threads.schemas import PostIn
from tests.factories import PASSWORD, make_forum_session, make_representative, make_thread, make_user
from tests.web.conftest import PHONE, check_axe


@pytest.fixture
async def web_db(web_database_url):
    """A database session on the served app's own database (to set the scene the browsers then use). Its commits
    wake the served app's live streams at once, as another instance's do (a NOTIFY naming the new seqs, read by
    the app's hub): without it the app finds them only at its catch-up poll (`live_poll_seconds`, 5 s, as long as
    Playwright waits), and a page following a change made here would show it in time or not by chance."""
    engine = create_engine(web_database_url)
    notifying: set[asyncio.Task] = set()

    async def notify(wakeups: dict[uuid.UUID, int]) -> None:
        payload = ",".join(f"{session_id}:{seq}" for session_id, seq in wakeups.items())  # as the hub sends it
        async with engine.connect() as connection:
            await connection.execute(
                text("SELECT pg_notify(:channel, :payload)"), {"channel": EVENTS_CHANNEL, "payload": payload}
            )
            await connection.commit()

    def announce(wakeups: dict[uuid.UUID, int]) -> None:  # called after each commit that wrote events
        task = asyncio.create_task(notify(dict(wakeups)))
        notifying.add(task)
        task.add_done_callback(notifying.discard)

    sessionmaker = create_sessionmaker(engine)
    share_with_sessions(sessionmaker, PUBLISHER_KEY, announce)
    async with sessionmaker() as db:
        yield db
    await asyncio.gather(*notifying)
    await engine.dispose()


async def log_in(page, email: str, next_path: str) -> None:
    await page.goto(f"/login?next={next_path}")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(f"**{next_path}")


async def round_table_people(db):
    """A live session with one guiding question, its moderator and three members of different actor types:
    nothing has been said or decided."""
    moderator = await make_user(db, display_name="Marta Moderadora", actor_type="civil_society")
    voters = [
        await make_user(db, display_name="Ana Academia", actor_type="academia"),
        await make_user(db, display_name="Carlos Cívico", actor_type="civil_society"),
        await make_user(db, display_name="Laura Local", actor_type="local_government"),
    ]
    session = await make_forum_session(
        db,
        starts_at=utcnow() - timedelta(minutes=10),
        members={moderator: "moderator", **{voter: "participant" for voter in voters}},
    )
    async with db.begin():  # a title of no language: the served forum lists it to the language tests too
        (await db.get(Session, session.id)).title = f"Mesa {session.code}"
    thread = await make_thread(db, session, title="What makes local procurement work?")
    return session, thread, moderator, voters


async def round_table(db, settings, *, draft: bool = True, adopted: bool = False):
    """A live session with a moderator, three members of different actor types, two posts and (`draft`) a
    conclusion on them, (`adopted`) voted and adopted."""
    session, thread, moderator, voters = await round_table_people(db)
    now = utcnow()
    first = await posts.create_post(
        db, thread.id, voters[0], PostIn(body="Split tenders into small lots."), settings=settings, now=now
    )
    second = await posts.create_post(
        db, thread.id, voters[1], PostIn(body="Pay small suppliers within 30 days."), settings=settings, now=now
    )
    if not draft:
        return session, moderator, voters, None, (first, second)
    conclusion = await conclusions.create_conclusion(
        db,
        session.id,
        moderator,
        ConclusionIn(
            title="Open procurement to small suppliers",
            body="Tenders are split into lots small firms can bid for.",
            thread_id=thread.id,
            source_post_ids=[first.id, second.id],
        ),
        now=now,
    )
    if adopted:
        await voting.open_voting(db, conclusion.id, moderator, VotingIn(action="open"), now=now)
        for voter in voters:
            await voting.cast_vote(db, conclusion.id, voter, VoteIn(choice="support"), now=now)
        conclusion = await voting.close_voting(db, conclusion.id, moderator, now=utcnow())
    return session, moderator, voters, conclusion, (first, second)


def proposal_in(conclusion_id) -> ProposalIn:
    return ProposalIn(
        title="Local procurement for small suppliers",
        summary="Municipalities split their tenders into lots that small firms can bid for.",
        body="Each municipality publishes its tenders in lots, pays within 30 days and reports yearly.",
        conclusion_ids=[conclusion_id],
    )


async def test_members_vote_see_the_stale_marker_and_the_chart_per_actor_type(open_page, web_db, web_server):
    session, moderator, voters, conclusion, sources = await round_table(web_db, web_server.settings)
    await voting.open_voting(
        web_db, conclusion.id, moderator, VotingIn(action="open", results_visibility="after_close"), now=utcnow()
    )
    path = f"/sessions/{session.code}/conclusions"
    pages = []
    for voter in voters:
        pages.append(await open_page())
        await log_in(pages[-1], voter.email, path)
    ana, carlos, laura = pages
    card = ana.get_by_role("article", name="Open procurement to small suppliers")
    await expect(card.get_by_text("Version 1", exact=True)).to_be_visible()
    source = card.get_by_role("link", name="Post by Ana Academia")
    assert (
        await source.get_attribute("href")
        == f"/sessions/{session.code}/threads/{sources[0].thread_id}?post={sources[0].id}#post-{sources[0].id}"
    )
    await expect(card.get_by_text("0 of 4 have voted")).to_be_visible()
    await check_axe(ana)

    await card.get_by_label("Comment").fill("Only if the lots stay above a minimum size.")
    await card.get_by_role("button", name="Support").click()
    card = ana.get_by_role("article", name="Open procurement to small suppliers")
    await expect(card.get_by_text("You voted: Support.")).to_be_visible()
    await expect(card.get_by_text("1 of 4 have voted")).to_be_visible()
    await expect(card.get_by_role("img", name="Votes per actor type")).to_have_count(0)  # hidden counts stay hidden
    await check_axe(ana)
    for page, choice in ((carlos, "Oppose"), (laura, "Support")):
        await page.reload()
        await page.get_by_role("button", name=choice).click()
        await expect(page.get_by_text(f"You voted: {choice}.")).to_be_visible()
    await expect(laura.get_by_text("3 of 4 have voted")).to_be_visible()

    edited = await conclusions.update_conclusion(
        web_db,
        conclusion.id,
        moderator,
        ConclusionPatch(body="Tenders are split into lots that small firms can bid for, with a minimum lot size."),
        expected=1,
        now=utcnow(),
    )
    assert edited.version == 2
    await ana.reload()
    card = ana.get_by_role("article", name="Open procurement to small suppliers")
    await expect(card.get_by_text("Your vote was on an earlier version")).to_be_visible()
    await expect(card.get_by_text("0 of 4 have voted")).to_be_visible()  # votes on version 1 no longer count
    await check_axe(ana)
    await card.get_by_role("button", name="Confirm my vote").click()
    card = ana.get_by_role("article", name="Open procurement to small suppliers")
    await expect(card.get_by_text("Your vote was on an earlier version")).to_have_count(0)
    await expect(card.get_by_text("You voted: Support.")).to_be_visible()
    await expect(card.get_by_text("1 of 4 have voted")).to_be_visible()
    for page in (carlos, laura):  # the others confirm too
        await page.reload()
        await page.get_by_role("button", name="Confirm my vote").click()
        await expect(page.get_by_text("Your vote was on an earlier version")).to_have_count(0)

    # The readable diff between two versions
    await card.get_by_text("2 versions").click()
    await card.get_by_label("From version").select_option("1")
    await card.get_by_label("To version").select_option("2")
    await card.get_by_role("button", name="Show the changes").click()
    changes = ana.get_by_role("region", name="Changes from version 1 to version 2")
    await expect(changes.locator("ins")).to_contain_text(["that", "with a minimum lot size."])
    await check_axe(ana)

    await voting.close_voting(web_db, conclusion.id, moderator, now=utcnow())
    await laura.reload()
    card = laura.get_by_role("article", name="Open procurement to small suppliers")
    await expect(card.get_by_text("Adopted")).to_be_visible()
    chart = card.get_by_role("img", name="Votes per actor type")
    await expect(chart).to_contain_text("Academia")
    await expect(chart).to_contain_text("Local government")
    table = card.get_by_role("table")
    rows = {
        (await row.get_by_role("rowheader").inner_text()): [
            await cell.inner_text() for cell in await row.get_by_role("cell").all()
        ]
        for row in await table.locator("tbody tr").all()
    }
    assert rows == {"Academia": ["1", "0", "0"], "Civil society": ["0", "1", "0"], "Local government": ["1", "0", "0"]}
    await expect(card.get_by_text("No consensus across actor types", exact=False)).to_be_visible()
    await expect(card.get_by_role("button", name="Support")).to_have_count(0)  # closed: no more voting
    await check_axe(laura)


async def test_a_representative_endorses_and_a_visitor_checks_the_record(open_page, web_db, web_server):
    session, moderator, voters, conclusion, _ = await round_table(web_db, web_server.settings)
    now = utcnow()
    await voting.open_voting(web_db, conclusion.id, moderator, VotingIn(action="open"), now=now)
    for voter in voters:
        await voting.cast_vote(web_db, conclusion.id, voter, VoteIn(choice="support"), now=now)
    await voting.close_voting(web_db, conclusion.id, moderator, now=utcnow())
    proposal = await proposals.create_proposal(
        web_db,
        session.id,
        moderator,
        ProposalIn(
            title="Local procurement for small suppliers",
            summary="Municipalities split tenders into lots.",
            body="Each municipality publishes its tenders in lots small firms can bid for.",
            conclusion_ids=[conclusion.id],
        ),
        now=utcnow(),
    )
    published = await proposals.publish_proposal(web_db, proposal.id, moderator, expected=None, now=utcnow())
    mayor = await make_user(web_db, display_name="Rosa Intendenta", actor_type="local_government")
    await make_representative(web_db, mayor, office="Mayor", territory="Rosario")

    rep = await open_page()
    await log_in(rep, mayor.email, f"/proposals/{proposal.id}")
    await check_axe(rep)
    await rep.get_by_label("Endorse with reservations").check()
    await rep.get_by_label("Statement").fill("We will start with two pilot districts.")
    await rep.get_by_role("button", name="Endorse").click()
    endorsements = rep.get_by_role("region", name="Endorsements by elected representatives")
    await expect(endorsements).to_contain_text("Rosa Intendenta, Mayor, Rosario: Endorse with reservations")
    await expect(endorsements).to_contain_text("We will start with two pilot districts.")
    await expect(rep.get_by_role("button", name="Withdraw my endorsement")).to_be_visible()
    await check_axe(rep)

    visitor = await open_page()
    await visitor.goto(f"/sessions/{session.code}")
    await expect(visitor.get_by_role("link", name="Audit trail")).to_be_visible()
    await expect(visitor.get_by_text("Rosa Intendenta, Mayor, Rosario (with reservations)")).to_be_visible()
    await check_axe(visitor)
    await visitor.get_by_role("link", name="Local procurement for small suppliers").click()
    await expect(visitor.get_by_role("heading", level=1)).to_have_text("Local procurement for small suppliers")
    await expect(visitor.get_by_text(published.content_sha256)).to_be_visible()
    await expect(visitor.get_by_role("img", name="Votes per actor type")).to_contain_text("Civil society")
    await check_axe(visitor)
    async with visitor.expect_download() as download_info:
        await visitor.get_by_role("link", name="Download (JSON)").click()
    record = json.loads((await (await download_info.value).path()).read_text())
    assert record["proposal"]["content_sha256"] == published.content_sha256
    assert record["endorsements"][0]["statement"] == "We will start with two pilot districts."
    async with visitor.expect_download() as download_info:
        await visitor.get_by_role("link", name="Download (Markdown)").click()
    text = (await (await download_info.value).path()).read_text()
    assert "Local procurement for small suppliers" in text and published.content_sha256 in text

    await visitor.get_by_role("link", name="The session's audit trail").click()
    log = visitor.get_by_role("list").filter(has_text="endorsed the proposal")
    await expect(log).to_contain_text("Marta Moderadora published the proposal; it can no longer change.")
    await expect(log).to_contain_text("Rosa Intendenta endorsed the proposal.")
    await visitor.get_by_role("button", name="Verify the log").click()
    await expect(visitor.get_by_role("status")).to_contain_text(
        re.compile(r"The log is intact: all \d+ entries verify")
    )
    await check_axe(visitor)


async def test_the_diff_a_member_opened_stays_open_when_the_conclusion_changes_live(open_page, web_db, web_server):
    session, moderator, voters, conclusion, _ = await round_table(web_db, web_server.settings)
    patch = ConclusionPatch(body="Tenders are split into lots that small firms can bid for.")
    await conclusions.update_conclusion(web_db, conclusion.id, moderator, patch, expected=1, now=utcnow())
    ana = await open_page()
    await log_in(ana, voters[0].email, f"/sessions/{session.code}/conclusions")
    card = ana.get_by_role("article", name="Open procurement to small suppliers")
    await card.get_by_text("2 versions").click()
    await card.get_by_role("button", name="Show the changes").click()
    changes = ana.get_by_role("region", name="Changes from version 1 to version 2")
    await expect(changes.locator("ins")).to_have_text("that")
    await expect(ana.locator("html")).to_have_attribute("data-live", "open")

    patch = ConclusionPatch(title="Open procurement to small local suppliers")
    await conclusions.update_conclusion(web_db, conclusion.id, moderator, patch, expected=2, now=utcnow())
    card = ana.get_by_role("article", name="Open procurement to small local suppliers")
    await expect(card.get_by_text("3 versions")).to_be_visible(timeout=15_000)  # redrawn live, the diff kept
    await expect(card.get_by_role("region", name="Changes from version 1 to version 2").locator("ins")).to_have_text(
        "that"
    )
    await expect(card.get_by_label("From version", exact=True)).to_have_value(
        "1"
    )  # the versions it compares, still chosen
    await expect(card.get_by_label("To version", exact=True)).to_have_value("2")


async def test_a_vote_cast_after_the_vote_closed_says_so_on_the_page(open_page, web_db, web_server):
    """Carlos, on his phone in Spanish without JavaScript, has the conclusions page open while the moderator closes
    the vote; his `Support` then comes back with the reason, in Spanish, where the buttons were (no longer shown)."""
    session, moderator, voters, conclusion, _ = await round_table(web_db, web_server.settings)
    await voting.open_voting(web_db, conclusion.id, moderator, VotingIn(action="open"), now=utcnow())
    carlos = await open_page(viewport=PHONE, javascript=False)
    await log_in(carlos, voters[1].email, f"/sessions/{session.code}/conclusions")
    await carlos.get_by_label("Language").select_option("es")
    await carlos.get_by_role("button", name="Change").click()
    card = carlos.get_by_role("article", name="Open procurement to small suppliers")
    await expect(card.get_by_role("button", name="A favor")).to_be_visible()

    await voting.close_voting(web_db, conclusion.id, moderator, now=utcnow())
    await card.get_by_role("button", name="A favor").click()
    refusal = i18n.gettext("es", "Voting on this conclusion is not open.")
    assert refusal == "La votación de esta conclusión no está abierta."
    await expect(card.get_by_role("alert")).to_have_text(refusal)
    await expect(card.get_by_role("button", name="A favor")).to_have_count(0)
