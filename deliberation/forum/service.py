"""Forum actions: build lines, sublines and sessions; browse them; join and manage members.

Each public function runs one transaction. Those that change a session are where its live events go
(`member.joined`, `member.updated`, `session.updated`): they build the output object inside the transaction.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from msgspec import UNSET
from sqlalchemy import Select, delete, func, null, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from deliberation.accounts.models import User
from deliberation.accounts.service import users_out
from deliberation.audit import service as audit
from deliberation.conclusions.voting import drop_votes_of_removed_member
from deliberation.errors import Conflict, Invalid, NotFound
from deliberation.forum.access import (
    add_member,
    get_session_or_404,
    membership_role,
    require_member,
    require_moderator,
    sees_meeting_url,
)
from deliberation.forum.models import Role, Session, SessionMember, Subline, ThematicLine, Thread
from deliberation.forum.schemas import (
    LineIn,
    LineList,
    LineOut,
    MemberOut,
    NumberedRef,
    SessionIn,
    SessionOut,
    SessionPatch,
    SublineIn,
)
from deliberation.realtime.events import append_event, emit, reserve_seq


def number_order(number: str) -> tuple[tuple[int, int, str], ...]:
    """Sort key of a line or subline number: dot-separated parts, numeric parts as numbers ("2" before "10")."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in number.split("."))


def numbered_ref(row: ThematicLine | Subline) -> NumberedRef:
    return NumberedRef(id=row.id, number=row.number, title=row.title)


async def list_lines(db: AsyncSession) -> LineList:
    """Every thematic line with its sublines, in natural number order (1, 2, 10; 1.2 before 1.10)."""
    async with db.begin():
        lines = sorted((await db.scalars(select(ThematicLine))).all(), key=lambda line: number_order(line.number))
        sublines = sorted((await db.scalars(select(Subline))).all(), key=lambda sub: number_order(sub.number))
    by_line: dict[uuid.UUID, list[NumberedRef]] = {line.id: [] for line in lines}
    for subline in sublines:
        by_line[subline.line_id].append(numbered_ref(subline))
    return LineList(
        items=[
            LineOut(
                id=line.id,
                number=line.number,
                title=line.title,
                description=line.description,
                sublines=by_line[line.id],
            )
            for line in lines
        ]
    )


async def create_line(db: AsyncSession, data: LineIn) -> LineOut:
    """A new thematic line; 409 when its number is taken."""
    line = ThematicLine(number=data.number, title=data.title, description=data.description)
    try:
        async with db.begin():
            db.add(line)
    except IntegrityError:
        raise Conflict(f"Thematic line {data.number} already exists.") from None
    return LineOut(id=line.id, number=line.number, title=line.title, description=line.description, sublines=[])


async def create_subline(db: AsyncSession, line_id: uuid.UUID, data: SublineIn) -> NumberedRef:
    """A new subline of a line; 404 unknown line, 409 when the line already has that number."""
    subline = Subline(line_id=line_id, number=data.number, title=data.title)
    try:
        async with db.begin():
            if await db.get(ThematicLine, line_id) is None:
                raise NotFound("No such thematic line.")
            db.add(subline)
    except IntegrityError:
        raise Conflict(f"Subline {data.number} already exists in this line.") from None
    return numbered_ref(subline)


def session_out(session: Session, subline: Subline, line: ThematicLine, *, now: datetime, show_url: bool) -> SessionOut:
    """The public shape of a session; the meeting URL only when `show_url` (members and admins)."""
    return SessionOut(
        id=session.id,
        code=session.code,
        title=session.title,
        line=numbered_ref(line),
        subline=numbered_ref(subline),
        category=session.category,
        description=session.description,
        starts_at=session.starts_at,
        ends_at=session.ends_at,
        duration_minutes=session.duration_minutes,
        platform=session.platform,
        meeting_url=session.meeting_url if show_url else None,
        status=session.status_at(now),
        discussion_open=session.discussion_open,
        last_seq=session.last_seq,
    )


async def _placement(db: AsyncSession, subline_id: uuid.UUID) -> tuple[Subline, ThematicLine]:
    subline = await db.get(Subline, subline_id)
    if subline is None:
        raise Invalid.field("subline_id", "No such subline.")
    line = await db.get(ThematicLine, subline.line_id)
    assert line is not None  # sublines.line_id is a foreign key
    return subline, line


