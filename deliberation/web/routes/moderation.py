"""`/sessions/{code}/moderation`, for the session's moderators and admins: the open flags (`Hide post` /
`Dismiss`, live from `flags.changed`) and the members with their roles.

The page is built so that the deciding (issue 18) adds its own sections without editing this module: its
context comes from the functions in `SECTIONS` (each `async (page, db, session) -> dict`, merged into the
template's context) and its markup from the templates listed in `moderation/sections.html`. Its live events
go into the page's live.js config through `LIVE_EVENTS` (functions of the session giving event name -> rule or
rules, see static/live.js).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import get, post
from litestar.params import FromPath
from litestar.response import Template

from deliberation.deps import DB
from deliberation.errors import NotFound
from deliberation.forum.schemas import SessionOut
from deliberation.membership import service as membership
from deliberation.threads import moderation
from deliberation.threads.schemas import FlagResolutionIn
from deliberation.web import forms
from deliberation.web.forms import FormInvalid
from deliberation.web.page import Page, WebPage
from deliberation.web.routes.forum import session_by_code
from deliberation.web.routes.threads import done, in_place, live_states

FLAGS_SHOWN = 200  # open flags on the page, oldest first
MEMBERS_SHOWN = 1000

Section = Callable[[Page, DB, SessionOut], Awaitable[dict[str, Any]]]
SECTIONS: list[Section] = []  # more sections' context (the deciding, issue 18)
LiveRules = Callable[[SessionOut], dict[str, Any]]
LIVE_EVENTS: list[LiveRules] = []  # more sections' live rules (event name -> rule or rules), for a session


async def moderated_session(page: Page, db: DB, code: str) -> SessionOut:
    """The session, if the viewer moderates it (or is an admin); 404 for anyone else."""
    session = await session_by_code(page, db, code)
    if session.my_role != "moderator" and not page.user.is_admin:
        raise NotFound("No such page.")
    return session


async def flags_context(page: Page, db: DB, session: SessionOut) -> dict[str, Any]:
    flags = await moderation.list_flags(db, session.id, page.user, status="open", cursor=None, limit=FLAGS_SHOWN)
    return {
        "as_of_seq": flags.as_of_seq,
        "flags": flags.items,
        "more_flags": flags.next_cursor is not None,
        "when": page.datetime,
        "values": {},
        "errors": {},
        "form_key": None,
    }


async def members_context(page: Page, db: DB, session: SessionOut) -> dict[str, Any]:
    members = await membership.list_members(db, session.id, page.user, limit=MEMBERS_SHOWN, now=page.now)
    return {"as_of_seq": members.as_of_seq, "members": members.items, "more_members": members.next_cursor is not None}


def live_config(page: Page, session: SessionOut, after: int) -> dict[str, Any]:
    base = f"/sessions/{session.code}/moderation"
    members = {"fragment": f"{base}/members"}
    events: dict[str, list[dict[str, Any]]] = {
        "flags.changed": [{"fragment": f"{base}/flags"}],
        "member.joined": [members],
        "member.updated": [members],
        "member.removed": [members],
    }
    for rules in LIVE_EVENTS:  # a section's rules for an event go after those before it
        for name, rule in rules(session).items():
            events.setdefault(name, []).extend(rule if isinstance(rule, list) else [rule])
    return {
        "session": str(session.id),
        "after": after,
        "events": events,
        "status": "live-status",
        "states": live_states(page),
    }


@get("/sessions/{code:str}/moderation", name="moderation")
async def moderation_page(page: WebPage, db: DB, code: FromPath[str]) -> Template:
    """Open flags, members and roles, and the sections others add (`SECTIONS`)."""
    session = await moderated_session(page, db, code)
    return page.render("moderation/moderation.html", **await page_context(page, db, session))


async def page_context(page: Page, db: DB, session: SessionOut) -> dict[str, Any]:
    """Every section's context, and live.js following the events after the earliest snapshot a section was read
    in (its `as_of_seq`): none is missed, and one a later section already shows is applied again, which changes
    nothing (its fragment is the current state)."""
    context: dict[str, Any] = {"session": session}
    seqs = []
    for section in (flags_context, members_context, *SECTIONS):
        part = await section(page, db, session)
        seqs.append(part.pop("as_of_seq"))
        context.update(part)
    context["live"] = live_config(page, session, min(seqs))
    return context


@get("/sessions/{code:str}/moderation/flags", name="moderation-flags")
async def flags_fragment(page: WebPage, db: DB, code: FromPath[str]) -> Template:
    session = await moderated_session(page, db, code)
    return page.render("moderation/flags.html", session=session, **await flags_context(page, db, session))


@get("/sessions/{code:str}/moderation/members", name="moderation-members")
async def members_fragment(page: WebPage, db: DB, code: FromPath[str]) -> Template:
    session = await moderated_session(page, db, code)
    return page.render("moderation/members.html", session=session, **await members_context(page, db, session))


@post("/sessions/{code:str}/flags/{flag_id:uuid}", name="moderation-flag")
async def resolve_flag(page: WebPage, db: DB, code: FromPath[str], flag_id: FromPath[uuid.UUID]) -> Any:
    """`Hide post` (with `Reason`, shown where the post was) or `Dismiss` a flag."""
    session = await moderated_session(page, db, code)
    values = await page.form()
    if values.get("action") not in ("hide_post", "dismiss"):
        raise NotFound("No such action.")
    try:
        data = forms.parse(
            page,
            FlagResolutionIn,
            values,
            fields=("action", "reason"),
            optional=() if values["action"] == "hide_post" else ("reason",),
        )
        await forms.attempt(page, moderation.resolve_flag(db, flag_id, page.user, data, now=page.now), "reason")
    except FormInvalid as invalid:
        state = {"values": values, "errors": invalid.errors, "form_key": f"flag:{flag_id}"}
        if in_place(page):
            context = await flags_context(page, db, session)
            return page.render("moderation/flags.html", status_code=422, session=session, **context | state)
        context = await page_context(page, db, session)
        return page.render("moderation/moderation.html", status_code=422, **context | state)
    return done(page, f"/sessions/{session.code}/moderation")


@post("/sessions/{code:str}/members/{user_id:uuid}", name="moderation-member")
async def change_member(page: WebPage, db: DB, code: FromPath[str], user_id: FromPath[uuid.UUID]) -> Any:
    """`Make moderator`, `Make participant`, `Remove` a member."""
    session = await moderated_session(page, db, code)
    action = (await page.form()).get("action")
    if action in ("moderator", "participant"):
        await membership.set_member_role(db, session.id, page.user, user_id, action, now=page.now)
    elif action == "remove":
        await membership.remove_member(db, session.id, page.user, user_id, now=page.now)
    else:
        raise NotFound("No such action.")
    return done(page, f"/sessions/{session.code}/moderation")


ROUTES = [moderation_page, flags_fragment, members_fragment, resolve_flag, change_member]
