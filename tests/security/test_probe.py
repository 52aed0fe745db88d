"""What a black-box probe of the running service found (issue 14), each kept fixed by a test here or where
its feature lives (docs/security.md, "What was probed")."""

from __future__ import annotations

import logging

import pytest

from tests.accounts.test_auth import GOOD_PASSWORD, new_email, sign_up

NESTED = "[" * 5000 + "]" * 5000


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/auth/signup", '{"email": "a@example.org", "password": "x", "display_name": %s}'),
        ("/api/auth/login", '{"email": %s, "password": "x"}'),
        ("/api/auth/password-reset", '{"email": %s}'),
    ],
)
async def test_deeply_nested_json_is_400_with_one_log_line(client, caplog, path, body):
    caplog.set_level(logging.INFO)
    response = await client.post(path, content=body % NESTED, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "nested too deeply" in response.json()["detail"]
    records = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert len(records) == 1 and records[0].exc_info is None, [r.getMessage() for r in records]
    assert "\n" not in records[0].getMessage()


async def test_the_sign_in_answer_carrying_a_token_is_not_cached(client):
    email = new_email()
    assert (await sign_up(client, email)).status_code == 201
    login = await client.post("/api/auth/login", json={"email": email, "password": GOOD_PASSWORD})
    assert login.status_code == 200 and login.json()["access_token"]
    assert login.headers["cache-control"] == "no-store"
