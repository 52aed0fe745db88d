from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, Litestar, MediaType, get
from litestar.datastructures import State
from litestar.params import Parameter

from deliberation.audit import service
from deliberation.audit.checkpoint import PublicKeyOut, load_signer
from deliberation.audit.schemas import AuditPage
from deliberation.audit.service import VerifyResult
from deliberation.deps import DB, Now
from deliberation.errors import Conflict
from deliberation.i18n import N_
from deliberation.pagination import DEFAULT_LIMIT, After, Cursor, Limit


class AuditController(Controller):
    path = "/api/audit"
    tags = ["transparency log"]

    @get("/", summary="Read the transparency log, oldest first")
    async def list_audit(
        self,
        db: DB,
        session: Annotated[uuid.UUID | None, Parameter(description="Only entries of this session.")] = None,
        after: After = 0,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> AuditPage:
        return await service.list_entries(db, session_id=session, after=after, cursor=cursor, limit=limit)

    @get("/verify", summary="Recompute the hash chain of the whole log (the answer may be a few seconds old)")
    async def verify_audit(self, db: DB, state: State, now: Now) -> VerifyResult:
        return await state.audit_verify.verify(db, now=now)

    @get(
        "/checkpoint",
        summary="The latest signed checkpoint of the log (C2SP tlog-checkpoint note; may be a few seconds old)",
        media_type=MediaType.TEXT,
    )
    async def checkpoint(self, db: DB, state: State, now: Now) -> str:
        result = await state.audit_verify.verify(db, now=now)
        if not result.ok:
            raise Conflict(
                N_("The log does not verify (entry %(seq)s): no checkpoint is signed."),
                values={"seq": result.first_bad_seq},
            )
        return state.audit_signer.sign(result.entries, result.head_hash)

    @get("/public-key", summary="The Ed25519 key checkpoints are signed with")
    async def public_key(self, state: State) -> PublicKeyOut:
        return state.audit_signer.public_key_out()


async def load_audit_signer(app: Litestar) -> None:
    """App startup: the checkpoint signer (its key from the settings or the data directory)."""
    app.state.audit_signer = load_signer(app.state.settings)
