"""Strict input, useful errors: unknown query parameters are refused by name; `errors[].field` names the request's
field; a value its field does not accept is 422, a body of the wrong shape 400 (docs/api.md, "Conventions")."""

from __future__ import annotations

import pytest

from tests.factories import make_forum_session, signed_in


async def test_an_unknown_query_parameter_is_400_naming_it(client, db):
    _, headers = await signed_in(db)
    for path, params in [
        ("/api/sessions", {"colour": "red"}),
        ("/api/sessions", {"status": "live", "limt": "5"}),  # a typo must not pass as the default
        ("/api/me", {"access_token": "x"}),
        ("/api/audit/verify", {"fresh": "1"}),
    ]:
        response = await client.get(path, params=params, headers=headers)
        assert response.status_code == 400, (path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        unknown = sorted(set(params) - {"status"})
        assert [error["field"] for error in response.json()["errors"]] == unknown
    assert (await client.get("/api/sessions", params={"status": "live", "limit": "5"})).status_code == 200


async def test_a_query_parameter_given_twice_is_400_naming_it_rather_than_one_value_winning(client, db):
    _, headers = await signed_in(db)
    for query, fields in [
        ("limit=5&limit=6", ["limit"]),
        ("status=live&status=live", ["status"]),
        ("colour=red&colour=blue&limit=1&limit=2", ["colour", "limit"]),  # unknown first, then repeated
    ]:
        response = await client.get(f"/api/sessions?{query}", headers=headers)
        assert response.status_code == 400, (query, response.text)
        assert [error["field"] for error in response.json()["errors"]] == fields, query


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"role": "boss"}, 422, "role"),  # an enum value the field does not take: well-formed, invalid
        ({"role": 5}, 400, "role"),  # the wrong type: the wrong shape
        ({}, 400, "role"),  # a missing field
        ({"role": "moderator", "rank": 1}, 400, "rank"),  # an unknown field, named as sent
    ],
)
async def test_body_errors_name_the_field_and_say_what_kind(client, db, body, status, field):
    moderator, headers = await signed_in(db)
    member, _ = await signed_in(db)
    session = await make_forum_session(db, members={moderator: "moderator", member: "participant"})
    response = await client.put(f"/api/sessions/{session.id}/members/{member.id}", json=body, headers=headers)
    assert response.status_code == status, response.text
    assert [error["field"] for error in response.json()["errors"]] == [field]


async def test_a_bad_enum_and_a_weak_password_on_one_form_are_both_422(client):
    form = {"email": "new@example.org", "display_name": "New", "password": "a long enough password"}
    bad_enum = await client.post("/api/auth/signup", json={**form, "actor_type": "alien"})
    weak = await client.post("/api/auth/signup", json={**form, "password": "password"})
    wrong_shape = await client.post("/api/auth/signup", json={**form, "actor_type": ["citizen"]})
    assert (bad_enum.status_code, weak.status_code, wrong_shape.status_code) == (422, 422, 400)
    assert bad_enum.json()["errors"][0]["field"] == "actor_type"
    assert weak.json()["errors"][0]["field"] == "password"
