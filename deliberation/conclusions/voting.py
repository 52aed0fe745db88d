"""The vote on a conclusion: open, cast / change / retract, close (by a moderator or at `closes_at`), tallies.

Locks. Casting and retracting hold the conclusion row `FOR SHARE` (voters do not wait for each other);
opening, editing and closing hold it `FOR UPDATE`, so a close waits for votes in flight and no vote lands
after it, and a vote names the version that is current when it commits. A vote past `closes_at` is refused
(409) even if the auto-closer has not run yet, so the result cannot depend on when it runs.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from functools import cache

import msgspec
from sqlalchemy import Row, Select, bindparam, delete, exists, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from deliberation.accounts.models import User
from deliberation.audit import service as audit
from deliberation.conclusions.access import get_conclusion_or_404
from deliberation.conclusions.models import (
    CLOSED,
    RULE_SUPPORT_OVER_OPPOSE,
    Conclusion,
    ConclusionStatus,
    TallyMark,
    Vote,
)
from deliberation.conclusions.presenters import conclusion_out
from deliberation.conclusions.schemas import ConclusionOut, TallyOut, VoteIn, VoteOut, VotingIn
from deliberation.conclusions.tally import (
    TALLY_MARK,
    clear_tally_mark,
    count_tally,
    decide,
    mark_tally_changed,
    marking,
    read_tally,
    snapshot,
)
from deliberation.db.engine import wake_after_commit
from deliberation.errors import Conflict, Forbidden, Invalid, Unauthorized
from deliberation.forum.access import NOT_A_MEMBER, require_member, require_moderator
from deliberation.forum.models import SessionMember
from deliberation.i18n import N_
from deliberation.realtime.events import emit

log = logging.getLogger("deliberation.conclusions")


def _require_open(conclusion: Conclusion, now: datetime) -> None:
    """409 unless the vote is open now (a vote past `closes_at` is closed, whether or not the closer ran)."""
    if conclusion.status != ConclusionStatus.voting:
        raise Conflict(N_("Voting on this conclusion is not open."))
    if conclusion.closes_at is not None and now >= conclusion.closes_at:
        raise Conflict(N_("Voting on this conclusion has closed."))


async def open_voting(
    db: AsyncSession, conclusion_id: uuid.UUID, user: User, data: VotingIn, *, now: datetime
) -> ConclusionOut:
    """Open the vote with its rule set (moderators); 409 unless the conclusion is a draft."""
    async with db.begin():
        conclusion = await get_conclusion_or_404(
            db, conclusion_id, lock="update", check=lambda session_id: require_moderator(db, session_id, user)
        )
        if conclusion.status != ConclusionStatus.draft:
            raise Conflict(N_("Voting on this conclusion is already open or has closed; a conclusion is voted once."))
        if data.closes_at is not None and data.closes_at <= now:
            raise Invalid.field("closes_at", N_("The close time must be in the future."))
        conclusion.status = ConclusionStatus.voting.value
        conclusion.opened_at, conclusion.opened_by, conclusion.updated_at = now, user.id, now
        conclusion.closes_at = data.closes_at
        conclusion.results_visibility = data.results_visibility
        conclusion.quorum = data.quorum
        conclusion.rule = RULE_SUPPORT_OVER_OPPOSE
        await db.flush()
        await mark_tally_changed(db, conclusion.id)
        await audit.record(
            db,
            now=now,
            action="conclusion.vote_opened",
            target_type="conclusion",
            target_id=conclusion.id,
            actor_id=user.id,
            session_id=conclusion.session_id,
            data={
                "version": conclusion.version,
                "closes_at": data.closes_at,
                "results_visibility": data.results_visibility,
                "quorum": data.quorum,
                "rule": RULE_SUPPORT_OVER_OPPOSE,
            },
        )
        await emit(db, conclusion.session_id, "voting.opened", await conclusion_out(db, conclusion, None))
        return await conclusion_out(db, conclusion, user)


async def finish_vote(db: AsyncSession, conclusion: Conclusion, *, actor: User | None, now: datetime) -> None:
    """Close a locked, open vote: fix the result by its rule set, store the final tally, audit, announce.

    The one way a vote closes, by a moderator or by the auto-closer (`actor` None: closed at `closes_at`).
    """
    tally = await count_tally(db, conclusion)
    result = decide(tally, conclusion.quorum)
    conclusion.status = result
    # A vote past its close time closed then, whoever gets to record it.
    conclusion.closed_at = min(now, conclusion.closes_at) if conclusion.closes_at is not None else now
    conclusion.closed_by = actor.id if actor is not None else None
    conclusion.updated_at = now
    final = msgspec.structs.replace(tally, status=result)
    conclusion.final_tally = snapshot(final)
    await db.flush()
    await clear_tally_mark(db, conclusion.id, now)
    await audit.record(
        db,
        now=now,
        action="conclusion.vote_closed",
        target_type="conclusion",
        target_id=conclusion.id,
        actor_id=actor.id if actor is not None else None,
        session_id=conclusion.session_id,
        data={
            "result": result,
            "tally": conclusion.final_tally,
            "rule": conclusion.rule,
            "quorum": conclusion.quorum,
            "closed_by": "moderator" if actor is not None else "schedule",
        },
    )
    await emit(db, conclusion.session_id, "tally.updated", final)
    await emit(db, conclusion.session_id, "voting.closed", await conclusion_out(db, conclusion, None))


async def close_voting(db: AsyncSession, conclusion_id: uuid.UUID, user: User, *, now: datetime) -> ConclusionOut:
    """Close the vote now (moderators); 409 unless it is open."""
    async with db.begin():
        conclusion = await get_conclusion_or_404(
            db, conclusion_id, lock="update", check=lambda session_id: require_moderator(db, session_id, user)
        )
        if conclusion.status != ConclusionStatus.voting:
            raise Conflict(N_("Voting on this conclusion is not open."))
        await finish_vote(db, conclusion, actor=user, now=now)
        return await conclusion_out(db, conclusion, user)


async def close_due_vote(db: AsyncSession, *, now: datetime, skip: set[uuid.UUID]) -> bool:
    """Claim one open vote whose close time has passed, not in `skip`, and close it; False when none is due.

    `SKIP LOCKED`: instances running this at once each take a different vote, and one a moderator is closing
    right now is left to them. A vote whose closing fails is logged and added to `skip` (its savepoint rolled
    back), so it cannot keep the votes due after it from closing.
    """
    async with db.begin():
        conclusion = await db.scalar(
            select(Conclusion)
            .where(Conclusion.status == ConclusionStatus.voting, Conclusion.closes_at <= now)
            .where(Conclusion.id.not_in(skip))
            .order_by(Conclusion.closes_at)
            .limit(1)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
        if conclusion is None:
            return False
        try:
            async with db.begin_nested():
                await finish_vote(db, conclusion, actor=None, now=now)
        except Exception:
            log.exception("closing the due vote on conclusion %s failed; skipped this round", conclusion.id)
            skip.add(conclusion.id)
        return True


async def cast_vote(db: AsyncSession, conclusion_id: uuid.UUID, user: User, data: VoteIn, *, now: datetime) -> VoteOut:
    """Cast or change the member's vote on the current version; 409 when voting is not open.

    The hot path in SQLAlchemy Core, two statements: the conclusion row `FOR SHARE` (for members: the membership
    in its WHERE clause, so a refused caller never waits for the row), then one statement that casts the vote if
    the membership still holds (read afresh, under the lock: authoritative) and marks the tally changed.
    """
    async with db.begin():
        conclusion = await _share_as_member(db, conclusion_id, user)
        _require_open(conclusion, now)
        values = {
            "choice": data.choice,
            "version": conclusion.version,
            "actor_type": user.actor_type,
            "comment": data.comment,
            "cast_at": now,
            "conclusion_id": conclusion.id,
            "user_id": user.id,
            "session_id": conclusion.session_id,
        }
        # Named apart from every column: an UPDATE takes parameters named like its table's columns as its SET.
        values = {f"vote_{name}": value for name, value in values.items()}
        if await db.scalar(_casting(admin=user.is_admin), values) is None:
            raise Forbidden(NOT_A_MEMBER)  # the membership ended while this waited for the row
        wake_after_commit(db, TALLY_MARK)
        return VoteOut(choice=data.choice, version=conclusion.version, comment=data.comment)


@cache
def _casting(*, admin: bool) -> Select:
    """`cast_vote`'s statement, built once per shape (building it cost more CPU than running it): the vote cast if
    the caller is a member (admins: always) and the tally marked, in one statement; the conclusion id, or None."""
    changed = ("choice", "version", "actor_type", "comment", "cast_at")
    columns = Vote.__table__.c
    names = (*changed, "conclusion_id", "user_id")
    row = select(*(bindparam(f"vote_{name}", type_=columns[name].type) for name in names))
    if not admin:
        member = exists().where(
            SessionMember.session_id == bindparam("vote_session_id"), SessionMember.user_id == bindparam("vote_user_id")
        )
        row = row.where(member)
    statement = insert(Vote).from_select(names, row)
    # One row per (conclusion, user): the unique constraint decides, concurrent casts of one user included.
    cast = (
        statement.on_conflict_do_update(
            index_elements=[Vote.conclusion_id, Vote.user_id],
            set_={name: statement.excluded[name] for name in changed},
        )
        .returning(Vote.conclusion_id)
        .cte("cast")
    )
    marked = marking(TallyMark.conclusion_id.in_(select(cast.c.conclusion_id))).cte("marked")
    return select(cast.c.conclusion_id).add_cte(marked)


async def _share_as_member(db: AsyncSession, conclusion_id: uuid.UUID, user: User) -> Row | Conclusion:
    """The conclusion's vote columns, its row held `FOR SHARE`, for a member of its session (or an admin).

    A miss (404, 403) takes `get_conclusion_or_404`'s path, which says which, or locks it the slow way."""
    params = {"conclusion_id": conclusion_id, "user_id": user.id}
    found = (await db.execute(_sharing(admin=user.is_admin), params)).one_or_none()
    if found is not None:
        return found
    return await get_conclusion_or_404(
        db, conclusion_id, lock="share", check=lambda session_id: require_member(db, session_id, user)
    )