async def add_session(db: AsyncSession, data: SessionIn) -> Session:
    """Insert a session and one thread per guiding question, in order, inside the caller's transaction."""
    session = Session(
        code=data.code,
        title=data.title,
        subline_id=data.subline_id,
        category=data.category,
        description=data.description,
        starts_at=data.starts_at,
        duration_minutes=data.duration_minutes,
        platform=data.platform,
        meeting_url=data.meeting_url,
        discussion_open=data.discussion_open,
        last_seq=0,
    )
    db.add(session)
    await db.flush()
    db.add_all(
        Thread(session_id=session.id, title=question, body="", position=position)
        for position, question in enumerate(data.guiding_questions)
    )
    await db.flush()
    return session


async def create_session(db: AsyncSession, data: SessionIn, *, now: datetime) -> SessionOut:
    """A new session with its guiding-question threads; 422 unknown subline, 409 code taken."""
    try:
        async with db.begin():
            subline, line = await _placement(db, data.subline_id)
            session = await add_session(db, data)
            # Built before commit: nothing that could fail may run after the row is in.
            return session_out(session, subline, line, now=now, show_url=True)
    except IntegrityError:
        raise Conflict(f"A session with code {data.code} already exists.") from None


async def get_session(db: AsyncSession, session_id: uuid.UUID, viewer: User | None, *, now: datetime) -> SessionOut:
    """One session; the meeting URL is shown to its members and to admins."""
    async with db.begin():
        session = await get_session_or_404(db, session_id)
        subline, line = await _placement(db, session.subline_id)
        role = await membership_role(db, session_id, viewer)
        return session_out(session, subline, line, now=now, show_url=sees_meeting_url(viewer, role))


def _status_filter(query: Select, status: str, now: datetime) -> Select:
    ends_at = Session.starts_at + func.make_interval(0, 0, 0, 0, 0, Session.duration_minutes)
    if status == "upcoming":
        return query.where(Session.starts_at > now)
    if status == "live":
        return query.where(Session.starts_at <= now, ends_at > now)
    return query.where(ends_at <= now)


async def list_sessions(
    db: AsyncSession,
    viewer: User | None,
    *,
    now: datetime,
    line_id: uuid.UUID | None = None,
    subline_id: uuid.UUID | None = None,
    status: str | None = None,
    category: str | None = None,
    after: tuple[datetime, uuid.UUID] | None = None,
    limit: int,
) -> list[SessionOut]:
    """Sessions by start time then id, after the `(starts_at, id)` of a previous page; `limit + 1` tell more follow."""
    query = (
        select(Session, Subline, ThematicLine, SessionMember.role if viewer is not None else null())
        .join(Subline, Subline.id == Session.subline_id)
        .join(ThematicLine, ThematicLine.id == Subline.line_id)
        .order_by(Session.starts_at, Session.id)
        .limit(limit + 1)
    )
    if viewer is not None:
        query = query.outerjoin(
            SessionMember, (SessionMember.session_id == Session.id) & (SessionMember.user_id == viewer.id)
        )
    if line_id is not None:
        query = query.where(Subline.line_id == line_id)
    if subline_id is not None:
        query = query.where(Session.subline_id == subline_id)
    if category is not None:
        query = query.where(Session.category == category)
    if status is not None:
        query = _status_filter(query, status, now)
    if after is not None:
        query = query.where(tuple_(Session.starts_at, Session.id) > tuple_(*after))
    async with db.begin():
        rows = (await db.execute(query)).all()
        return [
            session_out(session, subline, line, now=now, show_url=sees_meeting_url(viewer, role))
            for session, subline, line, role in rows
        ]


async def update_session(
    db: AsyncSession, session_id: uuid.UUID, user: User, patch: SessionPatch, *, now: datetime
) -> SessionOut:
    """Change a session's details (admins and its moderators); opening or closing discussion is audited.

    A patch that changes nothing (`{}`, or the values the session already has) emits no event.
    """
    async with db.begin():
        session = await require_moderator(db, session_id, user)
        was_open = session.discussion_open
        changes = {
            field: value
            for field in patch.__struct_fields__
            if (value := getattr(patch, field)) is not UNSET and value != getattr(session, field)
        }
        if not changes:
            subline, line = await _placement(db, session.subline_id)
            return session_out(session, subline, line, now=now, show_url=True)
        for field, value in changes.items():
            setattr(session, field, value)
        if session.discussion_open != was_open:
            await audit.record(
                db,
                action="session.discussion_opened" if session.discussion_open else "session.discussion_closed",
                target_type="session",
                target_id=session.id,
                actor_id=user.id,
                session_id=session.id,
            )
        seq = await reserve_seq(db, session.id)
        subline, line = await _placement(db, session.subline_id)
        out = session_out(session, subline, line, now=now, show_url=True)
        out.last_seq = seq  # the event names its own seq; only members (who see the URL) receive it
        await append_event(db, session.id, seq, "session.updated", out)
        return out


