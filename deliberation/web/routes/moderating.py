"""The moderators' deciding, on `/sessions/{code}/moderation`: `Draft a conclusion` from posts chosen from the
threads, `Edit` it as a new version, `Open voting` (`Closes at`, `Results`, `Quorum`), `Close voting`;
`Compose a proposal` from adopted conclusions, `Edit` it (a 412 shows the other moderator's newer text beside
the one typed, nothing is overwritten), `Publish` with its confirmation.

Its context joins the moderation page through `moderation.SECTIONS`, its live rules through
`moderation.LIVE_EVENTS`, its markup through `moderation/sections.html` (`deciding/moderation.html`, one
template per card, each also a fragment here). Every form posts here and comes back to the page (`run_form`).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from litestar import get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from deliberation.conclusions import service as conclusions
from deliberation.conclusions import voting
from deliberation.conclusions.schemas import ConclusionIn, ConclusionOut, ConclusionPatch, VotingIn
from deliberation.deps import DB
from deliberation.errors import NotFound, PreconditionFailed
from deliberation.forum.schemas import SessionOut
from deliberation.proposals import service as proposals
from deliberation.proposals.schemas import ProposalIn, ProposalOut, ProposalPatch
from deliberation.threads import posts
from deliberation.threads import service as threads
from deliberation.web import forms
from deliberation.web.deciding import flatten, status_label
from deliberation.web.forms import FormInvalid
from deliberation.web.page import Page, WebPage
from deliberation.web.routes import moderation
from deliberation.web.routes.deciding import member_count, members_changed, tally_of

T = TypeVar("T")

SHOWN = 100  # threads, conclusions, proposals listed
POSTS_SHOWN = 500  # posts of a thread offered as sources
NO_FORM = {"deciding_values": {}, "deciding_errors": {}, "deciding_form": None, "conflict": None}


class Superseded(FormInvalid):
    """A save refused because another moderator saved a newer version since the form was shown (412)."""

    def __init__(self, newer: ProposalOut) -> None:
        super().__init__({})
        self.newer = newer


async def conclusion_card(page: Page, db: DB, conclusion: ConclusionOut) -> dict[str, Any]:
    tally, chart = await tally_of(page, db, conclusion)
    return {"conclusion": conclusion, "status": status_label(page, conclusion.status), "tally": tally, "chart": chart}


async def adopted_conclusions(page: Page, db: DB, session: SessionOut) -> list[ConclusionOut]:
    rows = (await conclusions.list_conclusions(db, session.id, page.user, cursor=None, limit=SHOWN)).items
    return [item for item in rows if item.status == "adopted"]


async def deciding_context(page: Page, db: DB, session: SessionOut) -> dict[str, Any]:
    """What the deciding sections show: posts to draft from, conclusions, proposals; no form state."""
    thread_page = await threads.list_threads(db, session.id, cursor=None, limit=SHOWN)
    sources = []
    for thread in thread_page.items:
        listed = await posts.list_posts(
            db, thread.id, page.user, sort="oldest", cursor=None, limit=POSTS_SHOWN, max_posts=POSTS_SHOWN
        )
        shown = [item for item in flatten(listed.items) if not item.deleted and item.hidden is None]
        sources.append((thread, shown))
    rows = (await conclusions.list_conclusions(db, session.id, page.user, cursor=None, limit=SHOWN)).items
    drafts = (await proposals.list_proposals(db, session.id, page.user, cursor=None, limit=SHOWN)).items
    return {
        "as_of_seq": thread_page.as_of_seq,  # read first: what the later lists show past it is applied again
        "source_threads": sources,
        "deciding_conclusions": [await conclusion_card(page, db, item) for item in rows],
        "member_total": await member_count(page, db, session),
        "adopted": [item for item in rows if item.status == "adopted"],
        "deciding_proposals": drafts,
        **NO_FORM,
    }


def deciding_live(session: SessionOut) -> dict[str, Any]:
    """The deciding sections' live rules: a conclusion's card on its events (and its tally), the compose form
    when a vote closes (a conclusion may be adopted), a proposal's card on its events."""
    base = f"/sessions/{session.code}/moderation"
    card = {"fragment": f"{base}/conclusions/{{id}}"}
    proposal = {"fragment": f"{base}/proposals/{{id}}"}
    return {
        "conclusion.created": {**card, "insert": {"into": ["mc-list"], "at": "end"}},
        "conclusion.updated": card,
        "voting.opened": card,
        "voting.closed": [card, {"fragment": f"{base}/compose"}],
        "tally.updated": {"fragment": f"/sessions/{session.code}/conclusions/{{conclusion_id}}/tally"},
        **members_changed(session),
        "proposal.created": {**proposal, "insert": {"into": ["mp-list"], "at": "end"}},
        "proposal.updated": proposal,
        "proposal.published": proposal,
    }


