"""Final proposals, endorsements and the exported record (see docs/api.md, "Final proposals and endorsements")."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from litestar import Controller, Response, delete, get, patch, post
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody, Parameter

from deliberation.accounts.auth import CurrentUser, Viewer
from deliberation.deps import DB, Now
from deliberation.pagination import DEFAULT_LIMIT, Cursor, Limit
from deliberation.preconditions import ETAG, IfMatch, expected_version, with_etag
from deliberation.proposals import endorsements, export, markdown, service
from deliberation.proposals.schemas import (
    EndorsementIn,
    EndorsementOut,
    EndorsementPage,
    ProposalExport,
    ProposalIn,
    ProposalOut,
    ProposalPage,
    ProposalPatch,
    ProposalVersionPage,
)

ExportFormat = Annotated[
    Literal["markdown", "json"], Parameter(description="`json` (default) for programs, `markdown` for people.")
]
MARKDOWN = "text/markdown"  # Litestar adds the one `charset=utf-8` to text types


class SessionProposalsController(Controller):
    path = "/api/sessions/{session_id:uuid}/proposals"
    tags = ["proposals"]

    @get("/", summary="The session's final proposals, oldest first (drafts for signed-in users only)")
    async def list_proposals(
        self,
        db: DB,
        viewer: Viewer,
        session_id: FromPath[uuid.UUID],
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> ProposalPage:
        return await service.list_proposals(db, session_id, viewer, cursor=cursor, limit=limit)

    @post("/", summary="Draft a final proposal from adopted conclusions (moderators)")
    async def create_proposal(
        self, db: DB, user: CurrentUser, now: Now, session_id: FromPath[uuid.UUID], data: JSONBody[ProposalIn]
    ) -> ProposalOut:
        return await service.create_proposal(db, session_id, user, data, now=now)


class ProposalController(Controller):
    path = "/api/proposals/{proposal_id:uuid}"
    tags = ["proposals"]

    @get("/", summary="One proposal (anyone once published; drafts for signed-in users)", response_headers=[ETAG])
    async def get_proposal(self, db: DB, viewer: Viewer, proposal_id: FromPath[uuid.UUID]) -> Response[ProposalOut]:
        return with_etag(await service.get_proposal(db, proposal_id, viewer))

    @patch(
        "/",
        summary="Edit a draft as a new version; If-Match names the version edited (moderators)",
        response_headers=[ETAG],
    )
    async def update_proposal(
        self,
        db: DB,
        user: CurrentUser,
        now: Now,
        proposal_id: FromPath[uuid.UUID],
        data: JSONBody[ProposalPatch],
        if_match: IfMatch = None,
    ) -> Response[ProposalOut]:
        expected = expected_version(if_match)
        return with_etag(await service.update_proposal(db, proposal_id, user, data, expected=expected, now=now))

    @get("/versions", summary="Every version of the proposal, oldest first (like GET)")
    async def list_proposal_versions(
        self,
        db: DB,
        viewer: Viewer,
        proposal_id: FromPath[uuid.UUID],
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> ProposalVersionPage:
        return await service.list_versions(db, proposal_id, viewer, cursor=cursor, limit=limit)

    @post(
        "/publish",
        status_code=200,
        summary="Publish: freeze the proposal and fix its content hash (moderators)",
        response_headers=[ETAG],
    )
    async def publish_proposal(
        self, db: DB, user: CurrentUser, now: Now, proposal_id: FromPath[uuid.UUID], if_match: IfMatch = None
    ) -> Response[ProposalOut]:
        expected = expected_version(if_match) if if_match is not None else None
        return with_etag(await service.publish_proposal(db, proposal_id, user, expected=expected, now=now))

    @get(
        "/export",
        summary="The exported record: proposal, conclusions, tallies, source posts, endorsements, audit (like GET)",
        opt={"text_media_types": ["text/markdown"]},
    )
    async def export_proposal(
        self,
        db: DB,
        viewer: Viewer,
        now: Now,
        state: State,
        proposal_id: FromPath[uuid.UUID],
        format: ExportFormat = "json",
    ) -> Response[ProposalExport | str]:
        record = await export.export_proposal(db, proposal_id, viewer, state.audit_signer, now=now)
        if format == "markdown":
            return Response(markdown.render(record), media_type=MARKDOWN)
        return Response(record)

    @get("/endorsements", summary="Endorsements by elected representatives, withdrawn ones included (anyone)")
    async def list_endorsements(
        self,
        db: DB,
        viewer: Viewer,
        now: Now,
        proposal_id: FromPath[uuid.UUID],
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> EndorsementPage:
        return await endorsements.list_endorsements(db, proposal_id, viewer, cursor=cursor, limit=limit, now=now)

    @post("/endorsements", summary="Endorse a published proposal (verified elected representatives)")
    async def endorse(
        self, db: DB, user: CurrentUser, now: Now, proposal_id: FromPath[uuid.UUID], data: JSONBody[EndorsementIn]
    ) -> EndorsementOut:
        return await endorsements.endorse(db, proposal_id, user, data, now=now)

    @delete("/endorsements/mine", summary="Withdraw your endorsement; it stays on record as withdrawn")
    async def withdraw_endorsement(self, db: DB, user: CurrentUser, now: Now, proposal_id: FromPath[uuid.UUID]) -> None:
        await endorsements.withdraw(db, proposal_id, user, now=now)
