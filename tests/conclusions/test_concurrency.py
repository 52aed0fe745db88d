"""Hundreds of voters at once over HTTP, on committed data, with the background tally publisher running."""

from __future__ import annotations

import asyncio
import random

import pytest
from sqlalchemy import text

from deliberation.app import create_app
from deliberation.db.engine import create_sessionmaker
from deliberation.settings import Settings
from tests.conftest import serve_in_process
from tests.factories import make_forum_session, signed_in

VOTERS = 300
ACTOR_TYPES = ("civil_society", "local_government", "academia", "private_sector")
CHOICES = ("support", "oppose", "abstain")


async def wait_until_sent(db, conclusion_id: str) -> None:
    """Bounded wait for the publisher to send the last tally change."""
    for _ in range(200):
        async with db.begin():
            dirty = await db.scalar(
                text("SELECT dirty FROM conclusion_tally_marks WHERE conclusion_id = :id"), {"id": conclusion_id}
            )
        if not dirty:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the last tally change was never sent")


def expected_tally(final: dict[int, tuple[str, int, str]], version: int) -> dict:
    current = [(choice, actor) for choice, v, actor in final.values() if v == version]
    by_actor: dict[str, dict[str, int]] = {}
    for choice, actor in current:
        by_actor.setdefault(actor, dict.fromkeys(CHOICES, 0))[choice] += 1
    return {
        "version": version,
        "voters": len(current),
        **{choice: sum(1 for c, _ in current if c == choice) for choice in CHOICES},
        "stale": len(final) - len(current),
        "by_actor_type": dict(sorted(by_actor.items())),
    }


def counts(tally: dict) -> dict:
    return {key: tally[key] for key in ("version", "voters", *CHOICES, "stale", "by_actor_type")}


@pytest.fixture
async def patient_client(committed_database_url: str):
    """`live_client`, whose requests wait for a pooled connection as long as it takes.

    The votes of one conclusion take their turns on its row (share lock) and its tally mark, while each holds one
    of the pool's 20 connections: the other requests queue for a connection, the last of 300 for as long as 300
    votes take. On a loaded machine that passes the default 30 s pool timeout (a 500, not a wrong tally).
    """
    settings = Settings(database_url=committed_database_url, db_pool_timeout_seconds=600)
    async with serve_in_process(create_app(settings)) as client:
        yield client


async def test_hundreds_of_concurrent_voters_end_with_exact_tallies(patient_client, committed_engine):
    rng = random.Random(7)
    async with create_sessionmaker(committed_engine)() as db:
        moderator, mod = await signed_in(db, display_name="Mod")
        voters = [await signed_in(db, actor_type=ACTOR_TYPES[n % len(ACTOR_TYPES)]) for n in range(VOTERS)]
        session = await make_forum_session(
            db, members={moderator: "moderator", **{user: "participant" for user, _ in voters}}
        )
        created = await patient_client.post(
            f"/api/sessions/{session.id}/conclusions", json={"title": "T", "body": "v1"}, headers=mod
        )
        cid = created.json()["id"]
        url = f"/api/conclusions/{cid}"
        assert (await patient_client.post(f"{url}/voting", json={"action": "open"}, headers=mod)).status_code == 200

        final: dict[int, tuple[str, int, str]] = {}

        async def behave(n: int, version: int, steps: list[str | None]) -> None:
            """Cast, change or retract (None) in order; the last step is what must count."""
            user, headers = voters[n]
            for choice in steps:
                if choice is None:
                    response = await patient_client.delete(f"{url}/vote", headers=headers)
                    assert response.status_code == 204
                    final.pop(n, None)
                else:
                    response = await patient_client.put(f"{url}/vote", json={"choice": choice}, headers=headers)
                    assert response.status_code == 200, response.text
                    assert response.json()["version"] == version
                    final[n] = (choice, version, user.actor_type)

        def plan() -> list[str | None]:
            return [rng.choice((*CHOICES, "support", None)) for _ in range(rng.randint(1, 3))]

        await asyncio.gather(*(behave(n, 1, plan()) for n in range(VOTERS)))
        tally = (await patient_client.get(f"{url}/tally", headers=mod)).json()
        assert counts(tally) == expected_tally(final, 1)

        # A new version: earlier votes turn stale; half the voters confirm again, all at once.
        edited = await patient_client.patch(url, json={"body": "v2"}, headers={**mod, "If-Match": "1"})
        assert edited.status_code == 200
        await asyncio.gather(*(behave(n, 2, plan()) for n in range(0, VOTERS, 2)))
        expected = expected_tally(final, 2)
        assert counts((await patient_client.get(f"{url}/tally", headers=mod)).json()) == expected

        # The coalesced events caught up: the last snapshot sent is the final state.
        await wait_until_sent(db, cid)
        async with db.begin():
            last_event = await db.scalar(
                text(
                    "SELECT data FROM session_events WHERE session_id = :s AND type = 'tally.updated'"
                    " ORDER BY seq DESC LIMIT 1"
                ),
                {"s": session.id},
            )
        assert counts(last_event) == expected

        closed = await patient_client.post(f"{url}/voting", json={"action": "close"}, headers=mod)
        rule = "adopted" if expected["support"] > expected["oppose"] else "rejected"
        assert closed.json()["status"] == rule
        public = (await patient_client.get(f"{url}/tally")).json()
        assert counts(public) == expected and public["status"] == rule
