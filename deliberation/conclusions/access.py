"""How conclusion actions get at a conclusion: 404 for unknown ids, the row read afresh and locked as asked."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from deliberation.conclusions.models import Conclusion
from deliberation.errors import NotFound
from deliberation.forum.access import SessionCheck
from deliberation.i18n import N_


async def get_conclusion_or_404(
    db: AsyncSession, conclusion_id: uuid.UUID, *, lock: str | None = None, check: SessionCheck | None = None
) -> Conclusion:
    """The conclusion, read afresh; `lock` "update" or "share" locks its row until the transaction ends.

    `check` (a permission in its session) runs on a plain read first, so a refused caller never queues behind
    the row's holders nor holds it, and again under the lock, where it is authoritative.
    """
    if check is not None:
        await check((await get_conclusion_or_404(db, conclusion_id)).session_id)
    query = select(Conclusion).where(Conclusion.id == conclusion_id).execution_options(populate_existing=True)
    if lock is not None:
        query = query.with_for_update(read=lock == "share")
    conclusion = await db.scalar(query)
    if conclusion is None:
        raise NotFound(N_("No such conclusion."))
    if check is not None:
        await check(conclusion.session_id)
    return conclusion
