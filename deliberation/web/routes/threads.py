"""A guiding question's thread, live (`/sessions/{code}/threads/{thread_id}`), its post fragments and its forms.

The page shows `DELIBERATION_THREAD_PAGE_ROOTS` top-level posts with their replies; `More posts` is the next page
(`?after=`, whose posts live.js brings into the list), and `?post=` the page that begins with a post's top-level
post (its permalink). Every post is drawn by the macro of `threads/post.html`, on the page and as the fragment
`static/live.js` fetches when an event names the post (`/sessions/{code}/posts/{post_id}`), so a live update looks
exactly like a reload. A post's reaction buttons belong to the page's one form (`POST /sessions/{code}/reactions`,
each button naming its post) and it links to its other forms (`Reply`, `Edit`, `Flag`, `Moderate`): each is a
small page of its own (`GET /sessions/{code}/posts/{post_id}/reply`, ...), which live.js fetches to show the form
in the post, so a thread of thousands of posts does not carry thousands of forms.
A form answers 303 back to the thread (to the post) or, sent in place by live.js (`X-Live-Submit`), 204: the
change then arrives by the live stream; a refusal answers 422 with the form and its errors next to the field.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from litestar import get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Response, Template

from deliberation.deps import DB
from deliberation.errors import Busy, NotFound
from deliberation.forum.schemas import SessionOut
from deliberation.realtime import service as realtime
from deliberation.threads import moderation, posts, reactions
from deliberation.threads import service as threads
from deliberation.threads.schemas import (
    FlagIn,
    PostIn,
    PostModerationIn,
    PostOut,
    PostPatch,
    ThreadModerationIn,
    ThreadOut,
)
from deliberation.web import forms
from deliberation.web.forms import FormInvalid
from deliberation.web.markdown import render_markdown
from deliberation.web.page import Page, WebPage
from deliberation.web.routes.forum import session_by_code

# What a form's handler answers: the form again with its errors (422), 303 to the thread, or 204 when sent in place.
FormAnswer = Template | Redirect | Response[None]
SORTS = ("oldest", "newest", "top")
COLLAPSE_OVER = 20  # a subtree of more replies than this starts collapsed (its count shown)
MORE, EARLIER = "more-posts", "earlier-posts"  # the ids of `More posts` and `« From the first post` on the page
LIVE_SUBMIT = "x-live-submit"


@dataclass
class Viewer:
    """What the viewer may do in this session's threads."""

    member: bool
    moderator: bool
    user_id: uuid.UUID


def viewer_of(page: Page, session: SessionOut) -> Viewer:
    user = page.user
    return Viewer(
        member=session.my_role is not None,
        moderator=session.my_role == "moderator" or user.is_admin,
        user_id=user.id,
    )


def above(items: list[PostOut], target: uuid.UUID | None) -> set[uuid.UUID]:
    """The posts above `target` in the tree (the collapsed branches a permalink to it opens)."""
    chain: list[uuid.UUID] = []

    def find(level: list[PostOut]) -> bool:
        for item in level:
            chain.append(item.id)
            if item.id == target or find(item.replies or []):
                return True
            chain.pop()
        return False

    return set(chain[:-1]) if target and find(items) else set()


def subtree_sizes(items: list[PostOut]) -> dict[uuid.UUID, int]:
    """How many replies are under each post (all depths), for the collapsed branches' counts."""
    sizes: dict[uuid.UUID, int] = {}

    def walk(post: PostOut) -> int:
        size = 0
        for reply in post.replies or []:
            size += 1 + walk(reply)
        sizes[post.id] = size
        return size

    for item in items:
        walk(item)
    return sizes


@dataclass(frozen=True)
class Tool:
    """A form a post offers its viewer: the link `label` to `/sessions/{code}/posts/{id}/{path}`, whose form has
    the id `{name}-form-{id}` (the `form_key` of its refusals is `{name}:{id}`)."""

    name: str
    path: str
    label: str


