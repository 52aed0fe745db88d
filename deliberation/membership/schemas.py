"""Input and output of the membership routes (see docs/api.md, "Forum structure and sessions")."""

from __future__ import annotations

import msgspec

from deliberation.forum.schemas import MemberOut, RoleName


class MemberPage(msgspec.Struct):
    items: list[MemberOut]
    next_cursor: str | None


class RoleIn(msgspec.Struct, forbid_unknown_fields=True):
    role: RoleName
