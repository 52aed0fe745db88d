"""The event catalogue: every event name has the Struct its data is, and what the hub reads uses it."""

from typing import get_args

import msgspec
import pytest

from deliberation.events import EVENT_DATA
from deliberation.realtime.events import EventName, PingFrame, client_frames


def test_every_event_name_has_its_data_type_and_only_those():
    assert set(EVENT_DATA) == set(get_args(EventName))
    assert all(issubclass(kind, msgspec.Struct) for kind in EVENT_DATA.values())


def test_client_frames_are_pings_and_nothing_else_decodes():
    assert isinstance(client_frames.decode(b'{"type": "ping", "extra": [1, 2]}'), PingFrame)
    for frame in (b'{"type": "pong"}', b"[]", b'"ping"', b"{}", b"not json"):
        with pytest.raises(msgspec.DecodeError):
            client_frames.decode(frame)
