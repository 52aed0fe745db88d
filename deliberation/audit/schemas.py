from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec

from deliberation.pagination import Page


class ActorRef(msgspec.Struct):
    id: uuid.UUID
    display_name: str | None


class AuditEntryOut(msgspec.Struct):
    seq: int
    at: datetime
    actor: ActorRef | None
    action: str
    target_type: str
    target_id: str | None
    session_id: uuid.UUID | None
    reason: str | None
    data: dict[str, Any]
    prev_hash: str
    hash: str


class AuditPage(Page):
    items: list[AuditEntryOut]


class AuditLink(msgspec.Struct):
    """An entry of the chain named only by its place and hashes (an entry about another session)."""

    seq: int
    prev_hash: str
    hash: str
