"""Endorsements of published proposals by verified elected representatives.

Only a user whose representative claim is verified (and whose term has not ended) may endorse: session roles
neither grant nor bar it, and admins are no exception. One active endorsement per representative per
proposal (a partial unique index; a second is 409). Withdrawing keeps the row with `withdrawn_at`; the
representative may endorse again afterwards, which adds a new row. An endorsement made while verified stays
when the verification is later taken away; listings mark it with `representative_verified: false`.
Endorsing and withdrawing are audited (`endorsement.given`, `endorsement.withdrawn`) and announced
(`endorsement.created`, `endorsement.withdrawn`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import msgspec
from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from deliberation.accounts.models import User
from deliberation.accounts.representatives import verified_claim
from deliberation.accounts.service import claim_is_verified, claims_of
from deliberation.audit import service as audit
from deliberation.db.engine import read_snapshot
from deliberation.errors import Conflict, Forbidden, NotFound
from deliberation.i18n import N_
from deliberation.pagination import keyset_page
from deliberation.proposals.access import lock_proposal, visible_proposal
from deliberation.proposals.models import ACTIVE_ENDORSEMENT_INDEX, Endorsement, Proposal, ProposalStatus
from deliberation.proposals.schemas import (
    EndorsementEventOut,
    EndorsementIn,
    EndorsementOut,
    EndorsementPage,
    RepresentativeRef,
)
from deliberation.realtime.events import as_of_seq, emit


def endorsement_out(endorsement: Endorsement, representative: User, *, verified: bool) -> EndorsementOut:
    return EndorsementOut(
        id=endorsement.id,
        proposal_id=endorsement.proposal_id,
        representative=RepresentativeRef(
            id=representative.id,
            display_name=representative.display_name,
            office=endorsement.office,
            territory=endorsement.territory,
        ),
        representative_verified=verified,
        stance=endorsement.stance,  # type: ignore[arg-type]
        statement=endorsement.statement,
        created_at=endorsement.created_at,
        withdrawn_at=endorsement.withdrawn_at,
    )


async def endorsements_out(
    db: AsyncSession, rows: Sequence[tuple[Endorsement, User]], *, now: datetime
) -> list[EndorsementOut]:
    """Endorsements with their representatives' verification as it stands now (inside the caller's transaction)."""
    claims = await claims_of(db, (user.id for _, user in rows))
    return [
        endorsement_out(endorsement, user, verified=claim_is_verified(claims.get(user.id), now.date()))
        for endorsement, user in rows
    ]


ENDORSEMENT_ORDER = (Endorsement.created_at, Endorsement.id)  # oldest first


def _endorsements_query(proposal_id: uuid.UUID) -> Select[tuple[Endorsement, User]]:
    """(endorsement, representative) of a proposal, withdrawn ones included."""
    return (
        select(Endorsement, User)
        .join(User, User.id == Endorsement.representative_id)
        .where(Endorsement.proposal_id == proposal_id)
    )


async def proposal_endorsements(db: AsyncSession, proposal_id: uuid.UUID) -> Sequence[tuple[Endorsement, User]]:
    """Every (endorsement, representative) of a proposal, oldest first (the export)."""
    rows = await db.execute(_endorsements_query(proposal_id).order_by(*ENDORSEMENT_ORDER))
    return [(endorsement, user) for endorsement, user in rows.all()]


async def list_endorsements(
    db: AsyncSession,
    proposal_id: uuid.UUID,
    viewer: User | None,
    *,
    cursor: str | None,
    limit: int,
    now: datetime,
) -> EndorsementPage:
    """A proposal's endorsements, oldest first, withdrawn ones included."""
    async with db.begin():
        await read_snapshot(db)
        proposal = await visible_proposal(db, proposal_id, viewer)
        query = _endorsements_query(proposal.id)
        rows, next_cursor = await keyset_page(db, query, ENDORSEMENT_ORDER, cursor=cursor, limit=limit)
        items = await endorsements_out(db, [(endorsement, user) for endorsement, user in rows], now=now)
        seq = await as_of_seq(db, proposal.session_id)
    return EndorsementPage(items=items, next_cursor=next_cursor, as_of_seq=seq)


