"""Done when 3: the Markdown export of the demo session reads as a document; docs/example-export.md is one.

`play_demo_deliberation` runs a realistic deliberation on the demo forum's session 1.1.1 through the API: posts
and replies by the demo participants (one hidden by the moderator, one deleted by its author), three conclusions
(one edited before its vote, one with results hidden until the close), votes by every actor type, a published
proposal and the endorsements of the two demo representatives. To refresh the example in the docs:

    DELIBERATION_WRITE_EXAMPLE=1 .venv/bin/pytest -q tests/proposals/test_example_export.py
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from deliberation.db.base import utcnow
from deliberation.forum.demo import COUNCILLOR, DEMO_PASSWORD, MAYOR, MODERATOR, PARTICIPANTS, load_demo
from tests.factories import bearer

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "example-export.md"
KOFI, JONAS, ANA, SOFIA, CLAIRE = (account.email for account in PARTICIPANTS)


class Demo:
    def __init__(self, client, session_id: str, threads: list[str], headers: dict[str, dict[str, str]]) -> None:
        self.client, self.session_id, self.threads, self.headers = client, session_id, threads, headers

    async def post(self, who: str, thread: int, body: str, parent: str | None = None) -> str:
        response = await self.client.post(
            f"/api/threads/{self.threads[thread]}/posts",
            json={"body": body, "parent_id": parent},
            headers=self.headers[who],
        )
        assert response.status_code == 201, response.text
        return response.json()["id"]

    async def conclusion(self, title: str, body: str, sources: list[str], thread: int) -> str:
        response = await self.client.post(
            f"/api/sessions/{self.session_id}/conclusions",
            json={"title": title, "body": body, "thread_id": self.threads[thread], "source_post_ids": sources},
            headers=self.headers[MODERATOR.email],
        )
        assert response.status_code == 201, response.text
        return response.json()["id"]

    async def vote_on(self, conclusion_id: str, choices: dict[str, str], **rules) -> None:
        url = f"/api/conclusions/{conclusion_id}/voting"
        mod = self.headers[MODERATOR.email]
        assert (await self.client.post(url, json={"action": "open", **rules}, headers=mod)).status_code == 200
        for who, choice in choices.items():
            cast = await self.client.put(
                f"/api/conclusions/{conclusion_id}/vote", json={"choice": choice}, headers=self.headers[who]
            )
            assert cast.status_code == 200, cast.text
        closed = await self.client.post(url, json={"action": "close"}, headers=mod)
        assert closed.json()["status"] == "adopted", closed.text


async def play_demo_deliberation(client, db) -> str:
    """Load the demo forum, deliberate in session 1.1.1 through the API; the published proposal's id."""
    await load_demo(db, now=utcnow())
    headers = {}
    for account in (MODERATOR, MAYOR, COUNCILLOR, *PARTICIPANTS):
        login = await client.post("/api/auth/login", json={"email": account.email, "password": DEMO_PASSWORD})
        headers[account.email] = bearer(login.json()["access_token"])
    sessions = (await client.get("/api/sessions", params={"limit": 200})).json()["items"]
    session_id = next(session["id"] for session in sessions if session["code"] == "1.1.1")
    threads = (await client.get(f"/api/sessions/{session_id}/threads", headers=headers[KOFI])).json()["items"]
    demo = Demo(client, session_id, [thread["id"] for thread in threads], headers)
    mod = headers[MODERATOR.email]

    tables = await demo.post(
        KOFI,
        0,
        "In Costa Region the territorial tables worked when the municipality, the regional government and the "
        "neighbourhood organisations met on the same day every month and published their minutes within a week. "
        "Without a fixed rhythm, co-creation turns into consultation.",
    )
    host = await demo.post(
        MAYOR.email,
        0,
        "Valle Norte can host a monthly table in the town hall. What we need from the region is a named "
        "counterpart who can commit budget, not only attend.",
        parent=tables,
    )
    liaison = await demo.post(
        COUNCILLOR.email,
        0,
        "The region can name a liaison for each municipality. The harder part is aligning our budget calendar "
        "with the municipal ones, so that what a table agrees in March can be funded that year.",
        parent=host,
    )
    phone = await demo.post(KOFI, 0, "Just call the regional director on her mobile, +34 600 123 456; she answers.")
    hidden = await client.post(
        f"/api/posts/{phone}/moderation",
        json={"action": "hide", "reason": "Contains a private phone number."},
        headers=mod,
    )
    assert hidden.status_code == 200
    lab = await demo.post(
        ANA,
        1,
        "Universities hold data and skills that municipalities rarely use. A shared innovation lab with an open "
        "call every semester would turn local problems into projects that students and firms can work on.",
    )
    pilots = await demo.post(
        JONAS,
        1,
        "Small firms will join if procurement rules let a municipality buy a pilot from a local firm without a "
        "year-long tender.",
        parent=lab,
    )
    doubts = await demo.post(SOFIA, 1, "Labs cost money that neighbourhoods need. Who decides which problems go in?")
    commission = await demo.post(
        CLAIRE,
        2,
        "Decentralised cooperation funds can co-finance an evaluation commission, provided civil society sits on "
        "it and it reports in public.",
    )
    figures = await demo.post(JONAS, 3, "I will share our chamber's procurement figures later.")
    assert (await client.delete(f"/api/posts/{figures}", headers=headers[JONAS])).status_code == 204
    publish_all = await demo.post(
        SOFIA,
        3,
        "Publish every agreement of the tables, with who supported it. Today we hear about decisions only once "
        "they are done.",
    )

    first = await demo.conclusion(
        "Monthly multi-actor territorial tables",
        "Municipalities convene a territorial table every month with the regional government, civil society, "
        "business and academia.",
        [tables, host, liaison, phone],
        0,
    )
    edited = await client.patch(
        f"/api/conclusions/{first}",
        json={
            "body": "Municipalities convene a territorial table every month with the regional government, civil "
            "society, business and academia. The region names a liaison with budget authority for each "
            "municipality, and the minutes are public within a week."
        },
        headers={**mod, "If-Match": "1"},
    )
    assert edited.status_code == 200
    await demo.vote_on(
        first,
        {KOFI: "support", MAYOR.email: "support", COUNCILLOR.email: "support", ANA: "support", CLAIRE: "support",
         SOFIA: "support", JONAS: "support"},
    )  # fmt: skip
    second = await demo.conclusion(
        "A shared local innovation lab",
        "The university, the chamber of commerce and the municipality run a shared innovation lab with an open "
        "call each semester; municipalities may buy pilots from local firms through a simplified procedure.",
        [lab, pilots, doubts],
        1,
    )
    await demo.vote_on(
        second,
        {ANA: "support", JONAS: "support", KOFI: "support", CLAIRE: "support", MAYOR.email: "support",
         SOFIA: "oppose", COUNCILLOR.email: "abstain"},
        results_visibility="after_close",
    )  # fmt: skip
    third = await demo.conclusion(
        "A public evaluation commission",
        "An evaluation commission with civil society seats reviews the tables' agreements twice a year and "
        "publishes what was done, what was not, and why.",
        [commission, publish_all, figures],
        2,
    )
    await demo.vote_on(
        third,
        {CLAIRE: "support", SOFIA: "support", KOFI: "support", ANA: "support", MAYOR.email: "support",
         COUNCILLOR.email: "support", JONAS: "oppose"},
        quorum=5,
    )  # fmt: skip

    proposal = await client.post(
        f"/api/sessions/{session_id}/proposals",
        json={
            "title": "Valle Norte and Costa Region compact for multi-actor local governance",
            "summary": "Three commitments from round table 1.1.1: meet every month across levels of government, "
            "innovate together with the university and local firms, and evaluate in public.",
            "body": "The participants of round table 1.1.1 ask the local and regional governments of the forum "
            "to adopt the following commitments for the next two years.\n\n"
            "1. **Territorial tables.** A monthly table per municipality, with a regional liaison who can "
            "commit budget, and public minutes.\n"
            "2. **Innovation lab.** A shared lab with an open call each semester, and a simplified procedure "
            "to buy pilots from local firms.\n"
            "3. **Public evaluation.** A commission with civil society seats that reports twice a year.\n\n"
            "The forum's secretariat will follow up at the next edition.",
            "conclusion_ids": [first, second, third],
        },
        headers=mod,
    )
    assert proposal.status_code == 201, proposal.text
    proposal_id = proposal.json()["id"]
    published = await client.post(f"/api/proposals/{proposal_id}/publish", headers={**mod, "If-Match": "1"})
    assert published.status_code == 200
    for account, stance, statement in (
        (MAYOR, "endorse", "Valle Norte will host the first territorial table in January and publish its "
         "minutes on the municipal website."),
        (COUNCILLOR, "endorse_with_reservations", "The Costa Region supports the compact. The liaison's budget "
         "authority depends on the regional budget law, which we will propose to amend this year."),
    ):  # fmt: skip
        endorsed = await client.post(
            f"/api/proposals/{proposal_id}/endorsements",
            json={"stance": stance, "statement": statement},
            headers=headers[account.email],
        )
        assert endorsed.status_code == 201, endorsed.text
    return proposal_id


