"""Done when 1 (the forum and the event page) and 3 (axe on each): the demo's sessions with their status; the
event page of 1.1.1 as the seed shows it."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.async_api import expect

from deliberation.forum.demo import GUIDING_QUESTIONS
from tests.web.conftest import check_axe

SEED_TITLE = (
    "Alliances and partnerships between actors: towards co-responsibility to address crisis contexts and achieve "
    "sustainable objectives (Session 1.1.1)"
)


async def test_the_forum_lists_the_demo_sessions_with_their_status(page):
    await page.goto("/")
    await expect(page).to_have_title(re.compile("All Events"))
    line = page.get_by_role(
        "region", name="1. The Territory as a basis for social, economic and environmental innovation"
    )
    await expect(
        line.get_by_role("heading", name="1.1. The territory as a source of innovation, knowledge and transfer")
    ).to_be_visible()
    main = page.get_by_role("link", name=re.compile(r"Session 1\.1\.1 Alliances and partnerships"))
    await expect(main).to_contain_text("This event has passed")
    await expect(main).to_contain_text("1h30min")
    await expect(page.get_by_role("link", name=re.compile(r"Session 1\.2\.1 "))).to_contain_text("Live now")
    await expect(page.get_by_role("link", name=re.compile(r"Session 1\.1\.2 "))).to_contain_text("Upcoming")
    await check_axe(page)

    await page.get_by_label("Status").select_option(label="Live now")
    await page.get_by_role("button", name="Filter").click()
    await expect(page.get_by_role("link", name=re.compile(r"Session 1\.2\.1 "))).to_be_visible()
    await expect(page.get_by_role("link", name=re.compile(r"Session 1\.1\.1 "))).to_have_count(0)

    await page.get_by_label("Status").select_option(label="All statuses")
    await page.get_by_label("Thematic line").select_option(label="2. Local economic development in the face of crises")
    await page.get_by_role("button", name="Filter").click()
    await expect(page.get_by_role("link", name=re.compile(r"Session 2\.1\.1 "))).to_be_visible()
    await expect(page.get_by_role("link", name=re.compile(r"Session 1\.1\.1 "))).to_have_count(0)
    await check_axe(page)


async def test_the_event_page_of_1_1_1_shows_what_the_seed_shows(page):
    await page.goto("/")
    await page.get_by_role("link", name=re.compile(r"Session 1\.1\.1 ")).click()
    await expect(page).to_have_url(re.compile(r"/sessions/1\.1\.1$"))
    await expect(page.get_by_role("link", name="« All Events")).to_have_attribute("href", "/")
    await expect(page.get_by_text("This event has passed.")).to_be_visible()
    await expect(page.get_by_role("heading", level=1)).to_have_text(SEED_TITLE)
    await expect(
        page.get_by_text("Thematic line: 1. The Territory as a basis for social, economic and environmental innovation")
    ).to_be_visible()
    await expect(
        page.get_by_text("Thematic subline: 1.1. The territory as a source of innovation, knowledge and transfer")
    ).to_be_visible()
    facts = page.locator("dl.facts")
    await expect(facts).to_contain_text("Round tables")
    await expect(facts).to_contain_text("1h30min")
    await expect(facts).to_contain_text("Zoom")
    await expect(
        page.get_by_text(re.compile("^The territory is the place where relationships of coexistence"))
    ).to_be_visible()
    questions = page.get_by_role("region", name="Guiding questions").get_by_role("link")
    await expect(questions).to_have_text(GUIDING_QUESTIONS)
    for index in range(len(GUIDING_QUESTIONS)):
        await expect(questions.nth(index)).to_have_attribute(
            "href", re.compile(r"^/sessions/1\.1\.1/threads/[0-9a-f-]{36}$")
        )
    for name in ("Sign up", "Log in", "Recover your password"):
        await expect(page.get_by_role("main").get_by_role("link", name=name)).to_be_visible()
    await expect(page.get_by_role("button", name="Join the discussion")).to_have_count(0)
    await check_axe(page)

    async with page.expect_download() as download:
        await page.get_by_role("link", name="Add to calendar").click()
    calendar = Path(await (await download.value).path()).read_text(encoding="utf-8")
    assert "BEGIN:VEVENT" in calendar and "SUMMARY:Alliances and partnerships" in calendar
    assert re.search(r"DTSTART:\d{8}T\d{6}Z", calendar)
