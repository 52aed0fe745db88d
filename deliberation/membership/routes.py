from __future__ import annotations

import uuid

from litestar import Controller, delete, get, post, put
from litestar.params import FromPath, JSONBody

from deliberation.accounts.auth import CurrentUser
from deliberation.deps import DB, Now
from deliberation.forum.schemas import MemberOut
from deliberation.membership import service
from deliberation.membership.schemas import MemberPage, RoleIn
from deliberation.pagination import DEFAULT_LIMIT, Cursor, Limit


class MembershipController(Controller):
    path = "/api/sessions/{session_id:uuid}"
    tags = ["forum"]

    @post("/join", status_code=204, summary="Join a session as a participant")
    async def join_session(self, db: DB, user: CurrentUser, now: Now, session_id: FromPath[uuid.UUID]) -> None:
        await service.join_session(db, session_id, user, now=now)

    @get("/members", summary="Members of a session, in the order they joined (members only)")
    async def list_members(
        self,
        db: DB,
        user: CurrentUser,
        now: Now,
        session_id: FromPath[uuid.UUID],
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> MemberPage:
        return await service.list_members(db, session_id, user, cursor=cursor, limit=limit, now=now)

    @put("/members/{user_id:uuid}", summary="Set a member's role (admins and moderators)")
    async def set_member_role(
        self,
        db: DB,
        user: CurrentUser,
        now: Now,
        session_id: FromPath[uuid.UUID],
        user_id: FromPath[uuid.UUID],
        data: JSONBody[RoleIn],
    ) -> MemberOut:
        return await service.set_member_role(db, session_id, user, user_id, data.role, now=now)

    @delete("/members/me", summary="Leave the session; my votes on its open votes go with me")
    async def leave_session(self, db: DB, user: CurrentUser, now: Now, session_id: FromPath[uuid.UUID]) -> None:
        await service.leave_session(db, session_id, user, now=now)

    @delete("/members/{user_id:uuid}", summary="Remove a member (admins and moderators)")
    async def remove_member(
        self, db: DB, user: CurrentUser, now: Now, session_id: FromPath[uuid.UUID], user_id: FromPath[uuid.UUID]
    ) -> None:
        await service.remove_member(db, session_id, user, user_id, now=now)
