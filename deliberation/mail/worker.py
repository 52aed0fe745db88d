"""The outbox sender: a task in each app instance that delivers due mails every `mail_poll_seconds`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from datetime import datetime

from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from deliberation.mail.service import deliver_pending
from deliberation.settings import Settings

log = logging.getLogger("deliberation.mail")


async def run_sender(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, clock: Callable[[], datetime]
) -> None:
    """Deliver due mails forever; an error (database down) is logged and retried on the next round."""
    while True:
        try:
            await deliver_pending(sessionmaker, settings, now=clock())
        except Exception:
            log.exception("mail delivery round failed")
        await asyncio.sleep(settings.mail_poll_seconds)


@asynccontextmanager
async def mail_sender(app: Litestar) -> AsyncIterator[None]:
    """App lifespan: run the sender while the app runs, when SMTP is configured and the worker enabled."""
    settings: Settings = app.state.settings
    if settings.smtp_url is None or not settings.mail_worker:
        yield
        return
    sender = run_sender(app.state.sessionmaker, settings, lambda: app.state.clock())
    task = asyncio.create_task(sender, name="mail-sender")
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
