"""What a client needs to know about itself: its role in each session, the guiding questions, its sessions."""

from __future__ import annotations

from tests.factories import make_forum_session, signed_in
from tests.forum.test_structure import build_forum


async def test_a_session_keeps_its_guiding_questions_with_their_threads(client, db):
    _, admin = await signed_in(db, is_admin=True)
    _, _, session = await build_forum(client, admin, questions=["How to co-create?", "How to innovate?"])
    expected = session["guiding_questions"]
    assert [(item["position"], item["question"]) for item in expected] == [
        (1, "How to co-create?"),
        (2, "How to innovate?"),
    ]
    _, reader = await signed_in(db)
    threads = (await client.get(f"/api/sessions/{session['id']}/threads", headers=reader)).json()["items"]
    assert [item["thread_id"] for item in expected] == [thread["id"] for thread in threads]
    # A thread opened later is not a guiding question.
    extra = await client.post(f"/api/sessions/{session['id']}/threads", json={"title": "Other"}, headers=admin)
    assert extra.status_code == 201
    assert (await client.get(f"/api/sessions/{session['id']}")).json()["guiding_questions"] == expected
    listed = (await client.get("/api/sessions", params={"code": "1.1.1"})).json()["items"]
    assert [item["guiding_questions"] for item in listed] == [expected]


async def test_my_role_in_every_session_and_the_code_filter(client, db):
    moderator, moderator_headers = await signed_in(db)
    participant, participant_headers = await signed_in(db)
    _, outsider = await signed_in(db)
    _, admin = await signed_in(db, is_admin=True)
    session = await make_forum_session(db, members={moderator: "moderator", participant: "participant"})
    other = await make_forum_session(db)
    url = f"/api/sessions/{session.id}"
    for headers, role in [
        ({}, None),
        (outsider, None),
        (admin, None),  # admins moderate every session without being members
        (participant_headers, "participant"),
        (moderator_headers, "moderator"),
    ]:
        assert (await client.get(url, headers=headers)).json()["my_role"] == role
        listed = (await client.get("/api/sessions", params={"code": session.code}, headers=headers)).json()
        assert [(item["id"], item["my_role"]) for item in listed["items"]] == [(str(session.id), role)]
    edited = await client.patch(url, json={"title": "Renamed"}, headers=moderator_headers)
    assert edited.json()["my_role"] == "moderator"
    events = (await client.get(f"{url}/events", headers=participant_headers)).json()["items"]
    assert [item["data"]["my_role"] for item in events if item["event"] == "session.updated"] == [None]

    assert (await client.get("/api/sessions", params={"code": "9.9.9"})).json()["items"] == []
    assert (await client.get("/api/sessions", params={"code": other.code})).json()["items"][0]["id"] == str(other.id)
    bad = await client.get("/api/sessions", params={"code": "not a code"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "code"  # as a bad code in a body


async def test_my_sessions_lists_only_mine_with_my_role(client, db):
    me, headers = await signed_in(db)
    moderated = await make_forum_session(db, members={me: "moderator"})
    joined = await make_forum_session(db, members={me: "participant"})
    await make_forum_session(db)  # not mine
    mine = (await client.get("/api/me/sessions", headers=headers)).json()
    assert {(item["id"], item["my_role"]) for item in mine["items"]} == {
        (str(moderated.id), "moderator"),
        (str(joined.id), "participant"),
    }
    assert all(item["meeting_url"] for item in mine["items"])
    first = (await client.get("/api/me/sessions", params={"limit": 1}, headers=headers)).json()
    second = (await client.get("/api/me/sessions", params={"cursor": first["next_cursor"]}, headers=headers)).json()
    assert len(first["items"]) == 1 and len(second["items"]) == 1 and second["next_cursor"] is None
    assert (await client.get("/api/me/sessions")).status_code == 401
