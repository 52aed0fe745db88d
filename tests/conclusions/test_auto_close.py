"""A vote with a close time closes by itself at that time, with no request arriving, once, on any instance."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from datetime import timedelta

from sqlalchemy import text

from deliberation.app import create_app
from deliberation.conclusions import voting
from deliberation.db.base import utcnow
from deliberation.db.engine import create_sessionmaker
from deliberation.settings import Settings
from tests.conftest import serve_in_process
from tests.factories import draft, make_forum_session, open_vote, signed_in


class Clock:
    """The app clock, moved by the test."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self):
        return self.now


async def statuses(db, ids: list[str]) -> dict[str, str]:
    async with db.begin():
        rows = await db.execute(
            text("SELECT id::text, status FROM conclusions WHERE id::text = ANY(:ids)"), {"ids": ids}
        )
        return dict(rows.all())


async def test_votes_close_at_their_close_time_once_with_two_instances_running(
    committed_database_url, committed_engine
):
    clock = Clock()
    settings = Settings(database_url=committed_database_url, vote_closer_seconds=0.05)
    async with AsyncExitStack() as stack, create_sessionmaker(committed_engine)() as db:
        clients = []
        for _ in range(2):
            app = create_app(settings)
            app.state.clock = clock
            clients.append(await stack.enter_async_context(serve_in_process(app)))
        first, second = clients
        moderator, mod = await signed_in(db, display_name="Mod")
        ana, ana_headers = await signed_in(db, display_name="Ana")
        session = await make_forum_session(db, members={moderator: "moderator", ana: "participant"})

        closes_at = clock.now + timedelta(minutes=10)
        ids = []
        for n in range(6):
            created = await first.post(
                f"/api/sessions/{session.id}/conclusions", json={"title": f"C{n}", "body": ""}, headers=mod
            )
            cid = created.json()["id"]
            rules = {"action": "open", "closes_at": closes_at.isoformat(), "results_visibility": "after_close"}
            assert (await first.post(f"/api/conclusions/{cid}/voting", json=rules, headers=mod)).status_code == 200
            choice = "support" if n % 2 == 0 else "oppose"
            response = await second.put(f"/api/conclusions/{cid}/vote", json={"choice": choice}, headers=ana_headers)
            assert response.status_code == 200
            ids.append(cid)

        await asyncio.sleep(0.3)  # several closer ticks on both instances: nothing is due yet
        assert set((await statuses(db, ids)).values()) == {"voting"}

        clock.now = closes_at  # time passes; no request arrives
        for _ in range(200):
            if "voting" not in (await statuses(db, ids)).values():
                break
            await asyncio.sleep(0.05)
        assert await statuses(db, ids) == {cid: "adopted" if n % 2 == 0 else "rejected" for n, cid in enumerate(ids)}

        async with db.begin():
            closes = (
                await db.execute(
                    text(
                        "SELECT target_id, data FROM audit_entries"
                        " WHERE action = 'conclusion.vote_closed' AND target_id = ANY(:ids)"
                    ),
                    {"ids": ids},
                )
            ).all()
        assert sorted(target for target, _ in closes) == sorted(ids)  # each closed exactly once
        assert {data["closed_by"] for _, data in closes} == {"schedule"}

        tally = (await first.get(f"/api/conclusions/{ids[0]}/tally")).json()
        assert (tally["status"], tally["support"], tally["hidden"]) == ("adopted", 1, False)
        conclusion = (await second.get(f"/api/conclusions/{ids[0]}", headers=ana_headers)).json()
        assert conclusion["voting"]["closed_at"] == conclusion["voting"]["closes_at"]


async def test_a_vote_that_fails_to_close_does_not_block_the_others(client, db, forum, monkeypatch):
    """The closer logs and skips a failing vote this round and closes the ones due after it."""
    closes_at = (utcnow() + timedelta(minutes=5)).isoformat()
    ids = [(await draft(client, forum, title=f"T{n}"))["id"] for n in range(2)]
    for cid in ids:
        await open_vote(client, forum, cid, closes_at=closes_at)
    real_finish = voting.finish_vote

    async def finish(db, conclusion, **kwargs):
        if str(conclusion.id) == ids[0]:
            raise RuntimeError("this one cannot close")
        await real_finish(db, conclusion, **kwargs)

    monkeypatch.setattr(voting, "finish_vote", finish)
    later, skip = utcnow() + timedelta(minutes=10), set()
    handled = 0
    while await voting.close_due_vote(db, now=later, skip=skip):
        handled += 1
    assert handled == 2 and {str(cid) for cid in skip} == {ids[0]}
    assert await statuses(db, ids) == {ids[0]: "voting", ids[1]: "rejected"}
