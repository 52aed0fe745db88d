"""Every model, imported once so `Base.metadata` is whole (Alembic and the tests read it)."""

from deliberation.accounts.models import AccessToken, User
from deliberation.audit.models import AuditEntry
from deliberation.db.base import Base
from deliberation.forum.models import Session, SessionMember, Subline, ThematicLine, Thread

__all__ = ["AccessToken", "AuditEntry", "Base", "Session", "SessionMember", "Subline", "ThematicLine", "Thread", "User"]
