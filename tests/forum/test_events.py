"""Membership and session changes reach the session's live event log."""

from tests.factories import make_forum_session, signed_in


async def events(client, session_id, headers, after=0):
    response = await client.get(f"/api/sessions/{session_id}/events", params={"after": after}, headers=headers)
    assert response.status_code == 200
    return response.json()["items"]


async def test_joining_promoting_editing_and_removing_are_live_events(client, db):
    moderator, moderator_headers = await signed_in(db, display_name="Moderator")
    participant, participant_headers = await signed_in(db, display_name="Participant", actor_type="academia")
    session = await make_forum_session(db, members={moderator: "moderator"})

    assert (await client.post(f"/api/sessions/{session.id}/join", headers=participant_headers)).status_code == 204
    assert (await client.post(f"/api/sessions/{session.id}/join", headers=participant_headers)).status_code == 204
    promoted = await client.put(
        f"/api/sessions/{session.id}/members/{participant.id}", json={"role": "moderator"}, headers=moderator_headers
    )
    assert promoted.status_code == 200
    patched = await client.patch(
        f"/api/sessions/{session.id}", json={"discussion_open": False}, headers=moderator_headers
    )
    assert patched.status_code == 200
    removed = await client.delete(f"/api/sessions/{session.id}/members/{participant.id}", headers=moderator_headers)
    assert removed.status_code == 204

    log = await events(client, session.id, moderator_headers)
    assert [(e["seq"], e["event"]) for e in log] == [
        (1, "member.joined"),  # joining twice announces once
        (2, "member.updated"),
        (3, "session.updated"),
        (4, "member.removed"),
    ]
    joined = log[0]["data"]
    assert joined["role"] == "participant"
    assert joined["user"]["display_name"] == "Participant" and joined["user"]["actor_type"] == "academia"
    assert "email" not in joined["user"]  # events go to every member: nobody's email is in them
    assert log[1]["data"]["role"] == "moderator"
    assert log[2]["data"]["discussion_open"] is False
    assert log[2]["data"]["last_seq"] == 3 == patched.json()["last_seq"]
    assert log[3]["data"]["user"]["id"] == str(participant.id)
