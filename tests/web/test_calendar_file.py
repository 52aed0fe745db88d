"""The `Add to calendar` file: a session's text stays inside its own property, whatever line breaks it holds."""

from __future__ import annotations

from tests.factories import make_forum_session, signed_in


async def test_no_line_break_in_a_session_s_text_starts_a_calendar_line_of_its_own(client, db):
    moderator, headers = await signed_in(db)
    session = await make_forum_session(db, members={moderator: "moderator"})
    injected = "Town hall\rEND:VEVENT\nBEGIN:VEVENT\r\nSUMMARY:Fake\u2028ATTACH:x"
    patched = await client.patch(
        f"/api/sessions/{session.id}", json={"title": injected, "description": injected}, headers=headers
    )
    assert patched.status_code == 200, patched.text

    calendar = await client.get(f"/sessions/{session.code}/calendar.ics")

    assert calendar.status_code == 200
    text = calendar.text
    # Lines end in CRLF only; no CR or LF elsewhere, and the text's breaks are escaped as `\n`.
    assert "\r" not in text.replace("\r\n", "") and "\n" not in text.replace("\r\n", "")
    lines = text.replace("\r\n ", "").split("\r\n")  # unfolded
    assert [line for line in lines if line.startswith(("BEGIN:VEVENT", "END:VEVENT"))] == ["BEGIN:VEVENT", "END:VEVENT"]
    summary = next(line for line in lines if line.startswith("SUMMARY:"))
    assert summary.startswith("SUMMARY:Town hall\\nEND:VEVENT\\nBEGIN:VEVENT\\nSUMMARY:Fake")
