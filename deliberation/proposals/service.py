"""Proposal actions: list, create, read, edit (a new version, `If-Match`), list versions, publish.

Reading follows `access.visible_proposal` (drafts for signed-in users, published ones for anyone); writing is for
the session's moderators and admins. Each public function runs one transaction. Creating, editing and
publishing are audited (`proposal.created`, `proposal.edited`, `proposal.published`) and announced
(`proposal.created`, `proposal.updated`, `proposal.published`).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from msgspec import UNSET
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from deliberation.accounts.models import User
from deliberation.accounts.service import author_ref
from deliberation.audit import service as audit
from deliberation.db.engine import read_snapshot
from deliberation.errors import Conflict
from deliberation.forum.access import get_session_or_404, lock_session, require_moderator
from deliberation.i18n import N_
from deliberation.pagination import keyset_page
from deliberation.preconditions import check_version
from deliberation.proposals.access import lock_proposal, visible_proposal
from deliberation.proposals.canonical import content_of, content_sha256, final_conclusions
from deliberation.proposals.models import Proposal, ProposalConclusion, ProposalStatus, ProposalVersion
from deliberation.proposals.presenters import included_conclusions, one_proposal_out, proposals_out
from deliberation.proposals.rules import check_conclusions
from deliberation.proposals.schemas import (
    ProposalIn,
    ProposalOut,
    ProposalPage,
    ProposalPatch,
    ProposalVersionOut,
    ProposalVersionPage,
)
from deliberation.realtime.events import as_of_seq, emit


async def list_proposals(
    db: AsyncSession, session_id: uuid.UUID, viewer: User | None, *, cursor: str | None, limit: int
) -> ProposalPage:
    """A session's proposals, oldest first; anonymous readers see only published ones."""
    query = select(Proposal).where(Proposal.session_id == session_id)
    if viewer is None:
        query = query.where(Proposal.status == ProposalStatus.published)
    async with db.begin():
        await read_snapshot(db)
        await get_session_or_404(db, session_id)
        keys = (Proposal.created_at, Proposal.id)
        rows, next_cursor = await keyset_page(db, query, keys, cursor=cursor, limit=limit)
        items = await proposals_out(db, [proposal for (proposal,) in rows])
        seq = await as_of_seq(db, session_id)
    return ProposalPage(items=items, next_cursor=next_cursor, as_of_seq=seq)


async def _add_version(
    db: AsyncSession, proposal: Proposal, user: User, *, title: str, summary: str, body: str, ids: list[uuid.UUID]
) -> None:
    db.add(
        ProposalVersion(
            proposal_id=proposal.id,
            version=proposal.version,
            title=title,
            summary=summary,
            body=body,
            created_by=user.id,
            created_at=proposal.updated_at,
        )
    )
    await db.flush()
    db.add_all(
        ProposalConclusion(proposal_id=proposal.id, version=proposal.version, conclusion_id=cid, position=n)
        for n, cid in enumerate(ids)
    )
    await db.flush()


async def create_proposal(
    db: AsyncSession, session_id: uuid.UUID, user: User, data: ProposalIn, *, now: datetime
) -> ProposalOut:
    """A draft proposal at version 1 (moderators); 422 unless every conclusion is an adopted one of the session."""
    async with db.begin():
        await lock_session(db, session_id, lambda session_id: require_moderator(db, session_id, user))
        ids = await check_conclusions(db, session_id, data.conclusion_ids)
        proposal = Proposal(session_id=session_id, version=1, created_by=user.id, created_at=now, updated_at=now)
        db.add(proposal)
        await db.flush()
        await _add_version(db, proposal, user, title=data.title, summary=data.summary, body=data.body, ids=ids)
        out = await one_proposal_out(db, proposal)
        await audit.record(
            db,
            now=now,
            action="proposal.created",
            target_type="proposal",
            target_id=proposal.id,
            actor_id=user.id,
            session_id=session_id,
            data={"version": 1, "conclusion_ids": ids},
        )
        await emit(db, session_id, "proposal.created", out)
    return out


async def get_proposal(db: AsyncSession, proposal_id: uuid.UUID, viewer: User | None) -> ProposalOut:
    """One proposal (drafts only for signed-in users)."""
    async with db.begin():
        return await one_proposal_out(db, await visible_proposal(db, proposal_id, viewer))


