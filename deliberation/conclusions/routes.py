"""Draft conclusions and votes (see docs/api.md, "Draft conclusions and votes")."""

from __future__ import annotations

import uuid

from litestar import Controller, Response, delete, get, patch, post, put
from litestar.params import FromPath, JSONBody

from deliberation.accounts.auth import CurrentUser, Viewer
from deliberation.conclusions import service, voting
from deliberation.conclusions.schemas import (
    ConclusionIn,
    ConclusionOut,
    ConclusionPage,
    ConclusionPatch,
    TallyOut,
    VersionPage,
    VoteIn,
    VoteOut,
    VotingIn,
)
from deliberation.deps import DB, Now
from deliberation.pagination import DEFAULT_LIMIT, Cursor, Limit
from deliberation.preconditions import ETAG, IfMatch, expected_version, with_etag


class SessionConclusionsController(Controller):
    path = "/api/sessions/{session_id:uuid}/conclusions"
    tags = ["conclusions"]

    @get("/", summary="The session's draft conclusions, oldest first (signed-in users)")
    async def list_conclusions(
        self,
        db: DB,
        user: CurrentUser,
        session_id: FromPath[uuid.UUID],
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> ConclusionPage:
        return await service.list_conclusions(db, session_id, user, cursor=cursor, limit=limit)

    @post("/", summary="Draft a conclusion from posts of the session (moderators)")
    async def create_conclusion(
        self, db: DB, user: CurrentUser, now: Now, session_id: FromPath[uuid.UUID], data: JSONBody[ConclusionIn]
    ) -> ConclusionOut:
        return await service.create_conclusion(db, session_id, user, data, now=now)


class ConclusionController(Controller):
    path = "/api/conclusions/{conclusion_id:uuid}"
    tags = ["conclusions"]

    @get("/", summary="One conclusion, with the viewer's vote (signed-in users)", response_headers=[ETAG])
    async def get_conclusion(
        self, db: DB, user: CurrentUser, conclusion_id: FromPath[uuid.UUID]
    ) -> Response[ConclusionOut]:
        return with_etag(await service.get_conclusion(db, conclusion_id, user))

    @patch(
        "/", summary="Edit as a new version; If-Match names the version edited (moderators)", response_headers=[ETAG]
    )
    async def update_conclusion(
        self,
        db: DB,
        user: CurrentUser,
        now: Now,
        conclusion_id: FromPath[uuid.UUID],
        data: JSONBody[ConclusionPatch],
        if_match: IfMatch = None,
    ) -> Response[ConclusionOut]:
        expected = expected_version(if_match)
        return with_etag(await service.update_conclusion(db, conclusion_id, user, data, expected=expected, now=now))

    @get("/versions", summary="Every version of the conclusion's text, oldest first (signed-in users)")
    async def list_conclusion_versions(
        self,
        db: DB,
        user: CurrentUser,
        conclusion_id: FromPath[uuid.UUID],
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> VersionPage:
        return await service.list_versions(db, conclusion_id, cursor=cursor, limit=limit)

    @post("/voting", status_code=200, summary="Open the vote with its rule set, or close it (moderators)")
    async def change_voting(
        self, db: DB, user: CurrentUser, now: Now, conclusion_id: FromPath[uuid.UUID], data: JSONBody[VotingIn]
    ) -> ConclusionOut:
        if data.action == "open":
            return await voting.open_voting(db, conclusion_id, user, data, now=now)
        return await voting.close_voting(db, conclusion_id, user, now=now)

    @put("/vote", summary="Cast or change your vote on the current version (members, while open)")
    async def cast_vote(
        self, db: DB, user: CurrentUser, now: Now, conclusion_id: FromPath[uuid.UUID], data: JSONBody[VoteIn]
    ) -> VoteOut:
        return await voting.cast_vote(db, conclusion_id, user, data, now=now)

    @delete("/vote", summary="Withdraw your vote (members, while open)")
    async def retract_vote(self, db: DB, user: CurrentUser, now: Now, conclusion_id: FromPath[uuid.UUID]) -> None:
        await voting.retract_vote(db, conclusion_id, user, now=now)

    @get("/tally", summary="The tally of the current version (signed-in users while open; anyone once closed)")
    async def get_tally(self, db: DB, viewer: Viewer, conclusion_id: FromPath[uuid.UUID]) -> TallyOut:
        return await voting.get_tally(db, conclusion_id, viewer)
