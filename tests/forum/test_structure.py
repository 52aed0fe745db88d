import secrets
from datetime import UTC, datetime, timedelta

from tests.factories import make_forum_session, signed_in

START = datetime(2031, 5, 20, 14, 0, tzinfo=UTC)


async def build_forum(client, headers, *, questions=()):
    """Line 1, subline 1.1 and session 1.1.1 through the API, as an organizer does."""
    line = await client.post(
        "/api/lines",
        json={"number": "1", "title": "The Territory as a basis for innovation", "description": "Line one."},
        headers=headers,
    )
    assert line.status_code == 201, line.text
    subline = await client.post(
        f"/api/lines/{line.json()['id']}/sublines",
        json={"number": "1.1", "title": "The territory as a source of innovation"},
        headers=headers,
    )
    assert subline.status_code == 201, subline.text
    session = await client.post(
        "/api/sessions",
        json={
            "code": "1.1.1",
            "title": "Alliances and partnerships between actors",
            "subline_id": subline.json()["id"],
            "category": "round_table",
            "description": "A round table.",
            "starts_at": START.isoformat(),
            "duration_minutes": 90,
            "platform": "Zoom",
            "meeting_url": "https://zoom.example.org/j/111",
            "guiding_questions": list(questions),
        },
        headers=headers,
    )
    assert session.status_code == 201, session.text
    return line.json(), subline.json(), session.json()


async def test_admin_builds_the_forum_and_anyone_browses_it(client, db):
    _, admin_headers = await signed_in(db, is_admin=True)
    line, subline, session = await build_forum(
        client, admin_headers, questions=["How to co-create?", "How to innovate?"]
    )

    assert session["code"] == "1.1.1"
    assert session["line"] == {"id": line["id"], "number": "1", "title": line["title"]}
    assert session["subline"] == subline
    assert session["ends_at"] == (START + timedelta(minutes=90)).isoformat().replace("+00:00", "Z")
    assert session["last_seq"] == 0 and session["discussion_open"] is True

    lines = (await client.get("/api/lines")).json()["items"]
    ours = next(item for item in lines if item["id"] == line["id"])
    assert ours["description"] == "Line one."
    assert ours["sublines"] == [subline]

    public = (await client.get(f"/api/sessions/{session['id']}")).json()
    assert public["title"] == "Alliances and partnerships between actors"
    assert public["meeting_url"] is None


async def test_creating_a_session_opens_one_thread_per_guiding_question_in_order(client, db):
    from sqlalchemy import select

    from deliberation.forum.models import Thread

    _, admin_headers = await signed_in(db, is_admin=True)
    questions = ["Co-creation?", "Capacity to innovate?", "Structures for dialogue?", "Transparency?"]
    _, _, session = await build_forum(client, admin_headers, questions=questions)
    async with db.begin():
        titles = (
            await db.scalars(select(Thread.title).where(Thread.session_id == session["id"]).order_by(Thread.position))
        ).all()
    assert titles == questions


async def test_only_admins_build_the_forum(client, db):
    _, headers = await signed_in(db)
    assert (await client.post("/api/lines", json={"number": "9", "title": "x"})).status_code == 401
    assert (await client.post("/api/lines", json={"number": "9", "title": "x"}, headers=headers)).status_code == 403


