"""`/admin`, for organizers: thematic lines and sublines, sessions (create, edit), moderators per session,
representative claims to verify. Anyone else gets the 404 page; anonymous people are sent to `Log in`."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

import msgspec
from litestar import get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from deliberation.accounts import representatives
from deliberation.accounts import service as accounts
from deliberation.accounts.schemas import VerifyIn
from deliberation.deps import DB
from deliberation.errors import Conflict, Invalid, NotFound
from deliberation.forum import service as forum
from deliberation.forum.schemas import LineIn, SessionIn, SessionPatch, SublineIn, time_zone_names
from deliberation.membership import service as membership
from deliberation.web.forms import FormInvalid, parse, refusal
from deliberation.web.page import Page, WebPage, zone
from deliberation.web.routes.forum import category_label, session_by_code, status_label

T = TypeVar("T")
SESSIONS_SHOWN = 200
CLAIMS_SHOWN = 100
MEMBERS_SHOWN = 500
SESSION_FIELDS = (
    "title",
    "category",
    "starts_at",
    "duration_minutes",
    "platform",
    "meeting_url",
    "description",
    "time_zone",
)


def categories(page: Page) -> list[tuple[str, str]]:
    return [(value, category_label(page, value)) for value in ("round_table", "workshop", "plenary", "other")]


async def admin_page(
    page: Page, db: DB, *, errors: dict[str, str] | None = None, values: dict[str, str] | None = None, status: int = 200
) -> Template:
    admin = page.require_admin()
    lines = (await forum.list_lines(db)).items
    sessions = await forum.list_sessions(db, admin, now=page.now, limit=SESSIONS_SHOWN)
    claims = await representatives.list_claims(
        db, admin, status="pending", cursor=None, limit=CLAIMS_SHOWN, now=page.now
    )
    sublines = [(str(sub.id), f"{sub.number}. {sub.title}") for line in lines for sub in line.sublines]
    return page.render(
        "admin/index.html",
        status_code=status,
        lines=lines,
        sessions=sessions.items,
        claims=claims.items,
        line_options=[(str(line.id), f"{line.number}. {line.title}") for line in lines],
        subline_options=sublines,
        categories=categories(page),
        status_label=lambda value: status_label(page, value),
        errors=errors or {},
        values={"category": "round_table", "duration_minutes": "90", "time_zone": "UTC", **(values or {})},
    )


@get("/admin", name="admin")
async def admin(page: WebPage, db: DB) -> Template:
    return await admin_page(page, db)


def checked(page: Page, values: dict[str, str]) -> dict[str, object]:
    """The session form's values as the service takes them: the start as given with an offset, else a wall time
    in the session's time zone."""
    data = {name: values.get(name, "") for name in SESSION_FIELDS}
    name = data["time_zone"].strip() or "UTC"
    if name not in time_zone_names():
        raise FormInvalid({"time_zone": page.gettext("Give a time zone such as Europe/Madrid or UTC.")})
    data["time_zone"] = name
    if data["starts_at"]:
        try:
            starts_at = datetime.fromisoformat(data["starts_at"])
            data["starts_at"] = (starts_at if starts_at.tzinfo else starts_at.replace(tzinfo=zone(name))).isoformat()
        except ValueError:
            raise FormInvalid({"starts_at": page.gettext("This value is not valid.")}) from None
    return data


async def add_numbered(
    page: Page, db: DB, prefix: str, type_: type[T], create: Callable[[T], Awaitable[object]]
) -> Template | Redirect:
    """`Add line` and `Add subline`: the form's `{prefix}_...` fields as a `type_`, given to `create`. Refused, the
    page again with what was typed and the error by its field (a number already taken: 409)."""
    page.require_admin()
    values = await page.form()
    fields = {field.name: values.get(f"{prefix}_{field.name}", "") for field in msgspec.structs.fields(type_)}
    try:
        await create(parse(page, type_, fields, fields=fields, texts=("description",)))
    except FormInvalid as invalid:
        errors = {(f"{prefix}_{key}" if key in fields else key): message for key, message in invalid.errors.items()}
        return await admin_page(page, db, errors=errors, values=values, status=invalid.status_code)
    except Conflict:
        errors = {f"{prefix}_number": page.gettext("This number is taken.")}
        return await admin_page(page, db, errors=errors, values=values, status=409)
    return page.redirect("/admin#lines")


@post("/admin/lines", name="admin-lines")
async def add_line(page: WebPage, db: DB) -> Template | Redirect:
    return await add_numbered(page, db, "line", LineIn, lambda data: forum.create_line(db, data))


@post("/admin/sublines", name="admin-sublines")
async def add_subline(page: WebPage, db: DB) -> Template | Redirect:
    """`Add subline` to the `Thematic line` chosen (one that does not exist is refused by that field)."""

    async def create(data: SublineIn) -> None:
        try:
            line_id = uuid.UUID((await page.form()).get("line", ""))
        except ValueError:
            raise FormInvalid({"line": page.gettext("This field is required.")}) from None
        try:
            await forum.create_subline(db, line_id, data)
        except NotFound as exc:
            raise refusal(page, exc, "line") from None

    return await add_numbered(page, db, "subline", SublineIn, create)


