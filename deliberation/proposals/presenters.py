"""How proposals are shown: each with its current text and the conclusions it includes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from deliberation.proposals.models import Proposal, ProposalConclusion, ProposalVersion
from deliberation.proposals.schemas import ProposalOut


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
