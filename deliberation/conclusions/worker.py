"""Background loops every instance runs: close votes at their close time, send coalesced tally and reaction events.

The vote closer polls; the two publishers are woken by the commits that set their marks (`run_when_marked`).

Each claims work with `FOR UPDATE SKIP LOCKED` and handle one item per transaction, so any number of
instances may run them at once: each due vote is closed once, each tally snapshot sent by one instance.
"Now" is the app clock (`app.state.clock`), so tests can move time.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress

from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from deliberation.conclusions.tally import TALLY_MARK, publish_due_tally
from deliberation.conclusions.voting import close_due_vote
from deliberation.db.engine import MARK_WAKERS_KEY, share_with_sessions
from deliberation.settings import Settings
from deliberation.threads.reactions import REACTIONS_MARK, publish_due_reactions

log = logging.getLogger("deliberation.conclusions")

Step = Callable[[AsyncSession], Awaitable[bool]]


async def drain(sessionmaker: async_sessionmaker[AsyncSession], step: Step) -> int:
    """Run `step` (one claimed item, one transaction) until nothing is due; how many items were handled."""
    handled = 0
    async with sessionmaker() as db:
        while await step(db):
            handled += 1
    return handled


async def run_every(name: str, seconds: float, sessionmaker: async_sessionmaker[AsyncSession], step: Step) -> None:
    """Drain forever, every `seconds`; an error (database down) is logged and retried on the next tick."""
    while True:
        try:
            await drain(sessionmaker, step)
        except Exception:
            log.exception("%s round failed", name)
        await asyncio.sleep(seconds)


async def run_when_marked(
    name: str,
    wake: asyncio.Event,
    *,
    interval: float,
    idle_seconds: float,
    sessionmaker: async_sessionmaker[AsyncSession],
    step: Step,
) -> None:
    """Drain a coalescing publisher: at once when `wake` is set (a transaction of this instance set a mark and
    committed), then every `interval / 4` until `interval` after the last wake-up, then nothing until the next one,
    or for `idle_seconds` at most (marks left by an instance that stopped before sending them).

    A mark set by a transaction that committed at t was last sent before t, so it is due by t + `interval`: the
    ticks after a wake-up send it, with the coalescing of the old every-tick loop; an idle instance sends no query.
    An error (database down) is logged and retried on the ticks.
    """
    loop = asyncio.get_running_loop()
    tick = interval / 4
    last_wake = loop.time()  # the first round: marks left from before this instance started
    while True:
        if wake.is_set():
            wake.clear()
            last_wake = loop.time()
        try:
            await drain(sessionmaker, step)
        except Exception:
            log.exception("%s round failed", name)
            last_wake = loop.time()
        if loop.time() - last_wake < interval + tick:
            await asyncio.sleep(tick)
            continue
        with suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), idle_seconds)


@asynccontextmanager
async def conclusion_workers(app: Litestar) -> AsyncIterator[None]:
    """App lifespan: the vote closer, the tally and reaction publishers, unless disabled or the app does not own its
    engine."""
    settings: Settings = app.state.settings
    if not settings.conclusion_workers or not app.state.get("background_workers", True):
        yield
        return
    sessionmaker = app.state.sessionmaker
    interval = settings.tally_event_interval_seconds

    failed: set[uuid.UUID] = set()

    async def close_step(db: AsyncSession) -> bool:
        if await close_due_vote(db, now=app.state.clock(), skip=failed):
            return True
        failed.clear()  # the next round tries them again
        return False

    async def tally_step(db: AsyncSession) -> bool:
        return await publish_due_tally(db, now=app.state.clock(), interval=interval)

    reaction_interval = settings.reaction_event_interval_seconds

    async def reactions_step(db: AsyncSession) -> bool:
        return await publish_due_reactions(db, now=app.state.clock(), interval=reaction_interval)

    wakers = {TALLY_MARK: asyncio.Event(), REACTIONS_MARK: asyncio.Event()}
    share_with_sessions(sessionmaker, MARK_WAKERS_KEY, wakers)
    idle = settings.publisher_idle_seconds
    tasks = [
        asyncio.create_task(run_every("vote closer", settings.vote_closer_seconds, sessionmaker, close_step)),
        asyncio.create_task(
            run_when_marked(
                "tally publisher",
                wakers[TALLY_MARK],
                interval=interval,
                idle_seconds=idle,
                sessionmaker=sessionmaker,
                step=tally_step,
            )
        ),
        asyncio.create_task(
            run_when_marked(
                "reaction publisher",
                wakers[REACTIONS_MARK],
                interval=reaction_interval,
                idle_seconds=idle,
                sessionmaker=sessionmaker,
                step=reactions_step,
            )
        ),
    ]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError):
                await task
