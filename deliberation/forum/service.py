"""Forum actions: build lines, sublines and sessions; browse them. Membership actions are in `membership`.

Each public function runs one transaction. Changing a session emits `session.updated`, built inside the
transaction.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec
from msgspec import UNSET
from sqlalchemy import Select, func, null, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from deliberation.accounts.models import User
from deliberation.audit import service as audit
from deliberation.errors import Conflict, Invalid, NotFound
from deliberation.forum.access import (
    get_session_or_404,
    membership_role,
    require_moderator,
    sees_meeting_url,
)
from deliberation.forum.models import Role, Session, SessionMember, Subline, ThematicLine, Thread
from deliberation.forum.schemas import (
    GuidingQuestion,
    LineIn,
    LineList,
    LineOut,
    NumberedRef,
    SessionIn,
    SessionOut,
    SessionPage,
    SessionPatch,
    SublineIn,
)
from deliberation.i18n import N_
from deliberation.pagination import keyset_page
from deliberation.realtime.events import append_event, reserve_seq


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
        raise Conflict(N_("Thematic line %(number)s already exists."), values={"number": data.number}) from None
    return LineOut(id=line.id, number=line.number, title=line.title, description=line.description, sublines=[])


async def create_subline(db: AsyncSession, line_id: uuid.UUID, data: SublineIn) -> NumberedRef:
    """A new subline of a line; 404 unknown line, 409 when the line already has that number."""
    subline = Subline(line_id=line_id, number=data.number, title=data.title)
    try:
        async with db.begin():
            if await db.get(ThematicLine, line_id) is None:
                raise NotFound(N_("No such thematic line."))
            db.add(subline)
    except IntegrityError:
        raise Conflict(N_("Subline %(number)s already exists in this line."), values={"number": data.number}) from None
    return numbered_ref(subline)


def session_out(
    session: Session,
    subline: Subline,
    line: ThematicLine,
    *,
    now: datetime,
    show_url: bool,
    my_role: str | None = None,
) -> SessionOut:
    """The shape of a session: the meeting URL only when `show_url` (members and admins), the viewer's role."""
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
        time_zone=session.time_zone,
        meeting_url=session.meeting_url if show_url else None,
        status=session.status_at(now),
        discussion_open=session.discussion_open,
        last_seq=session.last_seq,
        guiding_questions=msgspec.convert(session.guiding_questions, list[GuidingQuestion]),
        my_role=my_role,
    )


def _viewer_session_out(
    session: Session, subline: Subline, line: ThematicLine, viewer: User | None, role: str | None, *, now: datetime
) -> SessionOut:
    """A session as `viewer` sees it, with `role` their membership there (None: not a member)."""
    return session_out(session, subline, line, now=now, show_url=sees_meeting_url(viewer, role), my_role=role)


async def _placement(db: AsyncSession, subline_id: uuid.UUID) -> tuple[Subline, ThematicLine]:
    subline = await db.get(Subline, subline_id)
    if subline is None:
        raise Invalid.field("subline_id", N_("No such subline."))
    line = await db.get(ThematicLine, subline.line_id)
    assert line is not None  # sublines.line_id is a foreign key
    return subline, line


async def add_session(db: AsyncSession, data: SessionIn) -> Session:
    """Insert a session and one thread per guiding question, in order, inside the caller's transaction."""
    session = Session(
        id=uuid.uuid4(),
        code=data.code,
        title=data.title,
        subline_id=data.subline_id,
        category=data.category,
        description=data.description,
        starts_at=data.starts_at,
        duration_minutes=data.duration_minutes,
        platform=data.platform,
        time_zone=data.time_zone,
        meeting_url=data.meeting_url,
        discussion_open=data.discussion_open,
        last_seq=0,
    )
    threads = [
        Thread(id=uuid.uuid4(), session_id=session.id, title=question, body="", position=position)
        for position, question in enumerate(data.guiding_questions)
    ]
    session.guiding_questions = [
        {"position": position + 1, "question": thread.title, "thread_id": str(thread.id)}
        for position, thread in enumerate(threads)
    ]
    db.add(session)
    await db.flush()
    db.add_all(threads)
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
        raise Conflict(N_("A session with code %(code)s already exists."), values={"code": data.code}) from None


async def get_session(db: AsyncSession, session_id: uuid.UUID, viewer: User | None, *, now: datetime) -> SessionOut:
    """One session; the meeting URL is shown to its members and to admins."""
    async with db.begin():
        return await viewer_session(db, await get_session_or_404(db, session_id), viewer, now=now)


async def viewer_session(db: AsyncSession, session: Session, viewer: User | None, *, now: datetime) -> SessionOut:
    """The session as `viewer` sees it (their role, the meeting URL if a member or admin), in the caller's
    transaction."""
    subline, line = await _placement(db, session.subline_id)
    role = await membership_role(db, session.id, viewer)
    return _viewer_session_out(session, subline, line, viewer, role, now=now)


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
    code: str | None = None,
    members_only: bool = False,
    cursor: str | None = None,
    limit: int,
) -> SessionPage:
    """Sessions by start time then id.

    `members_only`: only the sessions `viewer` is a member of (`GET /api/me/sessions`).
    """
    query = (
        select(Session, Subline, ThematicLine, SessionMember.role if viewer is not None else null())
        .join(Subline, Subline.id == Session.subline_id)
        .join(ThematicLine, ThematicLine.id == Subline.line_id)
    )
    if viewer is not None:
        query = query.join(
            SessionMember,
            (SessionMember.session_id == Session.id) & (SessionMember.user_id == viewer.id),
            isouter=not members_only,
        )
    if code is not None:
        query = query.where(Session.code == code)
    if line_id is not None:
        query = query.where(Subline.line_id == line_id)
    if subline_id is not None:
        query = query.where(Session.subline_id == subline_id)
    if category is not None:
        query = query.where(Session.category == category)
    if status is not None:
        query = _status_filter(query, status, now)
    async with db.begin():
        rows, next_cursor = await keyset_page(db, query, (Session.starts_at, Session.id), cursor=cursor, limit=limit)
    items = [
        _viewer_session_out(session, subline, line, viewer, role, now=now) for session, subline, line, role in rows
    ]
    return SessionPage(items=items, next_cursor=next_cursor)


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
        role = await membership_role(db, session_id, user)
        if not changes:
            subline, line = await _placement(db, session.subline_id)
            return session_out(session, subline, line, now=now, show_url=True, my_role=role)
        for field, value in changes.items():
            setattr(session, field, value)
        if session.discussion_open != was_open:
            await audit.record(
                db,
                now=now,
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
        return msgspec.structs.replace(out, my_role=role)


async def add_member(db: AsyncSession, session_id: uuid.UUID, user_id: uuid.UUID, role: Role) -> SessionMember | None:
    """Insert a membership row with `role`; None when the user is already a member (their role is kept)."""
    return await db.scalar(
        insert(SessionMember)
        .values(session_id=session_id, user_id=user_id, role=role.value)
        .on_conflict_do_nothing()
        .returning(SessionMember)
    )