async def update_proposal(
    db: AsyncSession, proposal_id: uuid.UUID, user: User, data: ProposalPatch, *, expected: int, now: datetime
) -> ProposalOut:
    """A new version from the fields given (moderators); 409 once published, 412 when `expected` is stale.

    A patch that changes nothing writes no version and returns the proposal as it is.
    """
    async with db.begin():
        proposal, session = await lock_proposal(
            db, proposal_id, lambda session_id: require_moderator(db, session_id, user)
        )
        if proposal.status == ProposalStatus.published:
            raise Conflict(N_("This proposal is published and can no longer change."))
        check_version(proposal.version, expected)
        current = await one_proposal_out(db, proposal)
        title = current.title if data.title is UNSET else data.title
        summary = current.summary if data.summary is UNSET else data.summary
        body = current.body if data.body is UNSET else data.body
        ids = current.conclusion_ids
        if data.conclusion_ids is not UNSET and data.conclusion_ids != ids:
            ids = await check_conclusions(db, session.id, data.conclusion_ids)
        if (title, summary, body, ids) == (current.title, current.summary, current.body, current.conclusion_ids):
            return current
        proposal.version += 1
        proposal.updated_at = now
        await _add_version(db, proposal, user, title=title, summary=summary, body=body, ids=ids)
        out = await one_proposal_out(db, proposal)
        await audit.record(
            db,
            now=now,
            action="proposal.edited",
            target_type="proposal",
            target_id=proposal.id,
            actor_id=user.id,
            session_id=session.id,
            data={"version": proposal.version, "conclusion_ids": ids},
        )
        await emit(db, session.id, "proposal.updated", out)
    return out


async def list_versions(
    db: AsyncSession, proposal_id: uuid.UUID, viewer: User | None, *, cursor: str | None, limit: int
) -> ProposalVersionPage:
    """Every version of a proposal, oldest first, each with the conclusions it included."""
    async with db.begin():
        await read_snapshot(db)
        proposal = await visible_proposal(db, proposal_id, viewer)
        query = (
            select(ProposalVersion, User)
            .outerjoin(User, User.id == ProposalVersion.created_by)
            .where(ProposalVersion.proposal_id == proposal.id)
        )
        page, next_cursor = await keyset_page(db, query, (ProposalVersion.version,), cursor=cursor, limit=limit)
        conclusions = await included_conclusions(db, [(proposal.id, text.version) for text, _ in page])
        seq = await as_of_seq(db, proposal.session_id)
    items = [
        ProposalVersionOut(
            version=text.version,
            title=text.title,
            summary=text.summary,
            body=text.body,
            conclusion_ids=conclusions[(proposal.id, text.version)],
            created_at=text.created_at,
            author=author_ref(author) if author is not None else None,
        )
        for text, author in page
    ]
    return ProposalVersionPage(items=items, next_cursor=next_cursor, as_of_seq=seq)


async def publish_proposal(
    db: AsyncSession, proposal_id: uuid.UUID, user: User, *, expected: int | None, now: datetime
) -> ProposalOut:
    """Freeze the current version (moderators): `published_at` and `content_sha256` are set once; 409 when published."""
    async with db.begin():
        proposal, session = await lock_proposal(
            db, proposal_id, lambda session_id: require_moderator(db, session_id, user)
        )
        if proposal.status == ProposalStatus.published:
            raise Conflict(N_("This proposal is already published."))
        if expected is not None:
            check_version(proposal.version, expected)
        text = await db.get(ProposalVersion, (proposal.id, proposal.version))
        assert text is not None
        ids = (await included_conclusions(db, [(proposal.id, proposal.version)]))[(proposal.id, proposal.version)]
        # Adopted is final for a conclusion, but check again: what is published must rest on adopted ones only.
        await check_conclusions(db, session.id, ids)
        digest = content_sha256(content_of(proposal, text, await final_conclusions(db, ids)))
        proposal.status = ProposalStatus.published.value
        proposal.published_at, proposal.published_by, proposal.content_sha256 = now, user.id, digest
        proposal.updated_at = now
        await db.flush()
        out = await one_proposal_out(db, proposal)
        await audit.record(
            db,
            now=now,
            action="proposal.published",
            target_type="proposal",
            target_id=proposal.id,
            actor_id=user.id,
            session_id=session.id,
            data={"version": proposal.version, "content_sha256": digest, "conclusion_ids": ids},
        )
        await emit(db, session.id, "proposal.published", out)
    return out
