"""The thread page of a 2,000-post thread, in a browser (docs/performance.md): scenario 11 of `python -m tests.bench`,
or alone: `python -m tests.bench.thread_page [--posts 2000] [--rounds 8] [--readers 10]`.

Loads the demo forum into a fresh database, writes the posts through the service (top-level posts, each with a
chain of replies 4 deep, Markdown in every body), starts `deliberation serve` and measures, for its moderator
(every control drawn), the thread's page (its first `DELIBERATION_THREAD_PAGE_ROOTS` top-level posts with their
replies; `--roots` sets it, 100000 draws the whole thread on one page as before paging):

- the server's time for the page over HTTP: p50 / p95 of `rounds` GETs one at a time, then with `readers`
  concurrent readers; the first GET is reported alone (a process's first view renders every post's Markdown);
- its size in bytes;
- in Chromium: the response's end (`responseEnd`), `domInteractive`, `load`, the total blocking time (long tasks
  beyond 50 ms, until `load`), the live stream open, how long a `Reply` click on a post in the middle takes to
  show its composer, and how long `More posts` takes to bring the next page into the list (when there is one);
- axe (as tests/web does) on the thread page, with the next page brought in, and on the session's moderation page.

Raw baselines in the same run: the same posts as JSON from the API (`GET /api/threads/{id}/posts` with the page's
number of top-level posts), one reader at a time, for the server; for the browser, a static HTML page of the same
posts (authors, times, rendered bodies, the same nesting and stylesheet; no controls, no script) from a plain
file server.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import html
import http.server
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Browser, async_playwright

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
from deliberation.web.markdown import render_markdown
from tests.bench.harness import Row
from tests.bench.infra import Service, bench_database, free_port
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS, check_axe

CODE = "1.2.1"
READER = "moderator@demo.example.org"
CHAIN = 5  # a top-level post and 4 replies, each answering the one before
# Long tasks, collected from the start of the navigation (the total blocking time counts what exceeds 50 ms).
LONG_TASKS = (
    "window.__longTasks = [];"
    "new PerformanceObserver(list => window.__longTasks.push(...list.getEntries().map(e => e.duration)))"
    ".observe({type: 'longtask', buffered: true});"
)

# `More posts`, timed in the page: from the click to the next frame after its posts are in the list.
MORE_TIMER = """() => { window.__more = new Promise(done => {
  let clicked = 0;
  const before = document.querySelectorAll("li[id^=post-]").length;
  document.addEventListener("click", () => { clicked = performance.now(); }, {capture: true, once: true});
  new MutationObserver((_, observer) => {
    if (document.querySelectorAll("li[id^=post-]").length <= before) return;
    observer.disconnect();
    requestAnimationFrame(() => done(performance.now() - clicked));
  }).observe(document.getElementById("posts"), {childList: true});
}); }"""


async def prepare(url: str, total: int) -> tuple[str, str, str]:
    """Write `total` posts into a thread of the demo's live session: its page's path and id, and a moderator's
    session token."""
    settings = Settings(database_url=url, post_rate_per_minute=1_000_000)
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
            for n in range(-(-total // CHAIN)):
                parent = None
                for depth in range(min(CHAIN, total - n * CHAIN)):
                    body = f"Post {n}.{depth}: *emphasis*, a [link](https://example.org/{n}) and\n\n- a list\n- of two"
                    out = await posts.create_post(
                        db, thread_id, user, PostIn(body=body, parent_id=parent), settings=settings, now=utcnow()
                    )
                    parent = out.id
        return f"/sessions/{CODE}/threads/{thread_id}", str(thread_id), login.access_token
    finally:
        await engine.dispose()


def percentiles(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {"p50": statistics.median(ordered) * 1000, "p95": ordered[round(0.95 * (len(ordered) - 1))] * 1000}


async def timed_gets(client: httpx.AsyncClient, paths: list[str], rounds: int) -> tuple[list[float], int]:
    """`rounds` reads of `paths` (one after the other each time): their times, and the bytes of one read."""
    times, size = [], 0
    for _ in range(rounds):
        started, size = time.perf_counter(), 0
        for path in paths:
            answer = await client.get(path)
            answer.raise_for_status()
            size += len(answer.content)
        times.append(time.perf_counter() - started)
    return times, size


async def api_pages(client: httpx.AsyncClient, thread_id: str, roots: int) -> tuple[list[str], list[dict[str, Any]]]:
    """The API paths that read what the thread's page shows (its first `roots` top-level posts, 200 a page), and
    their tree."""
    paths, items, cursor = [], [], None
    while True:
        limit = min(200, roots - len(items))
        path = f"/api/threads/{thread_id}/posts?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        page = (await client.get(path)).raise_for_status().json()
        paths.append(path)
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor or len(items) >= roots:
            return paths, items


async def server_times(base: str, path: str, thread_id: str, token: str, rounds: int, readers: int, roots: int) -> dict:
    cookies, bearer = {SESSION_COOKIE: token}, {"authorization": f"Bearer {token}"}
    figures: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=base, cookies=cookies, timeout=600) as client:
        (first,), figures["html_bytes"] = await timed_gets(client, [path], 1)
        figures["first_ms"] = first * 1000
        times, _ = await timed_gets(client, [path], rounds)
        figures.update({f"server_{key}_ms": value for key, value in percentiles(times).items()})
    async with httpx.AsyncClient(base_url=base, cookies=cookies, timeout=600) as client:
        started = time.perf_counter()
        together = await asyncio.gather(*(timed_gets(client, [path], rounds) for _ in range(readers)))
        elapsed = time.perf_counter() - started
        merged = [t for times, _ in together for t in times]
        figures.update({f"{readers}_readers_{key}_ms": value for key, value in percentiles(merged).items()})
        figures[f"{readers}_readers_pages_per_s"] = len(merged) / elapsed
    async with httpx.AsyncClient(base_url=base, headers=bearer, timeout=600) as client:
        paths, items = await api_pages(client, thread_id, roots)
        times, figures["api_bytes"] = await timed_gets(client, paths, rounds)
        figures.update({f"api_{key}_ms": value for key, value in percentiles(times).items()})
    figures["tree"] = items
    return figures


def raw_page(items: list[dict[str, Any]], stylesheet: str) -> str:
    """The baseline page: the same posts as the thread page shows them to read, without a control."""

    def draw(post: dict[str, Any]) -> str:
        replies = "".join(draw(reply) for reply in post["replies"])
        return (
            f'<li id="post-{post["id"]}"><article><header><b>{html.escape(post["author"]["display_name"])}</b> '
            f'<time datetime="{post["created_at"]}">{post["created_at"][:16]}</time></header>'
            f'<div class="body">{render_markdown(post["body"])}</div></article>'
            f'<ol class="replies">{replies}</ol></li>'
        )

    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Raw thread</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="stylesheet" href="{stylesheet}"></head><body><main><h1>Raw thread</h1>'
        f'<ol class="posts">{"".join(draw(post) for post in items)}</ol></main></body></html>'
    )


class FileServer(threading.Thread):
    """A plain static file server on 127.0.0.1 (the browser baseline's)."""

    def __init__(self, directory: str) -> None:
        super().__init__(daemon=True)
        handler = functools.partial(QuietHandler, directory=directory)
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def run(self) -> None:
        self.server.serve_forever()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


async def open_in_browser(browser: Browser, url: str, cookie: dict | None) -> tuple[Any, dict[str, float]]:
    """A fresh context on `url` at desktop size until `load`: the page and its navigation figures."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    if cookie:
        await context.add_cookies([cookie])
    await context.add_init_script(LONG_TASKS)
    page = await context.new_page()
    await page.goto(url, wait_until="load", timeout=600_000)
    timing = await page.evaluate(
        "() => { const n = performance.getEntriesByType('navigation')[0];"
        " return {response: n.responseEnd, interactive: n.domInteractive, loaded: n.loadEventEnd || performance.now(),"
        " blocking: window.__longTasks.reduce((sum, d) => sum + Math.max(0, d - 50), 0)}; }"
    )
    figures = {
        "response_ms": timing["response"],  # the page's last byte: the server's time and the transfer
        "interactive_ms": timing["interactive"],
        "load_ms": timing["loaded"],
        "blocking_ms": timing["blocking"],
    }
    return page, figures


async def browser_times(base: str, path: str, token: str, raw_url: str) -> tuple[dict, dict]:
    """The figures in Chromium (see the module's docstring), axe checked on the way."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            raw, baseline = await open_in_browser(browser, raw_url, None)
            baseline["posts_shown"] = await raw.locator("li[id^=post-]").count()
            await raw.context.close()
            cookie = {"name": SESSION_COOKIE, "value": token, "url": base}
            page, figures = await open_in_browser(browser, base + path, cookie)
            await page.locator("html[data-live=open]").wait_for(timeout=600_000)
            figures["live_open_ms"] = await page.evaluate("() => performance.now()")
            figures["posts_shown"] = await page.locator("li[id^=post-]").count()
            middle = page.get_by_role("article").nth(figures["posts_shown"] // 2)
            await middle.scroll_into_view_if_needed()
            started = time.perf_counter()
            await middle.get_by_text("Reply", exact=True).click()
            await middle.get_by_label("Your reply").wait_for(state="visible")
            figures["reply_click_ms"] = (time.perf_counter() - started) * 1000
            page.problems = []  # what check_axe also asserts: no console error on the page
            page.on("console", lambda message: message.type == "error" and page.problems.append(message.text))
            more = page.get_by_role("link", name="More posts")
            if await more.count():
                await more.scroll_into_view_if_needed()
                await page.evaluate(MORE_TIMER)
                await more.click()
                figures["more_click_ms"] = await page.evaluate("() => window.__more")
                figures["posts_after_more"] = await page.locator("li[id^=post-]").count()
            await check_axe(page)
            await page.goto(f"{base}/sessions/{CODE}/moderation", wait_until="load", timeout=600_000)
            await check_axe(page)
        finally:
            await browser.close()
    return figures, baseline


def measure(total: int, rounds: int, readers: int, roots: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The thread page's figures and its baselines' (see the module's docstring)."""
    with bench_database() as url:
        path, thread_id, token = asyncio.run(prepare(url, total))
        port = free_port()
        public_url = f"http://127.0.0.1:{port}"
        service = Service(url, port=port, public_url=public_url, thread_page_roots=roots).wait_ready()
        try:
            server = asyncio.run(server_times(service.base, path, thread_id, token, rounds, readers, roots))
            with tempfile.TemporaryDirectory() as directory:
                raw = raw_page(server.pop("tree"), f"{service.base}/static/style.css")
                Path(directory, "raw.html").write_text(raw)
                files = FileServer(directory)
                files.start()
                try:
                    raw_url = f"{files.url}/raw.html"
                    browser, raw_browser = asyncio.run(browser_times(service.base, path, token, raw_url))
                finally:
                    files.stop()
        finally:
            service.stop()
    figures = {key: value for key, value in server.items() if not key.startswith("api_")} | browser
    baseline = {key: value for key, value in server.items() if key.startswith("api_")}
    baseline |= {f"raw_{key}": value for key, value in raw_browser.items()} | {"raw_html_bytes": len(raw)}
    return figures, baseline


def scenario(total: int, rounds: int, readers: int = 10) -> Row:
    """Scenario 11 of `python -m tests.bench`: the ratio is the page's time to interactive over the raw page's."""
    figures, baseline = measure(total, rounds, readers, Settings().thread_page_roots)
    keep = ("server_p50_ms", "server_p95_ms", f"{readers}_readers_p95_ms", "html_bytes", "interactive_ms")
    return Row(
        f"11 thread page of {total} posts in Chromium",
        {key: round(figures[key], 1) for key in (*keep, "blocking_ms", "reply_click_ms")},
        baseline="raw_page",
        baseline_figures={key: round(baseline[key], 1) for key in ("api_p50_ms", "raw_interactive_ms")},
        ratio=figures["interactive_ms"] / baseline["raw_interactive_ms"],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--readers", type=int, default=10)
    parser.add_argument("--roots", type=int, default=Settings().thread_page_roots, help="top-level posts a page shows")
    arguments = parser.parse_args()
    figures, baseline = measure(arguments.posts, arguments.rounds, arguments.readers, arguments.roots)
    print(f"thread page, {arguments.posts} posts, {arguments.roots} top-level posts a page")
    for key, value in figures.items():
        print(f"  {key:26} {value:12.1f}")
    print("raw baselines")
    for key, value in baseline.items():
        print(f"  {key:26} {value:12.1f}")


if __name__ == "__main__":
    main()
