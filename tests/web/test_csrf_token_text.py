"""A CSRF token that is any text at all (non-ASCII too) is refused like a wrong one: 403, never a 500."""

from __future__ import annotations

import pytest

from tests.web.test_sessions_and_csrf import csrf_of


@pytest.mark.parametrize("sent", ["é", "\u200b", "token\U0001f600"])
async def test_a_csrf_token_with_non_ascii_characters_is_403(client, sent):
    form = await client.get("/login")
    assert csrf_of(form.text)

    as_field = await client.post("/login", data={"email": "a@example.org", "password": "x", "csrf_token": sent})
    as_header = await client.post("/logout", headers={"x-csrf-token": sent.encode()})

    assert as_field.status_code == 403 and "This form has expired" in as_field.text
    assert as_header.status_code == 403