async def test_invalid_input_is_refused_with_field_errors(client, db):
    _, admin_headers = await signed_in(db, is_admin=True)
    _, subline, _ = await build_forum(client, admin_headers)
    valid = {
        "code": "1.1.2",
        "title": "Workshop",
        "subline_id": subline["id"],
        "category": "workshop",
        "description": "",
        "starts_at": START.isoformat(),
        "duration_minutes": 60,
        "platform": "Zoom",
    }

    bad_category = await client.post("/api/sessions", json={**valid, "category": "party"}, headers=admin_headers)
    assert bad_category.status_code == 422
    assert [error["field"] for error in bad_category.json()["errors"]] == ["category"]

    unknown_subline = {**valid, "subline_id": "00000000-0000-4000-8000-000000000000"}
    response = await client.post("/api/sessions", json=unknown_subline, headers=admin_headers)
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "subline_id", "message": "No such subline."}]

    naive_time = await client.post(
        "/api/sessions", json={**valid, "starts_at": "2031-05-20T14:00:00"}, headers=admin_headers
    )
    assert naive_time.status_code == 422 and naive_time.json()["errors"][0]["field"] == "starts_at"
    no_duration = await client.post("/api/sessions", json={**valid, "duration_minutes": 0}, headers=admin_headers)
    assert no_duration.status_code == 422 and no_duration.json()["errors"][0]["field"] == "duration_minutes"

    duplicate = await client.post("/api/sessions", json={**valid, "code": "1.1.1"}, headers=admin_headers)
    assert duplicate.status_code == 409
    duplicate_line = await client.post("/api/lines", json={"number": "1", "title": "again"}, headers=admin_headers)
    assert duplicate_line.status_code == 409
    unknown_line = await client.post(
        "/api/lines/00000000-0000-4000-8000-000000000000/sublines",
        json={"number": "1", "title": "x"},
        headers=admin_headers,
    )
    assert unknown_line.status_code == 404


async def test_status_follows_the_clock(app, client, db):
    session = await make_forum_session(db, starts_at=START, duration_minutes=90)
    url = f"/api/sessions/{session.id}"

    app.state.clock = lambda: START - timedelta(minutes=1)
    assert (await client.get(url)).json()["status"] == "upcoming"
    app.state.clock = lambda: START
    assert (await client.get(url)).json()["status"] == "live"
    app.state.clock = lambda: START + timedelta(minutes=89)
    assert (await client.get(url)).json()["status"] == "live"
    app.state.clock = lambda: START + timedelta(minutes=90)
    assert (await client.get(url)).json()["status"] == "passed"


async def test_listing_filters_by_status_line_subline_and_category(app, client, db):
    upcoming = await make_forum_session(db, starts_at=START + timedelta(days=1), category="workshop")
    live = await make_forum_session(db, starts_at=START - timedelta(minutes=30), category="round_table")
    passed = await make_forum_session(db, starts_at=START - timedelta(days=1), category="plenary")
    ours = {upcoming.code, live.code, passed.code}
    app.state.clock = lambda: START

    async def codes(**params):
        response = await client.get("/api/sessions", params={"limit": 200, **params})
        assert response.status_code == 200, response.text
        return [item["code"] for item in response.json()["items"] if item["code"] in ours]

    assert await codes() == [passed.code, live.code, upcoming.code]
    assert await codes(status="upcoming") == [upcoming.code]
    assert await codes(status="live") == [live.code]
    assert await codes(status="passed") == [passed.code]
    assert await codes(subline=str(live.subline_id)) == [live.code]
    assert await codes(category="plenary") == [passed.code]
    assert await codes(category="workshop", subline=str(passed.subline_id)) == []

    lines = (await client.get("/api/lines")).json()["items"]
    upcoming_line = next(line for line in lines if line["sublines"][0]["id"] == str(upcoming.subline_id))
    assert await codes(line=upcoming_line["id"]) == [upcoming.code]

    assert (await client.get("/api/sessions", params={"status": "soon"})).status_code == 400
    assert (await client.get("/api/sessions", params={"category": "party"})).status_code == 400


async def test_listing_is_sorted_by_start_then_id_and_paginated(client, db):
    # Several sessions share a start time, so the id breaks ties across page boundaries.
    created = [await make_forum_session(db, starts_at=START - timedelta(hours=n % 3)) for n in range(7)]
    ours = {session.code for session in created}
    expected = [session.code for session in sorted(created, key=lambda s: (s.starts_at, str(s.id)))]

    seen, cursor = [], None
    while True:
        params = {"limit": 3} if cursor is None else {"limit": 3, "cursor": cursor}
        page = (await client.get("/api/sessions", params=params)).json()
        seen += [item["code"] for item in page["items"] if item["code"] in ours]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected


