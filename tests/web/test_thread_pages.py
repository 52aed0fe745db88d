"""A long thread in pages (issue 17, Done when 4): the thread page shows DELIBERATION_THREAD_PAGE_ROOTS top-level
posts with their replies; `More posts` brings the next ones into the page without a reload (or opens the next page
without JavaScript); live posts go where the sort puts them, or wait for their page; a permalink to a post on a
later page opens the page that holds it, its collapsed branch open; reactions are one form for the whole page.
"""

from __future__ import annotations

import os
import re
import uuid

import msgspec
from playwright.async_api import Page, expect

from deliberation.db.base import utcnow
from deliberation.forum.models import Session
from deliberation.settings import Settings
from deliberation.threads import posts
from deliberation.threads.schemas import PostIn
from deliberation.web.routes.threads import COLLAPSE_OVER
from tests.factories import make_forum_session, make_thread, make_user
from tests.web.conftest import PHONE, check_axe
from tests.web.test_deciding import log_in, round_table, web_db  # noqa: F401 - the fixture
from tests.web.test_layout import MEASURE, SHOTS
from tests.web.test_sessions_and_csrf import log_in as log_in_client


async def long_thread(web_db, settings):  # noqa: F811
    """A live session whose thread holds two pages and a few posts of top-level posts; on the third page, a post
    whose branch of replies starts collapsed. Its session, members, thread path, top-level post ids in order, and
    the last reply of that branch."""
    session, _, voters, _, first_two = await round_table(web_db, settings, draft=False)
    settings = msgspec.structs.replace(settings, post_rate_per_minute=1_000_000)
    thread_id = first_two[0].thread_id
    roots = [post.id for post in first_two]

    async def write(n: int, body: str, parent=None):
        out = await posts.create_post(
            web_db, thread_id, voters[n % 3], PostIn(body=body, parent_id=parent), settings=settings, now=utcnow()
        )
        return out.id

    size = settings.thread_page_roots
    for n in range(2 * size + 2):
        roots.append(await write(n, f"Top-level post {n}"))
    branch = roots[-1]
    for n in range(COLLAPSE_OVER + 1):
        last = await write(n, f"Reply {n} in the long branch", branch)
    return session, voters, thread_id, roots, last


def top_level(page: Page):
    return page.locator("#posts > li")


async def ids_on(page: Page) -> list[str]:
    return await page.evaluate("() => [...document.querySelectorAll('#posts > li')].map(li => li.id.slice(5))")


async def caught_up(page: Page, web_db, session) -> None:  # noqa: F811
    """Until the page has applied every event of the session so far."""
    async with web_db.begin():
        last_seq = (await web_db.get(Session, session.id, populate_existing=True)).last_seq
    await expect(page.locator("html")).to_have_attribute("data-live-seq", str(last_seq), timeout=20_000)


async def test_more_posts_brings_the_next_page_in_place_and_live_posts_wait_for_theirs(
    open_page,
    web_db,  # noqa: F811
    web_server,
):
    session, voters, thread_id, roots, _ = await long_thread(web_db, web_server.settings)
    path = f"/sessions/{session.code}/threads/{thread_id}"
    size = web_server.settings.thread_page_roots
    ana = await open_page()
    await log_in(ana, voters[0].email, path)
    await expect(ana.locator("html")).to_have_attribute("data-live", "open")
    assert await ids_on(ana) == [str(post_id) for post_id in roots[:size]]
    await check_axe(ana)
    await ana.evaluate("() => { window.stayed = true; }")  # gone if the page reloads

    # A new top-level post while the end of the thread is not on the page: announced, and it comes with its page.
    settings = msgspec.structs.replace(web_server.settings, post_rate_per_minute=1_000_000)
    late = await posts.create_post(
        web_db, thread_id, voters[1], PostIn(body="A late top-level post"), settings=settings, now=utcnow()
    )
    await caught_up(ana, web_db, session)
    await expect(ana.get_by_role("log")).to_contain_text(f"New post by {voters[1].display_name}")
    await expect(top_level(ana)).to_have_count(size)
    await expect(ana.get_by_role("link", name="New posts")).to_be_hidden()  # nothing on the page to go to

    more = ana.get_by_role("link", name="More posts")
    await more.click()
    await expect(top_level(ana)).to_have_count(2 * size)
    await expect(ana.locator(f"#post-{roots[size]} > article")).to_be_focused()  # the reader goes on from there
    await more.click()
    everything = [str(post_id) for post_id in [*roots, late.id]]
    await expect(top_level(ana)).to_have_count(len(everything))
    assert await ids_on(ana) == everything  # in order, each once, the late post last
    await expect(more).to_have_count(0)
    assert await ana.evaluate("() => window.stayed") is True

    # Now that the end is on the page, new posts go there live; a reply under a post of a later page too.
    answer = await posts.create_post(
        web_db,
        thread_id,
        voters[2],
        PostIn(body="An answer on the second page", parent_id=roots[size + 1]),
        settings=settings,
        now=utcnow(),
    )
    newest = await posts.create_post(
        web_db, thread_id, voters[2], PostIn(body="The newest top-level post"), settings=settings, now=utcnow()
    )
    await caught_up(ana, web_db, session)
    assert (await ids_on(ana))[-1] == str(newest.id)
    await expect(ana.locator(f"#replies-{roots[size + 1]} > #post-{answer.id}")).to_have_count(1)
    await check_axe(ana)

    # Newest first: the newest top-level posts open the page.
    await ana.get_by_role("link", name="Newest").click()
    assert (await ids_on(ana))[:2] == [str(newest.id), str(late.id)]


