"""The moderators' deciding, on `/sessions/{code}/moderation`: `Draft a conclusion` from posts chosen from the
threads, `Edit` it as a new version, `Open voting` (`Closes at`, `Results`, `Quorum`), `Close voting`;
`Compose a proposal` from adopted conclusions, `Edit` it (a 412 shows the other moderator's newer text beside
the one typed, nothing is overwritten), `Publish` with its confirmation.

Its context joins the moderation page through `moderation.SECTIONS`, its markup through
`moderation/sections.html` (`moderation/deciding.html`). Every form posts here and comes back to the page.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from litestar import post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from deliberation.conclusions import service as conclusions
from deliberation.conclusions import voting
from deliberation.conclusions.schemas import ConclusionIn, ConclusionPatch, VotingIn
from deliberation.deps import DB
from deliberation.errors import DomainError, PreconditionFailed
from deliberation.forum.schemas import SessionOut
from deliberation.proposals import service as proposals
from deliberation.proposals.schemas import ProposalIn, ProposalPatch
from deliberation.threads import posts
from deliberation.threads import service as threads
from deliberation.web import forms
from deliberation.web.deciding import flatten, status_label
from deliberation.web.forms import FormInvalid
from deliberation.web.page import Page, WebPage
from deliberation.web.routes import moderation

SHOWN = 100  # threads, conclusions, proposals listed
POSTS_SHOWN = 500  # posts of a thread offered as sources


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
        "source_threads": sources,
        "deciding_conclusions": [(item, status_label(page, item.status)) for item in rows[:SHOWN]],
        "adopted": [item for item in rows if item.status == "adopted"],
        "deciding_proposals": drafts,
        "deciding_values": {},
        "deciding_errors": {},
        "deciding_form": None,
        "conflict": None,
    }


async def render_page(page: Page, db: DB, session: SessionOut, *, status_code: int, **state: Any) -> Template:
    """The moderation page again, with one deciding form's values and errors (`deciding_form` names it)."""
    context: dict[str, Any] = {"session": session, "live": moderation.live_config(page, session)}
    for section in (moderation.flags_context, moderation.members_context, *moderation.SECTIONS):
        context.update(await section(page, db, session))
    context.update(state)
    return page.render("moderation/moderation.html", status_code=status_code, **context)


async def refused(page: Page, db: DB, session: SessionOut, form: str, values: dict, invalid: FormInvalid) -> Template:
    return await render_page(
        page,
        db,
        session,
        status_code=422,
        deciding_form=form,
        deciding_values=values,
        deciding_errors=invalid.errors,
    )


def back(session: SessionOut, anchor: str) -> str:
    return f"/sessions/{session.code}/moderation#{anchor}"


def ids_of(page: Page, values: list[str], field: str) -> list[uuid.UUID]:
    try:
        return [uuid.UUID(value) for value in values]
    except ValueError:
        raise FormInvalid({field: page.gettext("This value is not valid.")}) from None


async def checked(page: Page, name: str) -> list[str]:
    """Every value of a repeated field (checkboxes)."""
    return [value for value in (await page.request.form()).getall(name, []) if isinstance(value, str)]


@post("/sessions/{code:str}/moderation/conclusions", name="moderation-draft-conclusion")
async def draft_conclusion(page: WebPage, db: DB, code: FromPath[str]) -> Template | Redirect:
    """`Draft a conclusion`: `Title`, `Text` and the source posts ticked in the threads' lists."""
    session = await moderation.moderated_session(page, db, code)
    values: dict[str, Any] = await page.form()
    values["source_post_ids"] = await checked(page, "source_post_ids")
    try:
        data = forms.parse(
            page,
            ConclusionIn,
            {**values, "source_post_ids": ids_of(page, values["source_post_ids"], "source_post_ids")},
            fields=("title", "body", "source_post_ids"),
        )
        try:
            created = await conclusions.create_conclusion(db, session.id, page.user, data, now=page.now)
        except DomainError as exc:
            if exc.status_code in (403, 404):
                raise
            raise forms.refusal(page, exc, "body") from None
    except FormInvalid as invalid:
        return await refused(page, db, session, "draft", values, invalid)
    return page.redirect(back(session, f"mc-{created.id}"))


@post("/sessions/{code:str}/moderation/conclusions/{conclusion_id:uuid}", name="moderation-edit-conclusion")
async def edit_conclusion(
    page: WebPage, db: DB, code: FromPath[str], conclusion_id: FromPath[uuid.UUID]
) -> Template | Redirect:
    """`Edit`: a new version of the conclusion (votes on the earlier one become stale)."""
    session = await moderation.moderated_session(page, db, code)
    values = await page.form()
    form = f"conclusion:{conclusion_id}"
    try:
        data = forms.parse(page, ConclusionPatch, values, fields=("title", "body"))
        try:
            expected = int(values.get("version", ""))
        except ValueError:
            raise FormInvalid({"body": page.gettext("This value is not valid.")}) from None
        try:
            await conclusions.update_conclusion(db, conclusion_id, page.user, data, expected=expected, now=page.now)
        except DomainError as exc:
            if exc.status_code in (403, 404):
                raise
            raise forms.refusal(page, exc, "body") from None
    except FormInvalid as invalid:
        return await refused(page, db, session, form, values, invalid)
    return page.redirect(back(session, f"mc-{conclusion_id}"))


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
    form = f"voting:{conclusion_id}"
    try:
        if values.get("action") == "close":
            action = voting.close_voting(db, conclusion_id, page.user, now=page.now)
        else:
            data = forms.parse(
                page,
                VotingIn,
                {**values, "action": "open", "closes_at": local_time(page, values.get("closes_at"))},
                fields=("action", "closes_at", "results_visibility", "quorum"),
                optional=("closes_at", "quorum"),
            )
            action = voting.open_voting(db, conclusion_id, page.user, data, now=page.now)
        try:
            await action
        except DomainError as exc:
            if exc.status_code in (403, 404):
                raise
            raise forms.refusal(page, exc, "closes_at") from None
    except FormInvalid as invalid:
        return await refused(page, db, session, form, values, invalid)
    return page.redirect(back(session, f"mc-{conclusion_id}"))


