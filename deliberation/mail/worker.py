"""The outbox sender: a task in each app instance that delivers due mails every `mail_poll_seconds`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from deliberation.mail.service import deliver_pending
from deliberation.settings import Settings

log = logging.getLogger("deliberation.mail")


async def run_sender(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    """Deliver due mails forever; an error (database down) is logged and retried on the next round."""
    while True:
        try:
            await deliver_pending(sessionmaker, settings)
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
    task = asyncio.create_task(run_sender(app.state.sessionmaker, settings), name="mail-sender")
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
