"""Output of `GET /api/sessions/{id}/state` (see docs/api.md, "The session's state in one request")."""

from __future__ import annotations

import msgspec

from deliberation.conclusions.schemas import ConclusionOut, TallyOut
from deliberation.forum.schemas import SessionOut
from deliberation.proposals.schemas import ProposalOut
from deliberation.realtime.schemas import PresenceOut
from deliberation.threads.schemas import ThreadOut


class ConclusionState(ConclusionOut):
    """A conclusion with the viewer's vote and its tally as the viewer may see it (null while a draft)."""

    tally: TallyOut | None = None


class SessionState(msgspec.Struct):
    """Everything of a session a participant's screen shows but the posts, as of `as_of_seq`.

    Applying every event with `seq > as_of_seq` to it gives the current state. `presence` is not sequenced
    (null on an instance that does not follow it); `presence` frames replace it.
    """

    as_of_seq: int
    session: SessionOut
    threads: list[ThreadOut]
    conclusions: list[ConclusionState]
    proposals: list[ProposalOut]
    open_flags: int  # flags waiting for a moderator (what `flags.changed` says; no reporter, no reason)
    presence: PresenceOut | None
