"""The exported record: conclusions with every version and the final tally, source posts as the public sees them,
endorsements, the session's audit trail; as JSON and as a Markdown document."""

from __future__ import annotations

import hashlib
import itertools
import json

from deliberation.app import create_app
from deliberation.db.engine import create_sessionmaker
from deliberation.proposals import export
from deliberation.settings import Settings
from tests.audit.test_audit_log import check_signature
from tests.conftest import serve_in_process
from tests.factories import close_vote, draft, make_forum, make_forum_session, open_vote, vote, write_post
from tests.proposals.conftest import decided, endorse, propose, publish


async def test_export_shows_hidden_and_deleted_sources_without_their_text(client, forum):
    kept = await write_post(client, forum, "Procure from cooperatives.")
    hidden = await write_post(client, forum, "Something rude.")
    deleted = await write_post(client, forum, "I take this back.")
    moderated = await client.post(
        f"/api/posts/{hidden}/moderation",
        json={"action": "hide", "reason": "Personal attack."},
        headers=forum.as_("moderator"),
    )
    assert moderated.status_code == 200
    assert (await client.delete(f"/api/posts/{deleted}", headers=forum.as_("ana"))).status_code == 204

    conclusion = await draft(client, forum, title="Cooperatives first", source_post_ids=[kept, hidden, deleted])
    mod = forum.as_("moderator")
    await client.patch(
        f"/api/conclusions/{conclusion['id']}", json={"body": "Prefer cooperatives."}, headers={**mod, "If-Match": "1"}
    )
    await open_vote(client, forum, conclusion["id"])
    await vote(client, forum, "ana", conclusion["id"], "support")
    await vote(client, forum, "ben", conclusion["id"], "support")
    await vote(client, forum, "cai", conclusion["id"], "abstain")
    await close_vote(client, forum, conclusion["id"])
    proposal = await propose(client, forum, [conclusion["id"]], summary="Cooperatives | first")
    await publish(client, forum, proposal["id"])
    await endorse(client, forum, "mayor", proposal["id"], statement="We will do it.\nStarting in March.")
    await endorse(client, forum, "councillor", proposal["id"], "endorse_with_reservations")
    await client.delete(f"/api/proposals/{proposal['id']}/endorsements/mine", headers=forum.as_("councillor"))

    record = (await client.get(f"/api/proposals/{proposal['id']}/export")).json()
    (exported,) = record["conclusions"]
    sources = {post["id"]: post for post in exported["sources"]}
    assert list(sources) == [kept, hidden, deleted]
    assert sources[kept]["body"] == "Procure from cooperatives."
    assert sources[hidden]["body"] == "" and sources[hidden]["hidden"] == {"reason": "Personal attack."}
    assert sources[deleted]["body"] == "" and sources[deleted]["deleted"] is True
    assert [(v["version"], v["body"]) for v in exported["versions"]] == [
        (1, "Municipalities should buy from local firms."),
        (2, "Prefer cooperatives."),
    ]
    assert exported["final_tally"]["support"] == 2 and exported["final_tally"]["abstain"] == 1
    assert exported["voting"]["closed_at"] is not None
    assert record["threads"] == [{"id": str(forum.thread.id), "title": forum.thread.title}]
    assert [e["withdrawn_at"] is None for e in record["endorsements"]] == [True, False]
    assert {entry["session_id"] for entry in record["audit"]["entries"]} == {str(forum.session.id)}
    assert "post.hidden" in [entry["action"] for entry in record["audit"]["entries"]]
    # The export carries the signed checkpoint of the chain's head it was made under.
    key = (await client.get("/api/audit/public-key")).json()
    signed = check_signature(record["audit"]["checkpoint"], key)
    assert signed[1:] == (record["audit"]["head_seq"], record["audit"]["head_hash"])

    document = (await client.get(f"/api/proposals/{proposal['id']}/export", params={"format": "markdown"})).text
    assert "> Procure from cooperatives." in document
    assert "Something rude" not in document and "I take this back" not in document
    assert "hidden by a moderator. Public reason: Personal attack." in document
    assert "| Civil society | 1 | 0 | 0 |" in document
    assert "> We will do it.\n> Starting in March." in document
    assert "Withdrawn on" in document
    assert "\n\nCooperatives | first\n\n" in document  # the summary is Markdown, included as written
    assert "## Transparency log of the session" in document
    assert record["audit"]["checkpoint"].rstrip("\n") in document


async def test_a_draft_exports_for_signed_in_users_without_a_hash(client, forum):
    adopted = await decided(client, forum, "Buy local")
    proposal = await propose(client, forum, [adopted["id"]])
    assert (await client.get(f"/api/proposals/{proposal['id']}/export")).status_code == 404
    response = await client.get(
        f"/api/proposals/{proposal['id']}/export", params={"format": "markdown"}, headers=forum.as_("outsider")
    )
    assert response.status_code == 200 and "**Draft**" in response.text
    assert "Content SHA-256" not in response.text
    assert (await client.get(f"/api/proposals/{proposal['id']}/export", params={"format": "pdf"})).status_code == 400


