"""The forum (`/`) and the event page of a session (`/sessions/{code}`, its `.ics`, join and leave)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime

from litestar import get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Response, Template

from deliberation.conclusions import service as conclusion_service
from deliberation.deps import DB
from deliberation.errors import NotFound
from deliberation.forum import service as forum
from deliberation.forum.schemas import SessionOut
from deliberation.membership import service as membership
from deliberation.proposals import endorsements
from deliberation.proposals import service as proposal_service
from deliberation.web.page import Page, WebPage, zone

STATUSES = ("upcoming", "live", "passed")
SHOWN = 100  # conclusions and proposals on an event page (a round table has a handful)
FORUM_LIMIT = 200  # sessions on one forum page; beyond, the page says so and offers the filters


def status_label(page, status: str) -> str:
    return {
        "upcoming": page.gettext("Upcoming"),
        "live": page.gettext("Live now"),
        "passed": page.gettext("This event has passed"),
    }[status]


def category_label(page, category: str) -> str:
    return {
        "round_table": page.gettext("Round tables"),
        "workshop": page.gettext("Workshops"),
        "plenary": page.gettext("Plenaries"),
        "other": page.gettext("Other"),
    }[category]


async def session_by_code(page: Page, db: DB, code: str) -> SessionOut:
    """The session with this code as the viewer may see it (meeting link for members, `my_role`), or 404."""
    found = (await forum.list_sessions(db, page.viewer, now=page.now, code=code, limit=1)).items
    if not found:
        raise NotFound("No such session.")
    return found[0]


@get("/", name="forum")
async def forum_page(
    page: WebPage,
    db: DB,
    line: FromQuery[str | None] = None,
    status: FromQuery[str | None] = None,
) -> Template:
    """Thematic lines > sublines > sessions, filtered by line and status (an unknown filter shows everything)."""
    lines = (await forum.list_lines(db)).items
    line_id = next((item.id for item in lines if item.number == line), None)
    status = status if status in STATUSES else None
    sessions = await forum.list_sessions(
        db, page.viewer, now=page.now, line_id=line_id, status=status, limit=FORUM_LIMIT
    )
    more = sessions.next_cursor is not None
    by_subline: dict[uuid.UUID, list[SessionOut]] = {}
    for session in sessions.items:
        by_subline.setdefault(session.subline.id, []).append(session)
    shown = [item for item in lines if line_id is None or item.id == line_id]
    return page.render(
        "forum/index.html",
        lines=shown,
        all_lines=lines,
        by_subline=by_subline,
        line=line if line_id is not None else None,
        status=status,
        statuses=STATUSES,
        status_label=lambda value: status_label(page, value),
        more=more,
        empty=not any(by_subline.values()),
    )


@get("/sessions/{code:str}", name="event")
async def event_page(page: WebPage, db: DB, code: FromPath[str]) -> Template:
    """The seed's event page: status, title and code, placement, category, duration, platform, description,
    guiding questions linking to their threads; sign-up or join controls by who is looking."""
    session = await session_by_code(page, db, code)
    session_zone = zone(session.time_zone)
    conclusions = []
    if page.viewer is not None:  # conclusions are for signed-in people; published proposals are public
        conclusions = (
            await conclusion_service.list_conclusions(db, session.id, page.viewer, cursor=None, limit=SHOWN)
        ).items
    proposals = (await proposal_service.list_proposals(db, session.id, page.viewer, cursor=None, limit=SHOWN)).items
    published = [proposal for proposal in proposals if proposal.status == "published"]
    return page.render(
        "forum/event.html",
        session=session,
        conclusions=conclusions,
        conclusion_status={
            "draft": page.gettext("Draft"),
            "voting": page.gettext("Voting"),
            "adopted": page.gettext("Adopted"),
            "rejected": page.gettext("Rejected"),
        },
        proposals=published,
        endorsements={
            proposal.id: (
                await endorsements.list_endorsements(
                    db, proposal.id, page.viewer, cursor=None, limit=SHOWN, now=page.now
                )
            ).items
            for proposal in published
        },
        status_label=status_label(page, session.status),
        category=category_label(page, session.category),
        duration=page.duration(session.duration_minutes),
        starts=page.datetime(session.starts_at, session_zone),
        ends=page.time(session.ends_at, session_zone),
        starts_local=page.datetime(session.starts_at),
        session_zone=session.time_zone,
        viewer_zone=str(page.time_zone),
    )


ICS_LINE_BREAK = re.compile(r"\r\n|\r|\n")
ICS_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # RFC 5545 TEXT has no control characters but HTAB


def ics_text(value: str) -> str:
    """An iCalendar TEXT value (RFC 5545 3.3.11): every line break (CRLF, a lone CR or LF) is `\\n`, so no text
    (a moderator may set a session's title and description through the API) starts a calendar line of its own."""
    escaped = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return ICS_CONTROL.sub("", ICS_LINE_BREAK.sub(r"\\n", escaped))


def ics_fold(line: str) -> str:
    """Lines longer than 75 octets are folded (RFC 5545 3.1), never inside a UTF-8 character."""
    out, current = [], ""
    for char in line:
        if len((current + char).encode()) > (75 if not out else 74):
            out.append(current)
            current = ""
        current += char
    out.append(current)
    return "\r\n ".join(out)


def ics_time(value: datetime) -> str:
    return value.astimezone(zone("UTC")).strftime("%Y%m%dT%H%M%SZ")


@get("/sessions/{code:str}/calendar.ics", name="event-ics")
async def event_calendar(page: WebPage, db: DB, code: FromPath[str]) -> Response[bytes]:
    """`Add to calendar`: the session as an iCalendar event (times in UTC, the event page as its URL)."""
    session = await session_by_code(page, db, code)
    url = f"{page.settings.public_url.rstrip('/')}/sessions/{session.code}"
    summary = page.gettext("%(title)s (Session %(code)s)", title=session.title, code=session.code)
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//deliberation//web//EN",
        "CALSCALE:GREGORIAN",
        "BEGIN:VEVENT",
        f"UID:session-{session.id}@deliberation",
        f"DTSTAMP:{ics_time(page.now)}",
        f"DTSTART:{ics_time(session.starts_at)}",
        f"DTEND:{ics_time(session.ends_at)}",
        f"SUMMARY:{ics_text(summary)}",
        f"DESCRIPTION:{ics_text(session.description)}",
        f"LOCATION:{ics_text(session.platform)}",
        f"URL:{url}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return Response(
        ("\r\n".join(ics_fold(line) for line in lines) + "\r\n").encode(),
        media_type="text/calendar; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="session-{session.code}.ics"'},
        cookies=page.cookies,
    )


@post("/sessions/{code:str}/join", name="event-join")
async def join(page: WebPage, db: DB, code: FromPath[str]) -> Redirect:
    """`Join the discussion`: the signed-in person becomes a participant."""
    session = await session_by_code(page, db, code)
    await membership.join_session(db, session.id, page.user, now=page.now)
    return page.redirect(f"/sessions/{session.code}")


@post("/sessions/{code:str}/leave", name="event-leave")
async def leave(page: WebPage, db: DB, code: FromPath[str]) -> Redirect:
    """`Leave`: the member leaves the session."""
    session = await session_by_code(page, db, code)
    await membership.leave_session(db, session.id, page.user, now=page.now)
    return page.redirect(f"/sessions/{session.code}")


ROUTES = [forum_page, event_page, event_calendar, join, leave]
