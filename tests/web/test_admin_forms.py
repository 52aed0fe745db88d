"""/admin's forms refused or taken as typed: a subline for a line that does not exist keeps what was typed and
says so by the `Thematic line` field; a start time given with an offset is that instant. In-process (httpx over
ASGI), no browser needed."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime

from sqlalchemy import select

from deliberation.forum.models import Session, Subline
from tests.factories import make_forum_session, make_user
from tests.web.test_sessions_and_csrf import csrf_of, log_in


async def signed_in_organizer(client, db) -> str:
    """Sign an organizer in; the CSRF token of their /admin page."""
    await log_in(client, (await make_user(db, is_admin=True)).email)
    return csrf_of((await client.get("/admin")).text)


async def test_a_subline_for_a_line_that_does_not_exist_keeps_what_was_typed(client, db):
    await make_forum_session(db)  # a line exists, so the page has its `Add a subline` form
    token = await signed_in_organizer(client, db)
    form = {"line": str(uuid.uuid4()), "subline_number": "7.4", "subline_title": "Water for towns", "csrf_token": token}

    refused = await client.post("/admin/sublines", data=form)

    assert refused.status_code == 422
    assert 'value="7.4"' in refused.text and 'value="Water for towns"' in refused.text
    assert '<p class="error" id="f-line-error">No such thematic line.</p>' in refused.text
    async with db.begin():
        assert await db.scalar(select(Subline).where(Subline.title == "Water for towns")) is None


async def test_a_start_time_with_an_offset_is_that_instant_on_create_and_on_edit(client, db):
    token = await signed_in_organizer(client, db)
    placed = await make_forum_session(db)
    code = f"Z{secrets.token_hex(3)}"
    form = {
        "code": code,
        "title": "Heat plans",
        "subline_id": str(placed.subline_id),
        "category": "workshop",
        "starts_at": "2030-06-01T10:00+02:00",
        "time_zone": "Europe/London",
        "duration_minutes": "60",
        "platform": "Jitsi",
        "meeting_url": "",
        "description": "",
        "guiding_questions": "Who pays?",
        "csrf_token": token,
    }
    created = await client.post("/admin/sessions", data=form)
    assert created.status_code == 303, created.text
    async with db.begin():
        session = await db.scalar(select(Session).where(Session.code == code))
        assert session.starts_at == datetime(2030, 6, 1, 8, 0, tzinfo=UTC)

    edited = await client.post(f"/admin/sessions/{code}", data=form | {"starts_at": "2030-06-02T09:30-03:00"})
    assert edited.status_code == 303, edited.text
    async with db.begin():
        await db.refresh(session)
        assert session.starts_at == datetime(2030, 6, 2, 12, 30, tzinfo=UTC)
    # Without an offset it is a wall time in the session's zone (London is UTC+1 in June), as the form shows it.
    assert (await client.post(f"/admin/sessions/{code}", data=form | {"starts_at": "2030-06-03T18:00"})).is_redirect
    async with db.begin():
        await db.refresh(session)
        assert session.starts_at == datetime(2030, 6, 3, 17, 0, tzinfo=UTC)