async def join_session(db: AsyncSession, session_id: uuid.UUID, user: User) -> None:
    """Make the user a participant; joining again keeps the role they have (and announces nothing)."""
    async with db.begin():
        await get_session_or_404(db, session_id)
        member = await add_member(db, session_id, user.id, Role.participant)
        if member is not None:
            await emit(db, session_id, "member.joined", await _member_event(db, member, user))


async def _member_event(db: AsyncSession, member: SessionMember, user: User) -> MemberOut:
    """A member as everyone in the session may see them (no email), for live events."""
    (out,) = await _members_out(db, [member], [user], None)
    return out


async def _members_out(
    db: AsyncSession, members: list[SessionMember], users: list[User], viewer: User | None
) -> list[MemberOut]:
    """Members with their users as `viewer` may see them (emails for admins and the user only; none for None)."""
    shown = await users_out(db, users, viewer)
    return [
        MemberOut(user=user, role=member.role, joined_at=member.joined_at)
        for member, user in zip(members, shown, strict=True)
    ]


async def list_members(
    db: AsyncSession,
    session_id: uuid.UUID,
    user: User,
    *,
    after: tuple[datetime, uuid.UUID] | None = None,
    limit: int,
) -> list[MemberOut]:
    """Members in the order they joined (members and admins only); `limit + 1` rows tell more follow."""
    query = (
        select(SessionMember, User)
        .join(User, User.id == SessionMember.user_id)
        .where(SessionMember.session_id == session_id)
        .order_by(SessionMember.joined_at, SessionMember.user_id)
        .limit(limit + 1)
    )
    if after is not None:
        query = query.where(tuple_(SessionMember.joined_at, SessionMember.user_id) > tuple_(*after))
    async with db.begin():
        await require_member(db, session_id, user)
        rows = (await db.execute(query)).all()
        return await _members_out(db, [row[0] for row in rows], [row[1] for row in rows], user)


async def set_member_role(
    db: AsyncSession, session_id: uuid.UUID, actor: User, user_id: uuid.UUID, role: str
) -> MemberOut:
    """Give a user a role in the session, adding them if needed (admins and moderators); changes are audited."""
    async with db.begin():
        await require_moderator(db, session_id, actor)
        target = await db.get(User, user_id)
        if target is None:
            raise NotFound("No such user.")
        member, previous = await _lock_or_add_member(db, session_id, user_id, role)
        if previous != role:
            member.role = role
            await audit.record(
                db,
                action="member.role_changed",
                target_type="user",
                target_id=user_id,
                actor_id=actor.id,
                session_id=session_id,
                data={"user_id": user_id, "from": previous, "to": role},
            )
            await db.flush()
            event = "member.joined" if previous is None else "member.updated"
            await emit(db, session_id, event, await _member_event(db, member, target))
        (out,) = await _members_out(db, [member], [target], actor)
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


async def remove_member(db: AsyncSession, session_id: uuid.UUID, actor: User, user_id: uuid.UUID) -> None:
    """Take a user out of the session (admins and moderators); audited; 404 when they are not a member."""
    async with db.begin():
        await require_moderator(db, session_id, actor)
        await drop_votes_of_removed_member(db, session_id, user_id)
        member = await db.scalar(
            delete(SessionMember)
            .where(SessionMember.session_id == session_id, SessionMember.user_id == user_id)
            .returning(SessionMember)
        )
        if member is None:
            raise NotFound("That user is not a member of this session.")
        role = member.role
        target = await db.get(User, user_id)
        assert target is not None  # the membership row references the user
        await emit(db, session_id, "member.removed", await _member_event(db, member, target))
        await audit.record(
            db,
            action="member.removed",
            target_type="user",
            target_id=user_id,
            actor_id=actor.id,
            session_id=session_id,
            data={"user_id": user_id, "role": role},
        )
