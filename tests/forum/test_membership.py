import uuid

from tests.factories import make_forum_session, signed_in


async def test_a_user_joins_and_then_sees_members_and_the_meeting_url(client, db):
    other, _ = await signed_in(db, display_name="Ben")
    session = await make_forum_session(db, meeting_url="https://zoom.example.org/j/42", members={other: "moderator"})
    ana, headers = await signed_in(db, display_name="Ana", actor_type="civil_society")
    url = f"/api/sessions/{session.id}"

    assert (await client.get(url, headers=headers)).json()["meeting_url"] is None
    assert (await client.get(f"{url}/members", headers=headers)).status_code == 403

    assert (await client.post(f"{url}/join", headers=headers)).status_code == 204
    assert (await client.post(f"{url}/join", headers=headers)).status_code == 204

    assert (await client.get(url, headers=headers)).json()["meeting_url"] == "https://zoom.example.org/j/42"
    listed = (await client.get("/api/sessions", params={"subline": str(session.subline_id)}, headers=headers)).json()
    assert listed["items"][0]["meeting_url"] == "https://zoom.example.org/j/42"
    anonymous = (await client.get("/api/sessions", params={"subline": str(session.subline_id)})).json()
    assert anonymous["items"][0]["meeting_url"] is None

    members = (await client.get(f"{url}/members", headers=headers)).json()
    assert [(item["user"]["display_name"], item["role"]) for item in members["items"]] == [
        ("Ben", "moderator"),
        ("Ana", "participant"),
    ]
    ben, me = members["items"][0]["user"], members["items"][1]["user"]
    assert me["actor_type"] == "civil_society"
    # Emails: a member sees their own, not other members'.
    assert me["email"] == ana.email and "email" not in ben
    assert members["next_cursor"] is None


async def test_joining_needs_an_account_and_a_known_session(client, db):
    session = await make_forum_session(db)
    _, headers = await signed_in(db)
    assert (await client.post(f"/api/sessions/{session.id}/join")).status_code == 401
    assert (await client.post(f"/api/sessions/{uuid.uuid4()}/join", headers=headers)).status_code == 404


async def test_a_moderator_promotes_a_participant_and_the_audit_log_shows_it(client, db):
    moderator, moderator_headers = await signed_in(db, display_name="Mod")
    participant, participant_headers = await signed_in(db)
    session = await make_forum_session(db, members={moderator: "moderator", participant: "participant"})
    member_url = f"/api/sessions/{session.id}/members/{participant.id}"

    # A participant cannot change roles, not even their own.
    refused = await client.put(member_url, json={"role": "moderator"}, headers=participant_headers)
    assert refused.status_code == 403

    promoted = await client.put(member_url, json={"role": "moderator"}, headers=moderator_headers)
    assert promoted.status_code == 200
    assert promoted.json()["role"] == "moderator"
    # The promoted participant now moderates: they may edit the session.
    edited = await client.patch(f"/api/sessions/{session.id}", json={"title": "Renamed"}, headers=participant_headers)
    assert edited.status_code == 200 and edited.json()["title"] == "Renamed"

    entries = (await client.get("/api/audit", params={"session": str(session.id)})).json()["items"]
    assert [(e["action"], e["actor"]["display_name"], e["data"]) for e in entries] == [
        ("member.role_changed", "Mod", {"user_id": str(participant.id), "from": "participant", "to": "moderator"})
    ]
    assert entries[0]["target_id"] == str(participant.id)

    # Setting the same role again changes nothing and records nothing.
    again = await client.put(member_url, json={"role": "moderator"}, headers=moderator_headers)
    assert again.status_code == 200
    assert len((await client.get("/api/audit", params={"session": str(session.id)})).json()["items"]) == 1


