from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, get, patch, post
from litestar.params import FromPath, JSONBody, Parameter

from deliberation.accounts.auth import Admin, CurrentUser, Viewer
from deliberation.deps import DB, Now
from deliberation.forum import service
from deliberation.forum.schemas import (
    CategoryName,
    LineIn,
    LineList,
    LineOut,
    NumberedRef,
    SessionIn,
    SessionOut,
    SessionPage,
    SessionPatch,
    StatusName,
    SublineIn,
)
from deliberation.pagination import DEFAULT_LIMIT, Cursor, Limit
from deliberation.text import DOTTED


class LineController(Controller):
    path = "/api/lines"
    tags = ["forum"]

    @get("/", summary="Thematic lines, each with its sublines")
    async def list_lines(self, db: DB) -> LineList:
        return await service.list_lines(db)

    @post("/", summary="Create a thematic line (admins)")
    async def create_line(self, db: DB, admin: Admin, data: JSONBody[LineIn]) -> LineOut:
        return await service.create_line(db, data)

    @post("/{line_id:uuid}/sublines", summary="Create a subline of a thematic line (admins)")
    async def create_subline(
        self, db: DB, admin: Admin, line_id: FromPath[uuid.UUID], data: JSONBody[SublineIn]
    ) -> NumberedRef:
        return await service.create_subline(db, line_id, data)


class SessionController(Controller):
    path = "/api/sessions"
    tags = ["forum"]

    @get("/", summary="Browse sessions by start time, with filters")
    async def list_sessions(
        self,
        db: DB,
        viewer: Viewer,
        now: Now,
        line: Annotated[uuid.UUID | None, Parameter(description="Only sessions of this thematic line (id).")] = None,
        subline: Annotated[uuid.UUID | None, Parameter(description="Only sessions of this subline (id).")] = None,
        status: Annotated[StatusName | None, Parameter(description="upcoming, live or passed, now.")] = None,
        category: Annotated[CategoryName | None, Parameter(description="Only sessions of this category.")] = None,
        code: Annotated[
            str | None,
            Parameter(pattern=DOTTED, max_length=32, description="Only the session with this code, e.g. `1.1.1`."),
        ] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> SessionPage:
        return await service.list_sessions(
            db,
            viewer,
            now=now,
            line_id=line,
            subline_id=subline,
            status=status,
            category=category,
            code=code,
            cursor=cursor,
            limit=limit,
        )

    @post("/", summary="Create a session and one thread per guiding question (admins)")
    async def create_session(self, db: DB, admin: Admin, now: Now, data: JSONBody[SessionIn]) -> SessionOut:
        return await service.create_session(db, data, now=now)

    @get("/{session_id:uuid}", summary="One session; the meeting URL only for members and admins")
    async def get_session(self, db: DB, viewer: Viewer, now: Now, session_id: FromPath[uuid.UUID]) -> SessionOut:
        return await service.get_session(db, session_id, viewer, now=now)

    @patch("/{session_id:uuid}", summary="Change a session's details (admins and its moderators)")
    async def update_session(
        self, db: DB, user: CurrentUser, now: Now, session_id: FromPath[uuid.UUID], data: JSONBody[SessionPatch]
    ) -> SessionOut:
        return await service.update_session(db, session_id, user, data, now=now)


class MySessionsController(Controller):
    path = "/api/me/sessions"
    tags = ["forum"]

    @get("/", summary="The sessions I am a member of, by start time, with my role")
    async def list_my_sessions(
        self, db: DB, user: CurrentUser, now: Now, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
    ) -> SessionPage:
        return await service.list_sessions(db, user, now=now, members_only=True, cursor=cursor, limit=limit)