PROPOSAL_FIELDS = ("title", "summary", "body", "conclusion_ids")


@post("/sessions/{code:str}/moderation/proposals", name="moderation-compose-proposal")
async def compose_proposal(page: WebPage, db: DB, code: FromPath[str]) -> Template | Redirect:
    """`Compose a proposal` from adopted conclusions: `Title`, `Summary`, `Text`."""
    session = await moderation.moderated_session(page, db, code)
    values: dict[str, Any] = await page.form()
    values["conclusion_ids"] = await checked(page, "conclusion_ids")
    try:
        data = forms.parse(
            page,
            ProposalIn,
            {**values, "conclusion_ids": ids_of(page, values["conclusion_ids"], "conclusion_ids")},
            fields=PROPOSAL_FIELDS,
        )
        try:
            created = await proposals.create_proposal(db, session.id, page.user, data, now=page.now)
        except DomainError as exc:
            if exc.status_code in (403, 404):
                raise
            raise forms.refusal(page, exc, "conclusion_ids") from None
    except FormInvalid as invalid:
        return await refused(page, db, session, "compose", values, invalid)
    return page.redirect(back(session, f"mp-{created.id}"))


@post("/sessions/{code:str}/moderation/proposals/{proposal_id:uuid}", name="moderation-edit-proposal")
async def edit_proposal(
    page: WebPage, db: DB, code: FromPath[str], proposal_id: FromPath[uuid.UUID]
) -> Template | Redirect:
    """`Edit` a draft proposal. If another moderator saved a newer version since this form was shown (412), the
    page shows their text beside the one typed here, which stays in the form; nothing is overwritten."""
    session = await moderation.moderated_session(page, db, code)
    values: dict[str, Any] = await page.form()
    values["conclusion_ids"] = await checked(page, "conclusion_ids")
    form = f"proposal:{proposal_id}"
    try:
        data = forms.parse(
            page,
            ProposalPatch,
            {**values, "conclusion_ids": ids_of(page, values["conclusion_ids"], "conclusion_ids")},
            fields=PROPOSAL_FIELDS,
        )
        try:
            expected = int(values.get("version", ""))
        except ValueError:
            raise FormInvalid({"body": page.gettext("This value is not valid.")}) from None
        try:
            await proposals.update_proposal(db, proposal_id, page.user, data, expected=expected, now=page.now)
        except PreconditionFailed:
            newer = await proposals.get_proposal(db, proposal_id, page.user)
            return await render_page(
                page,
                db,
                session,
                status_code=412,
                deciding_form=form,
                deciding_values={**values, "version": str(newer.version)},
                conflict=newer,
            )
        except DomainError as exc:
            if exc.status_code in (403, 404):
                raise
            raise forms.refusal(page, exc, "body") from None
    except FormInvalid as invalid:
        return await refused(page, db, session, form, values, invalid)
    return page.redirect(back(session, f"mp-{proposal_id}"))


@post("/sessions/{code:str}/moderation/proposals/{proposal_id:uuid}/publish", name="moderation-publish")
async def publish_proposal(
    page: WebPage, db: DB, code: FromPath[str], proposal_id: FromPath[uuid.UUID]
) -> Template | Redirect:
    """`Publish`, once the moderator confirmed that the proposal then becomes immutable."""
    session = await moderation.moderated_session(page, db, code)
    values = await page.form()
    form = f"publish:{proposal_id}"
    try:
        if values.get("confirm") != "yes":
            raise FormInvalid({"confirm": page.gettext("Confirm that the published proposal can no longer change.")})
        try:
            expected = int(values.get("version", ""))
        except ValueError:
            raise FormInvalid({"confirm": page.gettext("This value is not valid.")}) from None
        try:
            await proposals.publish_proposal(db, proposal_id, page.user, expected=expected, now=page.now)
        except DomainError as exc:
            if exc.status_code in (403, 404):
                raise
            raise forms.refusal(page, exc, "confirm") from None
    except FormInvalid as invalid:
        return await refused(page, db, session, form, values, invalid)
    return page.redirect(f"/proposals/{proposal_id}")


moderation.SECTIONS.append(deciding_context)

ROUTES = [draft_conclusion, edit_conclusion, change_voting, compose_proposal, edit_proposal, publish_proposal]
