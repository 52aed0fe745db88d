from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, get
from litestar.params import Parameter

from deliberation.audit import service
from deliberation.audit.schemas import AuditPage
from deliberation.audit.service import VerifyResult
from deliberation.deps import DB
from deliberation.pagination import DEFAULT_LIMIT, Cursor, Limit, decode_cursor, encode_cursor


class AuditController(Controller):
    path = "/api/audit"
    tags = ["transparency log"]

    @get("/", summary="Read the transparency log, oldest first")
    async def list_audit(
        self,
        db: DB,
        session: Annotated[uuid.UUID | None, Parameter(description="Only entries of this session.")] = None,
        after: Annotated[int, Parameter(ge=0, description="Only entries with a greater seq.")] = 0,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> AuditPage:
        if cursor is not None:
            (after,) = decode_cursor(cursor, tuple[int])
        rows = await service.list_entries(db, session_id=session, after=after, limit=limit)
        items = [service.entry_out(entry, display_name) for entry, display_name in rows[:limit]]
        next_cursor = encode_cursor(items[-1].seq) if len(rows) > limit else None
        return AuditPage(items=items, next_cursor=next_cursor)

    @get("/verify", summary="Recompute the hash chain of the whole log")
    async def verify_audit(self, db: DB) -> VerifyResult:
        return await service.verify(db)