async def test_a_permalink_to_a_later_page_opens_that_page_with_the_branch_open(
    open_page,
    web_db,  # noqa: F811
    web_server,
):
    """Read in Spanish on a phone; with DELIBERATION_WRITE_SCREENSHOTS=1 it writes the permalink's page and the end
    of a page (`More posts`) in docs/web.md."""
    session, voters, thread_id, roots, last = await long_thread(web_db, web_server.settings)
    path = f"/sessions/{session.code}/threads/{thread_id}"
    ben = await open_page(viewport=PHONE)
    await log_in(ben, voters[1].email, path)
    await ben.get_by_label("Language").select_option("es")  # as a person chooses it, in the page's header
    await ben.get_by_role("button", name="Change").click()
    await expect(ben.locator("html")).to_have_attribute("lang", "es")
    # An old link (the fragment only) finds the page that holds the post, as the permalink itself does.
    await ben.goto(f"{path}#post-{last}")
    await ben.wait_for_url(f"**{path}?post={last}#post-{last}")
    reply = ben.locator(f"#post-{last} > article")
    await expect(reply).to_be_in_viewport()
    await expect(ben.locator(f"#branch-{roots[-1]}")).to_have_attribute("open", "")
    await expect(top_level(ben).first).to_have_id(f"post-{roots[-1]}")
    await expect(ben.get_by_role("link", name="« Desde la primera publicación")).to_be_visible()
    await check_axe(ben)
    measured = await ben.evaluate(MEASURE)
    assert measured["overflow"] <= 0, f"the page is {measured['overflow']} px wider than the phone"
    assert measured["small_targets"] == []
    if os.environ.get("DELIBERATION_WRITE_SCREENSHOTS"):
        await ben.screenshot(path=SHOTS / "thread-permalink-390.png")
        await ben.goto(path)
        await ben.get_by_role("link", name="Más publicaciones").scroll_into_view_if_needed()
        await ben.wait_for_timeout(1000)  # the posts far above are laid out once near: their heights settle
        await ben.get_by_role("link", name="Más publicaciones").scroll_into_view_if_needed()
        await ben.screenshot(path=SHOTS / "thread-more-posts-390.png")

    plain = await open_page(javascript=False, viewport=PHONE)
    await log_in(plain, voters[2].email, path)
    await expect(top_level(plain)).to_have_count(web_server.settings.thread_page_roots)
    await plain.get_by_role("link", name="More posts").click()  # the next page
    await expect(top_level(plain).first).to_have_id(f"post-{roots[web_server.settings.thread_page_roots]}")
    await plain.goto(f"{path}?post={last}#post-{last}")
    await expect(plain.locator(f"#post-{last} > article")).to_be_in_viewport()  # its branch drawn open
    # Reactions without JavaScript: the page's one form, the button naming its post.
    agree = plain.locator(f"#post-{last} > article").get_by_role("button", name=re.compile(r"^Agree \d+$"))
    await agree.click()
    await plain.wait_for_url(f"**?post={last}#post-{last}")
    await expect(agree).to_have_text("Agree 1")
    await expect(agree).to_have_attribute("aria-pressed", "true")
    await agree.click()
    await expect(agree).to_have_text("Agree 0")
    await expect(agree).to_have_attribute("aria-pressed", "false")


async def test_a_reply_quotes_plain_words_and_a_bad_page_is_a_clear_4xx(app, db):
    from tests.conftest import serve_in_process

    member = await make_user(db)
    session = await make_forum_session(db, members={member: "participant"})
    thread, other = await make_thread(db, session), await make_thread(db, session)

    async def write(thread_id, body, parent_id=None):
        data = PostIn(body=body, parent_id=parent_id)
        return await posts.create_post(db, thread_id, member, data, settings=Settings(), now=utcnow())

    parent = await write(thread.id, "**Budgets** in a [public](https://example.org) ledger <b>now</b>\n\nThen more.")
    await write(thread.id, "Agreed.", parent.id)
    elsewhere = await write(other.id, "In another thread")
    path = f"/sessions/{session.code}/threads/{thread.id}"
    async with serve_in_process(app) as client:
        await log_in_client(client, member.email)
        page = await client.get(path)
        assert "<q>Budgets in a public ledger &lt;b&gt;now&lt;/b&gt;</q>" in page.text  # its Markdown dropped
        for params, status in (
            ({"after": "not-a-cursor"}, 400),
            ({"post": "not-a-post"}, 400),
            ({"post": str(uuid.uuid4())}, 404),
            ({"post": str(elsewhere.id)}, 404),  # a post of another thread
        ):
            answer = await client.get(path, params=params)
            assert answer.status_code == status, (params, answer.text[:300])
            assert "Traceback" not in answer.text
