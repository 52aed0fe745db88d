"""How proposals are shown, who may see them, and the locks and checks every proposal action shares.

Visibility: a published proposal is public; a draft is shown to any signed-in user and is invisible (404) to
anonymous readers. Lock order for writes: the session row first (`lock_session`, which `emit` needs anyway),
then the proposal row, as every other write in a session does, so none can deadlock with another.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from deliberation.accounts.models import User
from deliberation.conclusions.models import Conclusion, ConclusionStatus, ConclusionVersion
from deliberation.conclusions.schemas import TallyOut
from deliberation.conclusions.tally import read_tally
from deliberation.errors import Invalid, NotFound
from deliberation.forum.models import Session
from deliberation.proposals.canonical import canonical_conclusion, canonical_content
from deliberation.proposals.models import Proposal, ProposalConclusion, ProposalStatus, ProposalVersion
from deliberation.proposals.schemas import ProposalOut
from deliberation.threads.views import SessionCheck, check_text, lock_session


def proposal_out(proposal: Proposal, text: ProposalVersion, conclusion_ids: list[uuid.UUID]) -> ProposalOut:
    return ProposalOut(
        id=proposal.id,
        session_id=proposal.session_id,
        title=text.title,
        summary=text.summary,
        body=text.body,
        version=proposal.version,
        status=proposal.status,  # type: ignore[arg-type]
        conclusion_ids=conclusion_ids,
        published_at=proposal.published_at,
        content_sha256=proposal.content_sha256,
        endorsement_count=proposal.endorsement_count,
        created_at=proposal.created_at,
        updated_at=proposal.updated_at,
    )


async def included_conclusions(
    db: AsyncSession, keys: Sequence[tuple[uuid.UUID, int]]
) -> dict[tuple[uuid.UUID, int], list[uuid.UUID]]:
    """The conclusion ids of each (proposal id, version), in the proposal's order."""
    if not keys:
        return {}
    rows = await db.execute(
        select(ProposalConclusion.proposal_id, ProposalConclusion.version, ProposalConclusion.conclusion_id)
        .where(tuple_(ProposalConclusion.proposal_id, ProposalConclusion.version).in_(list(keys)))
        .order_by(ProposalConclusion.position)
    )
    found: dict[tuple[uuid.UUID, int], list[uuid.UUID]] = {key: [] for key in keys}
    for proposal_id, version, conclusion_id in rows:
        found[(proposal_id, version)].append(conclusion_id)
    return found


async def proposals_out(db: AsyncSession, proposals: Sequence[Proposal]) -> list[ProposalOut]:
    """Each proposal with its current text and conclusions (two queries, inside the caller's transaction)."""
    keys = [(proposal.id, proposal.version) for proposal in proposals]
    if not keys:
        return []
    texts = {
        (text.proposal_id, text.version): text
        for text in await db.scalars(
            select(ProposalVersion).where(tuple_(ProposalVersion.proposal_id, ProposalVersion.version).in_(keys))
        )
    }
    conclusions = await included_conclusions(db, keys)
    return [proposal_out(proposal, texts[key], conclusions[key]) for proposal, key in zip(proposals, keys, strict=True)]


async def one_proposal_out(db: AsyncSession, proposal: Proposal) -> ProposalOut:
    (out,) = await proposals_out(db, [proposal])
    return out


async def visible_proposal(db: AsyncSession, proposal_id: uuid.UUID, viewer: User | None) -> Proposal:
    """The proposal if `viewer` may read it: published ones for anyone, drafts for signed-in users; else 404."""
    proposal = await db.get(Proposal, proposal_id)
    if proposal is None or (viewer is None and proposal.status != ProposalStatus.published):
        raise NotFound("No such proposal.")
    return proposal


async def lock_proposal(
    db: AsyncSession, proposal_id: uuid.UUID, check: SessionCheck | None = None
) -> tuple[Proposal, Session]:
    """The proposal, read again after taking its session's row (`check`: see `lock_session`)."""
    session_id = await db.scalar(select(Proposal.session_id).where(Proposal.id == proposal_id))
    if session_id is None:
        raise NotFound("No such proposal.")
    session = await lock_session(db, session_id, check)
    proposal = await db.scalar(
        select(Proposal).where(Proposal.id == proposal_id).with_for_update().execution_options(populate_existing=True)
    )
    assert proposal is not None  # deleting a proposal takes the session row too (cascade from the session)
    return proposal, session


async def check_conclusions(db: AsyncSession, session_id: uuid.UUID, ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """The ids if each names an adopted conclusion of this session, once; 422 on `conclusion_ids` otherwise."""
    if not ids:
        raise Invalid.field("conclusion_ids", "must include at least one adopted conclusion")
    if len(set(ids)) != len(ids):
        raise Invalid.field("conclusion_ids", "must not name a conclusion twice")
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
            raise Invalid.field("conclusion_ids", f"{conclusion_id} is not a conclusion of this session")
        if status != ConclusionStatus.adopted:
            raise Invalid.field("conclusion_ids", f"{conclusion_id} is not adopted (it is {status})")
    return ids


def check_texts(**fields: object) -> None:
    """422 for text PostgreSQL cannot store (NUL characters), naming the field."""
    for field, value in fields.items():
        if isinstance(value, str):
            check_text(field, value)


@dataclass(frozen=True)
class FinalConclusion:
    """An included conclusion as decided: the row, the version voted on, the final tally."""

    conclusion: Conclusion
    text: ConclusionVersion
    tally: TallyOut


async def final_conclusions(db: AsyncSession, ids: list[uuid.UUID]) -> list[FinalConclusion]:
    """The included conclusions in the proposal's order, each with its voted version and final tally."""
    conclusions = {c.id: c for c in await db.scalars(select(Conclusion).where(Conclusion.id.in_(ids)))}
    finals = []
    for conclusion_id in ids:
        conclusion = conclusions[conclusion_id]
        tally = await read_tally(db, conclusion)  # the snapshot stored at close (counted only if it is missing)
        text = await db.get(ConclusionVersion, (conclusion_id, tally.version))
        assert text is not None  # a tally names a version of its conclusion
        finals.append(FinalConclusion(conclusion=conclusion, text=text, tally=tally))
    return finals


def content_of(proposal: Proposal, text: ProposalVersion, finals: list[FinalConclusion]) -> dict[str, Any]:
    """The canonical content of this proposal version with these conclusions."""
    return canonical_content(
        proposal_id=proposal.id,
        session_id=proposal.session_id,
        version=proposal.version,
        title=text.title,
        summary=text.summary,
        body=text.body,
        conclusions=[
            canonical_conclusion(final.conclusion.id, final.text.title, final.text.body, final.tally)
            for final in finals
        ],
    )
