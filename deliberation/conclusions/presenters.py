"""How conclusions are shown: with their current text, sources and the viewer's vote (none for events)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from deliberation.accounts.models import User
from deliberation.conclusions.models import Conclusion, ConclusionSource, ConclusionVersion, Vote
from deliberation.conclusions.schemas import ConclusionOut, MyVote, VotingOut


def voting_out(conclusion: Conclusion) -> VotingOut | None:
    if conclusion.opened_at is None:
        return None
    return VotingOut(
        opened_at=conclusion.opened_at,
        closes_at=conclusion.closes_at,
        results_visibility=conclusion.results_visibility,  # type: ignore[arg-type]
        quorum=conclusion.quorum,
        rule=conclusion.rule or "",
        closed_at=conclusion.closed_at,
    )


async def conclusions_out(
    db: AsyncSession, rows: list[tuple[Conclusion, ConclusionVersion]], viewer: User | None
) -> list[ConclusionOut]:
    """Conclusions with their current text, sources and the viewer's vote (none for events), in 2-3 queries."""
    ids = [conclusion.id for conclusion, _ in rows]
    sources: dict[uuid.UUID, list[uuid.UUID]] = {id_: [] for id_ in ids}
    if ids:
        for source in await db.scalars(
            select(ConclusionSource).where(ConclusionSource.conclusion_id.in_(ids)).order_by(ConclusionSource.position)
        ):
            sources[source.conclusion_id].append(source.post_id)
    votes: dict[uuid.UUID, Vote] = {}
    if viewer is not None and ids:
        votes = {
            vote.conclusion_id: vote
            for vote in await db.scalars(select(Vote).where(Vote.conclusion_id.in_(ids), Vote.user_id == viewer.id))
        }
    out = []
    for conclusion, text in rows:
        vote = votes.get(conclusion.id)
        my_vote = None
        if vote is not None:
            my_vote = MyVote(
                choice=vote.choice,  # type: ignore[arg-type]
                version=vote.version,
                stale=vote.version != conclusion.version,
                comment=vote.comment,
            )
        out.append(
            ConclusionOut(
                id=conclusion.id,
                session_id=conclusion.session_id,
                thread_id=conclusion.thread_id,
                title=text.title,
                body=text.body,
                version=conclusion.version,
                status=conclusion.status,  # type: ignore[arg-type]
                source_post_ids=sources[conclusion.id],
                voting=voting_out(conclusion),
                my_vote=my_vote,
                created_at=conclusion.created_at,
                updated_at=conclusion.updated_at,
            )
        )
    return out


async def conclusion_out(db: AsyncSession, conclusion: Conclusion, viewer: User | None) -> ConclusionOut:
    """One conclusion as `viewer` sees it (None: the shared view events carry)."""
    text = await db.get(ConclusionVersion, (conclusion.id, conclusion.version))
    assert text is not None  # every version a conclusion names is written with it
    (out,) = await conclusions_out(db, [(conclusion, text)], viewer)
    return out
