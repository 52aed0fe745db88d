"""The live board (`/sessions/{code}/board`), the screen a moderator shares in the video call (members, admins).

It shows, in large type, the question under debate and its latest posts, `N online`, the open votes with their
tallies (and the result of the vote closed last), and the join link as text and as a QR code. The question under
debate is the one chosen with the board's `Question under debate` control (`?thread=<id>`: the choice lives in
the board's own address, so the person sharing the screen picks it for their screen), else the thread of the
newest post. Three fragments, rendered by the templates the page includes, are fetched by static/live.js when an
event concerns them: `/board/debate` (posts, the question), `/board/questions` (the threads to choose from) and
`/board/votes` (votes, tallies, members).
"""

from __future__ import annotations

import uuid
from typing import Any

import segno
from litestar import get
from litestar.params import FromPath, FromQuery
from litestar.response import Template
from markupsafe import Markup

from deliberation.conclusions import service as conclusions
from deliberation.conclusions import voting
from deliberation.deps import DB
from deliberation.errors import BadRequest, NotFound
from deliberation.forum.schemas import SessionOut
from deliberation.threads import posts
from deliberation.threads import service as threads
from deliberation.threads.schemas import ThreadOut
from deliberation.web.deciding import status_label, tally_chart
from deliberation.web.markdown import render_markdown
from deliberation.web.page import Page, WebPage
from deliberation.web.routes.accounts import actor_types
from deliberation.web.routes.deciding import PAGE_LIMIT, member_count
from deliberation.web.routes.forum import session_by_code
from deliberation.web.routes.threads import live_states, online, presence_words

POST_EVENTS = ("post.created", "post.updated", "post.deleted", "post.hidden", "post.unhidden")
VOTE_EVENTS = (
    "conclusion.updated",
    "voting.opened",
    "voting.closed",
    "tally.updated",
    "member.joined",
    "member.removed",
)


async def board_session(page: Page, db: DB, code: str) -> SessionOut:
    """The session, for its members and admins (anonymous people are sent to `Log in`, others get 404)."""
    user = page.user
    session = await session_by_code(page, db, code)
    if session.my_role is None and not user.is_admin:
        raise NotFound("No such page.")
    return session


def chosen_thread(value: str | None) -> uuid.UUID | None:
    """The `?thread=` of the board's address: a thread id, or nothing (empty: follow the latest activity)."""
    if not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise BadRequest("`thread` is not a thread id.") from None


async def session_threads(db: DB, session: SessionOut) -> list[ThreadOut]:
    """The session's threads, in their order: the choices of `Question under debate`."""
    return (await threads.list_threads(db, session.id, cursor=None, limit=PAGE_LIMIT)).items


async def debate_context(page: Page, db: DB, session: SessionOut, chosen: uuid.UUID | None) -> dict[str, Any]:
    """The question under debate (the chosen thread, else the thread of the newest post, else the first) and
    its newest posts."""
    listed = await session_threads(db, session)
    question: ThreadOut | None = None
    if chosen is not None:
        question = next((thread for thread in listed if thread.id == chosen), None)
        if question is None:
            raise NotFound("No such thread in this session.")
    else:
        newest = await posts.latest_posts(db, session.id, page.user, thread_id=None, cursor=None, limit=1)
        if newest.items:
            question = await threads.get_thread(db, newest.items[0].thread_id)
        elif listed:
            question = listed[0]
    shown = []
    if question is not None:
        latest = await posts.latest_posts(
            db, session.id, page.user, thread_id=question.id, cursor=None, limit=page.settings.board_posts
        )
        shown = [(post, render_markdown(post.body)) for post in latest.items]
    return {"threads": listed, "chosen": chosen, "question": question, "posts": shown, "when": page.time}