@dataclass(frozen=True)
class PostTools:
    """The forms posts offer one viewer: `tools(post)` in the template lists a post's links."""

    viewer: Viewer
    may_reply: bool  # a member, the discussion open, the thread not locked
    by_name: dict[str, Tool]

    def __call__(self, post: PostOut) -> list[Tool]:
        if post.deleted:
            return []
        mine = post.author.id == self.viewer.user_id
        offered = {
            "reply": self.may_reply,
            "edit": mine and not post.hidden,
            "flag": self.viewer.member and not mine and not post.hidden,
            "moderate": self.viewer.moderator or mine,
        }
        return [tool for name, tool in self.by_name.items() if offered[name]]


def post_tools(page: Page, session: SessionOut, viewer: Viewer, locked: bool) -> PostTools:
    moderate_label = page.gettext("Moderate") if viewer.moderator else page.gettext("Delete")
    tools = (
        Tool("reply", "reply", page.gettext("Reply")),
        Tool("edit", "edit", page.gettext("Edit")),
        Tool("flag", "flag", page.gettext("Flag")),
        Tool("moderate", "moderation", moderate_label),
    )
    return PostTools(
        viewer=viewer,
        may_reply=viewer.member and session.discussion_open and not locked,
        by_name={tool.name: tool for tool in tools},
    )


def post_context(page: Page, session: SessionOut, viewer: Viewer, locked: bool) -> dict[str, Any]:
    """What `threads/post.html` needs besides the post: how to draw text and times, who looks, what they may do."""
    return {
        "session": session,
        "viewer": viewer,
        "when": page.datetime,
        "collapse_over": COLLAPSE_OVER,
        "sizes": {},
        "opened": set(),
        "tools": post_tools(page, session, viewer, locked),
        "reactions": [
            ("agree", page.gettext("Agree")),
            ("disagree", page.gettext("Disagree")),
            ("insightful", page.gettext("Insightful")),
        ],
        "values": {},
        "errors": {},
        "form_key": None,
    }


def live_config(page: Page, session: SessionOut, thread: ThreadOut, sort: str, as_of: int) -> dict[str, Any]:
    """What live.js follows on the thread page: each event of this thread fetches its post or the counter.

    A reply goes under its parent when the parent is on the page (else it comes with its parent's page); a new
    top-level post goes where the sort puts it (first for Newest, else last) once the page shows that end of the
    list: while `More posts` (or, for Newest, `« From the first post`) is there, it is announced and comes with
    its page."""
    code = session.code
    post = f"/sessions/{code}/posts/{{id}}"
    same_thread = {"thread_id": str(thread.id)}
    summary = f"/sessions/{code}/threads/{thread.id}/summary"
    counter = {"when": same_thread, "fragment": summary}
    announce = page.gettext("New post by %(name)s", name="{author.display_name}")
    reply = {"when": same_thread, "fragment": post, "insert": {"into": ["replies-{parent_id}"]}, "announce": announce}
    newest = sort == "newest"
    top_level = {
        "when": same_thread | {"parent_id": None},
        "fragment": post,
        "insert": {"into": ["posts"], "at": "start" if newest else "end", "unless": EARLIER if newest else MORE},
        "announce": announce,
    }
    changed = {"when": same_thread, "fragment": post}
    return {
        "session": str(session.id),
        "after": as_of,
        "events": {
            "post.created": [reply, top_level, counter],
            "post.deleted": [changed, counter],
            **{name: changed for name in ("post.updated", "post.hidden", "post.unhidden", "reactions.updated")},
            "thread.updated": {"when": {"id": str(thread.id)}, "fragment": summary},
        },
        "presence": presence_words(page),
        "new_posts": "new-posts",
        "log": "live-log",
        "status": "live-status",
        "states": live_states(page),
    }


def presence_words(page: Page) -> dict[str, str]:
    """live.js's `presence`: `N online` into the element `online`, in the page's language."""
    return {
        "target": "online",
        "one": page.ngettext("%(num)s online", "%(num)s online", 1, num="{n}"),
        "other": page.ngettext("%(num)s online", "%(num)s online", 2, num="{n}"),
    }


