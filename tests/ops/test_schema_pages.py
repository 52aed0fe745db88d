"""The API documentation: served whole by the service (nothing loaded from outside), readable operation ids."""

from __future__ import annotations

import re

from openapi_spec_validator import validate


async def test_the_schema_pages_load_nothing_from_outside(client):
    page = await client.get("/schema")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    references = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", page.text)
    assert references, "the page loads its viewer from somewhere"
    assert [ref for ref in references if not ref.startswith("/")] == []
    assert "fonts.googleapis" not in page.text and "cdn." not in page.text
    for reference in references:
        asset = await client.get(reference)
        assert asset.status_code == 200, reference
    script = await client.get("/schema/assets/redoc.standalone.js")
    assert script.headers["content-type"].startswith(("application/javascript", "text/javascript"))
    assert "Redoc" in script.text[:5000] or "redoc" in script.text[:5000].lower()


async def test_operation_ids_read_as_what_they_do(client):
    schema = (await client.get("/schema/openapi.json")).json()
    validate(schema)
    ids = {
        (method.upper(), path): operation["operationId"]
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "operationId" in operation
    }
    assert ids[("GET", "/api/sessions")] == "listSessions"
    assert ids[("PUT", "/api/conclusions/{conclusion_id}/vote")] == "castVote"
    assert ids[("POST", "/api/proposals/{proposal_id}/publish")] == "publishProposal"
    assert all(re.fullmatch(r"[a-z]+(?:[A-Z][a-z0-9]*)*", value) for value in ids.values()), ids
    assert len(set(ids.values())) == len(ids)


async def test_if_match_is_a_required_string_on_edits(client):
    schema = (await client.get("/schema/openapi.json")).json()
    for path in ("/api/conclusions/{conclusion_id}", "/api/proposals/{proposal_id}"):
        (if_match,) = [p for p in schema["paths"][path]["patch"]["parameters"] if p["name"] == "If-Match"]
        assert if_match["in"] == "header" and if_match["required"] is True
        assert if_match["schema"]["type"] == "string"
        headers = schema["paths"][path]["get"]["responses"]["200"]["headers"]
        assert "ETag" in headers
