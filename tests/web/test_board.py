"""The live board of issue 18 (`/sessions/{code}/board`): it follows the round table live in a browser of its own
while people post, come and go, and vote in theirs; while the results are hidden it holds no count anywhere in its
DOM, after the close it shows them; only members and admins see it; it passes axe and fits a 1280 x 720 window.
With DELIBERATION_WRITE_SCREENSHOTS=1 the board's screenshot in docs/web.md is written again."""

from __future__ import annotations

import os
import re

from playwright.async_api import expect

from deliberation.conclusions import voting
from deliberation.conclusions.schemas import VoteIn, VotingIn
from deliberation.db.base import utcnow
from deliberation.threads import moderation, posts
from deliberation.threads import service as threads
from deliberation.threads.schemas import PostIn, ThreadIn, ThreadModerationIn
from tests.factories import make_user
from tests.web.conftest import PHONE, check_axe
from tests.web.test_deciding import log_in, round_table, web_db  # noqa: F401 - the fixture
from tests.web.test_layout import SHOTS

SCREEN = {"width": 1280, "height": 720}
TITLE = "Open procurement to small suppliers"
# Everything the board's DOM says, to look for counts in: its text, and the text and bars of any SVG.
DOM = """() => ({
  text: document.body.innerText,
  svg_text: [...document.querySelectorAll("svg text")].map((node) => node.textContent).join(" "),
  bars: document.querySelectorAll("svg rect.bar").length,
  tables: document.querySelectorAll("table").length,
})"""
CHOICE = re.compile(r"Support|Oppose|Abstain")


async def assert_no_count_shown(board) -> None:
    """Nothing on the board says how anyone voted: no choice named in its text, no chart, no table."""
    dom = await board.evaluate(DOM)
    assert not CHOICE.search(dom["text"]), dom["text"]  # no choice named, so no count beside one
    assert (dom["svg_text"], dom["bars"], dom["tables"]) == ("", 0, 0), dom  # no chart: only the QR code


async def open_board(page, email: str, code: str):
    await log_in(page, email, f"/sessions/{code}/board")
    await expect(page.locator("html")).to_have_attribute("data-live", "open")
    return page.get_by_role("region", name="Votes")


async def test_the_board_follows_the_round_table_live_and_hides_counts_until_the_close(
    open_page,
    web_db,  # noqa: F811
    web_server,
):
    session, moderator, voters, conclusion, sources = await round_table(web_db, web_server.settings)
    board = await open_page(viewport=SCREEN)
    votes = await open_board(board, moderator.email, session.code)
    debate = board.get_by_role("region", name="Question under debate")
    await expect(debate).to_contain_text("What makes local procurement work?")
    await expect(debate.get_by_role("listitem")).to_contain_text(["Carlos Cívico", "Ana Academia"])  # newest first
    await expect(debate.get_by_role("listitem")).to_contain_text(["Pay small suppliers", "Split tenders"])
    await expect(board.get_by_text("1 online", exact=True)).to_be_visible()
    join = board.get_by_role("region", name="Join the discussion")
    join_url = f"{web_server.url}/sessions/{session.code}"
    await expect(join.get_by_role("link", name=join_url)).to_be_visible()
    await expect(join.get_by_role("img", name=f"QR code of the link {join_url}")).to_be_visible()
    await expect(votes).to_contain_text("No vote is open.")
    await check_axe(board)

    # Ana opens the thread (she is online now) and posts: the board shows it first, without a reload.
    ana = await open_page()
    await log_in(ana, voters[0].email, f"/sessions/{session.code}/threads/{sources[0].thread_id}")
    await expect(board.get_by_text("2 online", exact=True)).to_be_visible()
    await ana.get_by_label("Your post").fill("A registry of small firms would help the lots reach them.")
    await ana.get_by_role("button", name="Post", exact=True).click()
    await expect(debate.get_by_role("listitem").first).to_contain_text("A registry of small firms")
    await expect(debate.get_by_role("listitem")).to_have_count(3)

    # The moderator opens the vote with results after close; the members vote.
    mod = await open_page()
    await log_in(mod, moderator.email, f"/sessions/{session.code}/moderation")
    card = mod.get_by_role("article", name=TITLE)
    await card.get_by_label("Results").select_option("after_close")
    await card.get_by_role("button", name="Open voting").click()
    vote = votes.get_by_role("article", name=TITLE)
    await expect(vote).to_contain_text("0 of 4 have voted")
    await board.evaluate("() => window.deliberationLive.close()")  # a drop: the board resumes after its last seq
    await ana.goto(f"/sessions/{session.code}/conclusions")
    await ana.get_by_role("article", name=TITLE).get_by_role("button", name="Support").click()
    await expect(vote).to_contain_text("1 of 4 have voted")
    now = utcnow()
    await voting.cast_vote(web_db, conclusion.id, voters[1], VoteIn(choice="oppose"), now=now)
    await voting.cast_vote(web_db, conclusion.id, voters[2], VoteIn(choice="support"), now=now)
    await expect(vote).to_contain_text("3 of 4 have voted")
    await assert_no_count_shown(board)
    assert await votes.inner_text() == (
        f"VOTES\n{TITLE} Voting is open\n\n3 of 4 have voted · The counts are shown when the vote closes."
    )
    await check_axe(board)

    # Ana leaves; the moderator closes the vote: the board shows the result and the counts.
    await ana.close()
    await expect(board.get_by_text("1 online", exact=True)).to_be_visible()
    await mod.get_by_role("article", name=TITLE).get_by_role("button", name="Close voting").click()
    await expect(vote).to_contain_text("Adopted")
    await expect(vote).to_contain_text("No consensus across actor types")
    chart = vote.get_by_role("img", name="Votes per actor type")
    for label in ("Academia", "Civil society", "Local government"):
        await expect(chart).to_contain_text(label)
    rows = {
        (await row.get_by_role("rowheader").inner_text()): [
            await cell.inner_text() for cell in await row.get_by_role("cell").all()
        ]
        for row in await vote.locator("tbody tr").all()
    }
    assert rows == {"Academia": ["1", "0", "0"], "Civil society": ["0", "1", "0"], "Local government": ["1", "0", "0"]}
    assert await board.evaluate("() => window.scrollY") == 0  # nothing moved the board
    await check_axe(board)


