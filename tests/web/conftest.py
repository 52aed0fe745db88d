"""Browser tests: the app served on a free port (uvicorn in a thread, its own migrated database with the demo
forum, a real SMTP server), driven by Debian's Chromium through Playwright, by accessible names.

Without Chromium these tests are skipped with a message saying how to install it; `.ci/run` installs it and
fails when any test here was skipped. `check_axe(page)` runs axe-core (vendored from its npm package) in the
page and fails on any serious or critical violation.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from playwright.async_api import Browser, Page, async_playwright

from deliberation.app import create_app
from deliberation.cli import uvicorn_options
from deliberation.db.base import utcnow
from deliberation.db.engine import create_engine, create_sessionmaker
from deliberation.forum.demo import load_demo
from deliberation.settings import Settings
from tests.conftest import migrated
from tests.netutil import free_port
from tests.smtp import SmtpServer

CHROMIUM = os.environ.get("DELIBERATION_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
BLOCKING = {"serious", "critical"}
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@dataclass
class WebServer:
    url: str
    settings: Settings
    smtp: SmtpServer


def chromium_or_skip() -> str:
    """Chromium's path; without it the test is skipped, or fails under DELIBERATION_TEST_REQUIRE_BROWSER=1 (CI)."""
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).exists()):
        message = (
            f"browser tests need Chromium at {CHROMIUM}: install it (Debian: `apt-get install chromium`) or set "
            "DELIBERATION_TEST_CHROMIUM to its path"
        )
        if os.environ.get("DELIBERATION_TEST_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


class ServerThread(threading.Thread):
    """uvicorn serving the app in a thread with its own event loop, as `deliberation serve` serves it."""

    def __init__(self, settings: Settings, port: int) -> None:
        super().__init__(daemon=True)
        config = uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
            **uvicorn_options(settings),  # the protocols and limits `deliberation serve` runs with
        )
        self.server = uvicorn.Server(config)

    def run(self) -> None:
        asyncio.run(self.server.serve())

    def __enter__(self) -> ServerThread:
        self.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the web test server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.join(timeout=30)


@pytest.fixture(scope="session")
async def web_database_url(create_database) -> str:
    """A database of the browser tests' own (their server commits), migrated, with the demo forum."""
    url = await migrated(create_database, "deliberation_web")
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as db:
            await load_demo(db, now=utcnow())
    finally:
        await engine.dispose()
    return url


@pytest.fixture(scope="session")
def web_server(web_database_url: str) -> Iterator[WebServer]:
    chromium_or_skip()  # no server either without a browser to use it
    smtp = SmtpServer()
    smtp.start()
    port = free_port()
    settings = Settings(
        database_url=web_database_url,
        public_url=f"http://127.0.0.1:{port}",
        smtp_url=smtp.url,
        mail_poll_seconds=0.1,
        login_max_failures_per_address=1000,  # every browser test signs in from 127.0.0.1
        password_reset_max_per_address=1000,
        signup_max_per_address=1000,  # and every browser test signs people up from it
    )
    try:
        with ServerThread(settings, port):
            yield WebServer(url=settings.public_url, settings=settings, smtp=smtp)
    finally:
        smtp.stop()


@pytest.fixture(scope="session")
async def browser(web_server: WebServer) -> AsyncIterator[Browser]:
    """Chromium through Playwright's async API (in the tests' own event loop, as every other async test)."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_or_skip(), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        await browser.close()


async def new_page(
    browser: Browser, web_server: WebServer, *, viewport=DESKTOP, locale: str = "en-US", javascript: bool = True
) -> Page:
    """A page in a fresh browser context (no cookies), with every CSP violation and page error collected."""
    context = await browser.new_context(
        base_url=web_server.url, viewport=viewport, locale=locale, java_script_enabled=javascript
    )
    page = await context.new_page()
    page.problems = []  # console errors (a CSP violation is one) and uncaught exceptions

    def console(message) -> None:
        # A page answered with an error status (a 404 page, a form shown again with 422) logs that too: not a fault.
        if message.type == "error" and not (
            message.text.startswith("Failed to load resource: the server responded with a status of")
            and message.location.get("url") == page.url
        ):
            page.problems.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda error: page.problems.append(str(error)))
    return page


@pytest.fixture
async def page(browser, web_server) -> AsyncIterator[Page]:
    page = await new_page(browser, web_server)
    yield page
    await page.context.close()


@pytest.fixture
async def open_page(browser, web_server):
    """Factory for more pages (other viewports, languages, a second person); all closed after the test."""
    pages = []

    async def make(**options) -> Page:
        pages.append(await new_page(browser, web_server, **options))
        return pages[-1]

    yield make
    for page in pages:
        await page.context.close()


async def check_axe(page: Page) -> None:
    """axe-core in the page (evaluated through the DevTools protocol, so the page's CSP stays as it is): no
    serious or critical violation, and no console error or CSP violation on the page so far."""
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        await page.evaluate(AXE.read_text())
    result = await page.evaluate("async () => await window.axe.run(document, {resultTypes: ['violations']})")
    blocking = [
        f"{violation['id']} ({violation['impact']}): {violation['help']} at "
        + ", ".join(
            node["target"][0] if isinstance(node["target"][0], str) else str(node["target"])
            for node in violation["nodes"][:5]
        )
        for violation in result["violations"]
        if violation["impact"] in BLOCKING
    ]
    assert not blocking, f"{page.url}: " + "; ".join(blocking)
    assert not page.problems, f"{page.url}: {page.problems}"


async def mail_to(smtp: SmtpServer, address: str):
    """The first mail the served app sent to `address` (its outbox worker delivers within a second)."""
    return await smtp.inbox.wait_for(address)


def reset_link(message) -> str:
    match = re.search(r"https?://\S+/reset-password\?token=[A-Za-z0-9_-]+", message.get_content())
    assert match, message.get_content()
    return match.group(0)
