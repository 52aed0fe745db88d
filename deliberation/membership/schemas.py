"""Input and output of the membership routes (see docs/api.md, "Forum structure and sessions")."""

from __future__ import annotations

from datetime import datetime

import msgspec

from deliberation.accounts.schemas import UserOut
from deliberation.forum.schemas import RoleName


class MemberOut(msgspec.Struct):
    user: UserOut
    role: RoleName
    joined_at: datetime


class MemberPage(msgspec.Struct):
    items: list[MemberOut]
    next_cursor: str | None


class RoleIn(msgspec.Struct, forbid_unknown_fields=True):
    role: RoleName
