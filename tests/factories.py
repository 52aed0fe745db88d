"""Build rows directly for tests that need users, tokens and the like without going through every route."""

from __future__ import annotations

import secrets
from datetime import timedelta
from functools import lru_cache

from sqlalchemy.ext.asyncio import AsyncSession

from deliberation.accounts.auth import issue_token
from deliberation.accounts.models import User
from deliberation.accounts.passwords import hash_password

PASSWORD = "correct horse battery staple"


@lru_cache(maxsize=1)
def password_hash() -> str:
    return hash_password(PASSWORD)


async def make_user(
    db: AsyncSession,
    *,
    display_name: str | None = None,
    email: str | None = None,
    is_admin: bool = False,
    actor_type: str = "citizen",
) -> User:
    """A user with password `PASSWORD`, committed (to the test's savepoint)."""
    name = display_name or f"User {secrets.token_hex(3)}"
    user = User(
        email=email or f"{secrets.token_hex(6)}@example.org",
        password_hash=password_hash(),
        display_name=name,
        actor_type=actor_type,
        is_admin=is_admin,
    )
    async with db.begin():
        db.add(user)
    return user


async def make_token(db: AsyncSession, user: User) -> str:
    async with db.begin():
        raw, _ = await issue_token(db, user.id, timedelta(days=1))
    return raw


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def signed_in(db: AsyncSession, **fields) -> tuple[User, dict[str, str]]:
    """A user and the headers that authenticate as them."""
    user = await make_user(db, **fields)
    return user, bearer(await make_token(db, user))
