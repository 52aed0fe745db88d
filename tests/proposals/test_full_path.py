"""Done when 1: the whole path through the API alone, and the published hash recomputed from the JSON export.

The hash is recomputed here by the rule in docs/api.md ("The canonical form"), written out independently of
`deliberation.proposals.canonical`: build the object from the export, encode it with sorted keys, no
whitespace and UTF-8, and take SHA-256.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import msgspec

from deliberation.events import EVENT_DATA
from tests.factories import PASSWORD, bearer, signed_in


def recompute_content_sha256(export: dict) -> str:
    """The documented rule, applied to the JSON export."""
    proposal = export["proposal"]
    by_id = {conclusion["id"]: conclusion for conclusion in export["conclusions"]}
    conclusions = []
    for conclusion_id in proposal["conclusion_ids"]:
        conclusion = by_id[conclusion_id]
        tally = conclusion["final_tally"]
        conclusions.append(
            {
                "id": conclusion_id,
                "version": tally["version"],
                "title": conclusion["title"],
                "body": conclusion["body"],
                "tally": {
                    "voters": tally["voters"],
                    "support": tally["support"],
                    "oppose": tally["oppose"],
                    "abstain": tally["abstain"],
                    "cross_actor_consensus": tally["cross_actor_consensus"],
                    "by_actor_type": {
                        actor: {"support": c["support"], "oppose": c["oppose"], "abstain": c["abstain"]}
                        for actor, c in tally["by_actor_type"].items()
                    },
                },
            }
        )
    content = {
        "canonical": "deliberation.proposal.v1",
        "proposal_id": proposal["id"],
        "session_id": proposal["session_id"],
        "version": proposal["version"],
        "title": proposal["title"],
        "summary": proposal["summary"],
        "body": proposal["body"],
        "conclusions": conclusions,
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(canonical).hexdigest()


async def sign_up(client, email: str, name: str, actor_type: str) -> tuple[str, dict[str, str]]:
    body = {"email": email, "password": PASSWORD, "display_name": name, "actor_type": actor_type}
    created = await client.post("/api/auth/signup", json=body)
    assert created.status_code == 201, created.text
    login = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    return created.json()["id"], bearer(login.json()["access_token"])


async def test_session_to_export_through_the_api(client, db):
    _, admin = await signed_in(db, is_admin=True, display_name="Organizer")  # admins come from the CLI
    mod_id, mod = await sign_up(client, "mod@example.org", "Marta", "academia")
    people = {
        name: await sign_up(client, f"{name}@example.org", name.capitalize(), actor_type)
        for name, actor_type in (
            ("kofi", "civil_society"),
            ("jonas", "private_sector"),
            ("sofia", "citizen"),
            ("lena", "local_government"),
        )
    }
    mayor_id, mayor = await sign_up(client, "mayor@example.org", "Elena García", "local_government")
    claim = {"office": "Mayor", "territory": "Valle Norte"}
    assert (await client.post("/api/me/representative-claim", json=claim, headers=mayor)).status_code == 202
    verify = await client.post(f"/api/admin/users/{mayor_id}/representative", json={"verified": True}, headers=admin)
    assert verify.status_code == 200

    line = (await client.post("/api/lines", json={"number": "9", "title": "Territory"}, headers=admin)).json()
    subline = (
        await client.post(
            f"/api/lines/{line['id']}/sublines", json={"number": "9.1", "title": "Alliances"}, headers=admin
        )
    ).json()
    session = await client.post(
        "/api/sessions",
        json={
            "code": "9.1.1",
            "title": "Alliances between actors",
            "subline_id": subline["id"],
            "category": "round_table",
            "description": "Co-responsibility for crisis contexts.",
            "starts_at": (datetime.now(UTC) - timedelta(minutes=10)).isoformat(),
            "duration_minutes": 90,
            "platform": "Zoom",
            "guiding_questions": ["How do we co-create across levels of government?"],
        },
        headers=admin,
    )
    assert session.status_code == 201, session.text
    sid = session.json()["id"]
    assert (
        await client.put(f"/api/sessions/{sid}/members/{mod_id}", json={"role": "moderator"}, headers=admin)
    ).status_code == 200
    for _, headers in people.values():
        assert (await client.post(f"/api/sessions/{sid}/join", headers=headers)).status_code == 204
    thread = (await client.get(f"/api/sessions/{sid}/threads", headers=mod)).json()["items"][0]

    posts = []
    for name, text in (
        ("kofi", "Shared “mesas” with civil society — every month."),
        ("lena", "The city can host them."),
    ):
        response = await client.post(f"/api/threads/{thread['id']}/posts", json={"body": text}, headers=people[name][1])
        assert response.status_code == 201
        posts.append(response.json()["id"])

    conclusion = await client.post(
        f"/api/sessions/{sid}/conclusions",
        json={"title": "Monthly multi-actor tables", "body": "Hold them monthly.", "source_post_ids": posts},
        headers=mod,
    )
    cid = conclusion.json()["id"]
    edited = await client.patch(
        f"/api/conclusions/{cid}", json={"body": "Hold them monthly, in public."}, headers={**mod, "If-Match": "1"}
    )
    assert edited.json()["version"] == 2
    assert (
        await client.post(f"/api/conclusions/{cid}/voting", json={"action": "open"}, headers=mod)
    ).status_code == 200
    for name, choice in (("kofi", "support"), ("jonas", "support"), ("sofia", "abstain"), ("lena", "oppose")):
        cast = await client.put(f"/api/conclusions/{cid}/vote", json={"choice": choice}, headers=people[name][1])
        assert cast.status_code == 200
    closed = await client.post(f"/api/conclusions/{cid}/voting", json={"action": "close"}, headers=mod)
    assert closed.json()["status"] == "adopted"

    proposal = await client.post(
        f"/api/sessions/{sid}/proposals",
        json={
            "title": "Valle Norte compact",
            "summary": "Tables, monthly.",
            "body": 'Ñandú — ✓\n\n"quoted"',
            "conclusion_ids": [cid],
        },
        headers=mod,
    )
    assert proposal.status_code == 201
    pid = proposal.json()["id"]
    published = await client.post(f"/api/proposals/{pid}/publish", headers=mod)
    assert published.status_code == 200
    endorsed = await client.post(
        f"/api/proposals/{pid}/endorsements",
        json={"stance": "endorse", "statement": "We will host them."},
        headers=mayor,
    )
    assert endorsed.status_code == 201

    export = await client.get(f"/api/proposals/{pid}/export", params={"format": "json"})  # no account needed
    assert export.status_code == 200
    record = export.json()
    assert record["proposal"]["content_sha256"] == published.json()["content_sha256"]
    assert recompute_content_sha256(record) == published.json()["content_sha256"]

    (exported,) = record["conclusions"]
    assert exported["version"] == 2 and exported["body"] == "Hold them monthly, in public."
    assert [v["version"] for v in exported["versions"]] == [1, 2]
    assert exported["final_tally"]["by_actor_type"]["local_government"] == {"support": 0, "oppose": 1, "abstain": 0}
    assert [post["id"] for post in exported["sources"]] == posts
    assert record["endorsements"][0]["statement"] == "We will host them."
    actions = [entry["action"] for entry in record["audit"]["entries"]]
    for action in ("member.role_changed", "conclusion.vote_closed", "proposal.published", "endorsement.given"):
        assert action in actions
    assert record["audit"]["head_hash"] == (await client.get("/api/audit/verify")).json()["head_hash"]

    as_markdown = await client.get(f"/api/proposals/{pid}/export", params={"format": "markdown"})
    assert as_markdown.status_code == 200 and as_markdown.headers["content-type"].startswith("text/markdown")
    assert as_markdown.text.startswith("# Valle Norte compact\n")
    assert published.json()["content_sha256"] in as_markdown.text

    # Every event the path stored is its type's data, field for field (the types are what is stored and sent).
    events = (await client.get(f"/api/sessions/{sid}/events", params={"limit": 200}, headers=admin)).json()["items"]
    for item in events:
        data = msgspec.convert(item["data"], EVENT_DATA[item["event"]])
        assert msgspec.to_builtins(data) == item["data"], item["event"]
    assert {item["event"] for item in events} >= {
        "member.joined",
        "post.created",
        "conclusion.created",
        "conclusion.updated",
        "voting.opened",
        "tally.updated",
        "voting.closed",
        "proposal.created",
        "proposal.published",
        "endorsement.created",
    }
