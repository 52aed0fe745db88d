"""Input and output of the membership routes (see docs/api.md, "Forum structure and sessions")."""

from __future__ import annotations

import msgspec

from deliberation.forum.schemas import MemberOut, RoleName
from deliberation.pagination import SnapshotPage


class MemberPage(SnapshotPage):
    items: list[MemberOut]


class RoleIn(msgspec.Struct, forbid_unknown_fields=True):
    role: RoleName