@cache
def _sharing(*, admin: bool) -> Select:
    """`_share_as_member`'s statement, built once per shape (building it cost more CPU than running it)."""
    query = select(
        Conclusion.id, Conclusion.session_id, Conclusion.status, Conclusion.closes_at, Conclusion.version
    ).where(Conclusion.id == bindparam("conclusion_id"))
    if not admin:
        member = SessionMember.session_id == Conclusion.session_id, SessionMember.user_id == bindparam("user_id")
        query = query.where(exists().where(*member))
    return query.with_for_update(read=True)


async def retract_vote(db: AsyncSession, conclusion_id: uuid.UUID, user: User, *, now: datetime) -> None:
    """Withdraw the member's vote (nothing to withdraw is fine); 409 when voting is not open."""
    async with db.begin():
        conclusion = await get_conclusion_or_404(
            db, conclusion_id, lock="share", check=lambda session_id: require_member(db, session_id, user)
        )
        _require_open(conclusion, now)
        deleted = await db.scalar(
            delete(Vote).where(Vote.conclusion_id == conclusion.id, Vote.user_id == user.id).returning(Vote.id)
        )
        if deleted is not None:
            await mark_tally_changed(db, conclusion.id)


async def drop_votes_of_removed_member(db: AsyncSession, session_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """Delete a leaving member's votes on the session's open votes and mark those tallies changed.

    Call it first in the removal's transaction: it takes every open conclusion row of the session (in id order)
    before the session row, the lock order of every vote, so a vote in flight either lands first and is
    deleted here or waits and then finds its voter no longer a member.
    """
    open_ids = (
        await db.scalars(
            select(Conclusion.id)
            .where(Conclusion.session_id == session_id, Conclusion.status == ConclusionStatus.voting)
            .order_by(Conclusion.id)
            .with_for_update()
        )
    ).all()
    if not open_ids:
        return
    dropped = await db.scalars(
        delete(Vote).where(Vote.conclusion_id.in_(open_ids), Vote.user_id == user_id).returning(Vote.conclusion_id)
    )
    for conclusion_id in sorted(set(dropped)):
        await mark_tally_changed(db, conclusion_id)


async def get_tally(db: AsyncSession, conclusion_id: uuid.UUID, viewer: User | None) -> TallyOut:
    """The tally: public once the vote closed, for signed-in users before; counts hidden per visibility."""
    async with db.begin():
        conclusion = await get_conclusion_or_404(db, conclusion_id)
        if conclusion.status not in CLOSED and viewer is None:
            raise Unauthorized(N_("Sign in to see the tally before the vote closes."))
        return await read_tally(db, conclusion)