def live_states(page: Page) -> dict[str, str]:
    """live.js's `states`: what the `live-status` element says about the stream, in the page's language."""
    return {
        "connecting": page.gettext("Connecting…"),
        "open": page.gettext("Live"),
        "closed": page.gettext("Reconnecting…"),
        "refused": page.gettext("Not live: reload the page to see new posts"),
    }


async def thread_of(page: Page, db: DB, code: str, thread_id: uuid.UUID) -> tuple[SessionOut, ThreadOut]:
    """The session and one of its threads (for signed-in people), or 404 (another session's thread is not here)."""
    page.user  # noqa: B018 (anonymous people are sent to `Log in` first)
    session = await session_by_code(page, db, code)
    thread = await threads.get_thread(db, thread_id)
    if thread.session_id != session.id:
        raise NotFound("No such thread.")
    return session, thread


async def post_of(page: Page, db: DB, code: str, post_id: uuid.UUID) -> tuple[SessionOut, ThreadOut, PostOut]:
    """A post as the viewer sees it, with its session and thread, or 404."""
    session = await session_by_code(page, db, code)
    found = await posts.get_post(db, post_id, page.user)
    thread = await threads.get_thread(db, found.thread_id)
    if thread.session_id != session.id:
        raise NotFound("No such post.")
    return session, thread, found


async def thread_context(
    page: Page,
    db: DB,
    session: SessionOut,
    thread: ThreadOut,
    sort: str,
    after: str | None,
    target: uuid.UUID | None = None,
) -> dict[str, Any]:
    """The page of the thread's top-level posts after the cursor `after` (the first page without it), the
    branches around `target` open."""
    viewer = viewer_of(page, session)
    listing = await posts.list_posts(
        db,
        thread.id,
        page.user,
        sort=sort,
        cursor=after or None,
        limit=page.settings.thread_page_roots,
        max_posts=page.settings.max_posts_per_page,
    )
    # live.js follows the events after the posts' snapshot. The thread's counter and state are read again after
    # it: an event between the two is applied again, which redraws the same summary.
    thread = await threads.get_thread(db, thread.id)
    follows = viewer.member or page.user.is_admin
    return {
        **post_context(page, session, viewer, thread.locked),
        "online": await online(page, db, session) if follows else None,
        "thread": thread,
        "thread_body": render_markdown(thread.body),
        "items": listing.items,
        "next_cursor": listing.next_cursor,
        "partial": bool(after),  # earlier top-level posts are not on this page
        "sizes": subtree_sizes(listing.items),
        "opened": above(listing.items, target),
        "sort": sort,
        "sorts": SORTS,
        "live": live_config(page, session, thread, sort, listing.as_of_seq) if follows else None,
    }


async def online(page: Page, db: DB, session: SessionOut) -> int | None:
    """How many are online in the session now (None on an instance that does not follow presence)."""
    try:
        return (await realtime.get_presence(db, session.id, page.user, page.request.app.state.hub)).online
    except Busy:
        return None


@get("/sessions/{code:str}/threads/{thread_id:uuid}", name="thread")
async def thread_page(
    page: WebPage,
    db: DB,
    code: FromPath[str],
    thread_id: FromPath[uuid.UUID],
    sort: FromQuery[str] = "oldest",
    after: FromQuery[str | None] = None,
    post: FromQuery[uuid.UUID | None] = None,
) -> Template:
    """The question, a page of its reply tree in the chosen sort (`after` a cursor, or from the top-level post of
    `post`), the composer; live for members."""
    session, thread = await thread_of(page, db, code, thread_id)
    sort = sort if sort in SORTS else "oldest"
    if post is not None:
        post_thread, after = await posts.page_of_post(db, post, sort=sort)
        if post_thread != thread.id:
            raise NotFound("No such post in this thread.")
    context = await thread_context(page, db, session, thread, sort, after, post)
    return page.render("threads/thread.html", **context)


@get("/sessions/{code:str}/threads/{thread_id:uuid}/summary", name="thread-summary")
async def thread_summary(page: WebPage, db: DB, code: FromPath[str], thread_id: FromPath[uuid.UUID]) -> Template:
    """Fragment: the thread's counter and state (locked, pinned), as on the page."""
    session, thread = await thread_of(page, db, code, thread_id)
    return page.render("threads/summary.html", session=session, thread=thread, viewer=viewer_of(page, session))


