"""Issue 17, Done when 1-3: the thread page, live in Chromium for two people (and a moderator), without ever
touching what someone is typing; gap-free after a cut websocket (checked against the API); untrusted text inert.
And how reading it live feels: new posts below the fold wait behind `New posts` (the page does not move), the
polite live region announces them, `N online` follows who has the thread open; a post's forms work without
JavaScript too (their own pages). The page of a 2,000-post thread is measured in tests/bench/thread_page.py.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import secrets

import httpx
import pytest
from playwright.async_api import Page, expect

from deliberation.forum.demo import DEMO_PASSWORD
from tests.web.conftest import DESKTOP, PHONE, check_axe
from tests.web.test_accounts import PASSWORD, log_in, sign_up
from tests.web.test_layout import MEASURE, SHOTS

LIVE_CODE = "1.2.1"  # the demo's live session
MODERATOR = "moderator@demo.example.org"
AGREE = re.compile(r"^Agree \d+$")


async def thread_url(page: Page) -> str:
    await page.goto(f"/sessions/{LIVE_CODE}")
    return await page.get_by_role("region", name="Guiding questions").get_by_role("link").first.get_attribute("href")


async def member(open_page, name: str, **options) -> tuple[Page, str]:
    """A new person who signed up and joined the live session, on its first thread; and their email."""
    page = await open_page(**options)
    email = f"{name.split()[0].lower()}.{secrets.token_hex(4)}@example.org"
    await sign_up(page, email, name=name)
    await page.goto(f"/sessions/{LIVE_CODE}")
    await page.get_by_role("button", name="Join the discussion").click()
    await page.goto(await thread_url(page))
    await live(page)
    return page, email


async def moderator(open_page, **options) -> Page:
    page = await open_page(**options)
    await page.goto("/login")
    await log_in(page, MODERATOR, DEMO_PASSWORD)
    await expect(page.get_by_role("button", name="Log out")).to_be_visible()
    return page


async def live(page: Page) -> None:
    await expect(page.locator("html")).to_have_attribute("data-live", "open")


def post(page: Page, text: str):
    """The post (its article) whose own text (not a reply's quote of it) contains `text`."""
    return page.get_by_role("article").filter(has=page.locator(":scope > .body", has_text=text))


async def write(page: Page, text: str) -> None:
    await page.get_by_label("Your post").fill(text)
    await page.get_by_role("button", name="Post", exact=True).click()
    await expect(page.get_by_label("Your post")).to_have_value("")


async def reply(page: Page, to: str, text: str) -> None:
    article = post(page, to).last
    await article.get_by_text("Reply", exact=True).click()
    await article.get_by_label("Your reply").fill(text)
    await article.get_by_role("button", name="Post reply").click()
    await expect(article.get_by_label("Your reply")).to_be_hidden()


async def parent_text(page: Page, text: str) -> str | None:
    """The text of the post directly above the post containing `text` in the tree (None for a top-level one)."""
    return await post(page, text).last.evaluate(
        "a => { const up = a.closest('li').parentElement.closest('li');"
        " return up ? up.querySelector(':scope > article .body').textContent.trim() : null; }"
    )


async def test_two_people_in_one_thread_see_each_other_live_and_keep_what_they_type(open_page):
    ana, _ = await member(open_page, "Ana")
    ben, _ = await member(open_page, "Ben")
    tag = secrets.token_hex(3)

    await write(ana, f"First thought {tag}")
    await expect(post(ben, f"First thought {tag}")).to_be_visible()
    # Ben starts a post and a reply, and leaves both half-written while Ana keeps writing.
    await ben.get_by_label("Your post").fill("Half of my post")
    first = post(ben, f"First thought {tag}")
    await first.get_by_text("Reply", exact=True).click()
    await first.get_by_label("Your reply").fill("Half of my reply")

    await write(ana, f"Second thought {tag}")
    chain = [f"First thought {tag}"] + [f"Depth {depth} {tag}" for depth in range(1, 5)]
    for above, text in itertools.pairwise(chain):
        await reply(ana, above, text)
    await expect(post(ben, f"Second thought {tag}")).to_be_visible()
    for above, text in itertools.pairwise(chain):
        await expect(post(ben, text)).to_be_visible()
        assert await parent_text(ben, text) == above
        await expect(post(ben, text).get_by_role("link", name="In reply to Ana")).to_be_visible()
    assert await parent_text(ben, f"Second thought {tag}") is None
    await expect(ben.get_by_label("Your post")).to_have_value("Half of my post")
    await expect(first.get_by_label("Your reply")).to_have_value("Half of my reply")
    await expect(first.get_by_label("Your reply")).to_be_visible()

    # Reactions: counts on both pages, each one's own pressed.
    await post(ana, f"Second thought {tag}").get_by_role("button", name=AGREE).click()
    for page in (ana, ben):
        await expect(post(page, f"Second thought {tag}").get_by_role("button", name=AGREE)).to_have_text("Agree 1")
    await expect(post(ana, f"Second thought {tag}").get_by_role("button", name=AGREE)).to_have_attribute(
        "aria-pressed", "true"
    )
    await expect(post(ben, f"Second thought {tag}").get_by_role("button", name=AGREE)).to_have_attribute(
        "aria-pressed", "false"
    )
    await post(ben, f"Second thought {tag}").get_by_role("button", name=AGREE).click()
    for page in (ana, ben):
        await expect(post(page, f"Second thought {tag}").get_by_role("button", name=AGREE)).to_have_text("Agree 2")
    await expect(post(ben, f"Second thought {tag}").get_by_role("button", name=AGREE)).to_have_attribute(
        "aria-pressed", "true"
    )

    # An edit shows live, with its History.
    second = post(ana, f"Second thought {tag}")
    await second.get_by_text("Edit", exact=True).click()
    await second.get_by_label("New text").fill(f"Second thought, *revised* {tag}")
    await second.get_by_role("button", name="Save").click()
    revised = post(ben, f"Second thought, revised {tag}")
    await expect(revised.locator("em")).to_have_text("revised")
    await expect(revised.get_by_text("edited")).to_be_visible()

    # A moderator hides it with a reason: both see the reason where the post was.
    mod = await moderator(open_page)
    await mod.goto(ana.url)
    await live(mod)
    target = post(mod, f"Second thought, revised {tag}")
    await target.get_by_text("Moderate", exact=True).click()
    await target.get_by_role("textbox", name="Reason").fill("Personal data")
    await target.get_by_role("button", name="Hide", exact=True).click()
    for page in (ana, ben):
        await expect(page.get_by_text("Hidden by a moderator: Personal data")).to_be_visible()
    await expect(ben.get_by_text(f"Second thought, revised {tag}")).to_have_count(0)
    await expect(ben.get_by_label("Your post")).to_have_value("Half of my post")
    await expect(first.get_by_label("Your reply")).to_have_value("Half of my reply")
    await check_axe(ben)
    await check_axe(mod)


async def api_token(web_server, email: str) -> str:
    async with httpx.AsyncClient(base_url=web_server.url) as client:
        answer = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        answer.raise_for_status()
        return answer.json()["access_token"]


# Counts the frames (lines) of every message the page's websockets receive; live.js asks for `batch=true`.
COUNT_FRAMES = """
window.framesPerMessage = [];
window.WebSocket = class extends window.WebSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener("message", (message) => window.framesPerMessage.push(message.data.split("\\n").length));
  }
};
"""


async def test_after_a_cut_websocket_every_post_is_shown_once_in_its_place(open_page, web_server):
    ana, ana_email = await member(open_page, "Ana")
    await ana.add_init_script(COUNT_FRAMES)
    await ana.reload()
    await live(ana)
    token = await api_token(web_server, ana_email)
    thread_id = ana.url.rsplit("/", 1)[1]
    headers = {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=web_server.url, headers=headers) as api:
        thread = (await api.get(f"/api/threads/{thread_id}")).json()
        posted: list[str] = []
        for round_ in range(4):
            await ana.evaluate("window.deliberationLive.close()")  # the test cuts the page's websocket
            for n in range(5):
                parent = posted[(round_ * 7 + n) % len(posted)] if posted and n % 2 else None
                body = {"body": f"Posted while cut {round_}.{n}", "parent_id": parent}
                answer = await api.post(f"/api/threads/{thread_id}/posts", json=body)
                assert answer.status_code == 201, answer.text
                posted.append(answer.json()["id"])
        last_seq = (await api.get(f"/api/sessions/{thread['session_id']}")).json()["last_seq"]
        await expect(ana.locator("html")).to_have_attribute("data-live-seq", str(last_seq), timeout=20_000)
        assert max(await ana.evaluate("window.framesPerMessage")) > 1  # each resume's replay came batched
        tree = (await api.get(f"/api/threads/{thread_id}/posts", params={"limit": 100})).json()["items"]

    expected: list[tuple[str, str | None]] = []

    def walk(items, parent):
        for item in items:
            expected.append((item["id"], parent))
            walk(item["replies"], item["id"])

    walk(tree, None)
    shown = await ana.evaluate(
        "() => [...document.querySelectorAll('li[id^=post-]')].map(li => "
        "[li.id.slice(5), li.parentElement.closest('li[id^=post-]')?.id.slice(5) ?? null])"
    )
    assert sorted(map(tuple, shown)) == sorted(expected)  # each exactly once, under its parent
    assert len({post_id for post_id, _ in shown}) == len(shown)
    assert set(posted) <= {post_id for post_id, _ in shown}
    top = await ana.evaluate("() => [...document.querySelectorAll('#posts > li')].map(li => li.id.slice(5))")
    assert top == [item["id"] for item in tree]  # oldest first, as the API orders them


UNTRUSTED = """<script>window.pwned = 1</script> raw <b>bold tag</b>
<img src=x onerror="window.pwned = 2">

[click me](javascript:window.pwned=3) and [a site](https://example.org/page)

*soft* and **strong**

- one
- two

> quoted words
"""


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["desktop", "phone"])
async def test_untrusted_text_is_inert_and_markdown_still_renders(open_page, viewport):
    options = {"viewport": viewport} if viewport else {}
    ana, _ = await member(open_page, "Ana", **options)
    ben, _ = await member(open_page, "Ben", **options)
    tag = secrets.token_hex(3)
    await write(ana, UNTRUSTED + f"\n{tag}")
    for page, when in ((ben, "live"), (ana, "live")):
        shown = post(page, tag)
        await expect(shown).to_be_visible()
        raw = shown.get_by_role("paragraph").filter(has_text="<script>window.pwned = 1</script> raw <b>bold tag</b>")
        await expect(raw).to_be_visible()
        await expect(shown.locator("em")).to_have_text("soft")
        await expect(shown.locator("strong")).to_have_text("strong")
        await expect(shown.get_by_role("listitem")).to_have_text(["one", "two"])
        await expect(shown.locator("blockquote")).to_have_text("quoted words")
        await expect(shown.get_by_role("link", name="a site")).to_have_attribute("rel", "nofollow ugc noopener")
        await expect(shown.get_by_role("link", name="click me")).to_have_count(0)
        await page.reload()
        await expect(post(page, tag)).to_be_visible()
        assert await page.evaluate("() => window.pwned") is None, when
        assert await page.locator("[href^='javascript:' i], img, script:not([src]):not([type])").count() == 0
        await check_axe(page)


