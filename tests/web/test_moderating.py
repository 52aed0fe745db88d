"""The moderators decide in the browser (Done when 1 and 3).

A whole round table played by people in browsers: members post in the thread; the moderator drafts a
conclusion from two of the posts ticked on the moderation page and opens the vote with results after close;
three members of different actor types vote, watching `N of M have voted` change live while the counts stay
hidden; the moderator edits the text and each voter's open page marks their vote stale, live, where they
confirm it (a comment being typed survives the update); the vote closes and the chart per actor type appears
on their pages by itself; the moderator composes and publishes the proposal; an elected representative claims
the office, an organizer verifies it in /admin, and the representative endorses with reservations and a
statement; a visitor reads the proposal from the event page, downloads both exports and verifies the log.
The board on the moderator's shared screen follows it all live and shows no count while they are hidden
(Done when 2). Only accounts, the session and its question are set up directly; the database is read only to check.

Two moderators editing one proposal: the second save shows the conflict and loses nothing.
"""

from __future__ import annotations

import json
import re

from playwright.async_api import expect

from deliberation.conclusions import voting
from deliberation.conclusions.schemas import VotingIn
from deliberation.db.base import utcnow
from deliberation.membership import service as membership
from deliberation.proposals import service as proposals
from tests.factories import make_user
from tests.web.conftest import check_axe
from tests.web.test_board import SCREEN, assert_no_count_shown, open_board
from tests.web.test_deciding import log_in, proposal_in, round_table, round_table_people, web_db  # noqa: F401 - the fixture

TITLE = "Open procurement to small suppliers"
PROPOSAL = "Local procurement for small suppliers"


async def live(page) -> None:
    """Wait until the page follows its session's live stream."""
    await expect(page.locator("html")).to_have_attribute("data-live", "open")


async def people(db):
    """The round table's people and its session with one guiding question, an elected representative and an
    organizer: nothing has been said or decided."""
    session, thread, moderator, voters = await round_table_people(db)
    mayor = await make_user(db, display_name="Rosa Intendenta", actor_type="local_government")
    organizer = await make_user(db, display_name="Olga Organizadora", is_admin=True)
    return session, thread, moderator, voters, mayor, organizer