@get("/sessions/{code:str}/posts/{post_id:uuid}", name="post")
async def post_fragment(page: WebPage, db: DB, code: FromPath[str], post_id: FromPath[uuid.UUID]) -> Template:
    """Fragment: one post as the viewer sees it (its replies are the page's own, kept in place by live.js)."""
    session, thread, found = await post_of(page, db, code, post_id)
    parent = await posts.get_post(db, found.parent_id, page.user) if found.parent_id else None
    return page.render(
        "threads/post_fragment.html",
        post=found,
        parent=parent,
        **post_context(page, session, viewer_of(page, session), thread.locked),
    )


@get("/sessions/{code:str}/posts/{post_id:uuid}/history", name="post-history")
async def post_history(page: WebPage, db: DB, code: FromPath[str], post_id: FromPath[uuid.UUID]) -> Template:
    """`History`: the earlier texts of a post with the times they were current."""
    session, thread, found = await post_of(page, db, code, post_id)
    revisions = await posts.list_revisions(db, post_id, page.user)
    return page.render(
        "threads/history.html",
        session=session,
        thread=thread,
        post=found,
        body=render_markdown(found.body),
        revisions=[(render_markdown(rev.body), rev) for rev in revisions.items],
        when=page.datetime,
    )


def in_place(page: Page) -> bool:
    return page.request.headers.get(LIVE_SUBMIT) == "1"


def render_form(
    page: Page, session: SessionOut, thread: ThreadOut, subject: PostOut, name: str, context: dict[str, Any]
) -> Template:
    """A post's form `name`: on its own page (`threads/tool.html`), or alone when it was sent in place."""
    tool = context["tools"].by_name[name]
    template = "threads/form_fragment.html" if in_place(page) else "threads/tool.html"
    status_code = 422 if context["errors"] else 200
    return page.render(template, status_code=status_code, thread=thread, subject=subject, tool=tool, **context)


async def form_page(page: Page, db: DB, code: str, post_id: uuid.UUID, name: str) -> Template:
    """The page of a post's form, for a viewer the post offers it to (404 for anyone else)."""
    session, thread, found = await post_of(page, db, code, post_id)
    context = post_context(page, session, viewer_of(page, session), thread.locked)
    if name not in (tool.name for tool in context["tools"](found)):
        raise NotFound("No such page.")
    return render_form(page, session, thread, found, name, context | {"form_key": f"{name}:{post_id}"})


@get("/sessions/{code:str}/posts/{post_id:uuid}/reply", name="post-reply-form")
async def reply_page(page: WebPage, db: DB, code: FromPath[str], post_id: FromPath[uuid.UUID]) -> Template:
    """`Reply`: the composer `Your reply` (button `Post reply`) under one post."""
    return await form_page(page, db, code, post_id, "reply")


@get("/sessions/{code:str}/posts/{post_id:uuid}/edit", name="post-edit-form")
async def edit_page(page: WebPage, db: DB, code: FromPath[str], post_id: FromPath[uuid.UUID]) -> Template:
    """`Edit` (the author): the post's text to change."""
    return await form_page(page, db, code, post_id, "edit")


@get("/sessions/{code:str}/posts/{post_id:uuid}/flag", name="post-flag-form")
async def flag_page(page: WebPage, db: DB, code: FromPath[str], post_id: FromPath[uuid.UUID]) -> Template:
    """`Flag`: reason and note for the moderators."""
    return await form_page(page, db, code, post_id, "flag")


@get("/sessions/{code:str}/posts/{post_id:uuid}/moderation", name="post-moderate-form")
async def moderate_page(page: WebPage, db: DB, code: FromPath[str], post_id: FromPath[uuid.UUID]) -> Template:
    """`Moderate` (moderators: `Hide` / `Unhide` with `Reason`, `Delete`) or `Delete` (the author)."""
    return await form_page(page, db, code, post_id, "moderate")