async def test_a_permalink_opens_its_thread_at_the_post_with_its_branch_open(open_page):
    ana, _ = await member(open_page, "Ana")
    tag = secrets.token_hex(3)
    await write(ana, f"Root {tag}")
    await reply(ana, f"Root {tag}", f"Answer {tag}")
    link = await post(ana, f"Answer {tag}").get_by_role("link", name=re.compile(r"\d")).get_attribute("href")
    assert re.fullmatch(r"\?post=([0-9a-f-]{36})#post-\1", link)  # its page of the thread, scrolled to it
    other = await moderator(open_page, viewport=PHONE)
    await other.goto(ana.url + link)
    await expect(post(other, f"Answer {tag}")).to_be_in_viewport()
    await check_axe(other)


async def test_moderators_see_flags_live_and_hide_with_a_public_reason(open_page):
    tag = secrets.token_hex(3)
    ana, _ = await member(open_page, "Ana")
    ben, _ = await member(open_page, f"Ben {tag}")
    mod = await moderator(open_page)
    await mod.goto(f"/sessions/{LIVE_CODE}/moderation")
    await live(mod)
    await check_axe(mod)
    await write(ana, f"Call me at 555 {tag}")
    flagged = post(ben, f"Call me at 555 {tag}")
    await flagged.get_by_text("Flag", exact=True).click()
    await flagged.get_by_label("Reason").select_option(label="Other")
    await flagged.get_by_label("Note").fill(f"A phone number {tag}")
    await flagged.get_by_role("button", name="Send to the moderators").click()

    flag = mod.get_by_role("listitem").filter(has_text=f"A phone number {tag}")
    await expect(flag.get_by_role("heading")).to_have_text(f"Post by Ana, flagged by Ben {tag}")
    await check_axe(mod)
    await flag.get_by_role("button", name="Hide post").click()
    await expect(flag.get_by_text("This field is required.")).to_be_visible()  # a reason is needed to hide
    assert mod.problems == ["Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)"]
    mod.problems.clear()  # the refused form's answer, expected
    await flag.get_by_label("Reason").fill(f"Personal data {tag}")
    await flag.get_by_role("button", name="Hide post").click()
    await expect(mod.get_by_text(f"A phone number {tag}")).to_have_count(0)
    for page in (ana, ben):
        await expect(page.get_by_text(f"Hidden by a moderator: Personal data {tag}")).to_be_visible()

    row = mod.get_by_role("row").filter(has_text=f"Ben {tag}")
    await row.get_by_role("button", name="Make moderator").click()
    await expect(row.get_by_role("cell", name=re.compile(r"^Moderator "))).to_be_visible()  # live: member.updated
    await expect(row.get_by_role("button", name="Make participant")).to_be_visible()
    await check_axe(mod)


