"""Random interleavings of votes, changes, retractions, new versions, profile changes and closing, checked
against a tally computed from scratch by a model."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from deliberation.accounts.models import User
from deliberation.conclusions import service, voting
from deliberation.conclusions.schemas import ConclusionIn, ConclusionPatch, VoteIn, VotingIn
from deliberation.db.base import utcnow
from deliberation.errors import Conflict

VOTERS = ("moderator", "ana", "ben", "cai", "admin")
CHOICES = ("support", "oppose", "abstain")
ACTOR_TYPES = ("civil_society", "local_government", "academia")

voter = st.sampled_from(VOTERS)
operation = st.one_of(
    st.tuples(st.just("vote"), voter, st.sampled_from(CHOICES)),
    st.tuples(st.just("retract"), voter),
    st.tuples(st.just("edit")),
    st.tuples(st.just("retype"), voter, st.sampled_from(ACTOR_TYPES)),
    st.tuples(st.just("close")),
)


@dataclass
class Model:
    """What the tally must be, from the history alone."""

    version: int = 1
    closed: bool = False
    votes: dict[str, tuple[str, int, str]] = field(default_factory=dict)  # voter -> (choice, version, actor type)

    def tally(self) -> dict:
        current = [(choice, actor) for choice, version, actor in self.votes.values() if version == self.version]
        counts = {choice: sum(1 for c, _ in current if c == choice) for choice in CHOICES}
        by_actor: dict[str, dict[str, int]] = {}
        for choice, actor in current:
            by_actor.setdefault(actor, dict.fromkeys(CHOICES, 0))[choice] += 1
        return {
            "version": self.version,
            "voters": len(current),
            **counts,
            "stale": len(self.votes) - len(current),
            "by_actor_type": by_actor,
            "cross_actor_consensus": bool(current) and all(c["support"] > c["oppose"] for c in by_actor.values()),
        }

    def result(self, quorum: int | None) -> str:
        tally = self.tally()
        met = quorum is None or tally["voters"] >= quorum
        return "adopted" if met and tally["support"] > tally["oppose"] else "rejected"


def as_dict(tally) -> dict:
    return {
        "version": tally.version,
        "voters": tally.voters,
        "support": tally.support,
        "oppose": tally.oppose,
        "abstain": tally.abstain,
        "stale": tally.stale,
        "by_actor_type": {
            actor: {"support": c.support, "oppose": c.oppose, "abstain": c.abstain}
            for actor, c in tally.by_actor_type.items()
        },
        "cross_actor_consensus": tally.cross_actor_consensus,
    }


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    operations=st.lists(operation, max_size=25),
    quorum=st.none() | st.integers(min_value=1, max_value=4),
    visibility=st.sampled_from(("live", "after_close")),
)
async def test_tallies_match_a_model_of_the_history(db, forum, operations, quorum, visibility):
    # Refused actions roll back, which expires what the session holds: keep the users out of it, as a request would.
    db.expunge_all()
    users, moderator, now = forum.users, forum.users["moderator"], utcnow()
    created = await service.create_conclusion(
        db, forum.session.id, moderator, ConclusionIn(title="T", body="v1"), now=now
    )
    await voting.open_voting(
        db, created.id, moderator, VotingIn(action="open", results_visibility=visibility, quorum=quorum), now=now
    )
    model = Model()
    for step, op in enumerate(operations):
        now += timedelta(seconds=1)
        kind = op[0]
        if kind == "retype":  # a profile change never rewrites votes already cast
            async with db.begin():
                await db.execute(update(User).where(User.id == users[op[1]].id).values(actor_type=op[2]))
            users[op[1]].actor_type = op[2]
            continue
        was_closed = model.closed
        try:
            if kind == "edit":
                patch = ConclusionPatch(body=f"text {step}")
                await service.update_conclusion(db, created.id, moderator, patch, expected=model.version, now=now)
                model.version += 1
            elif kind == "vote":
                await voting.cast_vote(db, created.id, users[op[1]], VoteIn(choice=op[2]), now=now)
                model.votes[op[1]] = (op[2], model.version, users[op[1]].actor_type)
            elif kind == "retract":
                await voting.retract_vote(db, created.id, users[op[1]], now=now)
                model.votes.pop(op[1], None)
            else:
                closed = await voting.close_voting(db, created.id, moderator, now=now)
                assert closed.status == model.result(quorum)
                model.closed = True
        except Conflict:
            assert was_closed, f"{kind} refused while the vote was open"
        else:
            assert not was_closed, f"{kind} accepted after the vote closed"

        tally = await voting.get_tally(db, created.id, moderator)
        if visibility == "after_close" and not model.closed:
            assert tally.voters == model.tally()["voters"]
            assert (tally.support, tally.oppose, tally.abstain, tally.stale) == (None, None, None, None)
            assert tally.by_actor_type == {} and tally.cross_actor_consensus is None
        else:
            assert as_dict(tally) == model.tally()

    if not model.closed:
        closed = await voting.close_voting(db, created.id, moderator, now=now)
        assert closed.status == model.result(quorum)
        model.closed = True
    assert as_dict(await voting.get_tally(db, created.id, None)) == model.tally()
