"""Input and output of the proposal routes (see docs/api.md, "Final proposals and endorsements")."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from deliberation.accounts.schemas import AuthorRef
from deliberation.audit.schemas import AuditEntryOut, AuditLink
from deliberation.conclusions.schemas import TallyOut, VotingOut
from deliberation.pagination import SnapshotPage
from deliberation.text import LongText, Reason, Summary, Title
from deliberation.threads.schemas import PostOut

MAX_CONCLUSIONS = 100
ConclusionIds = Annotated[list[uuid.UUID], Meta(max_length=MAX_CONCLUSIONS)]
StatusName = Literal["draft", "published"]
StanceName = Literal["endorse", "endorse_with_reservations"]


class ProposalIn(msgspec.Struct, forbid_unknown_fields=True):
    title: Title
    summary: Summary
    body: LongText
    conclusion_ids: ConclusionIds


class ProposalPatch(msgspec.Struct, forbid_unknown_fields=True):
    title: Title | UnsetType = UNSET
    summary: Summary | UnsetType = UNSET
    body: LongText | UnsetType = UNSET
    conclusion_ids: ConclusionIds | UnsetType = UNSET


class ProposalOut(msgspec.Struct):
    id: uuid.UUID
    session_id: uuid.UUID
    title: str
    summary: str
    body: str
    version: int
    status: StatusName
    conclusion_ids: list[uuid.UUID]
    published_at: datetime | None
    content_sha256: str | None
    endorsement_count: int
    created_at: datetime
    updated_at: datetime


class ProposalPage(SnapshotPage):
    items: list[ProposalOut]


class ProposalVersionOut(msgspec.Struct):
    version: int
    title: str
    summary: str
    body: str
    conclusion_ids: list[uuid.UUID]
    created_at: datetime
    author: AuthorRef | None


class ProposalVersionPage(SnapshotPage):
    items: list[ProposalVersionOut]


class EndorsementIn(msgspec.Struct, forbid_unknown_fields=True):
    stance: StanceName
    statement: Reason | None = None


class RepresentativeRef(msgspec.Struct):
    """The representative as they endorsed: `office` and `territory` of their verified claim at that time."""

    id: uuid.UUID
    display_name: str
    office: str
    territory: str


class EndorsementOut(msgspec.Struct):
    """`representative_verified`: whether the representative is verified now (false once it was taken away)."""

    id: uuid.UUID
    proposal_id: uuid.UUID
    representative: RepresentativeRef
    representative_verified: bool
    stance: StanceName
    statement: str | None
    created_at: datetime
    withdrawn_at: datetime | None


class EndorsementEventOut(EndorsementOut):
    """`endorsement.created` / `endorsement.withdrawn`: the endorsement and its proposal's `endorsement_count`
    after the change (a client takes it, never adds)."""

    endorsement_count: int | None = None


class EndorsementPage(SnapshotPage):
    items: list[EndorsementOut]


class ExportSession(msgspec.Struct):
    id: uuid.UUID
    code: str
    title: str


class ExportThread(msgspec.Struct):
    id: uuid.UUID
    title: str


class ExportVersion(msgspec.Struct):
    version: int
    title: str
    body: str
    created_at: datetime


class ExportConclusion(msgspec.Struct):
    """An included conclusion: `version`, `title` and `body` are the version voted on; `versions` every one."""

    id: uuid.UUID
    thread_id: uuid.UUID | None
    status: str
    version: int
    title: str
    body: str
    versions: list[ExportVersion]
    voting: VotingOut | None
    final_tally: TallyOut
    sources: list[PostOut]


class ExportAudit(msgspec.Struct):
    """The session's entries of the transparency log, the links between them, the head of the whole chain when
    exported, and the signed checkpoint of that head (a C2SP tlog-checkpoint note, see `GET /api/audit/checkpoint`)."""

    entries: list[AuditEntryOut]
    head_seq: int
    head_hash: str
    checkpoint: str
    # {seq, prev_hash, hash} of every other entry between the session's first and last: the chain verifies alone.
    links: list[AuditLink] = []


class ProposalExport(msgspec.Struct):
    """The whole chain behind a proposal (docs/api.md, "Export"); `content_sha256` is recomputable from it."""

    format: str
    canonical_form: str
    exported_at: datetime
    session: ExportSession
    proposal: ProposalOut
    conclusions: list[ExportConclusion]
    threads: list[ExportThread]
    endorsements: list[EndorsementOut]
    audit: ExportAudit