async def test_the_moderation_page_is_not_for_participants(open_page):
    ana, _ = await member(open_page, "Ana")
    await ana.goto(f"/sessions/{LIVE_CODE}/moderation")
    await expect(ana.get_by_role("heading", level=1)).to_have_text("This page does not exist")


async def api_post(web_server, token: str, thread_id: str, body: str, parent_id: str | None = None) -> str:
    async with httpx.AsyncClient(base_url=web_server.url, headers={"authorization": f"Bearer {token}"}) as api:
        answer = await api.post(f"/api/threads/{thread_id}/posts", json={"body": body, "parent_id": parent_id})
        assert answer.status_code == 201, answer.text
        return answer.json()["id"]


async def test_new_posts_below_the_fold_wait_behind_the_marker_and_are_announced(open_page, web_server):
    ana, ana_email = await member(open_page, "Ana")
    token = await api_token(web_server, ana_email)
    thread_id = ana.url.rsplit("/", 1)[1]
    tag = secrets.token_hex(3)
    for n in range(6):  # enough text that the end of the thread is well below a phone's screen
        await api_post(web_server, token, thread_id, f"Long post {n} {tag}\n\n" + "A sentence of the debate. " * 40)
    ben, _ = await member(open_page, "Ben", viewport=PHONE)
    reading = post(ben, f"Long post 2 {tag}")
    await reading.scroll_into_view_if_needed()
    await reading.get_by_text("Reply", exact=True).click()  # a reply begun, and left while reading on
    await reading.get_by_label("Your reply").fill("Half of my reply")
    await check_axe(ben)  # the page with a post's form brought into it
    before = await ben.evaluate("() => window.scrollY")

    await write(ana, f"Arrived below {tag}")
    arrived = post(ben, f"Arrived below {tag}")
    await expect(arrived).to_have_count(1)
    marker = ben.get_by_role("link", name="New posts")
    await expect(marker).to_be_visible()
    await expect(arrived).not_to_be_in_viewport()
    assert await ben.evaluate("() => window.scrollY") == before  # the page did not move under the reader
    log = ben.get_by_role("log")
    await expect(log).to_have_attribute("aria-live", "polite")
    await expect(log).to_contain_text("New post by Ana")
    await expect(reading.get_by_label("Your reply")).to_have_value("Half of my reply")

    await marker.click()
    await expect(arrived).to_be_in_viewport()
    await expect(marker).to_be_hidden()
    await check_axe(ben)


