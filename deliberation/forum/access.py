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
from sqlalchemy.dialects.postgresql import insert
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
    """The role of the user's membership row ("moderator" or "participant"), or None without one.

    Admins are not special here (they may have no row): the `require_*` checks let them through.
    """
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


def sees_meeting_url(viewer: User | None, role: str | None) -> bool:
    """Whether `viewer`, with this role in a session (None: not a member), may see its meeting URL."""
    return viewer is not None and (viewer.is_admin or role is not None)


async def add_member(db: AsyncSession, session_id: uuid.UUID, user_id: uuid.UUID, role: Role) -> SessionMember | None:
    """Insert a membership row with `role`; None when the user is already a member (their role is kept)."""
    return await db.scalar(
        insert(SessionMember)
        .values(session_id=session_id, user_id=user_id, role=role.value)
        .on_conflict_do_nothing()
        .returning(SessionMember)
    )
