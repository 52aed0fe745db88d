"""Bearer tokens and the request dependencies every route builds on: `user`, `viewer`, `admin`.

A handler asks for `user: User` (401 without a valid token), `viewer: User | None` (public routes that
show more to members) or `admin: User` (403 for non-admins). Permissions are checked here, server-side.

An access token travels in `Authorization: Bearer ...`, or (web pages) in the `SESSION_COOKIE` cookie, whose
value is a token of the same table, looked up the same way. It never travels in a URL.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from deliberation.accounts.models import AccessToken, User
from deliberation.deps import DB, Now
from deliberation.errors import Forbidden, Unauthorized
from deliberation.i18n import N_
from deliberation.settings import Settings

TOKEN_BYTES = 32
SESSION_COOKIE = "deliberation_session"  # the web client's sign-in cookie: an access token (HttpOnly)
TOKEN_KEEP = timedelta(days=1)  # expired or revoked tokens are deleted (when their user next signs in) after this

Viewer = NamedDependency[User | None]
CurrentUser = NamedDependency[User]
Admin = NamedDependency[User]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_token(
    db: AsyncSession, user_id: uuid.UUID, ttl: timedelta, *, now: datetime
) -> tuple[str, AccessToken]:
    """Create a token inside the caller's transaction; the raw value is returned once and never stored."""
    raw = secrets.token_urlsafe(TOKEN_BYTES)
    token = AccessToken(user_id=user_id, token_hash=hash_token(raw), expires_at=now + ttl)
    db.add(token)
    await db.flush()
    return raw, token


async def revoke_user_tokens(db: AsyncSession, user_id: uuid.UUID, at: datetime, *, raw: str | None = None) -> None:
    """Revoke the user's live tokens (only the token `raw` when given), inside the caller's transaction."""
    query = update(AccessToken).where(AccessToken.user_id == user_id, AccessToken.revoked_at.is_(None))
    if raw is not None:
        query = query.where(AccessToken.token_hash == hash_token(raw))
    await db.execute(query.values(revoked_at=at))


async def prune_user_tokens(db: AsyncSession, user_id: uuid.UUID, now: datetime) -> None:
    """Delete the user's tokens that expired or were revoked over a day ago (inside the caller's transaction)."""
    before = now - TOKEN_KEEP
    await db.execute(
        delete(AccessToken).where(
            AccessToken.user_id == user_id, or_(AccessToken.expires_at < before, AccessToken.revoked_at < before)
        )
    )


async def user_for_token(db: AsyncSession, raw: str | None, *, now: datetime) -> User | None:
    """The user a token live at `now` (unexpired, unrevoked) belongs to, or None.

    One statement in autocommit: the lookup is a single read, and every request makes it, so it costs one round
    trip instead of three (BEGIN, SELECT, COMMIT). On a connection already inside a transaction of its own (the
    tests' rolled-back one) it reads in a transaction (a savepoint there).
    """
    if not raw:
        return None
    bind = db.bind
    if isinstance(bind, AsyncConnection) and bind.in_transaction():
        async with db.begin():
            return await user_for_token_hash(db, hash_token(raw), now=now)
    await db.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    try:
        return await user_for_token_hash(db, hash_token(raw), now=now)
    finally:
        await db.commit()  # ends the session's transaction (nothing to send in autocommit) and frees the connection


async def user_for_token_hash(db: AsyncSession, token_hash: str, *, now: datetime) -> User | None:
    """The user of the token with this hash if it is live at `now`, inside the caller's transaction."""
    return await db.scalar(_LIVE_TOKEN_USER, {"token_hash": token_hash, "now": now})


# Built once: every request runs it, and building the statement (and its cache key) cost more than running it.
_LIVE_TOKEN_USER = (
    select(User)
    .join(AccessToken, AccessToken.user_id == User.id)
    .where(
        AccessToken.token_hash == bindparam("token_hash"),
        AccessToken.revoked_at.is_(None),
        AccessToken.expires_at > bindparam("now"),
    )
)


def bearer_token(connection: ASGIConnection) -> str | None:
    """The token from `Authorization: Bearer ...`. No query parameter is read: URLs end up in logs."""
    header = connection.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def origin_of(url: str) -> str:
    """The origin (`scheme://host[:port]`, lower case) of a URL, as browsers send it in `Origin`."""
    parts = urlsplit(url.strip())
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def origin_allowed(origin: str | None, settings: Settings) -> bool:
    """Whether a request's `Origin` is the service's own (`DELIBERATION_PUBLIC_URL`) or one of
    `DELIBERATION_ALLOWED_ORIGINS`. The session cookie is accepted from these origins only."""
    if not origin:
        return False
    allowed = {origin_of(settings.public_url), *(origin_of(item) for item in settings.allowed_origins)}
    return origin_of(origin) in allowed


async def provide_viewer(request: ASGIConnection, db: DB, now: Now) -> User | None:
    """The signed-in user, or None for anonymous requests. An invalid token is 401, not anonymous."""
    raw = bearer_token(request)
    if raw is None:
        return None
    user = await user_for_token(db, raw, now=now)
    if user is None:
        raise Unauthorized(N_("The access token is invalid, expired or revoked."))
    return user


async def provide_user(viewer: Viewer) -> User:
    if viewer is None:
        raise Unauthorized()
    return viewer


async def provide_admin(user: CurrentUser) -> User:
    if not user.is_admin:
        raise Forbidden(N_("Only organizers (admins) may do this."))
    return user