def online_count(text: str) -> int:
    match = re.fullmatch(r"(\d+) online", text.strip())
    assert match, text
    return int(match.group(1))


async def settled_count(online) -> int:
    """The online count once the people of earlier tests (one server serves them all) have finished leaving:
    the count has held for 3 s."""
    held, since = None, asyncio.get_running_loop().time()
    while True:
        count = online_count(await online.text_content())
        if count != held:
            held, since = count, asyncio.get_running_loop().time()
        elif asyncio.get_running_loop().time() - since >= 3:
            return count
        await asyncio.sleep(0.25)


async def test_the_online_count_follows_who_opens_and_leaves_the_thread(open_page):
    ana, _ = await member(open_page, "Ana")
    online = ana.locator("#online")
    await expect(online).to_have_text(re.compile(r"^\d+ online$"))
    alone = await settled_count(online)
    ben, _ = await member(open_page, "Ben")
    await expect(online).to_have_text(f"{alone + 1} online")
    await expect(ben.locator("#online")).to_have_text(f"{alone + 1} online")
    await ben.context.close()  # Ben leaves (his socket's close reaches the server when the browser lets it go)
    await expect(online).to_have_text(f"{alone} online", timeout=20_000)


async def test_a_posts_forms_work_without_javascript(open_page, web_server):
    ana, ana_email = await member(open_page, "Ana")
    thread = ana.url
    tag = secrets.token_hex(3)
    await write(ana, f"Question without scripts {tag}")
    plain = await open_page(javascript=False, viewport=PHONE)
    await plain.goto("/login")
    await log_in(plain, ana_email, PASSWORD)
    await plain.goto(thread)
    question = post(plain, f"Question without scripts {tag}")
    await question.get_by_role("link", name="Reply", exact=True).click()  # the form's own page
    await plain.get_by_label("Your reply").fill("   ")
    await plain.get_by_role("button", name="Post reply").click()  # nothing written: refused, said where
    await expect(plain.get_by_text("This field is required.")).to_be_visible()
    await expect(plain.get_by_label("Your reply")).to_have_attribute("aria-invalid", "true")
    await plain.get_by_label("Your reply").fill(f"An answer without scripts {tag}")
    await plain.get_by_role("button", name="Post reply").click()
    answer = post(plain, f"An answer without scripts {tag}")
    await expect(answer).to_be_visible()
    assert await parent_text(plain, f"An answer without scripts {tag}") == f"Question without scripts {tag}"
    await answer.get_by_role("link", name="Edit", exact=True).click()
    await expect(plain.get_by_label("New text")).to_have_value(f"An answer without scripts {tag}")
    await plain.get_by_label("New text").fill(f"An answer, edited without scripts {tag}")
    await plain.get_by_role("button", name="Save").click()
    await expect(post(plain, f"An answer, edited without scripts {tag}")).to_be_visible()
    await expect(post(ana, f"An answer, edited without scripts {tag}")).to_be_visible()  # live on Ana's page


