"""The instance's hub: per-session fan-out of events read from the table, woken by the transport.

Delivery guarantee (with the websocket handler): a subscriber registers first (at the end of its
session's log), then replays `seq > after` from the table (unless the log holds everything after
`after`), then takes live events from the log, dropping any `seq` it already sent and re-reading
the table if it ever sees a gap. Live events are read from the table in seq order by one pump per
session, each is encoded once and appended once to the session's log, which every subscriber reads
at its own position.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from deliberation.forum.schemas import MemberOut
from deliberation.observability import Metrics
from deliberation.realtime.events import (
    PresenceDeltaFrame,
    PresenceFrame,
    PresenceUser,
    encode_frame,
    event_frame,
    last_seqs,
    read_events,
)
from deliberation.realtime.revalidation import still_allowed
from deliberation.realtime.transport import EVENTS_CHANNEL, MAX_PAYLOAD, PRESENCE_CHANNEL, Transport

log = logging.getLogger("deliberation.realtime")

FETCH_PAGE = 500
_member = msgspec.json.Decoder(MemberOut)  # the data of member.removed
CLOSE_SLOW = 4008
SLOW_CONSUMER = "slow consumer: reconnect with ?after=<last seq received>"
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_RESTART = 1012


class FrameLog:
    """The event frames of one session on this instance, each appended once and shared by all its connections.

    Each connection reads at its own position (`Subscriber.position`: it has taken every frame before it); a frame is
    let go once every connection has passed it, and a connection that falls more than `limit` frames behind
    (`DELIBERATION_WS_QUEUE_SIZE`) is dropped as too slow, so the log never holds more than `limit` frames that
    anyone still needs. Appending costs the same for 10 connections or 10,000; each connection's own writer moves
    its position when it takes what is new.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.frames: list[tuple[int, str]] = []  # (seq, frame text), from position `base` on
        self.base = 0  # the position of frames[0]
        self.start = 0  # the lowest position a connection is at: the frames before it are let go
        self.end = 0  # the position after the last frame
        self.readers: dict[int, set[Subscriber]] = {}  # the connections at each position
        self.sleepers: set[Subscriber] = set()  # the connections waiting for something to send

    def join(self, reader: Subscriber) -> int:
        """Place a new connection at the end: it takes every frame appended from now on."""
        self.readers.setdefault(self.end, set()).add(reader)
        return self.end

    def append(self, frames: list[tuple[int, str]]) -> None:
        """Add frames, drop the connections now more than `limit` behind, and wake the waiting ones."""
        self.frames.extend(frames)
        self.end += len(frames)
        while self.end - self.start > self.limit:
            for reader in self.readers.pop(self.start, ()):
                reader.position = None
                reader.drop(CLOSE_SLOW, SLOW_CONSUMER)
            self.start += 1
        self._let_go()
        sleepers, self.sleepers = self.sleepers, set()
        for reader in sleepers:
            reader.wake()

    def take(self, reader: Subscriber, until: int) -> list[tuple[int, str]]:
        """The frames from the connection's position up to `until` (a position), moving it there."""
        if reader.position is None or reader.position >= until:
            return []
        frames = self.frames[reader.position - self.base : until - self.base]
        self._move(reader, until)
        return frames

    def leave(self, reader: Subscriber) -> None:
        if reader.position is not None:
            self._move(reader, None)

    def _move(self, reader: Subscriber, to: int | None) -> None:
        here = self.readers[reader.position]
        here.discard(reader)
        if not here:
            del self.readers[reader.position]
        reader.position = to
        if to is not None:
            self.readers.setdefault(to, set()).add(reader)
        self._let_go()

    def _let_go(self) -> None:
        """Pass the positions no connection is at; free the frames before them once they are half the list (each
        frame is passed once and moved at most once: constant work per frame, whatever the connections)."""
        while self.start < self.end and self.start not in self.readers:
            self.start += 1
        passed = self.start - self.base
        if passed and passed * 2 >= len(self.frames):
            del self.frames[:passed]
            self.base = self.start