async def test_start_times_outside_2000_to_2099_are_422_and_the_listing_keeps_working(client, db):
    _, admin_headers = await signed_in(db, is_admin=True)
    _, subline, session = await build_forum(client, admin_headers)
    valid = {
        "code": "1.1.3",
        "title": "Far away",
        "subline_id": subline["id"],
        "category": "workshop",
        "starts_at": START.isoformat(),
        "duration_minutes": 7 * 24 * 60,
        "platform": "Zoom",
    }
    for starts_at in ("9999-12-31T00:00:00Z", "1999-12-31T23:59:00Z", "2100-01-01T00:00:00Z"):
        created = await client.post("/api/sessions", json={**valid, "starts_at": starts_at}, headers=admin_headers)
        assert created.status_code == 422, created.text
        assert "starts_at" in created.text
        patched = await client.patch(
            f"/api/sessions/{session['id']}", json={"starts_at": starts_at}, headers=admin_headers
        )
        assert patched.status_code == 422, patched.text
    assert (await client.get("/api/sessions")).status_code == 200
    latest = await client.post(
        "/api/sessions", json={**valid, "starts_at": "2099-12-31T23:00:00Z"}, headers=admin_headers
    )
    assert latest.status_code == 201 and latest.json()["ends_at"] == "2100-01-07T23:00:00Z"
    assert (await client.get("/api/sessions")).status_code == 200


async def test_lines_and_sublines_are_listed_in_natural_number_order(client, db):
    _, admin_headers = await signed_in(db, is_admin=True)
    base = str(secrets.randbelow(10**6) + 10**6)  # line numbers are global; keep ours apart from others'
    ids = {}
    for number in (f"{base}.10", f"{base}.2", f"{base}.9"):
        line = await client.post("/api/lines", json={"number": number, "title": "Line"}, headers=admin_headers)
        ids[line.json()["id"]] = number
    first = next(iter(ids))
    for number in ("1.10", "1.2", "1.9", "1.b", "1.a"):
        created = await client.post(
            f"/api/lines/{first}/sublines", json={"number": number, "title": "Sub"}, headers=admin_headers
        )
        assert created.status_code == 201
    listing = (await client.get("/api/lines")).json()
    assert listing["next_cursor"] is None
    ours = [item for item in listing["items"] if item["id"] in ids]
    assert [item["number"] for item in ours] == [f"{base}.2", f"{base}.9", f"{base}.10"]
    sublines = next(item for item in ours if item["id"] == first)["sublines"]
    assert [sub["number"] for sub in sublines] == ["1.2", "1.9", "1.10", "1.a", "1.b"]


async def test_blank_titles_questions_and_platforms_are_refused(client, db):
    _, admin_headers = await signed_in(db, is_admin=True)
    _, subline, session = await build_forum(client, admin_headers)
    assert (
        await client.post("/api/lines", json={"number": "77", "title": "  "}, headers=admin_headers)
    ).status_code == 422
    valid = {
        "code": "1.1.4",
        "title": "Workshop",
        "subline_id": subline["id"],
        "category": "workshop",
        "starts_at": START.isoformat(),
        "duration_minutes": 60,
        "platform": "Zoom",
    }
    for blank in ({"title": " \t"}, {"platform": "   "}, {"guiding_questions": ["Fine?", "  "]}):
        response = await client.post("/api/sessions", json={**valid, **blank}, headers=admin_headers)
        assert response.status_code == 422, blank
    url = f"/api/sessions/{session['id']}"
    assert (await client.patch(url, json={"title": "   "}, headers=admin_headers)).status_code == 422


async def test_a_patch_that_changes_nothing_emits_no_event(client, db):
    moderator, headers = await signed_in(db)
    session = await make_forum_session(db, members={moderator: "moderator"})
    url = f"/api/sessions/{session.id}"
    for patch in ({}, {"title": session.title, "discussion_open": True}):
        unchanged = await client.patch(url, json=patch, headers=headers)
        assert unchanged.status_code == 200
        assert unchanged.json()["last_seq"] == 0
    assert (await client.get(f"{url}/events", headers=headers)).json()["items"] == []
    changed = await client.patch(url, json={"title": "New title"}, headers=headers)
    assert changed.json()["last_seq"] == 1