@post("/admin/sessions", name="admin-sessions")
async def create_session(page: WebPage, db: DB) -> Template | Redirect:
    """`Create session`: with one thread per guiding question (one a line)."""
    page.require_admin()
    values = await page.form()
    try:
        data = checked(page, values)
        questions = [line.strip() for line in values.get("guiding_questions", "").splitlines() if line.strip()]
        data |= {
            "code": values.get("code", ""),
            "subline_id": values.get("subline_id", ""),
            "guiding_questions": questions,
        }
        session_in = parse(
            page,
            SessionIn,
            data,
            fields=(*SESSION_FIELDS, "code", "subline_id", "guiding_questions"),
            optional=("meeting_url",),
            texts=("description",),
        )
        created = await forum.create_session(db, session_in, now=page.now)
    except FormInvalid as invalid:
        return await admin_page(page, db, errors=invalid.errors, values=values, status=422)
    except Conflict:
        return await admin_page(
            page, db, errors={"code": page.gettext("This code is taken.")}, values=values, status=409
        )
    except Invalid as exc:
        return await admin_page(page, db, errors=refusal(page, exc, "subline_id").errors, values=values, status=422)
    return page.redirect(f"/admin/sessions/{created.code}")


# One session: its details and its moderators


async def session_page(
    page: Page,
    db: DB,
    code: str,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
    notice: str | None = None,
) -> Template:
    admin = page.require_admin()
    session = await session_by_code(page, db, code)
    members = await membership.list_members(db, session.id, admin, limit=MEMBERS_SHOWN, now=page.now)
    local = session.starts_at.astimezone(zone(session.time_zone)).replace(tzinfo=None)
    current = {
        "title": session.title,
        "category": session.category,
        "starts_at": local.isoformat(timespec="minutes"),
        "duration_minutes": str(session.duration_minutes),
        "platform": session.platform,
        "meeting_url": session.meeting_url or "",
        "description": session.description,
        "time_zone": session.time_zone,
        "discussion_open": "on" if session.discussion_open else "",
    }
    return page.render(
        "admin/session.html",
        status_code=status,
        notice=notice,
        session=session,
        moderators=[member for member in members.items if member.role == "moderator"],
        categories=categories(page),
        errors=errors or {},
        values={**current, **(values or {})},
    )


@get("/admin/sessions/{code:str}", name="admin-session")
async def edit_session_form(
    page: WebPage, db: DB, code: FromPath[str], saved: FromQuery[str | None] = None
) -> Template:
    return await session_page(page, db, code, notice=page.gettext("The session is saved.") if saved else None)


@post("/admin/sessions/{code:str}", name="admin-session-post")
async def edit_session(page: WebPage, db: DB, code: FromPath[str]) -> Template | Redirect:
    """`Save session`: the details given (a change of the discussion's state is audited by the service)."""
    admin = page.require_admin()
    session = await session_by_code(page, db, code)
    values = await page.form()
    try:
        patch = parse(
            page,
            SessionPatch,
            checked(page, values),
            fields=SESSION_FIELDS,
            optional=("meeting_url",),
            texts=("description",),
        )
        patch.discussion_open = values.get("discussion_open") == "on"
        await forum.update_session(db, session.id, admin, patch, now=page.now)
    except FormInvalid as invalid:
        return await session_page(page, db, code, errors=invalid.errors, values=values, status=422)
    return page.redirect(f"/admin/sessions/{session.code}?saved=1")


@post("/admin/sessions/{code:str}/moderators", name="admin-moderators")
async def set_moderator(page: WebPage, db: DB, code: FromPath[str]) -> Template | Redirect:
    """`Add moderator` (by email) or `Remove moderator` (the person stays a participant)."""
    admin = page.require_admin()
    session = await session_by_code(page, db, code)
    values = await page.form()
    if user_id := values.get("user_id"):
        try:
            await membership.set_member_role(db, session.id, admin, uuid.UUID(user_id), "participant", now=page.now)
        except (ValueError, NotFound):
            raise NotFound("No such member.") from None
        return page.redirect(f"/admin/sessions/{session.code}#moderators")
    user = await accounts.find_user(db, values.get("email", ""))
    if user is None:
        errors = {"email": page.gettext("No account uses this address.")}
        return await session_page(page, db, code, errors=errors, values=values, status=422)
    await membership.set_member_role(db, session.id, admin, user.id, "moderator", now=page.now)
    return page.redirect(f"/admin/sessions/{session.code}#moderators")


@post("/admin/claims/{user_id:uuid}", name="admin-claim")
async def review_claim(page: WebPage, db: DB, user_id: FromPath[uuid.UUID]) -> Template | Redirect:
    """`Verify` or `Refuse` a representative claim (audited by the service)."""
    admin = page.require_admin()
    values = await page.form()
    verify = VerifyIn(verified=values.get("decision") == "verify")
    try:
        await representatives.set_verified(db, admin, user_id, verify, now=page.now)
    except (Conflict, Invalid) as exc:
        return await admin_page(page, db, errors={"claims": page.gettext(exc.detail)}, status=exc.status_code)
    return page.redirect("/admin#claims")


ROUTES = [admin, add_line, add_subline, create_session, edit_session_form, edit_session, set_moderator, review_claim]
