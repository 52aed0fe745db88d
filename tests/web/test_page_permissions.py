"""The pages' permission matrix: every page route with the answer anonymous people, a participant (signed in
by the cookie, a member of the session), an outsider (signed in, not a member) and an organizer get.

Forms are sent with the page's CSRF token and no fields, so a form that admits the person answers 422 (its
errors) and changes nothing; one that does not admit them sends them to `Log in` (303) or answers 404. A page
route without a row fails `test_every_page_route_has_a_row`. (The API's matrix is tests/security.)
"""

from __future__ import annotations

import re
import uuid

import pytest
from litestar.routes import HTTPRoute

from deliberation.app import create_app
from deliberation.db.base import utcnow
from deliberation.settings import Settings
from deliberation.threads.posts import create_post
from deliberation.threads.schemas import PostIn
from tests.factories import make_forum_session, make_thread, make_user
from tests.web.test_sessions_and_csrf import csrf_of, log_in

ROLES = ("anonymous", "participant", "outsider", "admin")
# method, path, answers per role (303> is a redirect to Log in, 303 any other redirect)
MATRIX = [
    ("GET", "/", "200 200 200 200"),
    ("GET", "/sessions/{code}", "200 200 200 200"),
    ("GET", "/sessions/{code}/calendar.ics", "200 200 200 200"),
    ("POST", "/sessions/{code}/join", "303> 303 303 303"),
    ("POST", "/sessions/{code}/leave", "303> 303 404 404"),
    ("GET", "/signup", "200 303 303 303"),
    ("POST", "/signup", "422 422 422 422"),
    ("GET", "/login", "200 303 303 303"),
    ("POST", "/login", "422 422 422 422"),
    ("POST", "/logout", "303 303 303 303"),
    ("POST", "/language", "303 303 303 303"),
    ("GET", "/recover-password", "200 200 200 200"),
    ("POST", "/recover-password", "422 422 422 422"),
    ("GET", "/reset-password", "200 200 200 200"),
    ("POST", "/reset-password", "422 422 422 422"),
    ("GET", "/account", "303> 200 200 200"),
    ("POST", "/account/profile", "303> 422 422 422"),
    ("POST", "/account/password", "303> 422 422 422"),
    ("POST", "/account/representative", "303> 422 422 422"),
    ("GET", "/admin", "303> 404 404 200"),
    ("POST", "/admin/lines", "303> 404 404 422"),
    ("POST", "/admin/sublines", "303> 404 404 422"),
    ("POST", "/admin/sessions", "303> 404 404 422"),
    ("GET", "/admin/sessions/{code}", "303> 404 404 200"),
    ("POST", "/admin/sessions/{code}", "303> 404 404 422"),
    ("POST", "/admin/sessions/{code}/moderators", "303> 404 404 422"),
    ("POST", "/admin/claims/{user_id}", "303> 404 404 409"),  # the participant has claimed no office
    ("GET", "/sessions/{code}/threads/{thread_id}", "303> 200 200 200"),
    ("GET", "/sessions/{code}/threads/{thread_id}/summary", "303> 200 200 200"),
    ("POST", "/sessions/{code}/threads/{thread_id}/posts", "303> 422 422 422"),
    ("POST", "/sessions/{code}/threads/{thread_id}/moderation", "303> 404 404 404"),
    ("GET", "/sessions/{code}/posts/{post_id}", "303> 200 200 200"),
    ("GET", "/sessions/{code}/posts/{post_id}/history", "303> 200 200 200"),
    # a post's form pages, for those the post offers the form to (the participant wrote it; the organizer moderates)
    ("GET", "/sessions/{code}/posts/{post_id}/reply", "303> 200 404 404"),
    ("GET", "/sessions/{code}/posts/{post_id}/edit", "303> 200 404 404"),
    ("GET", "/sessions/{code}/posts/{post_id}/flag", "303> 404 404 404"),
    ("GET", "/sessions/{code}/posts/{post_id}/moderation", "303> 200 404 200"),
    ("POST", "/sessions/{code}/posts/{post_id}/edit", "303> 422 422 422"),
    ("POST", "/sessions/{code}/reactions", "303> 404 404 404"),  # no `reaction` naming a post
    ("POST", "/sessions/{code}/posts/{post_id}/flag", "303> 422 422 422"),
    ("POST", "/sessions/{code}/posts/{post_id}/moderation", "303> 404 404 404"),
    ("GET", "/sessions/{code}/moderation", "303> 404 404 200"),
    ("GET", "/sessions/{code}/moderation/flags", "303> 404 404 200"),
    ("GET", "/sessions/{code}/moderation/members", "303> 404 404 200"),
    ("POST", "/sessions/{code}/flags/{flag_id}", "303> 404 404 404"),
    ("POST", "/sessions/{code}/members/{user_id}", "303> 404 404 404"),
    ("GET", "/sessions/{code}/conclusions", "303> 200 200 200"),
    ("GET", "/sessions/{code}/conclusions/{conclusion_id}", "303> 404 404 404"),
    ("GET", "/sessions/{code}/conclusions/{conclusion_id}/tally", "303> 404 404 404"),
    ("GET", "/sessions/{code}/conclusions/tallies", "303> 200 200 200"),
    # {conclusion_id} and {proposal_id} name none here: members get as far as the form's errors, or 404
    ("POST", "/sessions/{code}/conclusions/{conclusion_id}/vote", "303> 422 404 422"),
    ("POST", "/sessions/{code}/conclusions/{conclusion_id}/vote/withdraw", "303> 404 404 404"),
    ("GET", "/proposals/{proposal_id}", "404 404 404 404"),
    ("POST", "/proposals/{proposal_id}/endorse", "303> 404 404 404"),
    ("POST", "/proposals/{proposal_id}/endorsement/withdraw", "303> 404 404 404"),
    ("GET", "/proposals/{proposal_id}/export", "404 404 404 404"),
    ("GET", "/audit", "200 200 200 200"),
    ("GET", "/sessions/{code}/moderation/conclusions/{conclusion_id}", "303> 404 404 404"),
    ("GET", "/sessions/{code}/moderation/compose", "303> 404 404 200"),
    ("GET", "/sessions/{code}/moderation/proposals/{proposal_id}", "303> 404 404 404"),
    ("POST", "/sessions/{code}/moderation/conclusions", "303> 404 404 422"),
    ("POST", "/sessions/{code}/moderation/conclusions/{conclusion_id}", "303> 404 404 422"),
    ("POST", "/sessions/{code}/moderation/conclusions/{conclusion_id}/voting", "303> 404 404 422"),
    ("POST", "/sessions/{code}/moderation/proposals", "303> 404 404 422"),
    ("POST", "/sessions/{code}/moderation/proposals/{proposal_id}", "303> 404 404 422"),
    ("POST", "/sessions/{code}/moderation/proposals/{proposal_id}/publish", "303> 404 404 422"),
    ("GET", "/sessions/{code}/board", "303> 200 404 200"),
    ("GET", "/sessions/{code}/board/debate", "303> 200 404 200"),
    ("GET", "/sessions/{code}/board/questions", "303> 200 404 200"),
    ("GET", "/sessions/{code}/board/votes", "303> 200 404 200"),
]


