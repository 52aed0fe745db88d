"""The permission matrix: every route and the websocket, with the answer each role gets.

Columns, in order: anonymous, outsider (signed in, not a member), participant, other_moderator (moderates
another session), moderator, representative (verified, not a member), admin. Each request runs in a savepoint
rolled back afterwards, so every role meets the same world. A route the app serves without a row here fails
`test_every_route_has_a_row`; a guard taken off a route changes a cell and fails `test_http_matrix`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
import websockets
from litestar.routes import HTTPRoute, WebSocketRoute

from deliberation.app import create_app
from deliberation.db.base import utcnow
from deliberation.db.engine import create_sessionmaker
from tests.conftest import serve_in_process
from tests.factories import PASSWORD
from tests.live import live_server, receive
from tests.security.conftest import ROLES, seed_world

WEBSOCKET = "WS"
TAG = secrets.token_hex(3)
DEFAULT_TARGETS = {  # path parameter -> the world id it takes unless a row says otherwise
    "session_id": "session",
    "line_id": "line",
    "thread_id": "thread",
    "post_id": "post",
    "flag_id": "flag",
    "user_id": "bystander",
    "conclusion_id": "draft_conclusion",
    "proposal_id": "draft_proposal",
}


@dataclass
class Row:
    method: str
    path: str
    expected: str  # one status (or close code, or "ok" for a websocket hello) per role, in ROLES order
    body: dict | None = None
    headers: dict[str, str] = field(default_factory=dict)
    targets: dict[str, str] = field(default_factory=dict)
    label: str = ""

    def statuses(self) -> dict[str, str]:
        cells = self.expected.split()
        assert len(cells) == len(ROLES), f"{self.method} {self.path}: {len(cells)} cells"
        return dict(zip(ROLES, cells, strict=True))

    def url(self, ids: dict[str, str]) -> str:
        values = {name: ids[kind] for name, kind in (DEFAULT_TARGETS | self.targets).items()}
        return self.path.format(kind="agree", **values)


def session_in(ids: dict[str, str]) -> dict:
    return {
        "code": f"S{TAG}",
        "title": "New session",
        "subline_id": ids["subline"],
        "category": "workshop",
        "starts_at": (utcnow() + timedelta(days=2)).isoformat(),
        "duration_minutes": 60,
        "platform": "Zoom",
    }


PUBLISHED = {"proposal_id": "published_proposal"}
V1 = {"If-Match": "1"}
# fmt: off
# columns: anonymous, outsider, participant, other_moderator, moderator, representative, admin
MATRIX = [
    Row("GET", "/health", "200 200 200 200 200 200 200"),
    Row("GET", "/ready", "200 200 200 200 200 200 200"),
    Row("GET", "/metrics", "200 200 200 200 200 200 200"),
    Row("POST", "/api/auth/signup", "201 201 201 201 201 201 201",
        {"email": f"new-{TAG}@example.org", "password": "a long new password", "display_name": "New"}),
    Row("POST", "/api/auth/login", "200 200 200 200 200 200 200",
        {"email": "{participant_email}", "password": PASSWORD}),
    Row("POST", "/api/auth/logout", "401 204 204 204 204 204 204"),
    Row("POST", "/api/auth/password-reset", "202 202 202 202 202 202 202", {"email": "{participant_email}"}),
    Row("POST", "/api/auth/password-reset/confirm", "400 400 400 400 400 400 400",
        {"token": "not-a-token", "password": "a long new password"}),
    Row("GET", "/api/me", "401 200 200 200 200 200 200"),
    Row("PATCH", "/api/me", "401 200 200 200 200 200 200", {"display_name": "Renamed"}),
    Row("POST", "/api/me/representative-claim", "401 202 202 202 202 202 202",
        {"office": "Mayor", "territory": "Tandil"}),
    Row("GET", "/api/admin/representative-claims", "401 403 403 403 403 403 200"),
    Row("POST", "/api/admin/users/{user_id}/representative", "401 403 403 403 403 403 200", {"verified": True},
        targets={"user_id": "representative_user"}),
    Row("GET", "/api/audit", "200 200 200 200 200 200 200"),
    Row("GET", "/api/audit/verify", "200 200 200 200 200 200 200"),
    Row("GET", "/api/audit/checkpoint", "200 200 200 200 200 200 200"),
    Row("GET", "/api/audit/public-key", "200 200 200 200 200 200 200"),
    Row("GET", "/api/sessions/{session_id}/events", "401 403 200 403 200 403 200"),
    Row(WEBSOCKET, "/api/sessions/{session_id}/live", "4401 4403 ok 4403 ok 4403 ok"),
    Row("POST", "/api/sessions/{session_id}/live-ticket", "401 403 201 403 201 403 201"),
    Row("GET", "/api/sessions/{session_id}/presence", "401 403 200 403 200 403 200"),
    Row("GET", "/api/sessions/{session_id}/state", "401 403 200 403 200 403 200"),
    Row("GET", "/api/lines", "200 200 200 200 200 200 200"),
    Row("POST", "/api/lines", "401 403 403 403 403 403 201", {"number": f"X{TAG}", "title": "New line"}),
    Row("POST", "/api/lines/{line_id}/sublines", "401 403 403 403 403 403 201",
        {"number": f"X{TAG}.1", "title": "Sub"}),
    Row("GET", "/api/sessions", "200 200 200 200 200 200 200"),
    Row("POST", "/api/sessions", "401 403 403 403 403 403 201", session_in),
    Row("GET", "/api/sessions/{session_id}", "200 200 200 200 200 200 200"),
    Row("PATCH", "/api/sessions/{session_id}", "401 403 403 403 200 403 200", {"title": "Renamed session"}),
    Row("POST", "/api/sessions/{session_id}/join", "401 204 204 204 204 204 204"),
    Row("GET", "/api/sessions/{session_id}/members", "401 403 200 403 200 403 200"),
    Row("PUT", "/api/sessions/{session_id}/members/{user_id}", "401 403 403 403 200 403 200", {"role": "moderator"}),
    Row("DELETE", "/api/sessions/{session_id}/members/{user_id}", "401 403 403 403 204 403 204"),
    Row("DELETE", "/api/sessions/{session_id}/members/me", "401 404 204 404 204 404 404"),
    Row("GET", "/api/me/sessions", "401 200 200 200 200 200 200"),
    Row("GET", "/api/sessions/{session_id}/threads", "401 200 200 200 200 200 200"),
    Row("POST", "/api/sessions/{session_id}/threads", "401 403 403 403 201 403 201", {"title": "New thread"}),
    Row("GET", "/api/sessions/{session_id}/flags", "401 403 403 403 200 403 200"),
    Row("GET", "/api/threads/{thread_id}", "401 200 200 200 200 200 200"),
    Row("GET", "/api/threads/{thread_id}/posts", "401 200 200 200 200 200 200"),
    Row("POST", "/api/threads/{thread_id}/posts", "401 403 201 403 201 403 201", {"body": "Hello"}),
    Row("POST", "/api/threads/{thread_id}/moderation", "401 403 403 403 200 403 200", {"action": "pin"}),
    Row("GET", "/api/posts/{post_id}", "401 200 200 200 200 200 200"),
    Row("PATCH", "/api/posts/{post_id}", "401 403 200 403 403 403 403", {"body": "Edited"}),
    Row("DELETE", "/api/posts/{post_id}", "401 403 204 403 204 403 204"),
    Row("GET", "/api/posts/{post_id}/revisions", "401 200 200 200 200 200 200"),
    Row("PUT", "/api/posts/{post_id}/reactions/{kind}", "401 403 204 403 204 403 204"),
    Row("DELETE", "/api/posts/{post_id}/reactions/{kind}", "401 403 204 403 204 403 204"),
    Row("POST", "/api/posts/{post_id}/flags", "401 403 201 403 201 403 201", {"reason": "spam"}),
    Row("POST", "/api/posts/{post_id}/moderation", "401 403 403 403 200 403 200",
        {"action": "hide", "reason": "Off topic"}),
    Row("POST", "/api/flags/{flag_id}/resolution", "401 403 403 403 200 403 200", {"action": "dismiss"}),
    Row("GET", "/api/sessions/{session_id}/conclusions", "401 200 200 200 200 200 200"),
    Row("POST", "/api/sessions/{session_id}/conclusions", "401 403 403 403 201 403 201",
        {"title": "New conclusion", "body": "Text", "source_post_ids": ["{post}"]}),
    Row("GET", "/api/conclusions/{conclusion_id}", "401 200 200 200 200 200 200"),
    Row("PATCH", "/api/conclusions/{conclusion_id}", "401 403 403 403 200 403 200", {"title": "Edited"}, V1),
    Row("GET", "/api/conclusions/{conclusion_id}/versions", "401 200 200 200 200 200 200"),
    Row("POST", "/api/conclusions/{conclusion_id}/voting", "401 403 403 403 200 403 200", {"action": "open"}),
    Row("PUT", "/api/conclusions/{conclusion_id}/vote", "401 403 200 403 200 403 200", {"choice": "oppose"},
        targets={"conclusion_id": "voting_conclusion"}),
    Row("DELETE", "/api/conclusions/{conclusion_id}/vote", "401 403 204 403 204 403 204",
        targets={"conclusion_id": "voting_conclusion"}),
    Row("GET", "/api/conclusions/{conclusion_id}/tally", "401 200 200 200 200 200 200",
        targets={"conclusion_id": "voting_conclusion"}, label="open vote: signed-in users"),
    Row("GET", "/api/conclusions/{conclusion_id}/tally", "200 200 200 200 200 200 200",
        targets={"conclusion_id": "adopted_conclusion"}, label="closed vote: public"),
    Row("GET", "/api/sessions/{session_id}/proposals", "200 200 200 200 200 200 200"),
    Row("POST", "/api/sessions/{session_id}/proposals", "401 403 403 403 201 403 201",
        {"title": "New proposal", "summary": "S", "body": "B", "conclusion_ids": ["{adopted_conclusion}"]}),
    Row("GET", "/api/proposals/{proposal_id}", "404 200 200 200 200 200 200", label="draft: signed-in users"),
    Row("GET", "/api/proposals/{proposal_id}", "200 200 200 200 200 200 200", targets=PUBLISHED, label="published"),
    Row("PATCH", "/api/proposals/{proposal_id}", "401 403 403 403 200 403 200", {"title": "Edited"}, V1),
    Row("GET", "/api/proposals/{proposal_id}/versions", "404 200 200 200 200 200 200", label="draft"),
    Row("GET", "/api/proposals/{proposal_id}/versions", "200 200 200 200 200 200 200",
        targets=PUBLISHED, label="published"),
    Row("POST", "/api/proposals/{proposal_id}/publish", "401 403 403 403 200 403 200"),
    Row("GET", "/api/proposals/{proposal_id}/export", "404 200 200 200 200 200 200", label="draft"),
    Row("GET", "/api/proposals/{proposal_id}/export", "200 200 200 200 200 200 200",
        targets=PUBLISHED, label="published"),
    Row("GET", "/api/proposals/{proposal_id}/endorsements", "200 200 200 200 200 200 200", targets=PUBLISHED),
    Row("POST", "/api/proposals/{proposal_id}/endorsements", "401 403 403 403 403 201 403", {"stance": "endorse"},
        targets=PUBLISHED),
    Row("DELETE", "/api/proposals/{proposal_id}/endorsements/mine", "401 404 404 404 404 204 404",
        targets={"proposal_id": "endorsed_proposal"}),
]
# fmt: on


def fill(value, ids: dict[str, str]):
    """A body template with `{world id}` strings replaced by the ids."""
    if callable(value):
        return value(ids)
    if isinstance(value, dict):
        return {key: fill(item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [fill(item, ids) for item in value]
    return value.format(**ids) if isinstance(value, str) and value.startswith("{") else value


def served_routes() -> set[tuple[str, str]]:
    """(method, path) of every route the app serves, but the schema viewer, automatic OPTIONS answers and the
    web pages (signed in by cookie, not by token: their matrix is tests/web/test_page_permissions.py)."""
    app = create_app()
    routes = set()
    for route in app.routes:
        if route.path.startswith("/schema") or not route.path.startswith(("/api", "/health", "/ready", "/metrics")):
            continue
        if isinstance(route, WebSocketRoute):
            routes.add((WEBSOCKET, route.path_format))
        elif isinstance(route, HTTPRoute):
            routes |= {(method, route.path_format) for method in route.methods if method != "OPTIONS"}
    return routes


def test_every_route_has_a_row():
    rows = {(row.method, row.path) for row in MATRIX}
    served = served_routes()
    assert served - rows == set(), "routes without a row in the permission matrix"
    assert rows - served == set(), "rows for routes the app does not serve"


@pytest.fixture
async def world_app(engine, settings):
    """The app on one connection; the world is seeded in its transaction, which is rolled back at the end."""
    async with engine.connect() as connection:
        transaction = await connection.begin()
        sessionmaker = create_sessionmaker(connection, join_transaction_mode="create_savepoint")
        app = create_app(settings, sessionmaker=sessionmaker)
        async with serve_in_process(app) as client, sessionmaker() as db:
            world = await seed_world(db, client)
            yield connection, client, world
        await transaction.rollback()


async def test_http_matrix(world_app):
    connection, client, world = world_app
    wrong = []
    for row in MATRIX:
        if row.method == WEBSOCKET:
            continue
        body = fill(row.body, world.ids) if row.body is not None else None
        for role, expected in row.statuses().items():
            savepoint = await connection.begin_nested()
            try:
                response = await client.request(
                    row.method, row.url(world.ids), json=body, headers={**world.headers[role], **row.headers}
                )
            finally:
                await savepoint.rollback()
            if str(response.status_code) != expected:
                wrong.append(f"{row.method} {row.path} {row.label} as {role}: {response.status_code}, not {expected}")
    assert wrong == []


async def close_code_or_hello(url: str, headers: dict[str, str]) -> str:
    async with websockets.connect(url, additional_headers=headers) as socket:
        try:
            frame = await receive(socket)
        except websockets.ConnectionClosed as closed:
            return str(closed.rcvd.code)
    return "ok" if frame["type"] == "hello" else frame["type"]


async def test_websocket_row(committed, live_client, live_settings):
    """The live stream, on committed data (a real server; its own connections)."""
    world = await seed_world(committed, live_client)
    (row,) = [row for row in MATRIX if row.method == WEBSOCKET]
    async with live_server(live_settings) as server:
        answers = {
            role: await close_code_or_hello(server.ws + row.url(world.ids), world.headers[role]) for role in ROLES
        }
    assert answers == row.statuses()
