"""Tallies: counted with GROUP BY when read, hidden while an `after_close` vote is open, coalesced live events.

Counting. Nothing is kept in step with the votes: a tally is one `GROUP BY (version = current), actor_type,
choice` over `conclusion_votes`, so it is exact whatever the interleaving of casts, changes, retractions and
new versions. Only votes on the current version count; votes on earlier versions are `stale`.

Visibility. While a vote with `after_close` visibility is open, every tally that leaves the service (HTTP or
event) goes through `shown_tally`, which keeps only `voters`; the choice is made here, once, not per viewer.

Coalesced `tally.updated` events. A transaction that changes a tally (a vote, a retraction, a new version,
opening) sets `conclusion_tally_marks.dirty` as its last statement, so the mark row is locked only while it
commits. `publish_due_tally` (run by a loop in every instance, see worker.py) claims one dirty mark whose last
event is at least `interval` old with `FOR UPDATE SKIP LOCKED`, reads the tally, emits one snapshot and clears
the mark in the same transaction. Two instances never claim the same mark; a vote that commits after the
snapshot was read had to wait for the claim's lock, so it sets `dirty` again and a later snapshot carries it:
the last change is always sent, and at most one event per conclusion per `interval`.
Lock order (docs/architecture.md, "Lock order"): conclusion row, then its mark, then the session row, then
the audit chain; so none of these transactions can wait on another in a cycle.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, Update, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from deliberation.conclusions.models import Conclusion, ConclusionStatus, TallyMark, Visibility, Vote
from deliberation.conclusions.schemas import ChoiceCounts, TallyOut
from deliberation.db.engine import wake_after_commit
from deliberation.realtime.events import emit

TALLY_MARK = "tally"  # the name its publisher is woken by (db.engine.wake_after_commit)


async def count_tally(db: AsyncSession, conclusion: Conclusion) -> TallyOut:
    """The full tally of the conclusion's current version, counted now (inside the caller's transaction)."""
    is_current = Vote.version == conclusion.version
    rows = await db.execute(
        select(is_current, Vote.actor_type, Vote.choice, func.count())
        .where(Vote.conclusion_id == conclusion.id)
        .group_by(is_current, Vote.actor_type, Vote.choice)
    )
    return tally_from_counts(conclusion, [(bool(current), actor, choice, n) for current, actor, choice, n in rows])


def tally_from_counts(conclusion: Conclusion, counts: list[tuple[bool, str, str, int]]) -> TallyOut:
    """A tally from (is current version, actor type, choice, count) rows."""
    totals, stale = ChoiceCounts(), 0
    by_actor_type: dict[str, ChoiceCounts] = {}
    for current, actor_type, choice, n in counts:
        if not current:
            stale += n
            continue
        for bucket in (totals, by_actor_type.setdefault(actor_type, ChoiceCounts())):
            setattr(bucket, choice, getattr(bucket, choice) + n)
    voters = totals.support + totals.oppose + totals.abstain
    return TallyOut(
        conclusion_id=conclusion.id,
        version=conclusion.version,
        status=conclusion.status,  # type: ignore[arg-type]
        voters=voters,
        support=totals.support,
        oppose=totals.oppose,
        abstain=totals.abstain,
        stale=stale,
        by_actor_type=dict(sorted(by_actor_type.items())),
        # No votes at all is no consensus; a type whose votes all abstain has no majority for.
        cross_actor_consensus=voters > 0 and all(c.support > c.oppose for c in by_actor_type.values()),
        results_visibility=conclusion.results_visibility,  # type: ignore[arg-type]
    )


def decide(tally: TallyOut, quorum: int | None) -> str:
    """The rule `support_over_oppose`: adopted iff support > oppose and (quorum) enough current-version voters."""
    assert tally.support is not None and tally.oppose is not None
    quorum_met = quorum is None or tally.voters >= quorum
    return ConclusionStatus.adopted if quorum_met and tally.support > tally.oppose else ConclusionStatus.rejected


def counts_hidden(conclusion: Conclusion) -> bool:
    """Whether counts are secret now: an `after_close` vote that has not been closed."""
    return conclusion.status == ConclusionStatus.voting and conclusion.results_visibility == Visibility.after_close


def shown_tally(conclusion: Conclusion, tally: TallyOut) -> TallyOut:
    """The tally as anyone may see it now: with `after_close` and the vote open, only `voters`."""
    if not counts_hidden(conclusion):
        return tally
    return msgspec.structs.replace(
        tally,
        support=None,
        oppose=None,
        abstain=None,
        stale=None,
        by_actor_type={},
        cross_actor_consensus=None,
        hidden=True,
    )


async def read_tally(db: AsyncSession, conclusion: Conclusion) -> TallyOut:
    """The tally as shown now: the stored final tally once closed, else counted and visibility applied."""
    if conclusion.final_tally is not None:
        return msgspec.convert(conclusion.final_tally, TallyOut)
    return shown_tally(conclusion, await count_tally(db, conclusion))


def snapshot(tally: TallyOut) -> dict[str, Any]:
    """The final tally as stored on the conclusion (JSONB) and cited in the audit log."""
    return msgspec.to_builtins(tally)


async def mark_tally_changed(db: AsyncSession, conclusion_id: uuid.UUID) -> None:
    """Ask for a `tally.updated` event; call it as the last statement of the transaction (it locks the mark)."""
    await db.execute(marking(TallyMark.conclusion_id == conclusion_id))
    wake_after_commit(db, TALLY_MARK)


def marking(which: ColumnElement[bool]) -> Update:
    """The statement `mark_tally_changed` runs, for the marks matching `which` (a statement's CTE may run it: then
    call `wake_after_commit(db, TALLY_MARK)` too)."""
    return update(TallyMark).where(which).values(dirty=True)


async def clear_tally_mark(db: AsyncSession, conclusion_id: uuid.UUID, now: datetime) -> None:
    """Record that the caller sends the tally itself now (closing does); no coalesced event needed for it."""
    await db.execute(
        update(TallyMark).where(TallyMark.conclusion_id == conclusion_id).values(dirty=False, emitted_at=now)
    )


async def publish_due_tally(db: AsyncSession, *, now: datetime, interval: float) -> bool:
    """Claim one dirty tally last sent at least `interval` ago, send a snapshot, clear it; False when none is due."""
    async with db.begin():
        mark = await db.scalar(
            select(TallyMark)
            .where(
                TallyMark.dirty,
                (TallyMark.emitted_at.is_(None)) | (TallyMark.emitted_at <= now - timedelta(seconds=interval)),
            )
            .order_by(TallyMark.emitted_at.asc().nulls_first())
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if mark is None:
            return False
        conclusion = await db.get(Conclusion, mark.conclusion_id, populate_existing=True)
        assert conclusion is not None  # the mark cascades with its conclusion
        mark.dirty, mark.emitted_at = False, now
        await db.flush()
        tally = await read_tally(db, conclusion)
        await emit(db, conclusion.session_id, "tally.updated", tally)
        return True
