"""Input and output of the realtime routes besides the frames (see docs/api.md, "Live stream")."""

from __future__ import annotations

from datetime import datetime

import msgspec

from deliberation.realtime.events import PresenceUser


class LiveTicketOut(msgspec.Struct):
    """A single-use ticket for `?ticket=` on the session's live stream, valid until `expires_at`."""

    ticket: str
    expires_at: datetime


class PresenceOut(msgspec.Struct):
    """Who is online in a session right now, across all instances (as the `presence` frame says it)."""

    online: int
    users: list[PresenceUser]