async def render_page(page: Page, db: DB, session: SessionOut, *, status_code: int, **state: Any) -> Template:
    """The moderation page again, with one deciding form's values and errors (`deciding_form` names it)."""
    context = await moderation.page_context(page, db, session)
    context.update(state)
    return page.render("moderation/moderation.html", status_code=status_code, **context)


async def run_form(
    page: Page,
    db: DB,
    session: SessionOut,
    form: str,
    values: dict[str, Any],
    field: str,
    action: Callable[[], Awaitable[T]],
    then: Callable[[T], str],
) -> Template | Redirect:
    """One deciding form: `action()` parses it and calls the service. Done: 303 to `then(result)`. Refused: the
    page again with this form's values and its errors next to their fields (a refusal without a field on
    `field`), 422; or, when another moderator saved first, their newer version beside the form (412)."""
    try:
        result = await forms.attempt(page, action(), field)
    except Superseded as conflict:
        newer = conflict.newer
        return await render_page(
            page,
            db,
            session,
            status_code=412,
            **{
                **NO_FORM,
                "deciding_form": form,
                "deciding_values": {**values, "version": str(newer.version)},
                "conflict": newer,
            },
        )
    except FormInvalid as invalid:
        return await render_page(
            page,
            db,
            session,
            status_code=422,
            **{**NO_FORM, "deciding_form": form, "deciding_values": values, "deciding_errors": invalid.errors},
        )
    return page.redirect(then(result))


def back(session: SessionOut, anchor: str) -> str:
    return f"/sessions/{session.code}/moderation#{anchor}"


def ids_of(page: Page, values: list[str], field: str) -> list[uuid.UUID]:
    try:
        return [uuid.UUID(value) for value in values]
    except ValueError:
        raise FormInvalid({field: page.gettext("This value is not valid.")}) from None


def version_of(page: Page, values: dict[str, Any], field: str) -> int:
    """The version the form was drawn from (its hidden `version`)."""
    try:
        return int(values.get("version", ""))
    except ValueError:
        raise FormInvalid({field: page.gettext("This value is not valid.")}) from None


async def checked(page: Page, name: str) -> list[str]:
    """Every value of a repeated field (checkboxes)."""
    return [value for value in (await page.request.form()).getall(name, []) if isinstance(value, str)]


async def session_conclusion(
    page: Page, db: DB, code: str, conclusion_id: uuid.UUID
) -> tuple[SessionOut, ConclusionOut]:
    session = await moderation.moderated_session(page, db, code)
    conclusion = await conclusions.get_conclusion(db, conclusion_id, page.user)
    if conclusion.session_id != session.id:
        raise NotFound("No such conclusion.")
    return session, conclusion


@get("/sessions/{code:str}/moderation/conclusions/{conclusion_id:uuid}", name="moderation-conclusion")
async def conclusion_fragment(
    page: WebPage, db: DB, code: FromPath[str], conclusion_id: FromPath[uuid.UUID]
) -> Template:
    """Fragment: one conclusion's card (live.js swaps it in when it changes)."""
    session, conclusion = await session_conclusion(page, db, code, conclusion_id)
    return page.render(
        "deciding/moderating_conclusion.html",
        session=session,
        card=await conclusion_card(page, db, conclusion),
        member_total=await member_count(page, db, session),
        **NO_FORM,
    )