class Subscriber:
    """One websocket client: its position in the session's shared log of event frames, and its own frames (its full
    presence list, presence changes, pongs), together at most the log's limit before it is dropped as too slow."""

    def __init__(
        self,
        session_id: uuid.UUID,
        user_id: uuid.UUID,
        display_name: str,
        token_hash: str,
        log: FrameLog,
        *,
        presence_deltas: bool = False,
        logged_after: int | None = None,
    ) -> None:
        self.session_id = session_id
        self.user_id = user_id
        self.display_name = display_name
        self.token_hash = token_hash
        self.presence_deltas = presence_deltas  # asked for `?presence=delta`: changes as deltas, not whole lists
        # Every event with a seq above this reaches the client through the log (None: not known, replay from the table).
        self.logged_after = logged_after
        self.log = log
        self.position: int | None = log.join(self)  # None once the log let it go (too slow)
        self.own: list[str] = []  # frames for this client only, sent before the log's
        self.heartbeat_due = False
        self.dropped = asyncio.Event()
        self.until: int | None = None  # once dropped: the log position it takes nothing beyond
        self.close_code = 1000
        self.close_reason = ""
        self._wakeup: asyncio.Future | None = None

    def push(self, frame: str) -> None:
        """Give this client a frame of its own without ever waiting; too many pending marks it to be dropped."""
        if self.dropped.is_set():
            return
        if self.position is None or len(self.own) + self.log.end - self.position >= self.log.limit:
            self.drop(CLOSE_SLOW, SLOW_CONSUMER)
            return
        self.own.append(frame)
        self.wake()

    def ask_heartbeat(self) -> None:
        self.heartbeat_due = True
        self.wake()

    def wake(self) -> None:
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    async def take(self) -> tuple[list[str], list[tuple[int, str]], bool]:
        """Wait until there is something to send, then take all of it: this client's own frames, the log's frames
        after its position (in seq order) and whether a heartbeat is due. A bare wait on one future: a cancellation
        always ends it (no `wait_for`, which on Python 3.11 can swallow one)."""
        until = self.log.end if self.until is None else self.until
        while not (self.own or self.heartbeat_due or (self.position is not None and self.position < until)):
            self._wakeup = asyncio.get_running_loop().create_future()
            self.log.sleepers.add(self)
            try:
                await self._wakeup
            finally:
                self._wakeup = None
            until = self.log.end if self.until is None else self.until
        own, self.own = self.own, []
        heartbeat_due, self.heartbeat_due = self.heartbeat_due, False
        return own, self.log.take(self, until), heartbeat_due

    def drop(self, code: int, reason: str) -> None:
        """Ask the connection's handler to close with this code (the first reason given wins); it takes nothing
        appended from now on."""
        if not self.dropped.is_set():
            self.close_code, self.close_reason = code, reason
            self.until = self.log.end
            self.dropped.set()


class SessionChannel:
    """The subscribers of one session on this instance, the log they share and the pump that feeds it."""

    def __init__(self, hub: Hub, session_id: uuid.UUID, last_seq: int) -> None:
        self.hub = hub
        self.session_id = session_id
        self.subscribers: set[Subscriber] = set()
        self.log = FrameLog(hub.queue_size)
        self.fetched = last_seq  # highest seq in the log (or before it)
        self.wanted = last_seq  # highest seq known to exist
        self._pump: asyncio.Task | None = None

    def wake(self, seq: int) -> None:
        if seq > self.wanted:
            self.wanted = seq
        if self.fetched < self.wanted and (self._pump is None or self._pump.done()):
            self._pump = asyncio.create_task(self._run_pump())

    async def _run_pump(self) -> None:
        while self.fetched < self.wanted and self.subscribers:
            try:
                async with self.hub.sessionmaker() as db:
                    rows = await read_events(db, self.session_id, self.fetched, FETCH_PAGE)
            except Exception:
                log.exception("reading events of session %s failed; retrying", self.session_id)
                await asyncio.sleep(1)
                continue
            if not rows:
                return
            frames = []
            for row in rows:
                frames.append((row.seq, event_frame(row)))
                if row.type == "member.removed":  # the removed member takes the log up to its removal, no further
                    self.log.append(frames)
                    frames = []
                    self._drop_removed_member(row.data)
            self.log.append(frames)
            self.fetched = rows[-1].seq
            self.hub.metrics.events_delivered.inc(len(rows) * len(self.subscribers))

    def _drop_removed_member(self, data: str) -> None:
        """A removed member's streams end right after they receive their own removal (admins stay)."""
        removed = _member.decode(data).user.id
        for subscriber in self.subscribers:
            if subscriber.user_id == removed:
                subscriber.drop(CLOSE_FORBIDDEN, "you are no longer a member of this session")

    def close(self) -> None:
        if self._pump is not None:
            self._pump.cancel()