def page_routes() -> set[tuple[str, str]]:
    routes = set()
    for route in create_app().routes:
        if isinstance(route, HTTPRoute) and not route.path.startswith(
            ("/api", "/schema", "/static", "/health", "/ready", "/metrics")
        ):
            routes |= {
                (method, re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path))
                for method in route.methods
                if method not in ("OPTIONS", "HEAD")
            }
    return routes


def test_every_page_route_has_a_row():
    assert page_routes() == {(method, path) for method, path, _ in MATRIX}


@pytest.mark.parametrize(("method", "path", "expected"), MATRIX, ids=[f"{m} {p}" for m, p, _ in MATRIX])
async def test_page_matrix(app, db, method, path, expected):
    from tests.conftest import serve_in_process

    participant, outsider, admin = await make_user(db), await make_user(db), await make_user(db, is_admin=True)
    session = await make_forum_session(db, members={participant: "participant"})
    thread = await make_thread(db, session)
    written = await create_post(db, thread.id, participant, PostIn(body="A post"), settings=Settings(), now=utcnow())
    url = path.format(
        code=session.code,
        user_id=participant.id,
        thread_id=thread.id,
        post_id=written.id,
        flag_id=uuid.uuid4(),
        conclusion_id=uuid.uuid4(),
        proposal_id=uuid.uuid4(),
    )
    async with serve_in_process(app) as client:
        for role, answer in zip(ROLES, expected.split(), strict=True):
            client.cookies.clear()  # each role its own browser: no cookie of the role before
            if role != "anonymous":
                await log_in(client, {"participant": participant, "outsider": outsider, "admin": admin}[role].email)
            token = csrf_of((await client.get("/recover-password")).text)
            response = await (client.get(url) if method == "GET" else client.post(url, data={"csrf_token": token}))
            status = str(response.status_code) + (
                ">" if response.headers.get("location", "").startswith("/login") else ""
            )
            assert status == answer, f"{method} {path} as {role}: {status} {response.text[:300]}"