@get("/sessions/{code:str}/moderation/compose", name="moderation-compose")
async def compose_fragment(page: WebPage, db: DB, code: FromPath[str]) -> Template:
    """Fragment: the form composing a proposal from the adopted conclusions."""
    session = await moderation.moderated_session(page, db, code)
    adopted = await adopted_conclusions(page, db, session)
    return page.render("deciding/moderating_compose.html", session=session, adopted=adopted, **NO_FORM)


@get("/sessions/{code:str}/moderation/proposals/{proposal_id:uuid}", name="moderation-proposal")
async def proposal_fragment(page: WebPage, db: DB, code: FromPath[str], proposal_id: FromPath[uuid.UUID]) -> Template:
    """Fragment: one proposal's card."""
    session = await moderation.moderated_session(page, db, code)
    proposal = await proposals.get_proposal(db, proposal_id, page.user)
    if proposal.session_id != session.id:
        raise NotFound("No such proposal.")
    adopted = await adopted_conclusions(page, db, session)
    return page.render("deciding/moderating_proposal.html", session=session, p=proposal, adopted=adopted, **NO_FORM)


@post("/sessions/{code:str}/moderation/conclusions", name="moderation-draft-conclusion")
async def draft_conclusion(page: WebPage, db: DB, code: FromPath[str]) -> Template | Redirect:
    """`Draft a conclusion`: `Title`, `Text` and the source posts ticked in the threads' lists."""
    session = await moderation.moderated_session(page, db, code)
    values: dict[str, Any] = await page.form()
    values["source_post_ids"] = await checked(page, "source_post_ids")

    async def draft() -> ConclusionOut:
        data = forms.parse(
            page,
            ConclusionIn,
            {**values, "source_post_ids": ids_of(page, values["source_post_ids"], "source_post_ids")},
            fields=("title", "body", "source_post_ids"),
        )
        return await conclusions.create_conclusion(db, session.id, page.user, data, now=page.now)

    return await run_form(
        page, db, session, "draft", values, "body", draft, lambda created: back(session, f"mc-{created.id}")
    )


@post("/sessions/{code:str}/moderation/conclusions/{conclusion_id:uuid}", name="moderation-edit-conclusion")
async def edit_conclusion(
    page: WebPage, db: DB, code: FromPath[str], conclusion_id: FromPath[uuid.UUID]
) -> Template | Redirect:
    """`Edit`: a new version of the conclusion (votes on the earlier one become stale)."""
    session = await moderation.moderated_session(page, db, code)
    values = await page.form()

    async def save() -> ConclusionOut:
        data = forms.parse(page, ConclusionPatch, values, fields=("title", "body"))
        expected = version_of(page, values, "body")
        return await conclusions.update_conclusion(db, conclusion_id, page.user, data, expected=expected, now=page.now)

    form = f"conclusion:{conclusion_id}"
    return await run_form(page, db, session, form, values, "body", save, lambda _: back(session, f"mc-{conclusion_id}"))


