"""Who may do what in a session, and taking its row: the checks and the lock every session-scoped action reuses.

Each helper runs inside the caller's transaction (it takes the `AsyncSession`, never begins one), so a
service function can check and act atomically:

    async with db.begin():
        session = await require_member(db, session_id, user)
        ...

Admins (organizers) pass every check: they count as moderators of every session.

A write in a session takes the session row (`lock_session`) before it reads what it changes, in the one
lock order written in docs/architecture.md ("Lock order"). Permissions are checked before taking the row (a
refused caller never queues behind the session's writers) and again under it, where the answer counts.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from deliberation.accounts.models import User
from deliberation.db import locks
from deliberation.errors import Forbidden, NotFound
from deliberation.forum.models import Role, Session, SessionMember
from deliberation.i18n import N_

NOT_A_MEMBER = N_("Only members of this session may do this; join it first.")


async def get_session_or_404(db: AsyncSession, session_id: uuid.UUID) -> Session:
    """The session, or 404."""
    session = await db.get(Session, session_id)
    if session is None:
        raise NotFound(N_("No such session."))
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
        raise Forbidden(NOT_A_MEMBER)
    return session


async def require_moderator(db: AsyncSession, session_id: uuid.UUID, user: User) -> Session:
    """The session if the user moderates it (admins moderate every session); 404 unknown session, 403 otherwise."""
    session = await get_session_or_404(db, session_id)
    if not user.is_admin and await membership_role(db, session_id, user) != Role.moderator:
        raise Forbidden(N_("Only moderators of this session may do this."))
    return session


async def is_moderator(db: AsyncSession, session_id: uuid.UUID, user: User) -> bool:
    """Admins moderate every session; others when their role in it says so."""
    return user.is_admin or await membership_role(db, session_id, user) == Role.moderator


# A permission check on a session (e.g. `require_member`), run before taking its row and again under it.
SessionCheck = Callable[[uuid.UUID], Awaitable[object]]


async def lock_session(db: AsyncSession, session_id: uuid.UUID, check: SessionCheck | None = None) -> Session:
    """Take the session row (`db.locks.lock_session_row`) and return the session read under it.

    `check` runs first, so a refused caller never queues behind the session's writers, and again under the
    lock, where it is authoritative (a membership may have ended while this request waited).
    """
    if check is not None:
        await check(session_id)
    if not await locks.lock_session_row(db, session_id):
        raise NotFound(N_("No such session."))
    session = await db.get(Session, session_id, populate_existing=True)
    assert session is not None  # its row is locked
    if check is not None:
        await check(session_id)
    return session


def sees_meeting_url(viewer: User | None, role: str | None) -> bool:
    """Whether `viewer`, with this role in a session (None: not a member), may see its meeting URL."""
    return viewer is not None and (viewer.is_admin or role is not None)
