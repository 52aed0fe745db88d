"""`python -m tests.bench.thread_page [--posts 2000]`: the thread page of a 2,000-post thread (docs/performance.md).

Loads the demo forum into a fresh database, writes the posts through the service (400 top-level posts, each
with a chain of replies up to 4 deep), serves the app, and prints: the server's time for the page (median of
several GETs), its size, and in Chromium the time to interactive (`domInteractive`), to `load`, to the live
stream open, and how long a `Reply` click takes to show its composer on a post in the middle of the page.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import httpx
from playwright.async_api import async_playwright

from deliberation.accounts import service as accounts
from deliberation.accounts.auth import SESSION_COOKIE
from deliberation.accounts.models import User
from deliberation.accounts.schemas import LoginIn
from deliberation.db.base import utcnow
from deliberation.db.engine import create_engine, create_sessionmaker
from deliberation.forum import service as forum
from deliberation.forum.demo import DEMO_PASSWORD, load_demo
from deliberation.settings import Settings
from deliberation.threads import posts
from deliberation.threads.schemas import PostIn
from tests.bench.infra import bench_database, free_port
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS, ServerThread

CODE = "1.2.1"
READER = "moderator@demo.example.org"


async def prepare(url: str, settings: Settings, total: int) -> tuple[str, str]:
    """The thread's path and a session cookie for its moderator, after writing `total` posts into it."""
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as db:
            await load_demo(db, now=utcnow())
        async with create_sessionmaker(engine)() as db:
            login = await accounts.log_in(
                db, settings, LoginIn(email=READER, password=DEMO_PASSWORD), address="127.0.0.1", now=utcnow()
            )
            user = await db.get(User, login.user.id)
            db.expunge(user)
            await db.rollback()  # the read above began a transaction; each service call runs its own
            (session,) = (await forum.list_sessions(db, user, now=utcnow(), code=CODE, limit=1)).items
            thread_id = session.guiding_questions[0].thread_id
            roots, written = max(1, total // 5), 0
            for n in range(roots):
                parent = None
                for depth in range(min(5, total - written)):
                    body = f"Post {n}.{depth}: *emphasis*, a [link](https://example.org/{n}) and\n\n- a list\n- of two"
                    out = await posts.create_post(
                        db, thread_id, user, PostIn(body=body, parent_id=parent), settings=settings, now=utcnow()
                    )
                    parent = out.id if depth < 4 else None
                    written += 1
        return f"/sessions/{CODE}/threads/{thread_id}", login.access_token
    finally:
        await engine.dispose()


async def measure(base: str, path: str, token: str, rounds: int) -> dict[str, float]:
    cookies = {SESSION_COOKIE: token}
    times, size = [], 0
    async with httpx.AsyncClient(base_url=base, cookies=cookies, timeout=120) as client:
        for _ in range(rounds):
            started = time.perf_counter()
            answer = await client.get(path)
            times.append(time.perf_counter() - started)
            answer.raise_for_status()
            size = len(answer.content)
    figures = {"server_ms_median": statistics.median(times) * 1000, "server_ms_max": max(times) * 1000}
    figures["html_kib"] = size / 1024
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = await browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
        await context.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": base}])
        page = await context.new_page()
        await page.goto(path, wait_until="domcontentloaded", timeout=600_000)
        await page.wait_for_load_state("load", timeout=600_000)
        timing = await page.evaluate(
            "() => { const n = performance.getEntriesByType('navigation')[0];"
            " return {interactive: n.domInteractive, loaded: n.loadEventEnd}; }"
        )
        figures["interactive_ms"] = timing["interactive"]
        figures["load_ms"] = timing["loaded"]
        await page.locator("html[data-live=open]").wait_for(timeout=600_000)
        figures["live_open_ms"] = await page.evaluate("() => performance.now()")
        figures["posts_shown"] = await page.locator("li[id^=post-]").count()
        middle = page.get_by_role("article").nth(figures["posts_shown"] // 2)
        await middle.scroll_into_view_if_needed()
        started = time.perf_counter()
        await middle.get_by_text("Reply", exact=True).click()
        await middle.get_by_label("Your reply").wait_for(state="visible")
        figures["reply_click_ms"] = (time.perf_counter() - started) * 1000
        await browser.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    with bench_database() as url:
        port = free_port()
        settings = Settings(database_url=url, public_url=f"http://127.0.0.1:{port}", post_rate_per_minute=1_000_000)
        path, token = asyncio.run(prepare(url, settings, arguments.posts))
        with ServerThread(settings, port):
            figures = asyncio.run(measure(settings.public_url, path, token, arguments.rounds))
    print(f"thread page, {arguments.posts} posts")
    for key, value in figures.items():
        print(f"  {key:18} {value:10.1f}")


if __name__ == "__main__":
    main()
