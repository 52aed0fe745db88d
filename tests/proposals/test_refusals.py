"""Refused callers are answered without queueing behind the rows a session's writers hold."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from tests.factories import draft, make_forum, open_vote
from tests.proposals.conftest import decided, propose, publish


async def test_refusals_do_not_wait_for_the_session_or_conclusion_row(live_client, committed, committed_engine):
    """A non-moderator's proposal or conclusion action, a non-representative's endorsement and a non-member's vote."""
    forum = await make_forum(committed, representatives=True)
    proposal = await propose(live_client, forum, [(await decided(live_client, forum, "Adopted"))["id"]])
    await publish(live_client, forum, proposal["id"])
    conclusion = await draft(live_client, forum)
    await open_vote(live_client, forum, conclusion["id"])
    ana, outsider = forum.as_("ana"), forum.as_("outsider")
    proposals, conclusions = f"/api/sessions/{forum.session.id}/proposals", f"/api/conclusions/{conclusion['id']}"
    body = {"title": "T", "summary": "S", "body": "B", "conclusion_ids": proposal["conclusion_ids"]}
    async with committed_engine.connect() as writer:  # writers of the session and of the conclusion, holding their rows
        await writer.execute(text("SELECT 1 FROM sessions WHERE id = :id FOR UPDATE"), {"id": forum.session.id})
        await writer.execute(text("SELECT 1 FROM conclusions WHERE id = :id FOR UPDATE"), {"id": conclusion["id"]})
        for call, status in [
            (live_client.post(proposals, json=body, headers=ana), 403),
            (
                live_client.patch(
                    f"/api/proposals/{proposal['id']}", json={"title": "x"}, headers={**ana, "If-Match": "1"}
                ),
                403,
            ),
            (live_client.post(f"/api/proposals/{proposal['id']}/publish", headers=ana), 403),
            (
                live_client.post(
                    f"/api/proposals/{proposal['id']}/endorsements", json={"stance": "endorse"}, headers=ana
                ),
                403,
            ),
            (live_client.delete(f"/api/proposals/{proposal['id']}/endorsements/mine", headers=forum.as_("mayor")), 404),
            (live_client.put(f"{conclusions}/vote", json={"choice": "support"}, headers=outsider), 403),
            (live_client.delete(f"{conclusions}/vote", headers=outsider), 403),
            (live_client.patch(conclusions, json={"title": "x"}, headers={**ana, "If-Match": "1"}), 403),
            (live_client.post(f"{conclusions}/voting", json={"action": "close"}, headers=ana), 403),
        ]:
            assert (await asyncio.wait_for(call, timeout=10)).status_code == status
        await writer.rollback()
