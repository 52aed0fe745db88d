"""How proposal actions get at a proposal: who may see it, and the row read under its session's lock.

Visibility: a published proposal is public; a draft is shown to any signed-in user and is invisible (404) to
anonymous readers. Writes take the session row first (`forum.access.lock_session`, which `emit` needs anyway),
then the proposal row: the one lock order of docs/architecture.md, so none can deadlock with another.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from deliberation.accounts.models import User
from deliberation.errors import NotFound
from deliberation.forum.access import SessionCheck, lock_session
from deliberation.forum.models import Session
from deliberation.i18n import N_
from deliberation.proposals.models import Proposal, ProposalStatus


async def visible_proposal(db: AsyncSession, proposal_id: uuid.UUID, viewer: User | None) -> Proposal:
    """The proposal if `viewer` may read it: published ones for anyone, drafts for signed-in users; else 404."""
    proposal = await db.get(Proposal, proposal_id)
    if proposal is None or (viewer is None and proposal.status != ProposalStatus.published):
        raise NotFound(N_("No such proposal."))
    return proposal


async def lock_proposal(
    db: AsyncSession, proposal_id: uuid.UUID, check: SessionCheck | None = None
) -> tuple[Proposal, Session]:
    """The proposal, read again after taking its session's row (`check`: see `lock_session`)."""
    session_id = await db.scalar(select(Proposal.session_id).where(Proposal.id == proposal_id))
    if session_id is None:
        raise NotFound(N_("No such proposal."))
    session = await lock_session(db, session_id, check)
    proposal = await db.scalar(
        select(Proposal).where(Proposal.id == proposal_id).with_for_update().execution_options(populate_existing=True)
    )
    assert proposal is not None  # deleting a proposal takes the session row too (cascade from the session)
    return proposal, session