def done(page: Page, path: str) -> Redirect | Response[None]:
    """After a form: 204 when sent in place (the stream brings the change), else 303 to `path`."""
    if in_place(page):
        return Response(None, status_code=204, cookies=page.cookies)
    return page.redirect(path)


async def refused(
    page: Page, db: DB, session: SessionOut, thread: ThreadOut, form_key: str, values: dict, errors: dict
) -> Template:
    """A refused form, 422, with its errors next to their fields and what was typed: in place, the form alone;
    else the thread page (the composer `Your post`) or the page of the post's form."""
    context = post_context(page, session, viewer_of(page, session), thread.locked)
    context.update(values=values, errors=errors, form_key=form_key)
    name, _, post_id = form_key.partition(":")
    if post_id:
        subject = await posts.get_post(db, uuid.UUID(post_id), page.user)
        return render_form(page, session, thread, subject, name, context)
    if in_place(page):
        return page.render("threads/form_fragment.html", status_code=422, thread=thread, **context)
    full = await thread_context(page, db, session, thread, "oldest", None)
    full.update(values=values, errors=errors, form_key=form_key)
    return page.render("threads/thread.html", status_code=422, **full)


async def submit(
    page: Page,
    db: DB,
    session: SessionOut,
    thread: ThreadOut,
    form_key: str,
    values: dict[str, str],
    field: str,
    action: Callable[[], Awaitable[str]],
) -> FormAnswer:
    """A thread form: `action` parses `values` and calls its service, answering the path to go to next (303, or
    204 in place); a refusal (a field's, or the service's reason, shown on `field`: `forms.attempt`) shows the
    form again, 422. A post or action that does not exist stays a 404."""
    try:
        path = await forms.attempt(page, action(), field)
    except FormInvalid as invalid:
        return await refused(page, db, session, thread, form_key, values, invalid.errors)
    return done(page, path)


def thread_path(session: SessionOut, thread_id: uuid.UUID, post_id: uuid.UUID | None = None) -> str:
    """The thread's page, or (`post_id`) its page that holds the post, scrolled to it."""
    return post_path(session.code, thread_id, post_id) if post_id else f"/sessions/{session.code}/threads/{thread_id}"


def post_path(code: str, thread_id: uuid.UUID, post_id: uuid.UUID) -> str:
    """A post's permalink: the page of its thread that holds it, scrolled to it (templates: `post_path(...)`)."""
    return f"/sessions/{code}/threads/{thread_id}?post={post_id}#post-{post_id}"


@post("/sessions/{code:str}/threads/{thread_id:uuid}/posts", name="thread-post")
async def create_post(page: WebPage, db: DB, code: FromPath[str], thread_id: FromPath[uuid.UUID]) -> FormAnswer:
    """`Post` (composer `Your post`) and `Post reply` (composer `Your reply`, with `parent_id`)."""
    session, thread = await thread_of(page, db, code, thread_id)
    values = await page.form()
    form_key = "post"
    if values.get("parent_id"):
        try:
            form_key = f"reply:{uuid.UUID(values['parent_id'])}"
        except ValueError:
            raise NotFound("No such post in this thread to reply to.") from None

    async def write() -> str:
        data = forms.parse(page, PostIn, values, fields=("body", "parent_id"), optional=("parent_id",))
        created = await posts.create_post(db, thread.id, page.user, data, settings=page.settings, now=page.now)
        return thread_path(session, thread.id, created.id)

    return await submit(page, db, session, thread, form_key, values, "body", write)


@post("/sessions/{code:str}/posts/{post_id:uuid}/edit", name="post-edit")
async def edit_post(page: WebPage, db: DB, code: FromPath[str], post_id: FromPath[uuid.UUID]) -> FormAnswer:
    """`Edit` (the author): the new text; the earlier one is kept in `History`."""
    session, thread, _ = await post_of(page, db, code, post_id)
    values = await page.form()

    async def save() -> str:
        data = forms.parse(page, PostPatch, values, fields=("body",))
        await posts.edit_post(db, post_id, page.user, data.body, settings=page.settings, now=page.now)
        return thread_path(session, thread.id, post_id)

    return await submit(page, db, session, thread, f"edit:{post_id}", values, "body", save)


