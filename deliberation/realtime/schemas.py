"""Input and output of the realtime routes besides the frames (see docs/api.md, "Live stream")."""

from __future__ import annotations

from datetime import datetime

import msgspec


class LiveTicketOut(msgspec.Struct):
    """A single-use ticket for `?ticket=` on the session's live stream, valid until `expires_at`."""

    ticket: str
    expires_at: datetime
