"""Background loops every instance runs: close votes at their close time, send coalesced tally and reaction events.

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

from deliberation.conclusions.tally import publish_due_tally
from deliberation.conclusions.voting import close_due_vote
from deliberation.settings import Settings
from deliberation.threads.reactions import publish_due_reactions

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

    tasks = [
        asyncio.create_task(run_every("vote closer", settings.vote_closer_seconds, sessionmaker, close_step)),
        # Ticks several times per interval, so a due snapshot waits at most a fraction of it.
        asyncio.create_task(run_every("tally publisher", interval / 4, sessionmaker, tally_step)),
        asyncio.create_task(run_every("reaction publisher", reaction_interval / 4, sessionmaker, reactions_step)),
    ]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError):
                await task