async def _active_endorsement(db: AsyncSession, proposal_id: uuid.UUID, user: User) -> Endorsement | None:
    return await db.scalar(
        select(Endorsement).where(
            Endorsement.proposal_id == proposal_id,
            Endorsement.representative_id == user.id,
            Endorsement.withdrawn_at.is_(None),
        )
    )


async def endorse(
    db: AsyncSession, proposal_id: uuid.UUID, user: User, data: EndorsementIn, *, now: datetime
) -> EndorsementOut:
    """Endorse a published proposal (verified representatives); 403 anyone else, 409 unpublished or already endorsed."""
    statement = (data.statement or "").strip() or None
    try:
        async with db.begin():
            # Checked before the session row (a refused caller never queues behind its writers); claims are not
            # guarded by that row, so checking again under it would decide nothing more.
            claim = await verified_claim(db, user.id, now.date())
            if claim is None:
                raise Forbidden(N_("Only verified elected representatives may endorse a proposal."))
            proposal, session = await lock_proposal(db, proposal_id)
            if proposal.status != ProposalStatus.published:
                raise Conflict(N_("Only a published proposal can be endorsed."))
            if await _active_endorsement(db, proposal.id, user) is not None:
                raise Conflict(N_("You have already endorsed this proposal; withdraw it first to change it."))
            endorsement = Endorsement(
                proposal_id=proposal.id,
                representative_id=user.id,
                stance=data.stance,
                statement=statement,
                office=claim.office,
                territory=claim.territory,
                created_at=now,
            )
            db.add(endorsement)
            proposal.endorsement_count += 1
            await db.flush()
            out = endorsement_out(endorsement, user, verified=True)
            await audit.record(
                db,
                now=now,
                action="endorsement.given",
                target_type="proposal",
                target_id=proposal.id,
                actor_id=user.id,
                session_id=session.id,
                data={
                    "endorsement_id": endorsement.id,
                    "stance": data.stance,
                    "statement": statement,
                    "office": claim.office,
                    "territory": claim.territory,
                },
            )
            await emit(db, session.id, "endorsement.created", counted(out, proposal))
            return out
    except IntegrityError as error:
        # The session row serializes endorsements of a proposal, so the check above decides; the partial unique
        # index is the backstop. Only its violation means "already endorsed": any other error is a bug, not a 409.
        if getattr(error.orig.__cause__, "constraint_name", None) != ACTIVE_ENDORSEMENT_INDEX:
            raise
        raise Conflict(N_("You have already endorsed this proposal; withdraw it first to change it.")) from None


def counted(endorsement: EndorsementOut, proposal: Proposal) -> EndorsementEventOut:
    """The endorsement as its events carry it: with the proposal's active-endorsement count after the change."""
    return EndorsementEventOut(**msgspec.structs.asdict(endorsement), endorsement_count=proposal.endorsement_count)


async def withdraw(db: AsyncSession, proposal_id: uuid.UUID, user: User, *, now: datetime) -> None:
    """Withdraw the user's active endorsement (kept, with `withdrawn_at`); 404 when they have none."""

    async def has_endorsement(_: uuid.UUID) -> None:
        if await _active_endorsement(db, proposal_id, user) is None:
            raise NotFound(N_("You have no active endorsement of this proposal."))

    async with db.begin():
        proposal, session = await lock_proposal(db, proposal_id, has_endorsement)
        endorsement = await _active_endorsement(db, proposal.id, user)
        assert endorsement is not None  # withdrawing takes the session row too, and `has_endorsement` ran under it
        endorsement.withdrawn_at = now
        proposal.endorsement_count -= 1
        await db.flush()
        claim = await verified_claim(db, user.id, now.date())
        out = endorsement_out(endorsement, user, verified=claim is not None)
        await audit.record(
            db,
            now=now,
            action="endorsement.withdrawn",
            target_type="proposal",
            target_id=proposal.id,
            actor_id=user.id,
            session_id=session.id,
            data={"endorsement_id": endorsement.id},
        )
        await emit(db, session.id, "endorsement.withdrawn", counted(out, proposal))
