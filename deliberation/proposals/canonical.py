"""The canonical form of a published proposal's content, and its SHA-256 (`content_sha256`).

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
from typing import Any

import msgspec

from deliberation.conclusions.schemas import TallyOut

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
