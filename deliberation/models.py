"""Every model, imported once so `Base.metadata` is whole (Alembic and the tests read it)."""

from deliberation.accounts.models import AccessToken, PasswordReset, RepresentativeClaim, ThrottleEvent, User
from deliberation.audit.models import AuditEntry
from deliberation.conclusions.models import Conclusion, ConclusionSource, ConclusionVersion, TallyMark, Vote
from deliberation.db.base import Base
from deliberation.forum.models import Session, SessionMember, Subline, ThematicLine, Thread
from deliberation.mail.models import OutboxMail
from deliberation.proposals.models import Endorsement, Proposal, ProposalConclusion, ProposalVersion
from deliberation.realtime.models import LiveTicket, SessionEvent
from deliberation.threads.models import Flag, Post, PostRevision, Reaction

__all__ = [
    "AccessToken",
    "AuditEntry",
    "Base",
    "Conclusion",
    "ConclusionSource",
    "ConclusionVersion",
    "Endorsement",
    "Flag",
    "LiveTicket",
    "OutboxMail",
    "PasswordReset",
    "Post",
    "PostRevision",
    "Proposal",
    "ProposalConclusion",
    "ProposalVersion",
    "Reaction",
    "RepresentativeClaim",
    "Session",
    "SessionEvent",
    "SessionMember",
    "Subline",
    "TallyMark",
    "ThematicLine",
    "Thread",
    "ThrottleEvent",
    "User",
    "Vote",
]