class Presence:
    """Who is online per session, merged across instances. Ephemeral: never stored, never sequenced.

    Each instance announces its own list for a session when it changed (at most once per delta interval), and
    all its lists every `refresh` seconds; a remote list not refreshed for three periods is forgotten (its
    instance died). Changes are kept as the users they touched (`touched`) until the hub sends them as one
    `presence_delta`: each such user as joined if online then, else as left. That is right for every client,
    whatever list it holds from since the last delta (the full list it got on connecting, too): a user whose
    state it may lack is in the delta with their state now, any other is unchanged since.
    """

    def __init__(self, instance_id: str, refresh: float) -> None:
        self.instance_id = instance_id
        self.refresh = refresh
        self.local: dict[uuid.UUID, dict[uuid.UUID, tuple[str, int]]] = {}
        self.remote: dict[uuid.UUID, dict[str, tuple[float, dict[uuid.UUID, str]]]] = {}
        self.touched: dict[uuid.UUID, set[uuid.UUID]] = {}  # per session: users who may have come or gone
        self.unannounced: set[uuid.UUID] = set()  # sessions whose local list changed since it was announced

    def join(self, session_id: uuid.UUID, user_id: uuid.UUID, name: str) -> bool:
        """Count a connection; True when the user was not online here before (the list changed)."""
        users = self.local.setdefault(session_id, {})
        _, count = users.get(user_id, (name, 0))
        users[user_id] = (name, count + 1)
        if count == 0:
            self._touch_local(session_id, user_id)
        return count == 0

    def leave(self, session_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        """Uncount a connection; True when it was the user's last one here (the list changed)."""
        users = self.local.get(session_id, {})
        name, count = users.get(user_id, ("", 1))
        if count <= 1:
            users.pop(user_id, None)
            self._touch_local(session_id, user_id)
        else:
            users[user_id] = (name, count - 1)
        if not users:
            self.local.pop(session_id, None)
        return count <= 1

    def _touch_local(self, session_id: uuid.UUID, user_id: uuid.UUID) -> None:
        self.touched.setdefault(session_id, set()).add(user_id)
        self.unannounced.add(session_id)

    def announcement(self, session_id: uuid.UUID) -> str:
        """This instance's list for a session, trimmed to fit a NOTIFY payload."""
        users = [[str(user_id), name] for user_id, (name, _) in self.local.get(session_id, {}).items()]
        payload = msgspec.json.encode({"i": self.instance_id, "s": str(session_id), "u": users})
        while len(payload) > MAX_PAYLOAD and users:
            users = users[: len(users) * 3 // 4]
            payload = msgspec.json.encode({"i": self.instance_id, "s": str(session_id), "u": users})
        return payload.decode()

    def on_remote(self, payload: str) -> uuid.UUID | None:
        """Take another instance's list; return its session if that changed who is online there, else None."""
        message = msgspec.json.decode(payload)
        if message["i"] == self.instance_id:
            return None
        session_id = uuid.UUID(message["s"])
        users = {uuid.UUID(user_id): name for user_id, name in message["u"]}
        instances = self.remote.setdefault(session_id, {})
        _, before = instances.get(message["i"], (0.0, {}))
        if users:
            instances[message["i"]] = (time.monotonic(), users)  # a refresh: seen again, maybe unchanged
        else:
            instances.pop(message["i"], None)
            if not instances:
                del self.remote[session_id]
        changed = {user_id for user_id in users.keys() | before.keys() if users.get(user_id) != before.get(user_id)}
        if not changed:
            return None
        self.touched.setdefault(session_id, set()).update(changed)
        return session_id

    def expire(self) -> set[uuid.UUID]:
        """Forget lists not refreshed for three periods; return the sessions that changed."""
        deadline = time.monotonic() - 3 * self.refresh
        changed = set()
        for session_id, instances in self.remote.items():
            for instance_id in [i for i, (seen, _) in instances.items() if seen < deadline]:
                _, users = instances.pop(instance_id)
                self.touched.setdefault(session_id, set()).update(users)
                changed.add(session_id)
        self.remote = {session_id: instances for session_id, instances in self.remote.items() if instances}
        return changed

    def _names(self, session_id: uuid.UUID) -> dict[uuid.UUID, str]:
        users = {user_id: name for user_id, (name, _) in self.local.get(session_id, {}).items()}
        for _, remote_users in self.remote.get(session_id, {}).values():
            users.update(remote_users)
        return users

    def online(self, session_id: uuid.UUID) -> list[PresenceUser]:
        """Who is online in the session on any instance, by user id."""
        names = sorted(self._names(session_id).items())
        return [PresenceUser(id=user_id, display_name=name) for user_id, name in names]

    def frame(self, session_id: uuid.UUID) -> str:
        """The full `presence` frame: what a connection gets when it opens."""
        listed = self.online(session_id)
        return encode_frame(PresenceFrame(online=len(listed), users=listed))

    def take_delta(self, session_id: uuid.UUID) -> str | None:
        """The `presence_delta` frame of the users touched since the last one (forgotten now); None if none."""
        touched = self.touched.pop(session_id, None)
        if not touched:
            return None
        names = self._names(session_id)
        joined = [PresenceUser(id=user_id, display_name=names[user_id]) for user_id in sorted(touched & names.keys())]
        left = sorted(touched - names.keys())
        return encode_frame(PresenceDeltaFrame(online=len(names), joined=joined, left=left))


class Hub:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        transport: Transport,
        metrics: Metrics,
        *,
        queue_size: int,
        poll_interval: float,
        presence_refresh: float,
        presence_interval: float,
        revalidate_interval: float,
        clock: Callable[[], datetime],
    ) -> None:
        self.sessionmaker = sessionmaker
        self.transport = transport
        self.metrics = metrics
        self.queue_size = queue_size
        self.poll_interval = poll_interval
        self.revalidate_interval = revalidate_interval
        self.clock = clock  # the app's clock (tests move it)
        self.instance_id = uuid.uuid4().hex
        self.channels: dict[uuid.UUID, SessionChannel] = {}
        self.connections: Counter[uuid.UUID] = Counter()  # open streams per user on this instance
        self.presence = Presence(self.instance_id, presence_refresh)
        self.presence_interval = presence_interval  # at most one presence_delta per session per this
        self._presence_timers: dict[uuid.UUID, asyncio.TimerHandle] = {}
        self._outgoing: dict[uuid.UUID, int] = {}
        self._flush_scheduled = False
        self._connected_once = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._background: set[asyncio.Task] = set()

    @property
    def listening(self) -> bool:
        return self.transport.connected

    async def start(self, wait: float = 5.0) -> None:
        """Start listening; wait (a bounded time) for the listener so a new instance is ready when it serves."""
        self._tasks = [
            asyncio.create_task(self.transport.run(self._on_message, self._on_connected)),
            asyncio.create_task(self._every(self.poll_interval, self._catch_up)),
            asyncio.create_task(self._every(self.presence.refresh, self._refresh_presence)),
            asyncio.create_task(self._every(self.revalidate_interval, self._revalidate)),
        ]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._connected_once.wait(), wait)

    async def stop(self) -> None:
        for timer in self._presence_timers.values():
            timer.cancel()
        for session_id in list(self.presence.local):
            self.presence.local.pop(session_id)
            await self._publish(PRESENCE_CHANNEL, self.presence.announcement(session_id))
        for task in self._tasks + list(self._background):
            task.cancel()
        await asyncio.gather(*self._tasks, *self._background, return_exceptions=True)
        for channel in self.channels.values():
            channel.close()
            for subscriber in channel.subscribers:
                subscriber.drop(CLOSE_RESTART, "the server is restarting: reconnect with ?after=<last seq received>")

    # Writers: called by the after-commit hook with {session_id: seq} of one transaction.
    def announce(self, wakeups: dict[uuid.UUID, int]) -> None:
        for session_id, seq in wakeups.items():
            self.wake(session_id, seq)
            self._outgoing[session_id] = max(seq, self._outgoing.get(session_id, 0))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._spawn(self._flush_outgoing())

    async def _flush_outgoing(self) -> None:
        """Send the wake-ups gathered during one loop tick as few NOTIFYs as possible."""
        await asyncio.sleep(0)
        self._flush_scheduled = False
        pending, self._outgoing = self._outgoing, {}
        batch: list[str] = []
        size = 0
        for session_id, seq in pending.items():
            part = f"{session_id}:{seq}"
            if batch and size + len(part) + 1 > MAX_PAYLOAD:
                await self._publish(EVENTS_CHANNEL, ",".join(batch))
                batch, size = [], 0
            batch.append(part)
            size += len(part) + 1
        if batch:
            await self._publish(EVENTS_CHANNEL, ",".join(batch))

    async def _publish(self, channel: str, payload: str) -> None:
        try:
            await self.transport.publish(channel, payload)
        except Exception as exc:  # other instances catch up by polling; never fail the writer
            log.warning("could not publish a wake-up on %s: %s", channel, exc)

    # Readers.
    def wake(self, session_id: uuid.UUID, seq: int) -> None:
        channel = self.channels.get(session_id)
        if channel is not None:
            channel.wake(seq)

    def _on_message(self, channel: str, payload: str) -> None:
        try:
            if channel == EVENTS_CHANNEL:
                for part in payload.split(","):
                    session_id, _, seq = part.partition(":")
                    self.wake(uuid.UUID(session_id), int(seq))
            elif channel == PRESENCE_CHANNEL:
                session_id = self.presence.on_remote(payload)
                if session_id is not None:
                    self._presence_changed(session_id)
        except (ValueError, KeyError, TypeError, msgspec.DecodeError):
            log.warning("ignoring a malformed message on %s", channel)

    def _on_connected(self) -> None:
        """After a (re)connect, re-read what may have been missed, and re-announce presence."""
        self._connected_once.set()
        self._spawn(self._catch_up())
        self._spawn(self._refresh_presence())

    async def _catch_up(self) -> None:
        if not self.channels:
            return
        async with self.sessionmaker() as db:
            seqs = await last_seqs(db, list(self.channels))
        for session_id, seq in seqs.items():
            self.wake(session_id, seq)

    async def _revalidate(self) -> None:
        """Close streams whose token was revoked or expired, or whose user left the session, since they opened."""
        subscribers = [s for channel in self.channels.values() for s in channel.subscribers]
        if not subscribers:
            return
        async with self.sessionmaker() as db:
            live, allowed = await still_allowed(
                db,
                {s.token_hash for s in subscribers},
                {(s.session_id, s.user_id) for s in subscribers},
                now=self.clock(),
            )
            # Read after the check, so each includes the event of any removal the check saw.
            committed = await last_seqs(db, list({s.session_id for s in subscribers}))
        for subscriber in subscribers:
            if subscriber.token_hash not in live:
                subscriber.drop(CLOSE_UNAUTHENTICATED, "the access token was revoked or has expired")
            elif (subscriber.session_id, subscriber.user_id) not in allowed:
                channel = self.channels.get(subscriber.session_id)
                seq = committed.get(subscriber.session_id, 0)
                if channel is not None and channel.fetched < seq:
                    # The removal's own event goes out first (its delivery drops the stream); else the next round.
                    self.wake(subscriber.session_id, seq)
                    continue
                subscriber.drop(CLOSE_FORBIDDEN, "you are no longer a member of this session")

    async def _refresh_presence(self) -> None:
        for session_id in self.presence.expire():
            self._presence_changed(session_id)
        for session_id in list(self.presence.local):
            await self._publish(PRESENCE_CHANNEL, self.presence.announcement(session_id))

    async def _every(self, seconds: float, action: Callable) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await action()
            except Exception:
                log.exception("periodic %s failed", action.__name__)

    def _spawn(self, coroutine) -> None:
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # Subscriptions.
    async def subscribe(
        self,
        session_id: uuid.UUID,
        user_id: uuid.UUID,
        display_name: str,
        token_hash: str,
        *,
        presence_deltas: bool = False,
    ) -> Subscriber:
        """Register a client before it replays, so nothing committed from now on can pass it by."""
        self.connections[user_id] += 1  # before any await: the caller checked the per-user limit just now
        channel = self.channels.get(session_id)
        # A session streamed here already: every event above `fetched` is still to come through its log. A new
        # channel's first read may have missed a wake-up (one committed during the read): its client replays.
        logged_after = None if channel is None else channel.fetched
        if channel is None:
            async with self.sessionmaker() as db:
                last_seq = (await last_seqs(db, [session_id])).get(session_id, 0)
            channel = self.channels.setdefault(session_id, SessionChannel(self, session_id, last_seq))
        subscriber = Subscriber(
            session_id,
            user_id,
            display_name,
            token_hash,
            channel.log,
            presence_deltas=presence_deltas,
            logged_after=logged_after,
        )
        channel.subscribers.add(subscriber)
        self.metrics.ws_clients.inc()
        if self.presence.join(session_id, user_id, display_name):
            self._presence_changed(session_id)  # the others learn it from the next delta or list
        subscriber.push(self.presence.frame(session_id))  # the full list, to this connection only
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        channel = self.channels.get(subscriber.session_id)
        if channel is None or subscriber not in channel.subscribers:
            return
        channel.subscribers.discard(subscriber)
        channel.log.leave(subscriber)
        self.connections[subscriber.user_id] -= 1
        if not self.connections[subscriber.user_id]:
            del self.connections[subscriber.user_id]
        self.metrics.ws_clients.dec()
        if not channel.subscribers:
            channel.close()
            del self.channels[subscriber.session_id]
        if self.presence.leave(subscriber.session_id, subscriber.user_id):
            self._presence_changed(subscriber.session_id)

    def _presence_changed(self, session_id: uuid.UUID) -> None:
        """Send the session's presence delta soon: at once after a quiet interval, else when the interval since
        the last delta is over (a join storm of N users is a few deltas, not N full lists to each of N)."""
        if session_id not in self._presence_timers:
            self._presence_timers[session_id] = asyncio.get_running_loop().call_soon(self._send_presence, session_id)

    def _send_presence(self, session_id: uuid.UUID) -> None:
        """One `presence_delta` to the session's clients here that asked for deltas, the whole `presence` list to
        the others (the list is built only if one of them is here), and this instance's list to the other
        instances if it changed; then nothing more for this session until `presence_interval` has passed."""
        delta = self.presence.take_delta(session_id)
        if delta is None:  # nothing changed during the interval: the next change goes out at once
            del self._presence_timers[session_id]
            return
        channel = self.channels.get(session_id)
        whole = None
        for subscriber in list(channel.subscribers) if channel is not None else ():
            if not subscriber.presence_deltas and whole is None:
                whole = self.presence.frame(session_id)
            subscriber.push(delta if subscriber.presence_deltas else whole)
        if session_id in self.presence.unannounced:
            self.presence.unannounced.discard(session_id)
            self._spawn(self._publish(PRESENCE_CHANNEL, self.presence.announcement(session_id)))
        self._presence_timers[session_id] = asyncio.get_running_loop().call_later(
            self.presence_interval, self._send_presence, session_id
        )


def hub_check(hub: Hub) -> Callable[[], Awaitable[bool]]:
    """Readiness: the instance's event listener is connected."""

    async def check() -> bool:
        return hub.listening

    return check
