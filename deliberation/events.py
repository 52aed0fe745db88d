"""Every live event: its name and the Struct its `data` is; the one catalogue of what is stored and sent.

`realtime.events.EventName` lists the names (a `Literal`, so a misspelt name does not type-check); this
module says, for each, which output Struct its `data` holds: the same Struct the HTTP routes answer, as
everyone in the session may see it (no `my_*` fields, no hidden bodies). Events are stored (JSONB) and
replayed to clients that resume, so a field added to one of these Structs must have a default: old rows
still decode. It sits above every domain (it imports their schemas); the AsyncAPI document is built from it.
"""

from __future__ import annotations

import msgspec

from deliberation.conclusions.schemas import ConclusionOut, TallyOut
from deliberation.forum.schemas import MemberOut, SessionOut
from deliberation.proposals.schemas import EndorsementEventOut, ProposalOut
from deliberation.realtime.events import EventName
from deliberation.threads.schemas import FlagsChanged, PostEventOut, PostOut, ThreadOut

EVENT_DATA: dict[EventName, type[msgspec.Struct]] = {
    "post.created": PostEventOut,
    "post.updated": PostOut,
    "post.deleted": PostEventOut,
    "post.hidden": PostOut,
    "post.unhidden": PostOut,
    "reactions.updated": PostOut,
    "thread.created": ThreadOut,
    "thread.updated": ThreadOut,
    "member.joined": MemberOut,
    "member.updated": MemberOut,
    "member.removed": MemberOut,
    "session.updated": SessionOut,
    "conclusion.created": ConclusionOut,
    "conclusion.updated": ConclusionOut,
    "voting.opened": ConclusionOut,
    "voting.closed": ConclusionOut,
    "tally.updated": TallyOut,
    "proposal.created": ProposalOut,
    "proposal.updated": ProposalOut,
    "proposal.published": ProposalOut,
    "endorsement.created": EndorsementEventOut,
    "endorsement.withdrawn": EndorsementEventOut,
    "flags.changed": FlagsChanged,
}
