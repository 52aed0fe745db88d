"""Draft conclusions: create, edit as versions (`If-Match`), read, list, list versions.

Reading needs an account (any signed-in user, as for threads); writing needs a moderator of the session. Each
public function runs one transaction. Outputs built for events carry no `my_vote` (events are shared).
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
from deliberation.conclusions.access import get_conclusion_or_404
from deliberation.conclusions.models import (
    CLOSED,
    Conclusion,
    ConclusionSource,
    ConclusionStatus,
    ConclusionVersion,
    TallyMark,
)
from deliberation.conclusions.presenters import conclusion_out, conclusions_out
from deliberation.conclusions.schemas import (
    ConclusionIn,
    ConclusionOut,
    ConclusionPage,
    ConclusionPatch,
    VersionOut,
    VersionPage,
)
from deliberation.conclusions.tally import mark_tally_changed
from deliberation.db.engine import read_snapshot
from deliberation.errors import Conflict, Invalid
from deliberation.forum.access import get_session_or_404, require_moderator
from deliberation.forum.models import Thread
from deliberation.i18n import N_
from deliberation.pagination import keyset_page
from deliberation.preconditions import check_version
from deliberation.realtime.events import as_of_seq, emit
from deliberation.threads.models import Post


async def _check_placement(db: AsyncSession, session_id: uuid.UUID, data: ConclusionIn) -> list[uuid.UUID]:
    """422 unless the thread and every source post belong to the session; the sources, deduplicated, in order."""
    if data.thread_id is not None:
        thread = await db.get(Thread, data.thread_id)
        if thread is None or thread.session_id != session_id:
            raise Invalid.field("thread_id", N_("Not a thread of this session."))
    source_ids = list(dict.fromkeys(data.source_post_ids))
    if source_ids:
        found = set(await db.scalars(select(Post.id).where(Post.id.in_(source_ids), Post.session_id == session_id)))
        missing = [str(post_id) for post_id in source_ids if post_id not in found]
        if missing:
            raise Invalid.field(
                "source_post_ids", N_("Not posts of this session: %(posts)s."), {"posts": ", ".join(missing)}
            )
    return source_ids


async def create_conclusion(
    db: AsyncSession, session_id: uuid.UUID, user: User, data: ConclusionIn, *, now: datetime
) -> ConclusionOut:
    """A new draft conclusion, version 1 (moderators); audited and announced."""
    async with db.begin():
        await require_moderator(db, session_id, user)
        source_ids = await _check_placement(db, session_id, data)
        conclusion = Conclusion(
            session_id=session_id,
            thread_id=data.thread_id,
            version=1,
            status=ConclusionStatus.draft.value,
            created_by=user.id,
            created_at=now,
            updated_at=now,
            results_visibility="live",
        )
        db.add(conclusion)
        await db.flush()
        db.add(
            ConclusionVersion(
                conclusion_id=conclusion.id,
                version=1,
                title=data.title,
                body=data.body,
                created_by=user.id,
                created_at=now,
            )
        )
        db.add_all(
            ConclusionSource(conclusion_id=conclusion.id, post_id=post_id, position=position)
            for position, post_id in enumerate(source_ids)
        )
        db.add(TallyMark(conclusion_id=conclusion.id, session_id=session_id, dirty=False))
        await db.flush()
        await audit.record(
            db,
            now=now,
            action="conclusion.created",
            target_type="conclusion",
            target_id=conclusion.id,
            actor_id=user.id,
            session_id=session_id,
            data={"version": 1, "source_post_ids": source_ids, "thread_id": data.thread_id},
        )
        out = await conclusion_out(db, conclusion, None)
        await emit(db, session_id, "conclusion.created", out)
        return out


async def update_conclusion(
    db: AsyncSession, conclusion_id: uuid.UUID, user: User, patch: ConclusionPatch, *, expected: int, now: datetime
) -> ConclusionOut:
    """A new version (moderators) if `expected` is current (else 412); 409 once the vote closed.

    Allowed while a vote is open: votes on earlier versions become stale. A patch that changes nothing
    makes no version.
    """
    async with db.begin():
        conclusion = await get_conclusion_or_404(
            db, conclusion_id, lock="update", check=lambda session_id: require_moderator(db, session_id, user)
        )
        if conclusion.status in CLOSED:
            raise Conflict(N_("The vote on this conclusion has closed; it can no longer change."))
        check_version(conclusion.version, expected)
        current = await db.get(ConclusionVersion, (conclusion.id, conclusion.version))
        assert current is not None
        title = current.title if patch.title is UNSET else patch.title
        body = current.body if patch.body is UNSET else patch.body
        if (title, body) != (current.title, current.body):
            conclusion.version += 1
            conclusion.updated_at = now
            db.add(
                ConclusionVersion(
                    conclusion_id=conclusion.id,
                    version=conclusion.version,
                    title=title,
                    body=body,
                    created_by=user.id,
                    created_at=now,
                )
            )
            await db.flush()
            if conclusion.status == ConclusionStatus.voting:
                await mark_tally_changed(db, conclusion.id)
            await audit.record(
                db,
                now=now,
                action="conclusion.edited",
                target_type="conclusion",
                target_id=conclusion.id,
                actor_id=user.id,
                session_id=conclusion.session_id,
                data={"version": conclusion.version, "during_vote": conclusion.opened_at is not None},
            )
            await emit(db, conclusion.session_id, "conclusion.updated", await conclusion_out(db, conclusion, None))
        return await conclusion_out(db, conclusion, user)


async def get_conclusion(db: AsyncSession, conclusion_id: uuid.UUID, viewer: User) -> ConclusionOut:
    """One conclusion with the viewer's vote."""
    async with db.begin():
        conclusion = await get_conclusion_or_404(db, conclusion_id)
        return await conclusion_out(db, conclusion, viewer)