async def test_admins_moderate_every_session_and_can_add_and_remove_members(client, db):
    _, admin_headers = await signed_in(db, is_admin=True)
    outsider, _ = await signed_in(db)
    session = await make_forum_session(db)
    member_url = f"/api/sessions/{session.id}/members/{outsider.id}"

    added = await client.put(member_url, json={"role": "participant"}, headers=admin_headers)
    assert added.status_code == 200
    members = (await client.get(f"/api/sessions/{session.id}/members", headers=admin_headers)).json()["items"]
    assert [item["user"]["id"] for item in members] == [str(outsider.id)]

    assert (await client.delete(member_url, headers=admin_headers)).status_code == 204
    assert (await client.delete(member_url, headers=admin_headers)).status_code == 404
    assert (await client.get(f"/api/sessions/{session.id}/members", headers=admin_headers)).json()["items"] == []

    entries = (await client.get("/api/audit", params={"session": str(session.id)})).json()["items"]
    assert [(e["action"], e["data"]) for e in entries] == [
        ("member.role_changed", {"user_id": str(outsider.id), "from": None, "to": "participant"}),
        ("member.removed", {"user_id": str(outsider.id), "role": "participant"}),
    ]

    unknown_user = await client.put(
        f"/api/sessions/{session.id}/members/{uuid.uuid4()}", json={"role": "participant"}, headers=admin_headers
    )
    assert unknown_user.status_code == 404
    bad_role = await client.put(member_url, json={"role": "owner"}, headers=admin_headers)
    assert bad_role.status_code == 422 and bad_role.json()["errors"][0]["field"] == "role"


async def test_non_members_and_participants_are_refused_on_member_and_moderator_routes(client, db):
    participant, participant_headers = await signed_in(db)
    _, outsider_headers = await signed_in(db)
    session = await make_forum_session(db, members={participant: "participant"})
    base = f"/api/sessions/{session.id}"

    assert (await client.get(f"{base}/members")).status_code == 401
    assert (await client.get(f"{base}/members", headers=outsider_headers)).status_code == 403
    assert (await client.get(f"/api/sessions/{uuid.uuid4()}/members", headers=outsider_headers)).status_code == 404
    for headers in (outsider_headers, participant_headers):
        assert (await client.patch(base, json={"title": "Mine"}, headers=headers)).status_code == 403
        removal = await client.delete(f"{base}/members/{participant.id}", headers=headers)
        assert removal.status_code == 403


async def test_moderators_open_and_close_discussion_and_edit_details(client, db):
    moderator, headers = await signed_in(db)
    session = await make_forum_session(db, members={moderator: "moderator"}, discussion_open=False)
    url = f"/api/sessions/{session.id}"

    opened = await client.patch(
        url,
        json={"discussion_open": True, "duration_minutes": 120, "meeting_url": None, "category": "workshop"},
        headers=headers,
    )
    assert opened.status_code == 200, opened.text
    body = opened.json()
    assert body["discussion_open"] is True
    assert body["duration_minutes"] == 120 and body["category"] == "workshop" and body["meeting_url"] is None
    assert body["title"] == session.title

    closed = await client.patch(url, json={"discussion_open": False}, headers=headers)
    assert closed.json()["discussion_open"] is False
    actions = [
        e["action"] for e in (await client.get("/api/audit", params={"session": str(session.id)})).json()["items"]
    ]
    assert actions == ["session.discussion_opened", "session.discussion_closed"]

    assert (await client.patch(url, json={"code": "9.9.9"}, headers=headers)).status_code == 400
    assert (await client.patch(url, json={"category": "party"}, headers=headers)).status_code == 422


async def test_emails_of_members_show_to_admins_only(client, db):
    moderator, moderator_headers = await signed_in(db)
    participant, participant_headers = await signed_in(db)
    _, admin_headers = await signed_in(db, is_admin=True)
    session = await make_forum_session(db, members={moderator: "moderator", participant: "participant"})
    url = f"/api/sessions/{session.id}/members"

    as_admin = (await client.get(url, headers=admin_headers)).json()["items"]
    assert {item["user"]["email"] for item in as_admin} == {moderator.email, participant.email}
    as_participant = (await client.get(url, headers=participant_headers)).json()["items"]
    moderator_seen = next(item["user"] for item in as_participant if item["user"]["id"] == str(moderator.id))
    assert "email" not in moderator_seen

    promoted = await client.put(f"{url}/{participant.id}", json={"role": "moderator"}, headers=moderator_headers)
    assert promoted.status_code == 200
    assert "email" not in promoted.json()["user"]
    by_admin = await client.put(f"{url}/{participant.id}", json={"role": "participant"}, headers=admin_headers)
    assert by_admin.json()["user"]["email"] == participant.email
