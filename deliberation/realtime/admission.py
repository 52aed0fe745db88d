"""Who may open a session's live stream, and with what: the one admission path of the websocket.

A stream is admitted with exactly one of, in this order:

1. `Authorization: Bearer <access token>` (programs);
2. `?ticket=` from `POST /api/sessions/{id}/live-ticket` (browsers on another origin): single use, short-lived,
   stored as a SHA-256 hash, bound to one session and to the access token it was issued under;
3. the web client's `SESSION_COOKIE` (an access token), only when the request's `Origin` is the service's own
   or an allowed one, so another site's page cannot ride on a visitor's cookie.

There is no `?access_token=`: a token in a URL ends up in access logs, proxies and browser history. Like any
parameter the stream does not take, it is refused before the upgrade (400, `realtime.routes`).
Whatever admits the stream, it lives as long as the access token behind it (the hub re-checks `token_hash`).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from litestar.connection import ASGIConnection
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from deliberation.accounts.auth import SESSION_COOKIE, bearer_token, hash_token, origin_allowed, user_for_token_hash
from deliberation.accounts.models import User
from deliberation.errors import Forbidden, Unauthorized
from deliberation.forum.access import require_member
from deliberation.realtime.models import LiveTicket
from deliberation.realtime.schemas import LiveTicketOut
from deliberation.settings import Settings

TICKET_BYTES = 32


@dataclass(frozen=True)
class Credential:
    """What a live-stream request presents: an access token (header or cookie) or a ticket."""

    kind: Literal["token", "ticket"]
    value: str


@dataclass(frozen=True)
class Admission:
    user: User
    last_seq: int
    token_hash: str  # the access token the stream lives by


def live_credential(connection: ASGIConnection, settings: Settings) -> Credential:
    """The credential a live-stream request presents; 401 for none, 403 for the cookie from a foreign origin."""
    token = bearer_token(connection)
    if token is not None:
        return Credential("token", token)
    ticket = connection.query_params.get("ticket")
    if ticket:
        return Credential("ticket", ticket)
    cookie = connection.cookies.get(SESSION_COOKIE)
    if cookie:
        if not origin_allowed(connection.headers.get("origin"), settings):
            raise Forbidden("The session cookie is accepted only from the service's own pages (Origin).")
        return Credential("token", cookie)
    raise Unauthorized("A valid access token or live ticket is required.")


async def admit_to_stream(
    db: AsyncSession, session_id: uuid.UUID, credential: Credential, *, now: datetime
) -> Admission:
    """The user behind the credential, if a member (or admin) of the session; 401, 403 or 404 otherwise.

    A ticket is used up here (deleted in its own transaction) whatever the rest of the answer is.
    """
    if credential.kind == "ticket":
        async with db.begin():
            ticket = await db.scalar(
                delete(LiveTicket).where(LiveTicket.ticket_hash == hash_token(credential.value)).returning(LiveTicket)
            )
        if ticket is None or ticket.session_id != session_id or ticket.expires_at <= now:
            raise Unauthorized("The live ticket is unknown, used, expired or for another session.")
        token_hash = ticket.token_hash
    else:
        token_hash = hash_token(credential.value)
    async with db.begin():
        user = await user_for_token_hash(db, token_hash, now=now)
        if user is None:
            raise Unauthorized("The access token is invalid, expired or revoked.")
        session = await require_member(db, session_id, user)
        return Admission(user=user, last_seq=session.last_seq, token_hash=token_hash)


async def issue_live_ticket(
    db: AsyncSession, session_id: uuid.UUID, user: User, token: str, *, ttl: timedelta, now: datetime
) -> LiveTicketOut:
    """A ticket for one connection to the session's stream (members and admins), valid `ttl`.

    Only its hash is stored; the user's expired tickets are deleted on the way.
    """
    raw = secrets.token_urlsafe(TICKET_BYTES)
    async with db.begin():
        await require_member(db, session_id, user)
        await db.execute(delete(LiveTicket).where(LiveTicket.user_id == user.id, LiveTicket.expires_at <= now))
        ticket = LiveTicket(
            ticket_hash=hash_token(raw),
            session_id=session_id,
            user_id=user.id,
            token_hash=hash_token(token),
            expires_at=now + ttl,
        )
        db.add(ticket)
    return LiveTicketOut(ticket=raw, expires_at=ticket.expires_at)