async def test_the_markdown_export_escapes_html_in_every_user_text(client, forum):
    attack = '<img src=x onerror="alert(1)">'
    source = await write_post(client, forum, f"Look {attack} here.")
    hidden = await write_post(client, forum, "Rude.")
    moderated = await client.post(
        f"/api/posts/{hidden}/moderation",
        json={"action": "hide", "reason": f"Rude {attack}"},
        headers=forum.as_("moderator"),
    )
    assert moderated.status_code == 200
    conclusion = await draft(client, forum, title=f"Title {attack}", body=f"Body {attack}", source_post_ids=[source])
    await open_vote(client, forum, conclusion["id"])
    for who in ("ana", "ben"):
        await vote(client, forum, who, conclusion["id"], "support")
    await close_vote(client, forum, conclusion["id"])
    proposal = await propose(client, forum, [conclusion["id"]], summary=f"Sum {attack}", body=f"Plan {attack}")
    await publish(client, forum, proposal["id"])
    await endorse(client, forum, "mayor", proposal["id"], statement=f"Yes {attack}\n<script>x()</script>")

    response = await client.get(f"/api/proposals/{proposal['id']}/export", params={"format": "markdown"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/markdown; charset=utf-8"
    document = response.text
    assert "<img" not in document and "<script" not in document
    assert "&lt;img" in document  # shown as text, not dropped
    for text in ("Look ", "Body ", "Sum ", "Plan ", "Yes ", "&lt;script&gt;x()&lt;/script&gt;"):
        assert text in document


def entry_hash(entry: dict) -> str:
    """An audit entry's hash from its public listing, as docs/api.md says anyone can recompute it."""
    at = entry["at"].replace("Z", "+00:00")
    seconds, _, fraction = at.partition(".")
    fraction = (fraction.split("+")[0] if fraction else "").ljust(6, "0")
    content = {
        "seq": entry["seq"],
        "at": f"{seconds[:19]}.{fraction}Z",
        "actor_id": entry["actor"]["id"] if entry["actor"] else None,
        **{key: entry[key] for key in ("action", "target_type", "target_id", "session_id", "reason", "data")},
        "prev_hash": entry["prev_hash"],
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


async def test_the_exported_audit_trail_verifies_alone_with_the_links_of_other_sessions(client, db, forum):
    """Entries of another session, written in between, appear in `audit.links` as {seq, prev_hash, hash}."""
    other = await make_forum_session(db, members={forum.users["moderator"]: "moderator"})
    first = await decided(client, forum, "Buy local")
    for title in ("Elsewhere 1", "Elsewhere 2"):
        response = await client.patch(
            f"/api/sessions/{other.id}", json={"discussion_open": title.endswith("2")}, headers=forum.as_("moderator")
        )
        assert response.status_code == 200
    proposal = await propose(client, forum, [first["id"]])
    await publish(client, forum, proposal["id"])

    audit = (await client.get(f"/api/proposals/{proposal['id']}/export")).json()["audit"]
    entries, links = audit["entries"], audit["links"]
    assert links and {entry["session_id"] for entry in entries} == {str(forum.session.id)}
    assert set(links[0]) == {"seq", "prev_hash", "hash"}
    chain = sorted([*entries, *links], key=lambda item: item["seq"])
    assert [item["seq"] for item in chain] == list(range(chain[0]["seq"], chain[-1]["seq"] + 1))
    assert (chain[0]["seq"], chain[-1]["seq"]) == (entries[0]["seq"], entries[-1]["seq"])
    for before, item in itertools.pairwise(chain):
        assert item["prev_hash"] == before["hash"]
    assert all(entry_hash(entry) == entry["hash"] for entry in entries)


async def test_the_export_reads_one_snapshot_while_an_endorsement_commits(own_database_url, own_engine, monkeypatch):
    """An endorsement committing mid-export is in no part of it (REPEATABLE READ), not in the audit part only."""
    async with create_sessionmaker(own_engine)() as committed:
        forum = await make_forum(committed, representatives=True)
    async with serve_in_process(create_app(Settings(database_url=own_database_url))) as client:
        proposal = await propose(client, forum, [(await decided(client, forum, "Buy local"))["id"]])
        await publish(client, forum, proposal["id"])
        assert (await endorse(client, forum, "mayor", proposal["id"])).status_code == 201
        read_entries = export.audit.session_entries

        async def entries_after_a_concurrent_endorsement(db, **kwargs):
            # Runs between the export's read of the endorsements and its read of the audit entries.
            assert (await endorse(client, forum, "councillor", proposal["id"])).status_code == 201
            return await read_entries(db, **kwargs)

        monkeypatch.setattr(export.audit, "session_entries", entries_after_a_concurrent_endorsement)
        record = (await client.get(f"/api/proposals/{proposal['id']}/export")).json()
        monkeypatch.setattr(export.audit, "session_entries", read_entries)
        later = (await client.get(f"/api/proposals/{proposal['id']}/export")).json()
    endorsed = [entry for entry in record["audit"]["entries"] if entry["action"] == "endorsement.given"]
    assert len(record["endorsements"]) == len(endorsed) == 1
    assert len(later["endorsements"]) == 2  # it did commit, during the first export
