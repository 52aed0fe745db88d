"""`GET /api/sessions/{id}/state` (see docs/api.md)."""

from __future__ import annotations

import uuid

from litestar import Controller, get
from litestar.datastructures import State
from litestar.params import FromPath

from deliberation.accounts.auth import CurrentUser
from deliberation.deps import DB, Now
from deliberation.state import service
from deliberation.state.schemas import SessionState


class SessionStateController(Controller):
    path = "/api/sessions/{session_id:uuid}/state"
    tags = ["live stream"]

    @get("/", summary="The session as a screen shows it, in one consistent snapshot with its as_of_seq (members)")
    async def get_session_state(
        self, db: DB, user: CurrentUser, now: Now, state: State, session_id: FromPath[uuid.UUID]
    ) -> SessionState:
        return await service.session_state(db, session_id, user, state.hub, now=now)
