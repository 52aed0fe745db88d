"""Who may do what in a session: the membership checks every session-scoped action reuses.

Each helper runs inside the caller's transaction (it takes the `AsyncSession`, never begins one), so a
service function can check and act atomically:

    async with db.begin():
        session = await require_member(db, session_id, user)
        ...

Admins (organizers) pass every check: they count as moderators of every session.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from deliberation.accounts.models import User
from deliberation.errors import Forbidden, NotFound
from deliberation.forum.models import Role, Session, SessionMember


async def get_session_or_404(db: AsyncSession, session_id: uuid.UUID) -> Session:
    """The session, or 404."""
    session = await db.get(Session, session_id)
    if session is None:
        raise NotFound("No such session.")
    return session


async def membership_role(db: AsyncSession, session_id: uuid.UUID, user: User | None) -> str | None:
    """The user's role in the session ("moderator" or "participant"), or None; admins get their own row's role."""
    if user is None:
        return None
    return await db.scalar(
        select(SessionMember.role).where(SessionMember.session_id == session_id, SessionMember.user_id == user.id)
    )


async def require_member(db: AsyncSession, session_id: uuid.UUID, user: User) -> Session:
    """The session if the user is a member (or an admin); 404 unknown session, 403 otherwise."""
    session = await get_session_or_404(db, session_id)
    if not user.is_admin and await membership_role(db, session_id, user) is None:
        raise Forbidden("Only members of this session may do this; join it first.")
    return session


async def require_moderator(db: AsyncSession, session_id: uuid.UUID, user: User) -> Session:
    """The session if the user moderates it (admins moderate every session); 404 unknown session, 403 otherwise."""
    session = await get_session_or_404(db, session_id)
    if not user.is_admin and await membership_role(db, session_id, user) != Role.moderator:
        raise Forbidden("Only moderators of this session may do this.")
    return session
