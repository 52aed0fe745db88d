"""The live stream's AsyncAPI 3 document (`/schema/asyncapi.json`), generated from the types the stream sends.

The frames are the msgspec Structs of `realtime.events`; each event's `data` is the Struct `events.EVENT_DATA`
names for it. Their JSON Schemas come from `msgspec.json.schema_components`, so the document cannot drift
from what is encoded: a field added to a Struct appears here.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import msgspec
from litestar import MediaType, get

from deliberation.events import EVENT_DATA
from deliberation.realtime.events import (
    HeartbeatFrame,
    HelloFrame,
    PingFrame,
    PongFrame,
    PresenceDeltaFrame,
    PresenceFrame,
)

REF = "#/components/schemas/{name}"
CHANNEL = "sessionLive"
SERVER_FRAMES: dict[str, tuple[type[msgspec.Struct], str]] = {
    "hello": (HelloFrame, "First frame: the session and its last seq when the stream opened."),
    "presence": (PresenceFrame, "Who is online in the session (any instance), when the stream opens; not sequenced."),
    "presence_delta": (
        PresenceDeltaFrame,
        "Who came online and went offline since the last delta (at most one per session per "
        "DELIBERATION_PRESENCE_DELTA_INTERVAL_SECONDS); apply by user id; `online` is the count after it.",
    ),
    "heartbeat": (HeartbeatFrame, "After a quiet spell: the stream is alive; `last_seq` is the last seq sent."),
    "pong": (PongFrame, "The answer to a `ping`."),
}

# The stream's query parameters; the route refuses any other, or one given twice (400, as on HTTP).
LIVE_QUERY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "after": {
            "type": "integer",
            "minimum": 0,
            "description": "Replay the events with a greater seq first (default: the session's last seq).",
        },
        "ticket": {"type": "string", "description": "A single-use ticket from `POST .../live-ticket`."},
        "batch": {
            "type": "boolean",
            "default": False,
            "description": (
                "`true`: frames pending at once come in one websocket message, one JSON frame per line (newline-"
                "delimited JSON, at most `DELIBERATION_WS_BATCH_MAX_CHARS` characters a message unless one frame is "
                "longer); `false`: one frame per message."
            ),
        },
        "presence": {
            "type": "string",
            "enum": ["full", "delta"],
            "default": "full",
            "description": (
                "How changes of who is online come, at most once per session every "
                "`DELIBERATION_PRESENCE_DELTA_INTERVAL_SECONDS`: `full`, the whole `presence` list; `delta`, a "
                "`presence_delta` of who came and went. Either way the whole list comes first, after `hello`."
            ),
        },
    },
    "additionalProperties": False,
}


def _message_name(event: str) -> str:
    """`post.created` -> `postCreated`."""
    first, *rest = event.split(".")
    return first + "".join(part.capitalize() for part in rest)


def _event_payload(event: str, data: type[msgspec.Struct]) -> dict[str, Any]:
    """An `event` frame carrying this event: `{type: "event", seq, event, at, data}` with `data` typed."""
    return {
        "type": "object",
        "required": ["type", "seq", "event", "at", "data"],
        "properties": {
            "type": {"const": "event"},
            "seq": {"type": "integer", "minimum": 1, "description": "Per session, gap-free, in commit order."},
            "event": {"const": event},
            "at": {"type": "string", "format": "date-time"},
            "data": {"$ref": REF.format(name=data.__name__)},
        },
    }


@cache
def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of `GET /api/sessions/{session_id}/live` (built once per process)."""
    frame_types = [frame for frame, _ in SERVER_FRAMES.values()]
    data_types = sorted(set(EVENT_DATA.values()), key=lambda kind: kind.__name__)
    refs, schemas = msgspec.json.schema_components([*frame_types, PingFrame, *data_types], ref_template=REF)
    messages: dict[str, Any] = {
        name: {"name": name, "summary": summary, "payload": ref}
        for (name, (_, summary)), ref in zip(SERVER_FRAMES.items(), refs[: len(frame_types)], strict=True)
    }
    messages["ping"] = {"name": "ping", "summary": "Asks for a `pong`.", "payload": refs[len(frame_types)]}
    for event, data in EVENT_DATA.items():
        name = _message_name(event)
        messages[name] = {
            "name": name,
            "title": event,
            "summary": f"The `{event}` event: `data` is a {data.__name__}.",
            "payload": _event_payload(event, data),
        }
    received = [name for name in messages if name != "ping"]
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "deliberation live stream",
            "version": "1.4.0",
            "description": (
                "A session's events as they commit, after a replay of those with `seq > after`: every one exactly "
                "once, in order. Admission: `Authorization: Bearer`, `?ticket=` from `POST "
                "/api/sessions/{session_id}/live-ticket`, or the web session cookie from the service's own pages. "
                "A query parameter the channel's binding does not list, or one given twice, is refused before the "
                "upgrade: HTTP 400 with problem details naming it (a server without the ASGI denial-response "
                "extension accepts, then closes with 4400 and the same words). Each frame below is one websocket "
                "text message, or with `?batch=true` one line of one (split messages on `\\n`). "
                'See docs/api.md, "Live stream".'
            ),
        },
        "channels": {
            CHANNEL: {
                "address": "/api/sessions/{session_id}/live",
                "title": "A session's live stream (WebSocket)",
                "parameters": {"session_id": {"description": "The session's id (a UUID)."}},
                "bindings": {"ws": {"method": "GET", "query": LIVE_QUERY, "bindingVersion": "0.1.0"}},
                "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in messages},
            }
        },
        "operations": {
            "receiveFrames": {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{CHANNEL}"},
                "summary": "Frames the server sends: hello first, then events, presence (deltas), heartbeats, pongs.",
                "messages": [{"$ref": f"#/channels/{CHANNEL}/messages/{name}"} for name in received],
            },
            "sendPing": {
                "action": "send",
                "channel": {"$ref": f"#/channels/{CHANNEL}"},
                "summary": "The one frame a client may send; anything else is ignored.",
                "messages": [{"$ref": f"#/channels/{CHANNEL}/messages/ping"}],
            },
        },
        "components": {"messages": messages, "schemas": schemas},
    }


@get("/schema/asyncapi.json", include_in_schema=False, media_type=MediaType.JSON, sync_to_thread=False)
def asyncapi_json() -> dict[str, Any]:
    """The live stream's AsyncAPI 3 document."""
    return asyncapi_document()
