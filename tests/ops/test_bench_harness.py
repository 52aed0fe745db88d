"""The benchmark harness's own checks (the benchmarks themselves run with `python -m tests.bench`)."""

import pickle
import subprocess
import sys

import pytest

from tests.bench.harness import LostEvents, check_listeners
from tests.bench.infra import ROOT
from tests.bench.wire import Histogram, LiveClient


def listener_result(**fields) -> dict:
    result = {"events": 10, "expected": 10, "violations": 0, "incomplete": 0, "closed": {}}
    result.update(fields)
    return result


def test_a_lost_reordered_or_dropped_event_fails_the_run():
    assert check_listeners("ok", [listener_result(), listener_result()]) == {"events": 20, "lost": 0}
    for bad in (
        {"events": 9},  # one missing
        {"violations": 1},  # a gap or a repeat in seq order
        {"incomplete": 1},  # a client that never reached its session's last seq
        {"closed": {4008: 1}},  # dropped as too slow
    ):
        with pytest.raises(LostEvents):
            check_listeners("bad", [listener_result(), listener_result(**bad)])


def test_latency_histograms_merge_across_processes():
    first, second = Histogram(), Histogram()
    for ms in range(1, 101):
        (first if ms % 2 else second).add(ms / 1000)
    merged = Histogram()
    # Results cross the process boundary pickled (our own bytes, from our own load processes).
    merged.merge(pickle.loads(pickle.dumps(first)))  # noqa: S301
    merged.merge(pickle.loads(pickle.dumps(second)))  # noqa: S301
    assert merged.n == 100
    assert merged.percentile(50) == pytest.approx(0.050, abs=0.0001)
    assert merged.percentile(99) == pytest.approx(0.099, abs=0.0001)
    assert merged.max == pytest.approx(0.1)


def server_message(text: str) -> bytes:
    """One unmasked websocket text message as a server sends it (lengths up to 125 bytes)."""
    payload = text.encode()
    return bytes([0x81, len(payload)]) + payload


async def test_the_load_splits_batched_messages_and_still_checks_every_seq():
    client = LiveClient("session", latency=None, batch=True)
    client.upgraded = True
    hello = '{"type":"hello","session_id":"s","last_seq":0}'
    events = [f'{{"type":"event","seq":{seq},"event":"flags.changed"}}' for seq in (1, 2, 4)]
    client.data_received(server_message(hello) + server_message("\n".join(events[:2])))
    assert (client.messages, client.frames, client.events, client.violations) == (2, 3, 2, 0)
    client.data_received(server_message(events[2]))  # seq 3 never came
    assert (client.messages, client.frames, client.last, client.violations) == (3, 4, 4, 1)


def test_a_load_process_imports_none_of_the_service():
    # Every load process is spawned and imports afresh what it runs: the service's modules would cost each of them
    # most of a second of CPU, on the cores the measured server runs on. Here one runs a phase with no work in it.
    code = """
import sys
from tests.bench import load

class Pipe:
    def send(self, message):
        pass

    def recv(self):
        return {}

load.worker_main({"role": "catchup", "repeats": 0}, Pipe())
print(sorted(m for m in sys.modules if m.split(".")[0] in ("deliberation", "sqlalchemy", "litestar")))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
