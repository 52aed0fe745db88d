"""Done when 4: the forum, the event page and sign-up read well at 1280 px and on a 390 px phone (nothing wider
than the screen, text large enough, controls big enough to tap and none broken over two lines). With
DELIBERATION_WRITE_SCREENSHOTS=1 the screenshots in docs/web.md are written again:

    DELIBERATION_WRITE_SCREENSHOTS=1 .venv/bin/pytest -q tests/web/test_layout.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.web.conftest import DESKTOP, PHONE, check_axe

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PAGES = {"forum": "/", "event": "/sessions/1.1.1", "signup": "/signup"}
MEASURE = """() => ({
  overflow: document.documentElement.scrollWidth - window.innerWidth,
  smallest: Math.min(...[...document.querySelectorAll("main p, main li, main label, main a, main dd")]
    .filter((element) => element.offsetParent !== null)
    .map((element) => parseFloat(getComputedStyle(element).fontSize))),
  small_targets: [...document.querySelectorAll("main button, main input, main select")]
    .filter((element) => element.offsetParent !== null && element.type !== "hidden")
    .filter((element) => element.getBoundingClientRect().height < 24)
    .map((element) => element.outerHTML.slice(0, 80)),
  wrapped: [...document.querySelectorAll("header a, header label, header button, main button, .status")]
    .filter((element) => element.offsetParent !== null)
    .filter((element) => {
      const size = parseFloat(getComputedStyle(element).fontSize);
      return element.getBoundingClientRect().height > 2.2 * size + 24;  // two lines of text and its padding
    })
    .map((element) => element.textContent.trim()),
})"""


async def assert_fits(page, name: str, width: str) -> None:
    """Nothing wider than the screen, text of 14 px or more, controls 24 px high or more and none broken over lines."""
    measured = await page.evaluate(MEASURE)
    assert measured["overflow"] <= 0, f"{name} is {measured['overflow']} px wider than a {width} px screen"
    assert measured["smallest"] >= 14, f"{name}: text of {measured['smallest']} px"
    assert measured["small_targets"] == [], name
    assert measured["wrapped"] == [], f"{name}: controls broken over lines at {width} px"


@pytest.mark.parametrize("name", list(PAGES))
@pytest.mark.parametrize(("width", "viewport"), [("1280", DESKTOP), ("390", PHONE)])
async def test_pages_fit_the_screen(open_page, name, width, viewport):
    page = await open_page(viewport=viewport)
    await page.goto(PAGES[name])
    await assert_fits(page, name, width)
    await check_axe(page)
    if os.environ.get("DELIBERATION_WRITE_SCREENSHOTS"):
        SHOTS.mkdir(exist_ok=True)
        await page.screenshot(path=SHOTS / f"{name}-{width}.png", full_page=name != "event")