async def list_conclusions(
    db: AsyncSession,
    session_id: uuid.UUID,
    viewer: User,
    *,
    cursor: str | None,
    limit: int,
) -> ConclusionPage:
    """The session's conclusions, oldest first."""
    query = (
        select(Conclusion, ConclusionVersion)
        .join(
            ConclusionVersion,
            (ConclusionVersion.conclusion_id == Conclusion.id) & (ConclusionVersion.version == Conclusion.version),
        )
        .where(Conclusion.session_id == session_id)
    )
    async with db.begin():
        await read_snapshot(db)
        await get_session_or_404(db, session_id)
        keys = (Conclusion.created_at, Conclusion.id)
        rows, next_cursor = await keyset_page(db, query, keys, cursor=cursor, limit=limit)
        items = await conclusions_out(db, [(conclusion, text) for conclusion, text in rows], viewer)
        seq = await as_of_seq(db, session_id)
    return ConclusionPage(items=items, next_cursor=next_cursor, as_of_seq=seq)


async def list_versions(db: AsyncSession, conclusion_id: uuid.UUID, *, cursor: str | None, limit: int) -> VersionPage:
    """Every version, oldest first."""
    query = (
        select(ConclusionVersion, User)
        .outerjoin(User, User.id == ConclusionVersion.created_by)
        .where(ConclusionVersion.conclusion_id == conclusion_id)
    )
    async with db.begin():
        await read_snapshot(db)
        conclusion = await get_conclusion_or_404(db, conclusion_id)
        rows, next_cursor = await keyset_page(db, query, (ConclusionVersion.version,), cursor=cursor, limit=limit)
        seq = await as_of_seq(db, conclusion.session_id)
    items = [
        VersionOut(
            version=text.version,
            title=text.title,
            body=text.body,
            created_at=text.created_at,
            author=author_ref(author) if author is not None else None,
        )
        for text, author in rows
    ]
    return VersionPage(items=items, next_cursor=next_cursor, as_of_seq=seq)