async def test_a_whole_round_table_in_browsers(open_page, web_db, web_server):  # noqa: F811
    session, thread, moderator, voters, mayor, organizer = await people(web_db)
    code = session.code

    # Two members say something in the thread.
    ana, carlos, laura = [await open_page() for _ in voters]
    for page, voter, text in (
        (ana, voters[0], "Split tenders into small lots."),
        (carlos, voters[1], "Pay small suppliers within 30 days."),
    ):
        await log_in(page, voter.email, f"/sessions/{code}/threads/{thread.id}")
        await page.get_by_label("Your post").fill(text)
        await page.get_by_role("button", name="Post", exact=True).click()
        await expect(page.get_by_role("article").filter(has_text=text)).to_be_visible()

    # The three voters follow the conclusions page while the moderator drafts and opens the vote.
    conclusions = f"/sessions/{code}/conclusions"
    await ana.goto(conclusions)
    await carlos.goto(conclusions)
    await log_in(laura, voters[2].email, conclusions)
    for page in (ana, carlos, laura):
        await live(page)
        await expect(page.get_by_text("The moderators have not drafted a conclusion yet.")).to_be_visible()

    mod = await open_page()
    await log_in(mod, moderator.email, f"/sessions/{code}/moderation")
    await live(mod)
    board = await open_page(viewport=SCREEN)  # the moderator's shared screen, live through all that follows
    board_votes = await open_board(board, moderator.email, code)
    await expect(board_votes).to_contain_text("No vote is open.")
    draft = mod.get_by_role("region", name="Draft a conclusion")
    await draft.get_by_label("Title").fill(TITLE)
    await draft.get_by_label("Text").fill("Tenders are split into lots small firms can bid for.")
    await draft.get_by_label("Ana Academia: Split tenders into small lots.").check()
    await draft.get_by_label("Carlos Cívico: Pay small suppliers within 30 days.").check()
    await check_axe(mod)
    await draft.get_by_role("button", name="Draft a conclusion").click()

    card = ana.get_by_role("article", name=TITLE)  # arrives by itself
    await expect(card.get_by_role("link", name="Post by Ana Academia")).to_be_visible()
    await expect(card.get_by_role("link", name="Post by Carlos Cívico")).to_be_visible()
    await expect(ana.get_by_text("The moderators have not drafted a conclusion yet.")).to_be_hidden()
    await expect(card.get_by_role("button", name="Support")).to_have_count(0)  # not open yet

    mod_card = mod.get_by_role("article", name=TITLE)
    await mod_card.get_by_label("Results").select_option("after_close")
    await check_axe(mod)
    await mod_card.get_by_role("button", name="Open voting").click()
    await expect(mod.get_by_role("article", name=TITLE).get_by_role("button", name="Close voting")).to_be_visible()
    await live(mod)
    board_vote = board_votes.get_by_role("article", name=TITLE)
    await expect(board_vote).to_contain_text("0 of 4 have voted")

    # The vote opens on every voter's page by itself; they vote while the counts stay hidden.
    for page in (ana, carlos, laura):
        await expect(page.get_by_role("article", name=TITLE).get_by_text("0 of 4 have voted")).to_be_visible()
    await ana.get_by_role("article", name=TITLE).get_by_role("button", name="Support").click()
    await expect(ana.get_by_text("You voted: Support.")).to_be_visible()
    await live(ana)
    await carlos.get_by_role("article", name=TITLE).get_by_role("button", name="Oppose").click()
    await expect(carlos.get_by_text("You voted: Oppose.")).to_be_visible()
    await live(carlos)
    await expect(ana.get_by_role("article", name=TITLE).get_by_text("2 of 4 have voted")).to_be_visible()
    await expect(laura.get_by_role("article", name=TITLE).get_by_text("2 of 4 have voted")).to_be_visible()
    await laura.get_by_role("article", name=TITLE).get_by_role("button", name="Support").click()
    await expect(laura.get_by_text("You voted: Support.")).to_be_visible()
    await live(laura)
    await expect(mod.get_by_role("article", name=TITLE).get_by_text("3 of 4 have voted")).to_be_visible()
    await expect(board_vote).to_contain_text("3 of 4 have voted")
    await assert_no_count_shown(board)
    for page in (ana, mod):
        await expect(page.get_by_role("img", name="Votes per actor type")).to_have_count(0)  # hidden stays hidden
    await check_axe(ana)

    # Laura starts a comment; the moderator edits the text meanwhile.
    await laura.get_by_role("article", name=TITLE).get_by_label("Comment").fill("Only with a minimum lot size.")
    await laura.get_by_role("heading", level=1).click()  # and looks elsewhere: the comment is not in focus
    mod_card = mod.get_by_role("article", name=TITLE)
    await mod_card.get_by_text("Edit").click()
    await mod_card.get_by_label("Text").fill("Tenders are split into lots small firms can bid for, above a minimum.")
    await mod_card.get_by_role("button", name="Save as a new version").click()
    await expect(mod.get_by_role("article", name=TITLE).get_by_text("Version 2", exact=True)).to_be_visible()

    # Each voter's page says, by itself, that their vote was on an earlier version.
    for page in (ana, carlos, laura):
        card = page.get_by_role("article", name=TITLE)
        await expect(card.get_by_text("Your vote was on an earlier version")).to_be_visible()
        await expect(card.get_by_text("Version 2", exact=True)).to_be_visible()
        await expect(card.get_by_text("0 of 4 have voted")).to_be_visible()
    await expect(board_vote).to_contain_text("0 of 4 have voted")  # votes on version 1 no longer count
    await expect(laura.get_by_role("article", name=TITLE).get_by_label("Comment")).to_have_value(
        "Only with a minimum lot size."
    )
    await check_axe(ana)
    await ana.get_by_role("article", name=TITLE).get_by_role("button", name="Confirm my vote").click()
    await expect(ana.get_by_text("Your vote was on an earlier version")).to_have_count(0)
    await expect(ana.get_by_text("You voted: Support.")).to_be_visible()
    await carlos.get_by_role("article", name=TITLE).get_by_role("button", name="Confirm my vote").click()
    await expect(carlos.get_by_text("You voted: Oppose.")).to_be_visible()
    await laura.get_by_role("article", name=TITLE).get_by_role("button", name="Support").click()  # with her comment
    await expect(laura.get_by_text("Your comment: Only with a minimum lot size.")).to_be_visible()
    for page in (ana, carlos, laura):
        await live(page)
    await expect(mod.get_by_role("article", name=TITLE).get_by_text("3 of 4 have voted")).to_be_visible()

    await expect(board_vote).to_contain_text("3 of 4 have voted")
    await assert_no_count_shown(board)

    # The vote closes: the chart per actor type appears on the voters' pages and the board by themselves.
    await mod.get_by_role("article", name=TITLE).get_by_role("button", name="Close voting").click()
    await expect(board_vote).to_contain_text("Adopted")
    for label in ("Academia", "Civil society", "Local government"):
        await expect(board_vote.get_by_role("img", name="Votes per actor type")).to_contain_text(label)
    await check_axe(board)
    for page in (ana, carlos, laura):
        card = page.get_by_role("article", name=TITLE)
        await expect(card.get_by_text("Adopted", exact=True)).to_be_visible()
        await expect(card.get_by_role("button", name="Support")).to_have_count(0)
    card = ana.get_by_role("article", name=TITLE)
    chart = card.get_by_role("img", name="Votes per actor type")
    for label in ("Academia", "Civil society", "Local government"):
        await expect(chart).to_contain_text(label)
    rows = {
        (await row.get_by_role("rowheader").inner_text()): [
            await cell.inner_text() for cell in await row.get_by_role("cell").all()
        ]
        for row in await card.get_by_role("table").locator("tbody tr").all()
    }
    assert rows == {"Academia": ["1", "0", "0"], "Civil society": ["0", "1", "0"], "Local government": ["1", "0", "0"]}
    await expect(card.get_by_text("No consensus across actor types", exact=False)).to_be_visible()
    await check_axe(ana)

    # The moderator composes the proposal from the adopted conclusion and publishes it.
    compose = mod.get_by_role("region", name="Compose a proposal")
    await expect(compose.get_by_label(TITLE)).to_be_checked()
    await compose.get_by_label("Title").fill(PROPOSAL)
    await compose.get_by_label("Summary").fill("Municipalities split tenders into lots.")
    await compose.get_by_label("Text").fill("Each municipality publishes its tenders in lots.")
    await compose.get_by_role("button", name="Compose a proposal").click()
    draft_card = mod.get_by_role("article", name=PROPOSAL)
    await draft_card.get_by_role("button", name="Publish").click()  # not confirmed: the browser refuses
    await expect(draft_card.get_by_text("Published", exact=True)).to_have_count(0)
    await draft_card.get_by_label(re.compile("becomes immutable")).check()
    await check_axe(mod)
    await draft_card.get_by_role("button", name="Publish").click()
    await expect(mod.get_by_role("heading", level=1)).to_have_text(PROPOSAL)
    proposal_path = mod.url.removeprefix(web_server.url)

    # The mayor claims the office, an organizer verifies it, the mayor endorses with reservations.
    rep = await open_page()
    await log_in(rep, mayor.email, "/account")
    claim = rep.get_by_role("form", name="Representative claim")
    await claim.get_by_label("Office").fill("Mayor")
    await claim.get_by_label("Territory").fill("Rosario")
    await claim.get_by_role("button", name="Claim the office").click()
    await expect(rep.get_by_role("status")).to_have_text("Your claim is filed. An organizer will verify it.")
    admin = await open_page()
    await log_in(admin, organizer.email, "/admin")
    await admin.get_by_role("button", name="Verify the claim of Rosa Intendenta").click()
    await expect(admin.get_by_role("button", name="Verify the claim of Rosa Intendenta")).to_have_count(0)
    await rep.goto(proposal_path)
    await rep.get_by_role("radio", name="Endorse with reservations").check()
    await rep.get_by_label("Statement").fill("We will start with two pilot districts.")
    await check_axe(rep)
    await rep.get_by_role("button", name="Endorse").click()
    await expect(rep.get_by_role("region", name="Endorsements by elected representatives")).to_contain_text(
        "Rosa Intendenta, Mayor, Rosario: Endorse with reservations"
    )

    # A visitor comes back to the event page, reads the proposal, downloads both exports, verifies the log.
    visitor = await open_page()
    await visitor.goto(f"/sessions/{code}")
    await expect(visitor.get_by_text("Rosa Intendenta, Mayor, Rosario (with reservations)")).to_be_visible()
    await check_axe(visitor)
    await visitor.get_by_role("link", name=PROPOSAL).click()
    await expect(visitor.get_by_role("heading", level=1)).to_have_text(PROPOSAL)
    await expect(visitor.get_by_role("img", name="Votes per actor type")).to_contain_text("Local government")
    await check_axe(visitor)
    sha = await visitor.get_by_text(re.compile("^[0-9a-f]{64}$")).inner_text()
    async with visitor.expect_download() as download_info:
        await visitor.get_by_role("link", name="Download (JSON)").click()
    record = json.loads((await (await download_info.value).path()).read_text())
    assert record["proposal"]["content_sha256"] == sha
    assert [(item["stance"], item["statement"]) for item in record["endorsements"]] == [
        ("endorse_with_reservations", "We will start with two pilot districts.")
    ]
    assert record["conclusions"][0]["final_tally"]["by_actor_type"]["civil_society"]["oppose"] == 1
    assert [post["body"] for post in record["conclusions"][0]["sources"]] == [
        "Split tenders into small lots.",
        "Pay small suppliers within 30 days.",
    ]
    async with visitor.expect_download() as download_info:
        await visitor.get_by_role("link", name="Download (Markdown)").click()
    assert sha in (await (await download_info.value).path()).read_text()
    await visitor.get_by_role("link", name="The session's audit trail").click()
    log = visitor.get_by_role("list").filter(has_text="endorsed the proposal")
    await expect(log).to_contain_text("Marta Moderadora published the proposal; it can no longer change.")
    await visitor.get_by_role("button", name="Verify the log").click()
    await expect(visitor.get_by_role("status")).to_contain_text("The log is intact")
    await check_axe(visitor)

    # A member back on the event page sees the adopted conclusion too.
    await ana.goto(f"/sessions/{code}")
    await expect(ana.get_by_role("region", name="Conclusions")).to_contain_text(f"{TITLE} (Adopted)")
    await expect(ana.get_by_role("region", name="Final proposal")).to_contain_text(PROPOSAL)


