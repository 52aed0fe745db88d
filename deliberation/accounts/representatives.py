"""Elected representatives: a user claims an office, an admin verifies it (audited); only verified ones endorse."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from deliberation.accounts.models import ClaimStatus, RepresentativeClaim, User
from deliberation.accounts.schemas import ClaimIn, ClaimOut, ClaimPage, UserOut, VerifyIn
from deliberation.accounts.service import claim_is_verified, user_out
from deliberation.audit import service as audit
from deliberation.errors import Conflict, Invalid, NotFound
from deliberation.i18n import N_
from deliberation.pagination import keyset_page


async def verified_claim(db: AsyncSession, user_id: uuid.UUID, today: date) -> RepresentativeClaim | None:
    """The user's claim if it is verified and its term not over, else None (inside the caller's transaction)."""
    claim = await db.get(RepresentativeClaim, user_id)
    return claim if claim_is_verified(claim, today) else None


def _audit_data(claim: RepresentativeClaim) -> dict[str, str | None]:
    return {
        "office": claim.office,
        "territory": claim.territory,
        "term_ends": claim.term_ends.isoformat() if claim.term_ends else None,
    }


async def submit_claim(db: AsyncSession, user: User, data: ClaimIn, *, now: datetime) -> UserOut:
    """Claim an office; a new claim replaces the user's previous one and waits for an admin again."""
    if data.term_ends is not None and data.term_ends < now.date():
        raise Invalid.field("term_ends", N_("The term has already ended."))
    async with db.begin():
        previous = await db.get(RepresentativeClaim, user.id, with_for_update=True)
        if previous is not None and previous.status == ClaimStatus.verified:
            # The verified claim is withdrawn by its holder: the log says so, as for an admin's removal.
            await audit.record(
                db,
                now=now,
                action="representative.unverified",
                target_type="user",
                target_id=user.id,
                actor_id=user.id,
                reason="Replaced by a new claim.",
                data=_audit_data(previous),
            )
        values = {
            "office": data.office.strip(),
            "territory": data.territory.strip(),
            "term_ends": data.term_ends,
            "status": ClaimStatus.pending.value,
            "claimed_at": now,
            "reviewed_at": None,
            "reviewed_by": None,
        }
        claim = await db.scalar(
            insert(RepresentativeClaim)
            .values(user_id=user.id, **values)
            .on_conflict_do_update(index_elements=[RepresentativeClaim.user_id], set_=values)
            .returning(RepresentativeClaim),
            execution_options={"populate_existing": True},
        )
        return user_out(user, user, claim, today=now.date())


async def list_claims(
    db: AsyncSession, admin: User, *, status: str, cursor: str | None, limit: int, now: datetime
) -> ClaimPage:
    """Claims with this status, oldest first."""
    query = (
        select(RepresentativeClaim, User)
        .join(User, User.id == RepresentativeClaim.user_id)
        .where(RepresentativeClaim.status == status)
    )
    keys = (RepresentativeClaim.claimed_at, RepresentativeClaim.user_id)
    async with db.begin():
        rows, next_cursor = await keyset_page(db, query, keys, cursor=cursor, limit=limit)
    items = [
        ClaimOut(
            user=user_out(user, admin, claim, today=now.date()),
            office=claim.office,
            territory=claim.territory,
            term_ends=claim.term_ends,
            status=claim.status,  # type: ignore[arg-type]
            claimed_at=claim.claimed_at,
            reviewed_at=claim.reviewed_at,
        )
        for claim, user in rows
    ]
    return ClaimPage(items=items, next_cursor=next_cursor)


async def set_verified(db: AsyncSession, admin: User, user_id: uuid.UUID, data: VerifyIn, *, now: datetime) -> UserOut:
    """Verify a user's claim or take the verification away, with an audit entry; 409 without a claim, 422 when
    verifying a claim whose term ended before `now` (the UTC date of the app clock)."""
    status = ClaimStatus.verified if data.verified else ClaimStatus.unverified
    async with db.begin():
        user = await db.get(User, user_id)
        if user is None:
            raise NotFound(N_("No such user."))
        claim = await db.get(RepresentativeClaim, user_id, with_for_update=True)
        if claim is None:
            raise Conflict(N_("This user has not claimed an elected office."))
        if data.verified and claim.term_ends is not None and claim.term_ends < now.date():
            raise Invalid.field("verified", N_("The term of this office has already ended; it cannot be verified."))
        if claim.status != status:
            claim.status, claim.reviewed_at, claim.reviewed_by = status.value, now, admin.id
            await audit.record(
                db,
                now=now,
                action=f"representative.{status.value}",
                target_type="user",
                target_id=user.id,
                actor_id=admin.id,
                reason=data.reason,
                data=_audit_data(claim),
            )
        return user_out(user, admin, claim, today=now.date())
