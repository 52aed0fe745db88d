"""Every route that takes text refuses the same bad text the same way: 422 with `errors[].field` naming it.

The routes and their text fields are read from the OpenAPI document, so a new route or field is walked too.
Each string field gets, as its constraints allow: a NUL character, one character over its limit, blank and
zero-width-only text where text is required, and a line break in a name. Only the bad field is sent: msgspec
checks the fields it is given before it looks for missing ones, and nothing reaches a service.
"""

from __future__ import annotations

import re
import uuid

from tests.factories import signed_in

# Strings that are not text: secrets are hashed, never stored or shown (no character rules beyond a limit).
SECRETS = {"password", "token"}
REQUIRED_PATTERNS = ("(?=", "^[0-9A-Za-z]")  # the text rules that refuse blank text (visible, name, dotted)


def _resolve(schema: dict, document: dict) -> dict:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _string(schema: dict, document: dict) -> dict | None:
    """The string schema inside `schema` (optional fields are `oneOf` with null), if it is free text."""
    schema = _resolve(schema, document)
    rules = {key: schema[key] for key in ("maxLength", "minLength", "pattern") if key in schema}
    for option in schema.get("oneOf", schema.get("anyOf", [schema])):
        option = _resolve(option, document)
        if option.get("type") == "string" and "enum" not in option and "format" not in option:
            return {**rules, **option}
    return None


def _bad_values(name: str, schema: dict) -> list[tuple[str, str]]:
    """(what, value) pairs the field must refuse."""
    bad = []
    if "maxLength" in schema:
        bad.append(("over-long", "x" * (schema["maxLength"] + 1)))
    if name in SECRETS:
        return bad
    pattern = schema.get("pattern", "")
    assert pattern, f"text field {name} declares no text rule (use a type from deliberation.text)"
    bad.append(("NUL", "Ana\x00B"))
    if pattern.startswith(REQUIRED_PATTERNS):
        bad += [("blank", " \t "), ("zero-width only", "\u200b\u200d\ufeff")]
    if not re.search(pattern, "Ana\nB"):  # a name: one line, no control characters
        bad += [("line break", "Ana\nB"), ("control character", "Ana\x07B")]
    return bad


def _text_inputs(document: dict) -> list[tuple[str, str, str, str, str, dict]]:
    """(method, path, tag, where, field, schema) for every text field of every JSON body and query."""
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            tag = operation["tags"][0]
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None:
                for field, prop in _resolve(body["schema"], document).get("properties", {}).items():
                    if (schema := _string(prop, document)) is not None:
                        found.append((method, path, tag, "body", field, schema))
            for parameter in operation.get("parameters", []):
                schema = _string(parameter["schema"], document)
                if parameter["in"] == "query" and parameter["name"] != "cursor" and schema is not None:
                    found.append((method, path, tag, "query", parameter["name"], schema))
    return found


async def test_every_text_field_refuses_bad_text_with_422_naming_it(client, db):
    _, admin = await signed_in(db, is_admin=True)
    document = (await client.get("/schema/openapi.json")).json()
    inputs = _text_inputs(document)
    # The walk reaches every domain that takes text (not an empty loop).
    assert {tag for _, _, tag, *_ in inputs} >= {
        "accounts",
        "forum",
        "threads",
        "conclusions",
        "proposals",
    }
    assert ("post", "/api/me/representative-claim") in {(m, p) for m, p, *_ in inputs}
    checked = 0
    for method, path, _, where, field, schema in inputs:
        url = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
        for what, value in _bad_values(field, schema):
            if where == "body":
                response = await client.request(method, url, json={field: value}, headers=admin)
            else:
                response = await client.request(method, url, params={field: value}, headers=admin)
            assert response.status_code == 422, (method, path, field, what, response.text)
            assert response.json()["errors"][0]["field"] == field, (method, path, field, what)
            checked += 1
    assert checked > 100


async def test_display_names_organizations_and_territories_stay_on_one_line(client, db):
    _, headers = await signed_in(db)
    for field in ("display_name", "organization", "territory"):
        for value in ("Ana\r\nB", "Ana\tB", "Ana\u2028B", "Ana\x1bB"):
            response = await client.patch("/api/me", json={field: value}, headers=headers)
            assert response.status_code == 422, (field, value)
            (error,) = response.json()["errors"]
            assert error["field"] == field and "control characters" in error["message"]
    kept = (await client.get("/api/me", headers=headers)).json()
    assert "\n" not in kept["display_name"] and kept["organization"] is None
    signup = {"email": "newline@example.org", "password": "a long enough passphrase", "display_name": "Ana\nB"}
    refused = await client.post("/api/auth/signup", json=signup)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "display_name"
