"""Every frame a test receives from the live stream is checked against the served AsyncAPI document."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from deliberation.asyncapi import asyncapi_document

ASYNCAPI_SCHEMA = Path(__file__).with_name("asyncapi-3.0.0.schema.json")  # from npm @asyncapi/specs 6.11.1


def frame_validator() -> jsonschema.Draft202012Validator:
    """A validator that accepts exactly the frames the document says the server sends."""
    document = asyncapi_document()
    received = document["operations"]["receiveFrames"]["messages"]
    messages = document["components"]["messages"]
    payloads = [messages[ref["$ref"].rsplit("/", 1)[-1]]["payload"] for ref in received]
    schema = {"oneOf": payloads, "components": document["components"]}
    return jsonschema.Draft202012Validator(schema)


def checked(text: str | bytes) -> dict:
    """A received frame, decoded, once it is known to be one the document describes."""
    frame = json.loads(text)
    FRAMES.validate(frame)
    return frame


FRAMES = frame_validator()