async def test_a_post_refused_as_too_long_then_shortened_leaves_an_empty_composer(open_page, web_server):
    """Ana, on her phone in Spanish, writes a post too long: the refusal is next to it, what she typed kept. She
    shortens it and posts: her post is in the thread, and the composer is empty again, without the old refusal
    (not refilled with the refused text)."""
    ana, _ = await member(open_page, "Ana", viewport=PHONE)
    await ana.get_by_label("Language").select_option("es")
    await ana.get_by_role("button", name="Change").click()
    await expect(ana.locator("html")).to_have_attribute("lang", "es")
    await live(ana)
    composer = ana.get_by_label("Su publicación")
    await composer.fill("x" * (web_server.settings.max_post_length + 1))
    await ana.get_by_role("button", name="Publicar", exact=True).click()
    refusal = f"debe tener como máximo {web_server.settings.max_post_length} caracteres"
    await expect(composer).to_have_accessible_description(refusal)
    ana.problems.clear()  # the refused form's 422, expected

    tag = secrets.token_hex(3)
    await composer.fill(f"Una mesa comarcal del agua {tag}")
    await ana.get_by_role("button", name="Publicar", exact=True).click()
    await expect(post(ana, f"Una mesa comarcal del agua {tag}")).to_be_visible()
    await expect(composer).to_have_value("")
    await expect(composer).to_have_accessible_description("")
    await expect(ana.get_by_text(refusal)).to_have_count(0)
    await check_axe(ana)


