"""The exported record of a proposal: the whole chain post -> conclusion -> vote -> proposal -> endorsement.

One read transaction gathers it, REPEATABLE READ and read only, so every part comes from one snapshot (at READ
COMMITTED an endorsement committing mid-export could appear in one part and not another): the proposal, each
included conclusion with every version of its text, the version voted on and its final tally, the posts it rests
on (public view: a hidden post shows only that it was hidden and the public reason, a deleted one is a tombstone), the
endorsements (withdrawn ones included), the session's audit entries with the links (seq and hashes) of the
other entries between its first and last, so the exported chain verifies on its own, and the head of the chain.
`markdown.render` turns it into a document for people.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from deliberation.accounts.models import User
from deliberation.audit import service as audit
from deliberation.audit.checkpoint import Signer
from deliberation.audit.service import GENESIS_HASH
from deliberation.conclusions.models import ConclusionSource, ConclusionVersion
from deliberation.conclusions.presenters import voting_out
from deliberation.db.engine import read_snapshot
from deliberation.forum.models import Session, Thread
from deliberation.proposals.access import visible_proposal
from deliberation.proposals.canonical import CANONICAL_FORMAT, final_conclusions
from deliberation.proposals.endorsements import endorsements_out, proposal_endorsements
from deliberation.proposals.presenters import one_proposal_out
from deliberation.proposals.schemas import (
    ExportAudit,
    ExportConclusion,
    ExportSession,
    ExportThread,
    ExportVersion,
    ProposalExport,
)
from deliberation.threads.models import Post
from deliberation.threads.presenters import post_out, posts_with_authors
from deliberation.threads.schemas import PostOut

EXPORT_FORMAT = "deliberation.export.v1"


async def _sources(db: AsyncSession, conclusion_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[PostOut]]:
    """The public view of the posts each conclusion rests on, in the conclusion's order."""
    rows = await db.execute(
        posts_with_authors()
        .add_columns(ConclusionSource.conclusion_id)
        .join(ConclusionSource, ConclusionSource.post_id == Post.id)
        .where(ConclusionSource.conclusion_id.in_(conclusion_ids))
        .order_by(ConclusionSource.position)
    )
    sources: dict[uuid.UUID, list[PostOut]] = {conclusion_id: [] for conclusion_id in conclusion_ids}
    for post, author, conclusion_id in rows:
        sources[conclusion_id].append(post_out(post, author))
    return sources


async def _versions(db: AsyncSession, conclusion_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[ExportVersion]]:
    versions: dict[uuid.UUID, list[ExportVersion]] = {conclusion_id: [] for conclusion_id in conclusion_ids}
    for text in await db.scalars(
        select(ConclusionVersion)
        .where(ConclusionVersion.conclusion_id.in_(conclusion_ids))
        .order_by(ConclusionVersion.version)
    ):
        versions[text.conclusion_id].append(
            ExportVersion(version=text.version, title=text.title, body=text.body, created_at=text.created_at)
        )
    return versions


async def export_proposal(
    db: AsyncSession, proposal_id: uuid.UUID, viewer: User | None, signer: Signer, *, now: datetime
) -> ProposalExport:
    """The exported record (readable like the proposal: published ones by anyone, drafts by signed-in users), with
    the checkpoint `signer` signs of the chain's head it was made under."""
    async with db.begin():
        await read_snapshot(db)
        proposal = await visible_proposal(db, proposal_id, viewer)
        out = await one_proposal_out(db, proposal)
        session = await db.get(Session, proposal.session_id)
        assert session is not None
        finals = await final_conclusions(db, out.conclusion_ids)
        sources = await _sources(db, out.conclusion_ids)
        versions = await _versions(db, out.conclusion_ids)
        thread_ids = {final.conclusion.thread_id for final in finals} | {
            post.thread_id for posts in sources.values() for post in posts
        }
        threads = (
            await db.scalars(
                select(Thread).where(Thread.id.in_(thread_ids - {None})).order_by(Thread.position, Thread.created_at)
            )
        ).all()
        endorsements = await endorsements_out(db, await proposal_endorsements(db, proposal.id), now=now)
        entries = await audit.session_entries(db, session_id=session.id)
        links = (
            await audit.links_between(db, session_id=session.id, first=entries[0][0].seq, last=entries[-1][0].seq)
            if entries
            else []
        )
        head = await audit.chain_head(db)
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
    return ProposalExport(
        format=EXPORT_FORMAT,
        canonical_form=CANONICAL_FORMAT,
        exported_at=now,
        session=ExportSession(id=session.id, code=session.code, title=session.title),
        proposal=out,
        conclusions=[
            ExportConclusion(
                id=final.conclusion.id,
                thread_id=final.conclusion.thread_id,
                status=final.conclusion.status,
                version=final.text.version,
                title=final.text.title,
                body=final.text.body,
                versions=versions[final.conclusion.id],
                voting=voting_out(final.conclusion),
                final_tally=final.tally,
                sources=sources[final.conclusion.id],
            )
            for final in finals
        ],
        threads=[ExportThread(id=thread.id, title=thread.title) for thread in threads],
        endorsements=endorsements,
        audit=ExportAudit(
            entries=[audit.entry_out(entry, name) for entry, name in entries],
            head_seq=head_seq,
            head_hash=head_hash,
            checkpoint=signer.sign(head_seq, head_hash),
            links=links,
        ),
    )
