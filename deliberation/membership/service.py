"""Membership actions: join or leave a session, list its members, set a member's role, remove a member.

Above conclusions in the import graph: removing a member also takes her votes on the session's open votes
(`conclusions.voting.drop_votes_of_removed_member`), in the removal's transaction. The membership rows and
the checks every domain reuses stay below, in `forum` (`SessionMember`, `forum.access`).
Each public function runs one transaction; changes emit `member.joined`, `member.updated`, `member.removed`.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from deliberation.accounts.models import User
from deliberation.accounts.service import users_out
from deliberation.audit import service as audit
from deliberation.conclusions.voting import drop_votes_of_removed_member
from deliberation.db.engine import read_snapshot
from deliberation.errors import NotFound
from deliberation.forum.access import get_session_or_404, require_member, require_moderator
from deliberation.forum.models import Role, SessionMember
from deliberation.forum.schemas import MemberOut
from deliberation.forum.service import add_member
from deliberation.i18n import N_
from deliberation.membership.schemas import MemberPage
from deliberation.pagination import keyset_page
from deliberation.realtime.events import as_of_seq, emit


async def join_session(db: AsyncSession, session_id: uuid.UUID, user: User, *, now: datetime) -> None:
    """Make the user a participant; joining again keeps the role they have (and announces nothing)."""
    async with db.begin():
        await get_session_or_404(db, session_id)
        member = await add_member(db, session_id, user.id, Role.participant)
        if member is not None:
            await emit(db, session_id, "member.joined", await _member_event(db, member, user, now=now))


async def _member_event(db: AsyncSession, member: SessionMember, user: User, *, now: datetime) -> MemberOut:
    """A member as everyone in the session may see them (no email), for live events."""
    (out,) = await _members_out(db, [member], [user], None, now=now)
    return out


async def _members_out(
    db: AsyncSession, members: list[SessionMember], users: list[User], viewer: User | None, *, now: datetime
) -> list[MemberOut]:
    """Members with their users as `viewer` may see them (emails for admins and the user only; none for None)."""
    shown = await users_out(db, users, viewer, today=now.date())
    return [
        MemberOut(user=user, role=member.role, joined_at=member.joined_at)
        for member, user in zip(members, shown, strict=True)
    ]


async def list_members(
    db: AsyncSession,
    session_id: uuid.UUID,
    user: User,
    *,
    cursor: str | None = None,
    limit: int,
    now: datetime,
) -> MemberPage:
    """Members in the order they joined (members and admins only)."""
    query = select(SessionMember, User).join(User, User.id == SessionMember.user_id)
    query = query.where(SessionMember.session_id == session_id)
    keys = (SessionMember.joined_at, SessionMember.user_id)
    async with db.begin():
        await read_snapshot(db)
        await require_member(db, session_id, user)
        rows, next_cursor = await keyset_page(db, query, keys, cursor=cursor, limit=limit)
        items = await _members_out(db, [row[0] for row in rows], [row[1] for row in rows], user, now=now)
        seq = await as_of_seq(db, session_id)
    return MemberPage(items=items, next_cursor=next_cursor, as_of_seq=seq)


async def set_member_role(
    db: AsyncSession, session_id: uuid.UUID, actor: User, user_id: uuid.UUID, role: str, *, now: datetime
) -> MemberOut:
    """Give a user a role in the session, adding them if needed (admins and moderators); changes are audited."""
    async with db.begin():
        await require_moderator(db, session_id, actor)
        target = await db.get(User, user_id)
        if target is None:
            raise NotFound(N_("No such user."))
        member, previous = await _lock_or_add_member(db, session_id, user_id, role)
        if previous != role:
            member.role = role
            await audit.record(
                db,
                now=now,
                action="member.role_changed",
                target_type="user",
                target_id=user_id,
                actor_id=actor.id,
                session_id=session_id,
                data={"user_id": user_id, "from": previous, "to": role},
            )
            await db.flush()
            event = "member.joined" if previous is None else "member.updated"
            await emit(db, session_id, event, await _member_event(db, member, target, now=now))
        (out,) = await _members_out(db, [member], [target], actor, now=now)
        return out


async def _lock_or_add_member(
    db: AsyncSession, session_id: uuid.UUID, user_id: uuid.UUID, role: str
) -> tuple[SessionMember, str | None]:
    """The membership row locked, with its role before (None when it is added now with `role`).

    A concurrent join or removal can slip between reading and inserting (the row appears, or goes away after
    a conflict): each round sees the other's commit, so try again until one of the two finds the row.
    """
    while True:
        member = await db.scalar(
            select(SessionMember)
            .where(SessionMember.session_id == session_id, SessionMember.user_id == user_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if member is not None:
            return member, member.role
        member = await add_member(db, session_id, user_id, Role(role))
        if member is not None:
            return member, None


async def remove_member(
    db: AsyncSession, session_id: uuid.UUID, actor: User, user_id: uuid.UUID, *, now: datetime
) -> None:
    """Take a user out of the session (admins and moderators); audited; 404 when they are not a member."""
    async with db.begin():
        await require_moderator(db, session_id, actor)
        role = await _end_membership(db, session_id, user_id, N_("That user is not a member of this session."), now=now)
        await audit.record(
            db,
            now=now,
            action="member.removed",
            target_type="user",
            target_id=user_id,
            actor_id=actor.id,
            session_id=session_id,
            data={"user_id": user_id, "role": role},
        )


async def leave_session(db: AsyncSession, session_id: uuid.UUID, user: User, *, now: datetime) -> None:
    """The user leaves the session (like joining, not audited); 404 unknown session or not a member."""
    async with db.begin():
        await get_session_or_404(db, session_id)
        await _end_membership(db, session_id, user.id, N_("You are not a member of this session."), now=now)


async def _end_membership(
    db: AsyncSession, session_id: uuid.UUID, user_id: uuid.UUID, missing: str, *, now: datetime
) -> str:
    """Delete the membership with the user's votes on open votes, emit `member.removed`; return the role held."""
    await drop_votes_of_removed_member(db, session_id, user_id)
    member = await db.scalar(
        delete(SessionMember)
        .where(SessionMember.session_id == session_id, SessionMember.user_id == user_id)
        .returning(SessionMember)
    )
    if member is None:
        raise NotFound(missing)
    target = await db.get(User, user_id)
    assert target is not None  # the membership row references the user
    await emit(db, session_id, "member.removed", await _member_event(db, member, target, now=now))
    return member.role
