"""Who may keep reading a live stream: checked when it opens, and again for every open stream periodically."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from deliberation.accounts.models import AccessToken, User
from deliberation.forum.models import SessionMember


async def still_allowed(
    db: AsyncSession,
    token_hashes: Collection[str],
    readers: Collection[tuple[uuid.UUID, uuid.UUID]],
    *,
    now: datetime,
) -> tuple[set[str], set[tuple[uuid.UUID, uuid.UUID]]]:
    """Of these tokens, the live ones; of these (session, user) pairs, those still members (or admins)."""
    async with db.begin():
        live = set(
            (
                await db.scalars(
                    select(AccessToken.token_hash).where(
                        AccessToken.token_hash.in_(token_hashes),
                        AccessToken.revoked_at.is_(None),
                        AccessToken.expires_at > now,
                    )
                )
            ).all()
        )
        admins = set(
            (await db.scalars(select(User.id).where(User.id.in_({user for _, user in readers}), User.is_admin))).all()
        )
        rows = await db.execute(
            select(SessionMember.session_id, SessionMember.user_id).where(
                tuple_(SessionMember.session_id, SessionMember.user_id).in_(list(readers))
            )
        )
        members = {(row.session_id, row.user_id) for row in rows}
    return live, {(session, user) for session, user in readers if user in admins or (session, user) in members}
