"""What proposal actions check about their input (422 naming the field)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from deliberation.conclusions.models import Conclusion, ConclusionStatus
from deliberation.errors import Invalid
from deliberation.i18n import N_


async def check_conclusions(db: AsyncSession, session_id: uuid.UUID, ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """The ids if each names an adopted conclusion of this session, once; 422 on `conclusion_ids` otherwise."""
    if not ids:
        raise Invalid.field("conclusion_ids", N_("must include at least one adopted conclusion"))
    if len(set(ids)) != len(ids):
        raise Invalid.field("conclusion_ids", N_("must not name a conclusion twice"))
    found = dict(
        (
            await db.execute(
                select(Conclusion.id, Conclusion.status).where(
                    Conclusion.id.in_(ids), Conclusion.session_id == session_id
                )
            )
        ).all()
    )
    for conclusion_id in ids:
        status = found.get(conclusion_id)
        if status is None:
            raise Invalid.field(
                "conclusion_ids", N_("%(id)s is not a conclusion of this session"), {"id": conclusion_id}
            )
        if status != ConclusionStatus.adopted:
            raise Invalid.field(
                "conclusion_ids",
                N_("%(id)s is not adopted (it is %(status)s)"),
                {"id": conclusion_id, "status": status},
            )
    return ids