@post("/sessions/{code:str}/reactions", name="post-react")
async def react(page: WebPage, db: DB, code: FromPath[str]) -> FormAnswer:
    """`Agree` / `Disagree` / `Insightful` (the thread page's one reactions form): the button's `reaction` is
    `{post_id}:{kind}:add`, or `:remove` when pressed (the reaction taken back)."""
    page.user  # noqa: B018 (anonymous people are sent to `Log in` first)
    post_id, _, reaction = (await page.form()).get("reaction", "").partition(":")
    kind, _, change = reaction.partition(":")
    try:
        subject = uuid.UUID(post_id)
    except ValueError:
        raise NotFound("No such post.") from None
    if kind not in ("agree", "disagree", "insightful") or change not in ("add", "remove"):
        raise NotFound("No such reaction.")
    session, thread, _ = await post_of(page, db, code, subject)
    present = change == "add"
    mine = await reactions.set_reaction(db, subject, page.user, kind, present=present, now=page.now)  # type: ignore[arg-type]
    if in_place(page):  # the post's buttons again with the new counts, at once (the stream's event is coalesced)
        context = post_context(page, session, viewer_of(page, session), thread.locked)
        return page.render("threads/reactions_fragment.html", post=mine, **context)
    return page.redirect(thread_path(session, thread.id, subject))


@post("/sessions/{code:str}/posts/{post_id:uuid}/flag", name="post-flag")
async def flag(page: WebPage, db: DB, code: FromPath[str], post_id: FromPath[uuid.UUID]) -> FormAnswer:
    """`Flag` (reason, note): the post goes to the moderators' open flags."""
    session, thread, _ = await post_of(page, db, code, post_id)
    values = await page.form()

    async def send() -> str:
        data = forms.parse(page, FlagIn, values, fields=("reason", "note"), optional=("note",))
        await moderation.flag_post(db, post_id, page.user, data, now=page.now)
        return thread_path(session, thread.id, post_id)

    return await submit(page, db, session, thread, f"flag:{post_id}", values, "reason", send)


@post("/sessions/{code:str}/posts/{post_id:uuid}/moderation", name="post-moderate")
async def moderate(page: WebPage, db: DB, code: FromPath[str], post_id: FromPath[uuid.UUID]) -> FormAnswer:
    """Moderators: `Hide` (with `Reason`), `Unhide`, `Delete`; the author: `Delete`."""
    session, thread, _ = await post_of(page, db, code, post_id)
    values = await page.form()
    action = values.get("action")

    async def decide() -> str:
        if action == "delete":
            reason = values.get("reason", "").strip() or None
            await posts.delete_post(db, post_id, page.user, reason=reason, now=page.now)
        elif action in ("hide", "unhide"):
            optional = () if action == "hide" else ("reason",)
            data = forms.parse(page, PostModerationIn, values, fields=("action", "reason"), optional=optional)
            await moderation.moderate_post(db, post_id, page.user, data, now=page.now)
        else:
            raise NotFound("No such action.")
        return thread_path(session, thread.id, post_id)

    return await submit(page, db, session, thread, f"moderate:{post_id}", values, "reason", decide)


@post("/sessions/{code:str}/threads/{thread_id:uuid}/moderation", name="thread-moderate")
async def moderate_thread(page: WebPage, db: DB, code: FromPath[str], thread_id: FromPath[uuid.UUID]) -> FormAnswer:
    """Moderators: `Lock` / `Unlock`, `Pin` / `Unpin` the thread."""
    session, thread = await thread_of(page, db, code, thread_id)
    action = (await page.form()).get("action")
    if action not in ("lock", "unlock", "pin", "unpin"):
        raise NotFound("No such action.")
    await moderation.moderate_thread(db, thread.id, page.user, ThreadModerationIn(action=action), now=page.now)
    return done(page, thread_path(session, thread.id))


ROUTES = [
    thread_page,
    thread_summary,
    post_fragment,
    post_history,
    reply_page,
    edit_page,
    flag_page,
    moderate_page,
    create_post,
    edit_post,
    react,
    flag,
    moderate,
    moderate_thread,
]
