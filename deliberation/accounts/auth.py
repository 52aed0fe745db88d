"""Bearer tokens and the request dependencies every route builds on: `user`, `viewer`, `admin`.

A handler asks for `user: User` (401 without a valid token), `viewer: User | None` (public routes that
show more to members) or `admin: User` (403 for non-admins). Permissions are checked here, server-side.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from deliberation.accounts.models import AccessToken, User
from deliberation.db.base import utcnow
from deliberation.deps import DB
from deliberation.errors import Forbidden, Unauthorized

TOKEN_BYTES = 32

Viewer = NamedDependency[User | None]
CurrentUser = NamedDependency[User]
Admin = NamedDependency[User]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_token(db: AsyncSession, user_id: uuid.UUID, ttl: timedelta) -> tuple[str, AccessToken]:
    """Create a token inside the caller's transaction; the raw value is returned once and never stored."""
    raw = secrets.token_urlsafe(TOKEN_BYTES)
    token = AccessToken(user_id=user_id, token_hash=hash_token(raw), expires_at=utcnow() + ttl)
    db.add(token)
    await db.flush()
    return raw, token


async def revoke_user_tokens(db: AsyncSession, user_id: uuid.UUID, at: datetime | None = None) -> None:
    """Revoke every live token of a user, inside the caller's transaction."""
    await db.execute(
        update(AccessToken)
        .where(AccessToken.user_id == user_id, AccessToken.revoked_at.is_(None))
        .values(revoked_at=at or utcnow())
    )


async def user_for_token(db: AsyncSession, raw: str | None) -> User | None:
    """The user a live (unexpired, unrevoked) token belongs to, or None."""
    if not raw:
        return None
    async with db.begin():
        return await db.scalar(
            select(User)
            .join(AccessToken, AccessToken.user_id == User.id)
            .where(
                AccessToken.token_hash == hash_token(raw),
                AccessToken.revoked_at.is_(None),
                AccessToken.expires_at > utcnow(),
            )
        )


def bearer_token(connection: ASGIConnection) -> str | None:
    """The token from `Authorization: Bearer ...`, or `?access_token=` (browsers' websockets)."""
    header = connection.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return connection.query_params.get("access_token") or None


async def provide_viewer(request: ASGIConnection, db: DB) -> User | None:
    """The signed-in user, or None for anonymous requests. An invalid token is 401, not anonymous."""
    raw = bearer_token(request)
    if raw is None:
        return None
    user = await user_for_token(db, raw)
    if user is None:
        raise Unauthorized("The access token is invalid, expired or revoked.")
    return user


async def provide_user(viewer: Viewer) -> User:
    if viewer is None:
        raise Unauthorized()
    return viewer


async def provide_admin(user: CurrentUser) -> User:
    if not user.is_admin:
        raise Forbidden("Only organizers (admins) may do this.")
    return user