async def test_two_moderators_editing_one_proposal_lose_nothing(open_page, web_db, web_server):  # noqa: F811
    session, moderator, _voters, conclusion, _ = await round_table(web_db, web_server.settings, adopted=True)
    other = await make_user(web_db, display_name="Mario Moderador")
    await membership.join_session(web_db, session.id, other, now=utcnow())
    await membership.set_member_role(web_db, session.id, moderator, other.id, "moderator", now=utcnow())
    proposal = await proposals.create_proposal(
        web_db,
        session.id,
        moderator,
        proposal_in(conclusion.id),
        now=utcnow(),
    )
    moderation = f"/sessions/{session.code}/moderation"
    first, second = await open_page(), await open_page()
    await log_in(first, moderator.email, moderation)
    await log_in(second, other.email, moderation)
    for page, text in ((first, "Marta's text."), (second, "Mario's text.")):
        await live(page)
        card = page.get_by_role("article", name="Local procurement")
        await card.get_by_text("Edit").click()
        await card.get_by_label("Text").fill(text)
    await first.get_by_role("button", name="Save the proposal").click()
    await expect(
        first.get_by_role("article", name="Local procurement").get_by_text("Version 2", exact=True)
    ).to_be_visible()
    # Mario's page learns of version 2 by itself, and leaves the form he is typing into alone.
    card = second.get_by_role("article", name="Local procurement")
    await expect(card.get_by_text("Version 2", exact=True)).to_be_visible()
    await expect(card.get_by_label("Text")).to_have_value("Mario's text.")

    await card.get_by_role("button", name="Save the proposal").click()
    card = second.get_by_role("article", name="Local procurement")
    await expect(card.get_by_role("alert")).to_contain_text("Another moderator saved version 2")
    await expect(card.get_by_role("region", name="The newer version")).to_contain_text("Marta's text.")
    await expect(card.get_by_label("Text")).to_have_value("Mario's text.")
    await check_axe(second)
    kept = await proposals.get_proposal(web_db, proposal.id, moderator)
    assert (kept.version, kept.body) == (2, "Marta's text.")

    await card.get_by_role("button", name="Save the proposal").click()  # a deliberate second save replaces it
    await expect(second.get_by_role("article", name="Local procurement").get_by_text("Version 3")).to_be_visible()
    kept = await proposals.get_proposal(web_db, proposal.id, moderator)
    assert (kept.version, kept.body) == (3, "Mario's text.")