def headings(markdown: str) -> list[str]:
    return re.findall(r"^#+ .*$", markdown, re.M)


async def test_the_demo_session_exports_as_a_readable_document(client, db):
    proposal_id = await play_demo_deliberation(client, db)
    response = await client.get(f"/api/proposals/{proposal_id}/export", params={"format": "markdown"})
    assert response.status_code == 200
    document = response.text

    assert headings(document)[:4] == [
        "# Valle Norte and Costa Region compact for multi-actor local governance",
        "## Summary",
        "## Proposal",
        "## Adopted conclusions",
    ]
    assert "### 2. A shared local innovation lab" in document
    assert "### Elena García: Mayor, Valle Norte" in document
    assert "### Samuel Okoro: Regional Councillor, Costa Region" in document
    assert "| Local government | 1 | 0 | 0 |" in document
    assert "> Valle Norte will host the first territorial table" in document
    assert "Public reason: Contains a private phone number." in document and "600 123 456" not in document
    assert "This post was deleted" in document and "chamber's procurement figures" not in document
    assert "None" not in document
    if os.environ.get("DELIBERATION_WRITE_EXAMPLE"):
        EXAMPLE.write_text(document, encoding="utf-8")
    # The example in the docs is this document (times, ids and hashes aside).
    assert headings(EXAMPLE.read_text(encoding="utf-8")) == headings(document)
