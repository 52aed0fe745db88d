"""Lean clients for the load generator: HTTP/1.1 keep-alive requests and a websocket receiver.

Both are written on asyncio directly (no httpx, no websockets client) so that one load process can drive
thousands of connections with little CPU: the figures must measure the server, not the load generator.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import time
from array import array
from datetime import datetime

import msgspec

# Latency histogram: 50 microsecond buckets up to 5 s; slower values go to the last bucket (max is kept apart).
BUCKET_US = 50
BUCKETS = 100_000


class Histogram:
    """Fixed-size latency histogram that merges across processes by adding counts."""

    def __init__(self) -> None:
        self.counts = array("I", bytes(4 * BUCKETS))
        self.n = 0
        self.max = 0.0

    def add(self, seconds: float) -> None:
        index = int(seconds * 1_000_000 / BUCKET_US)
        self.counts[min(max(index, 0), BUCKETS - 1)] += 1
        self.n += 1
        if seconds > self.max:
            self.max = seconds

    def merge(self, other: Histogram) -> None:
        for index, count in enumerate(other.counts):
            if count:
                self.counts[index] += count
        self.n += other.n
        self.max = max(self.max, other.max)

    def percentile(self, p: float) -> float:
        """Seconds at percentile p (0-100): the upper edge of the bucket holding it."""
        if not self.n:
            return float("nan")
        rank = max(1, round(self.n * p / 100))
        seen = 0
        for index, count in enumerate(self.counts):
            seen += count
            if seen >= rank:
                return min((index + 1) * BUCKET_US / 1_000_000, self.max)
        return self.max

    def __getstate__(self) -> dict:
        sparse = {index: count for index, count in enumerate(self.counts) if count}
        return {"sparse": sparse, "n": self.n, "max": self.max}

    def __setstate__(self, state: dict) -> None:
        self.__init__()
        for index, count in state["sparse"].items():
            self.counts[index] = count
        self.n, self.max = state["n"], state["max"]


class HttpConnection:
    """One keep-alive HTTP/1.1 connection; one request at a time."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> HttpConnection:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def request(self, method: str, path: str, token: str, body: bytes = b"") -> tuple[int, bytes]:
        if self.writer is None or self.writer.is_closing():
            await self.open()
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.writer.write(head + body)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        status = int(raw[9:12])
        length = 0
        for line in raw.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            lowered = name.lower()
            if lowered == b"content-length":
                length = int(value)
            elif lowered == b"transfer-encoding":
                raise RuntimeError("chunked responses are not expected from the service")
        payload = await self.reader.readexactly(length) if length else b""
        return status, payload

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class Frame(msgspec.Struct):
    """The fields of a server frame the bench reads; `data` is skipped."""

    type: str
    seq: int = 0
    last_seq: int = 0
    at: datetime | None = None
    online: int | None = None  # presence and presence_delta frames


_decode = msgspec.json.Decoder(Frame).decode


def _masked(opcode: int, payload: bytes) -> bytes:
    """A client frame (clients must mask); only small control frames are sent."""
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked


class LiveClient(asyncio.Protocol):
    """A websocket client of `/api/sessions/{id}/live` that checks every event's seq as it arrives.

    `after` is the seq the stream starts after (the hello's last_seq unless given); every event must carry
    `last + 1`. Anything else (a gap, a repeat, a close by the server) is counted as a violation. With `batch`
    it asks for `?batch=true` and splits each message into its frames (one per line); `messages` and `frames`
    count what arrived. It takes presence changes as deltas (`?presence=delta`), as the web client does.
    """

    def __init__(self, session: str, latency: Histogram | None, on_event=None, batch: bool = False) -> None:
        self.session = session
        self.latency = latency
        self.on_event = on_event
        self.batch = batch
        self.messages = 0
        self.frames = 0
        self.bytes = 0  # of every data message received (events, presence, hello)
        self.online: int | None = None  # what the last presence frame said
        self.buffer = bytearray()
        self.upgraded = False
        self.hello = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.after: int | None = None
        self.last = 0
        self.events = 0
        self.violations = 0
        self.closed_code: int | None = None
        self.first_at = 0.0
        self.last_at = 0.0
        self.fragments = bytearray()

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        session: str,
        token: str,
        *,
        after: int | None = None,
        latency: Histogram | None = None,
        on_event=None,
        batch: bool = False,
    ) -> LiveClient:
        loop = asyncio.get_running_loop()
        _, client = await loop.create_connection(lambda: cls(session, latency, on_event, batch), host, port)
        # Presence changes as deltas, as the web client takes them (the whole list only when connecting).
        params = (
            ([f"after={after}"] if after is not None else []) + (["batch=true"] if batch else []) + ["presence=delta"]
        )
        query = "?" + "&".join(params) if params else ""
        key = base64.b64encode(os.urandom(16)).decode()
        client.transport.write(
            (
                f"GET /api/sessions/{session}/live{query} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Authorization: Bearer {token}\r\n\r\n"
            ).encode()
        )
        if after is not None:
            client.after = client.last = after
        return client

    def connection_made(self, transport: asyncio.Transport) -> None:
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if self.closed_code is None:
            self.closed_code = 1006
        if not self.hello.done():
            self.hello.set_exception(ConnectionError(f"closed before hello ({self.closed_code})"))

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        if not self.upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buffer.startswith(b"HTTP/1.1 101"):
                self.closed_code = -1
                self.transport.close()
                return
            self.upgraded = True
            del buffer[: end + 4]
        now = time.time()
        position, size = 0, len(buffer)
        while size - position >= 2:
            first, second = buffer[position], buffer[position + 1]
            length, start = second & 0x7F, position + 2
            if length == 126:
                if size - position < 4:
                    break
                (length,) = struct.unpack_from("!H", buffer, position + 2)
                start += 2
            elif length == 127:
                if size - position < 10:
                    break
                (length,) = struct.unpack_from("!Q", buffer, position + 2)
                start += 8
            if size - start < length:
                break
            payload = bytes(buffer[start : start + length])
            position = start + length
            self._frame(first & 0x0F, bool(first & 0x80), payload, now)
        del buffer[:position]

    def _frame(self, opcode: int, fin: bool, payload: bytes, now: float) -> None:
        if opcode == 0x9:  # ping
            self.transport.write(_masked(0xA, payload))
            return
        if opcode == 0x8:
            self.closed_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
            self.transport.close()
            return
        if opcode in (0x0, 0x1, 0x2):
            if not fin or self.fragments:
                self.fragments += payload
                if not fin:
                    return
                payload, self.fragments = bytes(self.fragments), bytearray()
            self.messages += 1
            self.bytes += len(payload)
            for line in payload.split(b"\n") if self.batch else (payload,):
                self._handle(_decode(line), now)

    def _handle(self, frame: Frame, now: float) -> None:
        self.frames += 1
        if frame.online is not None:
            self.online = frame.online
        if frame.type == "event":
            if frame.seq != self.last + 1:
                self.violations += 1
            self.last = frame.seq
            self.events += 1
            if not self.first_at:
                self.first_at = now
            self.last_at = now
            if self.latency is not None and frame.at is not None:
                self.latency.add(now - frame.at.timestamp())
            if self.on_event is not None:
                self.on_event(self, frame.seq, now)
        elif frame.type == "hello":
            if self.after is None:
                self.after = self.last = frame.last_seq
            if not self.hello.done():
                self.hello.set_result(frame.last_seq)

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(_masked(0x8, struct.pack("!H", 1000)))
            self.transport.close()