async def test_visible_counts_grow_on_the_page_as_members_vote(open_page, web_db, web_server):  # noqa: F811
    session, moderator, voters, conclusion, _ = await round_table(web_db, web_server.settings)
    await voting.open_voting(web_db, conclusion.id, moderator, VotingIn(action="open"), now=utcnow())
    path = f"/sessions/{session.code}/conclusions"
    ana, carlos = await open_page(), await open_page()
    await log_in(ana, voters[0].email, path)
    await log_in(carlos, voters[1].email, path)
    await live(ana)
    await expect(ana.get_by_text("Nobody has voted on this version yet.")).to_be_visible()
    await carlos.get_by_role("article", name=TITLE).get_by_role("button", name="Oppose").click()
    await expect(carlos.get_by_text("You voted: Oppose.")).to_be_visible()
    table = ana.get_by_role("article", name=TITLE).get_by_role("table")  # on Ana's page, by itself
    await expect(table.get_by_role("row", name="Civil society")).to_have_text(re.compile(r"Civil society\s*0\s*1\s*0"))
    await expect(ana.get_by_role("img", name="Votes per actor type")).to_contain_text("Civil society")
    await check_axe(ana)


async def test_the_m_of_n_of_m_follows_members_joining_and_leaving_live(open_page, web_db, web_server):  # noqa: F811
    session, moderator, voters, conclusion, _ = await round_table(web_db, web_server.settings)
    await voting.open_voting(
        web_db, conclusion.id, moderator, VotingIn(action="open", results_visibility="after_close"), now=utcnow()
    )
    ana, mod = await open_page(), await open_page()
    await log_in(ana, voters[0].email, f"/sessions/{session.code}/conclusions")
    await log_in(mod, moderator.email, f"/sessions/{session.code}/moderation")
    for page in (ana, mod):
        await live(page)
        await expect(page.get_by_role("article", name=TITLE)).to_contain_text("0 of 4 have voted")

    newcomer = await make_user(web_db, display_name="Nora Nueva", actor_type="academia")
    await membership.join_session(web_db, session.id, newcomer, now=utcnow())
    for page in (ana, mod):
        await expect(page.get_by_role("article", name=TITLE)).to_contain_text("0 of 5 have voted")
    await expect(mod.get_by_role("rowheader", name="Nora Nueva")).to_be_visible()  # the members' list follows too

    await membership.leave_session(web_db, session.id, voters[2], now=utcnow())
    for page in (ana, mod):
        await expect(page.get_by_role("article", name=TITLE)).to_contain_text("0 of 4 have voted")
