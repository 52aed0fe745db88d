"""`session_state`: the whole of a session a screen shows (but the posts), read in one snapshot.

Every part comes from the same read-only REPEATABLE READ transaction, `as_of_seq` included, so a client that
applies the events with `seq > as_of_seq` (from `/events` or the live stream with `after=as_of_seq`) to it
holds exactly the current state: no event is missing from the snapshot and counted again, none counted twice.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from deliberation.accounts.models import User
from deliberation.conclusions.models import Conclusion, ConclusionStatus, ConclusionVersion
from deliberation.conclusions.presenters import conclusions_out
from deliberation.conclusions.tally import read_tally
from deliberation.db.engine import read_snapshot
from deliberation.forum.access import require_member
from deliberation.forum.models import Thread
from deliberation.forum.service import viewer_session
from deliberation.proposals.models import Proposal
from deliberation.proposals.presenters import proposals_out
from deliberation.realtime.hub import Hub
from deliberation.realtime.schemas import PresenceOut
from deliberation.state.schemas import ConclusionState, SessionState
from deliberation.threads.moderation import open_flag_count
from deliberation.threads.presenters import thread_out
from deliberation.threads.service import THREAD_ORDER


async def session_state(
    db: AsyncSession, session_id: uuid.UUID, user: User, hub: Hub | None, *, now: datetime
) -> SessionState:
    """The session, its threads, conclusions (with the viewer's vote and tally), proposals and presence, as of
    one seq (members and admins); the lists are whole, in the order of their own routes."""
    async with db.begin():
        await read_snapshot(db)
        session = await require_member(db, session_id, user)
        threads = (
            await db.scalars(select(Thread).where(Thread.session_id == session_id).order_by(*THREAD_ORDER))
        ).all()
        rows = (
            await db.execute(
                select(Conclusion, ConclusionVersion)
                .join(
                    ConclusionVersion,
                    (ConclusionVersion.conclusion_id == Conclusion.id)
                    & (ConclusionVersion.version == Conclusion.version),
                )
                .where(Conclusion.session_id == session_id)
                .order_by(Conclusion.created_at, Conclusion.id)
            )
        ).all()
        conclusions = []
        for (conclusion, _), out in zip(
            rows, await conclusions_out(db, [tuple(row) for row in rows], user), strict=True
        ):
            tally = await read_tally(db, conclusion) if conclusion.status != ConclusionStatus.draft else None
            conclusions.append(ConclusionState(**msgspec.structs.asdict(out), tally=tally))
        proposals = (
            await db.scalars(
                select(Proposal).where(Proposal.session_id == session_id).order_by(Proposal.created_at, Proposal.id)
            )
        ).all()
        state = SessionState(
            as_of_seq=session.last_seq,
            session=await viewer_session(db, session, user, now=now),
            threads=[thread_out(thread) for thread in threads],
            conclusions=conclusions,
            proposals=await proposals_out(db, proposals),
            open_flags=await open_flag_count(db, session_id),
            presence=None,
        )
    if hub is not None:
        users = hub.presence.online(session_id)
        state.presence = PresenceOut(online=len(users), users=users)
    return state
