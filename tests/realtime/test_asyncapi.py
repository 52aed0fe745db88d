"""The AsyncAPI 3 document of the live stream: served, valid, generated from the frame and event types."""

from __future__ import annotations

import json

import jsonschema
import pytest

from deliberation.events import EVENT_DATA
from tests.realtime.frames import ASYNCAPI_SCHEMA, FRAMES


async def test_the_document_is_served_and_valid_asyncapi_3(client):
    response = await client.get("/schema/asyncapi.json")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    document = response.json()
    jsonschema.validate(document, json.loads(ASYNCAPI_SCHEMA.read_text()))
    assert document["asyncapi"] == "3.0.0"
    assert document["channels"]["sessionLive"]["address"] == "/api/sessions/{session_id}/live"


async def test_every_event_has_a_message_whose_data_is_its_type(client):
    document = (await client.get("/schema/asyncapi.json")).json()
    messages = document["components"]["messages"]
    by_event = {message["title"]: message for message in messages.values() if "title" in message}
    assert set(by_event) == set(EVENT_DATA)
    for event, kind in EVENT_DATA.items():
        payload = by_event[event]["payload"]
        assert payload["properties"]["event"] == {"const": event}
        assert payload["properties"]["data"] == {"$ref": f"#/components/schemas/{kind.__name__}"}
        assert kind.__name__ in document["components"]["schemas"]
    counted = document["components"]["schemas"]["PostEventOut"]["properties"]
    assert {"thread_post_count", "parent_reply_count", "body", "reactions"} <= set(counted)


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "event", "seq": 3, "event": "post.created", "at": "2026-12-01T10:00:00Z", "data": {"id": 1}},
        {"type": "event", "seq": 3, "event": "no.such", "at": "2026-12-01T10:00:00Z", "data": {"open_flags": 1}},
        {"type": "presence", "online": 1},
        {"type": "hello", "session_id": "00000000-0000-0000-0000-000000000000"},
    ],
)
def test_the_frame_check_refuses_what_the_document_does_not_describe(frame):
    with pytest.raises(jsonschema.ValidationError):
        FRAMES.validate(frame)


def test_the_frame_check_takes_a_real_event():
    frame = {"type": "event", "seq": 3, "event": "flags.changed", "at": "2026-12-01T10:00:00Z"}
    FRAMES.validate({**frame, "data": {"open_flags": 2}})
    with pytest.raises(jsonschema.ValidationError):
        FRAMES.validate({**frame, "data": {"open_flags": "two"}})
