"""Deciding and the record: the conclusions page (versions, diffs, votes, tallies), the proposal page
(endorsements, exports) and the transparency log (`/audit`)."""

from __future__ import annotations

import uuid
from typing import Any, Literal

import msgspec
from litestar import get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Response, Template

from deliberation.accounts import service as accounts
from deliberation.audit import service as audit
from deliberation.conclusions import service as conclusions
from deliberation.conclusions import voting
from deliberation.conclusions.schemas import ConclusionOut, TallyOut, VoteIn
from deliberation.deps import DB
from deliberation.errors import Conflict, DomainError, Forbidden, NotFound
from deliberation.forum import service as forum
from deliberation.forum.schemas import SessionOut
from deliberation.membership import service as membership
from deliberation.proposals import endorsements, export, markdown
from deliberation.proposals.schemas import EndorsementIn
from deliberation.threads import posts
from deliberation.web import forms
from deliberation.web.deciding import Chart, choice_label, diff_html, entry_words, status_label, tally_chart
from deliberation.web.markdown import render_markdown
from deliberation.web.page import Page, WebPage
from deliberation.web.routes.accounts import actor_types
from deliberation.web.routes.forum import session_by_code
from deliberation.web.routes.threads import live_states

PAGE_LIMIT = 100  # conclusions on the page, entries of the log per page
MAX_MEMBERS = 10_000  # counted for "N of M have voted"
AUDIT_PAGE = 100


async def tally_of(page: Page, db: DB, conclusion: ConclusionOut) -> tuple[TallyOut | None, Chart | None]:
    """The conclusion's tally as the viewer may see it, and its chart (None while counts are hidden)."""
    if not conclusion.voting:
        return None, None
    tally = await voting.get_tally(db, conclusion.id, page.user)
    return tally, tally_chart(page, tally, dict(actor_types(page)))


async def member_count(page: Page, db: DB, session: SessionOut) -> int | None:
    """The M of "N of M have voted", for members and admins (None for others)."""
    if session.my_role is None and not page.user.is_admin:
        return None
    listed = await membership.list_members(db, session.id, page.user, limit=MAX_MEMBERS, now=page.now)
    return len(listed.items) + (listed.next_cursor is not None)  # MAX_MEMBERS + 1: more than shown


async def conclusion_view(page: Page, db: DB, conclusion: ConclusionOut, *, diff: tuple[int, int] | None) -> dict:
    """What the conclusions page shows of one conclusion: text, sources, versions (and a diff), tally chart."""
    versions = (await conclusions.list_versions(db, conclusion.id, cursor=None, limit=PAGE_LIMIT)).items
    sources = []
    for post_id in conclusion.source_post_ids:
        try:
            sources.append(await posts.get_post(db, post_id, page.user))
        except NotFound:
            continue
    tally, chart = await tally_of(page, db, conclusion)
    changes = None
    if diff is not None:
        by_number = {version.version: version for version in versions}
        old, new = by_number.get(diff[0]), by_number.get(diff[1])
        if old is not None and new is not None:
            changes = {
                "old": old.version,
                "new": new.version,
                "title": diff_html(old.title, new.title),
                "body": diff_html(old.body, new.body),
            }
    return {
        "conclusion": conclusion,
        "body": render_markdown(conclusion.body),
        "status": status_label(page, conclusion.status),
        "sources": [(post, render_markdown(post.body)) for post in sources],
        "versions": versions,
        "changes": changes,
        "tally": tally,
        "chart": chart,
        "my_choice": choice_label(page, conclusion.my_vote.choice) if conclusion.my_vote else None,
    }


async def voting_context(page: Page, db: DB, session: SessionOut) -> dict[str, Any]:
    """What every conclusion on the page needs besides itself: who may vote, with what, among how many."""
    return {
        "session": session,
        "members": await member_count(page, db, session),
        "can_vote": session.my_role is not None or page.user.is_admin,
        "choices": [(choice, choice_label(page, choice)) for choice in ("support", "oppose", "abstain")],
        "errors": {},
    }


def members_changed(session: SessionOut) -> dict[str, Any]:
    """Live rules: a member joining or leaving redraws every open vote's tally (the M of "N of M have voted")."""
    tallies = {"fragment": f"/sessions/{session.code}/conclusions/tallies"}
    return {"member.joined": tallies, "member.removed": tallies}