async def test_only_members_and_admins_see_the_board(open_page, web_db, web_server):  # noqa: F811
    session, *_ = await round_table(web_db, web_server.settings, draft=False)
    path = f"/sessions/{session.code}/board"
    anonymous = await open_page()
    await anonymous.goto(path)
    await expect(anonymous).to_have_url(re.compile(r"/login\?next="))
    outsider = await open_page()
    await log_in(outsider, (await make_user(web_db)).email, "/account")
    for url in (path, f"{path}/debate", f"{path}/questions", f"{path}/votes"):
        response = await outsider.goto(url)
        assert response.status == 404
        await expect(outsider.get_by_text("What makes local procurement work?")).to_have_count(0)
    admin = await open_page()
    await log_in(admin, (await make_user(web_db, is_admin=True)).email, path)
    await expect(admin.get_by_role("region", name="Question under debate")).to_contain_text("What makes local")


async def test_the_question_control_follows_threads_created_and_pinned_live(open_page, web_db, web_server):  # noqa: F811
    session, moderator, *_ = await round_table(web_db, web_server.settings, draft=False)
    board = await open_page(viewport=SCREEN)
    await open_board(board, moderator.email, session.code)
    control = board.get_by_role("combobox", name="Question under debate")
    first = ["The one with the latest post", "What makes local procurement work?"]
    await expect(control.locator("option")).to_have_text(first)

    created = await threads.create_thread(web_db, session.id, moderator, ThreadIn(title="Who checks the lots?"))
    await expect(control.locator("option")).to_have_text([*first, "Who checks the lots?"])
    pin = ThreadModerationIn(action="pin")
    await moderation.moderate_thread(web_db, created.id, moderator, pin, now=utcnow())
    await expect(control.locator("option")).to_have_text([first[0], "Who checks the lots?", first[1]])  # pinned first
    await control.select_option(label="Who checks the lots?")
    await board.get_by_role("button", name="Show").click()
    debate = board.get_by_role("region", name="Question under debate")
    await expect(debate.get_by_role("link", name="Who checks the lots?")).to_be_visible()


async def test_the_board_fits_a_1280_by_720_window_and_a_phone_in_spanish(open_page, web_db, web_server):  # noqa: F811
    session, moderator, voters, conclusion, sources = await round_table(web_db, web_server.settings)
    now = utcnow()
    for voter, body in zip(
        voters,
        (
            "Small firms lose tenders on paperwork, not on price. A single form for every municipality would help.",
            "Thirty days is good, but only if late payment carries interest that the city pays automatically.",
            "Our city split its cleaning contract into six lots last year; four went to local cooperatives.",
        ),
        strict=True,
    ):
        await posts.create_post(
            web_db, sources[0].thread_id, voter, PostIn(body=body), settings=web_server.settings, now=now
        )
    await voting.open_voting(web_db, conclusion.id, moderator, VotingIn(action="open"), now=now)
    for voter, choice in zip(voters, ("support", "oppose", "support"), strict=True):
        await voting.cast_vote(web_db, conclusion.id, voter, VoteIn(choice=choice), now=now)

    board = await open_page(viewport=SCREEN)
    votes = await open_board(board, moderator.email, session.code)
    await expect(votes.get_by_role("img", name="Votes per actor type")).to_contain_text("Local government")
    await expect(board.get_by_role("region", name="Question under debate").get_by_role("listitem")).to_have_count(4)
    size = await board.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
    if os.environ.get("DELIBERATION_WRITE_SCREENSHOTS"):
        await board.screenshot(path=SHOTS / "board-1280.png", full_page=True)
    assert size[0] <= SCREEN["width"] and size[1] <= SCREEN["height"], f"the board is {size[0]} x {size[1]} px"
    await check_axe(board)
    if os.environ.get("DELIBERATION_WRITE_SCREENSHOTS"):
        await board.screenshot(path=SHOTS / "board-1280.png")

    # The moderator picks the question under debate on the board; the address keeps the choice.
    await board.get_by_role("combobox", name="Question under debate").select_option(
        label="What makes local procurement work?"
    )
    await board.get_by_role("button", name="Show").click()
    await expect(board).to_have_url(re.compile(rf"/board\?thread={sources[0].thread_id}$"))
    await expect(board.locator("html")).to_have_attribute("data-live", "open")

    phone = await open_page(viewport=PHONE)
    await log_in(phone, voters[0].email, f"/sessions/{session.code}/board")
    await phone.get_by_label("Language").select_option("es")
    await phone.get_by_role("button", name="Change").click()
    await expect(phone.get_by_role("region", name="Pregunta en debate")).to_contain_text("What makes local")
    await expect(phone.get_by_role("region", name="Votaciones").get_by_role("img")).to_contain_text("A favor")
    assert await phone.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    await check_axe(phone)
    if os.environ.get("DELIBERATION_WRITE_SCREENSHOTS"):
        await phone.screenshot(path=SHOTS / "board-390-es.png", full_page=True)