async def votes_context(page: Page, db: DB, session: SessionOut) -> dict[str, Any]:
    """Every open vote and the vote closed last, each with its tally as the viewer may see it (hidden counts
    stay hidden: `N of M have voted`)."""
    rows = (await conclusions.list_conclusions(db, session.id, page.user, cursor=None, limit=PAGE_LIMIT)).items
    closed = [row for row in rows if row.voting is not None and row.voting.closed_at is not None]
    shown = [row for row in rows if row.status == "voting"]
    if closed:
        shown.append(max(closed, key=lambda row: row.voting.closed_at))  # type: ignore[union-attr]
    labels = dict(actor_types(page))
    votes = []
    for conclusion in shown:
        tally = await voting.get_tally(db, conclusion.id, page.user)
        votes.append(
            {
                "conclusion": conclusion,
                "status": status_label(page, conclusion.status),
                "tally": tally,
                "chart": tally_chart(page, tally, labels),
            }
        )
    return {"votes": votes, "members": await member_count(page, db, session)}


def qr_code(url: str) -> Markup:
    """`url` as a QR code: inline SVG drawn here by segno (two paths, no style attribute, so the CSP holds)."""
    svg = segno.make(url, error="m").svg_inline(border=2, light="#fff", svgclass="qr-code", omitsize=True)
    return Markup(svg)  # noqa: S704 (segno's paths and numbers only: the link is encoded, never written out)


def live_config(page: Page, session: SessionOut, chosen: uuid.UUID | None) -> dict[str, Any]:
    """What live.js follows on the board: posts refetch the debate, threads the debate and the `Question under
    debate` control, votes and members the votes."""
    base = f"/sessions/{session.code}/board"
    debate: dict[str, Any] = {"fragment": f"{base}/debate" + (f"?thread={chosen}" if chosen else "")}
    if chosen is not None:
        debate["when"] = {"thread_id": str(chosen)}
    questions = {"fragment": f"{base}/questions" + (f"?thread={chosen}" if chosen else "")}
    votes = {"fragment": f"{base}/votes"}
    return {
        "session": str(session.id),
        "after": session.last_seq,
        "events": {
            **{name: debate for name in POST_EVENTS},
            **{name: [{"fragment": debate["fragment"]}, questions] for name in ("thread.created", "thread.updated")},
            **{name: votes for name in VOTE_EVENTS},
        },
        "presence": presence_words(page),
        "status": "live-status",
        "states": live_states(page),
    }


@get("/sessions/{code:str}/board", name="board")
async def board_page(page: WebPage, db: DB, code: FromPath[str], thread: FromQuery[str | None] = None) -> Template:
    """The board: the question under debate, its latest posts, `N online`, the votes, the join link and QR."""
    session = await board_session(page, db, code)  # its last_seq first: live.js applies what follows again
    chosen = chosen_thread(thread)
    join_url = f"{page.settings.public_url.rstrip('/')}/sessions/{session.code}"
    return page.render(
        "board/board.html",
        session=session,
        online=await online(page, db, session),
        join_url=join_url,
        qr=qr_code(join_url),
        live=live_config(page, session, chosen),
        **await debate_context(page, db, session, chosen),
        **await votes_context(page, db, session),
    )


@get("/sessions/{code:str}/board/debate", name="board-debate")
async def debate_fragment(page: WebPage, db: DB, code: FromPath[str], thread: FromQuery[str | None] = None) -> Template:
    """Fragment: the question under debate and its latest posts, as on the board."""
    session = await board_session(page, db, code)
    context = await debate_context(page, db, session, chosen_thread(thread))
    return page.render("board/debate.html", session=session, **context)


@get("/sessions/{code:str}/board/questions", name="board-questions")
async def questions_fragment(
    page: WebPage, db: DB, code: FromPath[str], thread: FromQuery[str | None] = None
) -> Template:
    """Fragment: the `Question under debate` control with the session's threads, as on the board."""
    session = await board_session(page, db, code)
    return page.render(
        "board/questions.html",
        session=session,
        threads=await session_threads(db, session),
        chosen=chosen_thread(thread),
    )


@get("/sessions/{code:str}/board/votes", name="board-votes")
async def votes_fragment(page: WebPage, db: DB, code: FromPath[str]) -> Template:
    """Fragment: the open votes and the vote closed last with their tallies, as on the board."""
    session = await board_session(page, db, code)
    return page.render("board/votes.html", session=session, **await votes_context(page, db, session))


ROUTES = [board_page, debate_fragment, questions_fragment, votes_fragment]