def local_time(page: Page, value: str | None) -> datetime | None:
    """A `datetime-local` value, read in the viewer's zone."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=page.time_zone)
    except ValueError:
        raise FormInvalid({"closes_at": page.gettext("This value is not valid.")}) from None


@post("/sessions/{code:str}/moderation/conclusions/{conclusion_id:uuid}/voting", name="moderation-voting")
async def change_voting(
    page: WebPage, db: DB, code: FromPath[str], conclusion_id: FromPath[uuid.UUID]
) -> Template | Redirect:
    """`Open voting` (`Closes at`, `Results`, `Quorum`) or `Close voting`."""
    session = await moderation.moderated_session(page, db, code)
    values = await page.form()

    async def change() -> ConclusionOut:
        if values.get("action") == "close":
            return await voting.close_voting(db, conclusion_id, page.user, now=page.now)
        data = forms.parse(
            page,
            VotingIn,
            {**values, "action": "open", "closes_at": local_time(page, values.get("closes_at"))},
            fields=("action", "closes_at", "results_visibility", "quorum"),
            optional=("closes_at", "quorum"),
        )
        return await voting.open_voting(db, conclusion_id, page.user, data, now=page.now)

    form = f"voting:{conclusion_id}"
    return await run_form(
        page, db, session, form, values, "closes_at", change, lambda _: back(session, f"mc-{conclusion_id}")
    )


PROPOSAL_FIELDS = ("title", "summary", "body", "conclusion_ids")


@post("/sessions/{code:str}/moderation/proposals", name="moderation-compose-proposal")
async def compose_proposal(page: WebPage, db: DB, code: FromPath[str]) -> Template | Redirect:
    """`Compose a proposal` from adopted conclusions: `Title`, `Summary`, `Text`."""
    session = await moderation.moderated_session(page, db, code)
    values: dict[str, Any] = await page.form()
    values["conclusion_ids"] = await checked(page, "conclusion_ids")

    async def compose() -> ProposalOut:
        data = forms.parse(
            page,
            ProposalIn,
            {**values, "conclusion_ids": ids_of(page, values["conclusion_ids"], "conclusion_ids")},
            fields=PROPOSAL_FIELDS,
        )
        return await proposals.create_proposal(db, session.id, page.user, data, now=page.now)

    return await run_form(
        page, db, session, "compose", values, "conclusion_ids", compose, lambda made: back(session, f"mp-{made.id}")
    )


@post("/sessions/{code:str}/moderation/proposals/{proposal_id:uuid}", name="moderation-edit-proposal")
async def edit_proposal(
    page: WebPage, db: DB, code: FromPath[str], proposal_id: FromPath[uuid.UUID]
) -> Template | Redirect:
    """`Edit` a draft proposal. If another moderator saved a newer version since this form was shown (412), the
    page shows their text beside the one typed here, which stays in the form; nothing is overwritten."""
    session = await moderation.moderated_session(page, db, code)
    values: dict[str, Any] = await page.form()
    values["conclusion_ids"] = await checked(page, "conclusion_ids")

    async def save() -> ProposalOut:
        data = forms.parse(
            page,
            ProposalPatch,
            {**values, "conclusion_ids": ids_of(page, values["conclusion_ids"], "conclusion_ids")},
            fields=PROPOSAL_FIELDS,
        )
        expected = version_of(page, values, "body")
        try:
            return await proposals.update_proposal(db, proposal_id, page.user, data, expected=expected, now=page.now)
        except PreconditionFailed:
            raise Superseded(await proposals.get_proposal(db, proposal_id, page.user)) from None

    form = f"proposal:{proposal_id}"
    return await run_form(page, db, session, form, values, "body", save, lambda _: back(session, f"mp-{proposal_id}"))


@post("/sessions/{code:str}/moderation/proposals/{proposal_id:uuid}/publish", name="moderation-publish")
async def publish_proposal(
    page: WebPage, db: DB, code: FromPath[str], proposal_id: FromPath[uuid.UUID]
) -> Template | Redirect:
    """`Publish`, once the moderator confirmed that the proposal then becomes immutable."""
    session = await moderation.moderated_session(page, db, code)
    values = await page.form()

    async def publish() -> ProposalOut:
        if values.get("confirm") != "yes":
            raise FormInvalid({"confirm": page.gettext("Confirm that the published proposal can no longer change.")})
        expected = version_of(page, values, "confirm")
        return await proposals.publish_proposal(db, proposal_id, page.user, expected=expected, now=page.now)

    form = f"publish:{proposal_id}"
    return await run_form(page, db, session, form, values, "confirm", publish, lambda _: f"/proposals/{proposal_id}")


moderation.SECTIONS.append(deciding_context)
moderation.LIVE_EVENTS.append(deciding_live)

ROUTES = [
    conclusion_fragment,
    compose_fragment,
    proposal_fragment,
    draft_conclusion,
    edit_conclusion,
    change_voting,
    compose_proposal,
    edit_proposal,
    publish_proposal,
]