@pytest.mark.parametrize(("width", "viewport"), [("1280", DESKTOP), ("390", PHONE)])
async def test_a_deep_reply_chain_reads_well_in_spanish(open_page, web_server, width, viewport):
    """A member reading a thread in Spanish: a chain of replies 7 deep, a hidden post, a reply being written. With
    DELIBERATION_WRITE_SCREENSHOTS=1 it writes the thread page's screenshots in docs/web.md."""
    ana, ana_email = await member(open_page, "Ana")
    await ana.goto(f"/sessions/{LIVE_CODE}")
    questions = ana.get_by_role("region", name="Guiding questions").get_by_role("link")
    await ana.goto(await questions.last.get_attribute("href"))  # a thread the other tests leave alone
    token = await api_token(web_server, ana_email)
    thread_id = ana.url.rsplit("/", 1)[1]
    tag = secrets.token_hex(3)
    parent = None
    for depth in range(8):
        text = f"Nivel {depth} {tag}: *los presupuestos compartidos* funcionan cuando hay una revisión pública anual."
        parent = await api_post(web_server, token, thread_id, text, parent)
        if depth == 2:
            hidden = parent
    async with httpx.AsyncClient(base_url=web_server.url) as client:
        login = await client.post("/api/auth/login", json={"email": MODERATOR, "password": DEMO_PASSWORD})
        headers = {"authorization": f"Bearer {login.json()['access_token']}"}
        answer = await client.post(
            f"/api/posts/{hidden}/moderation",
            json={"action": "hide", "reason": f"Datos personales {tag}"},
            headers=headers,
        )
        assert answer.status_code == 200, answer.text

    reader = await open_page(viewport=viewport)
    await sign_up(reader, f"lucia.{tag}@example.org", name="Lucía")
    await reader.goto(ana.url)
    await reader.get_by_label("Language").select_option("es")  # as a person chooses it, in the page's header
    await reader.get_by_role("button", name="Change").click()
    await reader.get_by_role("button", name="Unirse al debate").click()
    await reader.goto(ana.url)
    await live(reader)
    deepest = post(reader, f"Nivel 7 {tag}")
    await expect(deepest.get_by_role("link", name="En respuesta a Ana")).to_be_visible()
    await expect(reader.get_by_text(f"Ocultada por la moderación: Datos personales {tag}")).to_be_visible()
    await deepest.get_by_text("Responder", exact=True).click()
    await deepest.get_by_label("Su respuesta").fill("Estoy de acuerdo con la revisión anual.")
    measured = await reader.evaluate(MEASURE)
    assert measured["overflow"] <= 0, f"the thread is {measured['overflow']} px wider than a {width} px screen"
    assert measured["smallest"] >= 14
    assert measured["small_targets"] == []
    assert measured["wrapped"] == []
    deep, top = await deepest.bounding_box(), await post(reader, f"Nivel 0 {tag}").bounding_box()
    assert deep["width"] >= 0.8 * top["width"], "the deepest reply is squeezed to the right"
    await check_axe(reader)
    if os.environ.get("DELIBERATION_WRITE_SCREENSHOTS"):
        shown = post(reader, f"Nivel {0 if width == '1280' else 5} {tag}")  # on a phone, the deep end
        await shown.scroll_into_view_if_needed()
        await reader.evaluate("() => window.scrollBy(0, -80)")
        await reader.screenshot(path=SHOTS / f"thread-{width}.png")