def conclusions_live(page: Page, session: SessionOut) -> dict[str, Any]:
    """What live.js follows on the conclusions page: a conclusion drafted, edited, its vote opened or closed
    (the whole conclusion, drawn for this viewer: their vote, a stale marker, the buttons), its tally."""
    base = f"/sessions/{session.code}/conclusions"
    changed = {"fragment": f"{base}/{{id}}"}
    return {
        "session": str(session.id),
        "after": session.last_seq,
        "events": {
            "conclusion.created": {**changed, "insert": {"into": ["conclusions"], "at": "end"}},
            **{name: changed for name in ("conclusion.updated", "voting.opened", "voting.closed")},
            "tally.updated": {"fragment": f"{base}/{{conclusion_id}}/tally"},
            **members_changed(session),
        },
        "status": "live-status",
        "states": live_states(page),
    }


async def render_conclusions(
    page: Page,
    db: DB,
    code: str,
    *,
    diff_of: uuid.UUID | None = None,
    diff: tuple[int, int] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    session = await session_by_code(page, db, code)  # its seq first: what changes after it is applied again
    rows = (await conclusions.list_conclusions(db, session.id, page.user, cursor=None, limit=PAGE_LIMIT)).items
    views = [
        await conclusion_view(page, db, conclusion, diff=diff if conclusion.id == diff_of else None)
        for conclusion in rows
    ]
    context = await voting_context(page, db, session)
    return page.render(
        "deciding/conclusions.html",
        status_code=status_code,
        **{**context, "errors": errors or {}},
        views=views,
        live=conclusions_live(page, session) if context["can_vote"] else None,
    )


@get("/sessions/{code:str}/conclusions", name="conclusions")
async def conclusions_page(
    page: WebPage,
    db: DB,
    code: FromPath[str],
    conclusion: FromQuery[uuid.UUID | None] = None,
    old: FromQuery[int | None] = None,
    new: FromQuery[int | None] = None,
) -> Template:
    """The session's draft conclusions: versions and a diff between any two, sources, votes and tallies."""
    diff = (old, new) if old is not None and new is not None else None
    return await render_conclusions(page, db, code, diff_of=conclusion, diff=diff)


async def session_conclusion(
    page: Page, db: DB, code: str, conclusion_id: uuid.UUID
) -> tuple[SessionOut, ConclusionOut]:
    """The session and one of its conclusions as the viewer sees it, or 404 (another session's is not here)."""
    session = await session_by_code(page, db, code)
    conclusion = await conclusions.get_conclusion(db, conclusion_id, page.user)
    if conclusion.session_id != session.id:
        raise NotFound("No such conclusion.")
    return session, conclusion


@get("/sessions/{code:str}/conclusions/{conclusion_id:uuid}", name="conclusion-fragment")
async def conclusion_fragment(
    page: WebPage, db: DB, code: FromPath[str], conclusion_id: FromPath[uuid.UUID]
) -> Template:
    """Fragment: one conclusion as on the page, for this viewer (live.js swaps it in when it changes)."""
    session, conclusion = await session_conclusion(page, db, code, conclusion_id)
    return page.render(
        "deciding/conclusion.html",
        **await voting_context(page, db, session),
        view=await conclusion_view(page, db, conclusion, diff=None),
    )


@get("/sessions/{code:str}/conclusions/{conclusion_id:uuid}/tally", name="conclusion-tally")
async def tally_fragment(page: WebPage, db: DB, code: FromPath[str], conclusion_id: FromPath[uuid.UUID]) -> Template:
    """Fragment: the conclusion's tally (chart and table, or `N of M have voted` while counts are hidden)."""
    session, conclusion = await session_conclusion(page, db, code, conclusion_id)
    tally, chart = await tally_of(page, db, conclusion)
    if tally is None:
        raise NotFound("This conclusion has not been put to the vote.")
    return page.render(
        "deciding/tally_fragment.html",
        tally=tally,
        chart=chart,
        members=await member_count(page, db, session),
        conclusion_id=conclusion.id,
    )


@get("/sessions/{code:str}/conclusions/tallies", name="conclusion-tallies")
async def tallies_fragment(page: WebPage, db: DB, code: FromPath[str]) -> Template:
    """Fragment: the tally of every conclusion being voted on, one after the other, each as on the page (live.js
    swaps each for its namesake when the members change)."""
    session = await session_by_code(page, db, code)
    rows = (await conclusions.list_conclusions(db, session.id, page.user, cursor=None, limit=PAGE_LIMIT)).items
    members = await member_count(page, db, session)
    tallies = []
    for conclusion in rows:
        if conclusion.status == "voting":
            tally, chart = await tally_of(page, db, conclusion)
            tallies.append((conclusion.id, tally, chart))
    return page.render("deciding/tallies_fragment.html", tallies=tallies, members=members)


async def vote_refused(page: Page, db: DB, code: str, conclusion_id: uuid.UUID, exc: DomainError) -> Template:
    """The page again, the refusal next to that conclusion's vote (a vote that closed meanwhile)."""
    message = forms.refusal(page, exc, "choice").errors
    return await render_conclusions(
        page, db, code, errors={str(conclusion_id): next(iter(message.values()))}, status_code=409
    )


@post("/sessions/{code:str}/conclusions/{conclusion_id:uuid}/vote", name="conclusion-vote")
async def cast_vote(
    page: WebPage, db: DB, code: FromPath[str], conclusion_id: FromPath[uuid.UUID]
) -> Template | Redirect:
    """`Support` / `Oppose` / `Abstain` (with an optional `Comment`), and `Confirm my vote` on a new version."""
    session = await session_by_code(page, db, code)
    if session.my_role is None and not page.user.is_admin:
        raise NotFound("Only members of this session vote.")
    values = await page.form()
    try:
        data = forms.parse(page, VoteIn, values, fields=("choice", "comment"), optional=("comment",))
        await voting.cast_vote(db, conclusion_id, page.user, data, now=page.now)
    except forms.FormInvalid as invalid:
        return await render_conclusions(
            page, db, code, errors={str(conclusion_id): next(iter(invalid.errors.values()))}, status_code=422
        )
    except Conflict as exc:
        return await vote_refused(page, db, code, conclusion_id, exc)
    return page.redirect(f"/sessions/{session.code}/conclusions#conclusion-{conclusion_id}")


@post("/sessions/{code:str}/conclusions/{conclusion_id:uuid}/vote/withdraw", name="conclusion-vote-withdraw")
async def withdraw_vote(
    page: WebPage, db: DB, code: FromPath[str], conclusion_id: FromPath[uuid.UUID]
) -> Template | Redirect:
    """`Withdraw my vote` while the vote is open."""
    session = await session_by_code(page, db, code)
    try:
        await voting.retract_vote(db, conclusion_id, page.user, now=page.now)
    except Conflict as exc:
        return await vote_refused(page, db, code, conclusion_id, exc)
    return page.redirect(f"/sessions/{session.code}/conclusions#conclusion-{conclusion_id}")


async def render_proposal(
    page: Page, db: DB, state: State, proposal_id: uuid.UUID, *, values=None, errors=None, status_code: int = 200
) -> Template:
    record = await export.export_proposal(db, proposal_id, page.viewer, state.audit_signer, now=page.now)
    labels = dict(actor_types(page))
    me = await accounts.get_me(db, page.viewer, now=page.now) if page.viewer is not None else None
    mine = next(
        (
            item
            for item in record.endorsements
            if me is not None and item.representative.id == me.id and item.withdrawn_at is None
        ),
        None,
    )
    return page.render(
        "deciding/proposal.html",
        status_code=status_code,
        record=record,
        proposal=record.proposal,
        body=render_markdown(record.proposal.body),
        summary=render_markdown(record.proposal.summary),
        conclusions=[
            {
                "conclusion": item,
                "body": render_markdown(item.body),
                "status": status_label(page, item.status),
                "chart": tally_chart(page, item.final_tally, labels),
                "tally": item.final_tally,
                "sources": [(post, render_markdown(post.body)) for post in item.sources],
            }
            for item in record.conclusions
        ],
        endorsements=[
            (item, render_markdown(item.statement) if item.statement else None) for item in record.endorsements
        ],
        stances={
            "endorse": page.gettext("Endorse"),
            "endorse_with_reservations": page.gettext("Endorse with reservations"),
        },
        can_endorse=bool(
            me and me.representative and me.representative.verified and record.proposal.status == "published"
        ),
        mine=mine,
        values=values or {"stance": "endorse"},
        errors=errors or {},
    )


@get("/proposals/{proposal_id:uuid}", name="proposal")
async def proposal_page(page: WebPage, db: DB, state: State, proposal_id: FromPath[uuid.UUID]) -> Template:
    """The proposal, its conclusions with final tallies and sources, its hash, endorsements, exports."""
    return await render_proposal(page, db, state, proposal_id)


@post("/proposals/{proposal_id:uuid}/endorse", name="proposal-endorse")
async def endorse(page: WebPage, db: DB, state: State, proposal_id: FromPath[uuid.UUID]) -> Template | Redirect:
    """`Endorse` with a `Stance` and an optional `Statement` (verified elected representatives)."""
    user = page.user  # anonymous people are sent to `Log in` before anything is read
    values = await page.form()
    try:
        data = forms.parse(page, EndorsementIn, values, fields=("stance", "statement"), optional=("statement",))
        await endorsements.endorse(db, proposal_id, user, data, now=page.now)
    except forms.FormInvalid as invalid:
        return await render_proposal(
            page, db, state, proposal_id, values=values, errors=invalid.errors, status_code=422
        )
    except (Conflict, Forbidden) as exc:
        errors = forms.refusal(page, exc, "stance").errors
        return await render_proposal(page, db, state, proposal_id, values=values, errors=errors, status_code=409)
    return page.redirect(f"/proposals/{proposal_id}#endorsements")


@post("/proposals/{proposal_id:uuid}/endorsement/withdraw", name="proposal-withdraw")
async def withdraw_endorsement(page: WebPage, db: DB, proposal_id: FromPath[uuid.UUID]) -> Redirect:
    """`Withdraw my endorsement`: it stays on record as withdrawn."""
    await endorsements.withdraw(db, proposal_id, page.user, now=page.now)
    return page.redirect(f"/proposals/{proposal_id}#endorsements")


@get("/proposals/{proposal_id:uuid}/export", name="proposal-export")
async def proposal_export(
    page: WebPage,
    db: DB,
    state: State,
    proposal_id: FromPath[uuid.UUID],
    format: FromQuery[Literal["markdown", "json"]] = "json",
) -> Response:
    """`Download (Markdown)` and `Download (JSON)`: the export as a file (the API's export, read as this viewer)."""
    record = await export.export_proposal(db, proposal_id, page.viewer, state.audit_signer, now=page.now)
    if format == "markdown":
        content, media_type, suffix = markdown.render(record).encode(), "text/markdown; charset=utf-8", "md"
    else:
        content, media_type, suffix = msgspec.json.encode(record), "application/json", "json"
    return Response(
        content,
        media_type=media_type,
        headers={"content-disposition": f'attachment; filename="proposal-{proposal_id}.{suffix}"'},
        cookies=page.cookies,
    )


@get("/audit", name="audit")
async def audit_page(
    page: WebPage,
    db: DB,
    state: State,
    session: FromQuery[str | None] = None,
    after: FromQuery[int] = 0,
    verify: FromQuery[str | None] = None,
) -> Template:
    """The transparency log in words, filtered by session, with `Verify the log`."""
    chosen = await session_by_code(page, db, session) if session else None
    listed = await audit.list_entries(
        db, session_id=chosen.id if chosen else None, after=max(after, 0), cursor=None, limit=AUDIT_PAGE
    )
    entries = listed.items
    result = await state.audit_verify.verify(db, now=page.now) if verify else None
    sessions = (await forum.list_sessions(db, page.viewer, now=page.now, limit=PAGE_LIMIT)).items
    return page.render(
        "deciding/audit.html",
        session=chosen,
        sessions=sessions,
        entries=[(entry, entry_words(page, entry)) for entry in entries],
        more=entries[-1].seq if listed.next_cursor is not None else None,
        result=result,
    )


ROUTES = [
    conclusions_page,
    conclusion_fragment,
    tally_fragment,
    tallies_fragment,
    cast_vote,
    withdraw_vote,
    proposal_page,
    endorse,
    withdraw_endorsement,
    proposal_export,
    audit_page,
]
