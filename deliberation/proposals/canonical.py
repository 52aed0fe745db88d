"""The canonical form of a published proposal's content, what goes in it, and its SHA-256 (`content_sha256`).

The content is one JSON object (docs/api.md, "The canonical form", says the same for readers):

    {"canonical": "deliberation.proposal.v1", "proposal_id", "session_id", "version", "title", "summary",
     "body", "conclusions": [{"id", "version", "title", "body",
                              "tally": {"voters", "support", "oppose", "abstain", "cross_actor_consensus",
                                        "by_actor_type": {<actor type>: {"support", "oppose", "abstain"}}}}]}

`conclusions` follows the proposal's order; each holds the text of the version that was voted on and its
final tally. Encoding: keys sorted (by code point; every key is ASCII), no whitespace, UTF-8 without
escaping non-ASCII, strings escaped as JSON requires (`\\"`, `\\\\`, `\\b \\f \\n \\r \\t`, other control characters
as `\\u00xx`), integers in plain decimal, ids as lowercase UUID strings; no floats, no times, no Unicode
normalization. For this content that is RFC 8785 (JCS) and also Python's
`json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()`.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from deliberation.conclusions.models import Conclusion, ConclusionVersion
from deliberation.conclusions.schemas import TallyOut
from deliberation.conclusions.tally import read_tally
from deliberation.proposals.models import Proposal, ProposalVersion

CANONICAL_FORMAT = "deliberation.proposal.v1"


def canonical_tally(tally: TallyOut) -> dict[str, Any]:
    """The part of a final tally that the hash covers."""
    return {
        "voters": tally.voters,
        "support": tally.support,
        "oppose": tally.oppose,
        "abstain": tally.abstain,
        "cross_actor_consensus": tally.cross_actor_consensus,
        "by_actor_type": {
            actor_type: {"support": counts.support, "oppose": counts.oppose, "abstain": counts.abstain}
            for actor_type, counts in tally.by_actor_type.items()
        },
    }


def canonical_conclusion(conclusion_id: uuid.UUID, title: str, body: str, tally: TallyOut) -> dict[str, Any]:
    """One included conclusion: the version voted on (the final tally's), its text and its tally."""
    return {
        "id": str(conclusion_id),
        "version": tally.version,
        "title": title,
        "body": body,
        "tally": canonical_tally(tally),
    }


def canonical_content(
    *,
    proposal_id: uuid.UUID,
    session_id: uuid.UUID,
    version: int,
    title: str,
    summary: str,
    body: str,
    conclusions: list[dict[str, Any]],
) -> dict[str, Any]:
    """The object `content_sha256` is computed over (see the module docstring)."""
    return {
        "canonical": CANONICAL_FORMAT,
        "proposal_id": str(proposal_id),
        "session_id": str(session_id),
        "version": version,
        "title": title,
        "summary": summary,
        "body": body,
        "conclusions": conclusions,
    }


def canonical_bytes(content: dict[str, Any]) -> bytes:
    return msgspec.json.encode(content, order="sorted")


def content_sha256(content: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(content)).hexdigest()


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
