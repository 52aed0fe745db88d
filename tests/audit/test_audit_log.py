import asyncio
import base64
import hashlib
import uuid
from datetime import datetime

import anyio
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from msgspec.structs import replace
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from deliberation.app import create_app
from deliberation.audit import service
from deliberation.cli import main
from deliberation.db.base import utcnow
from deliberation.db.engine import create_sessionmaker
from deliberation.pagination import encode_cursor
from deliberation.settings import Settings
from tests.conftest import serve_in_process


async def record_in_transaction(db, **fields):
    async with db.begin():
        return await service.record(db, now=utcnow(), **fields)


async def test_entries_chain_and_list_oldest_first(client, db):
    session_id = uuid.uuid4()
    first = await record_in_transaction(
        db, action="thread.locked", target_type="thread", target_id="t1", session_id=session_id, reason="off topic"
    )
    second = await record_in_transaction(db, action="vote.closed", target_type="conclusion", data={"result": "adopted"})
    assert second.prev_hash == first.hash
    assert second.seq == first.seq + 1

    response = await client.get("/api/audit", params={"after": first.seq - 1})
    assert response.status_code == 200
    items = response.json()["items"]
    assert [item["seq"] for item in items] == [first.seq, second.seq]
    assert items[0]["reason"] == "off topic"
    assert items[0]["session_id"] == str(session_id)
    assert items[1]["data"] == {"result": "adopted"}
    assert items[0]["actor"] is None

    only_session = (await client.get("/api/audit", params={"session": str(session_id)})).json()["items"]
    assert [item["seq"] for item in only_session] == [first.seq]

    verified = (await client.get("/api/audit/verify")).json()
    assert verified["ok"] is True
    assert verified["head_hash"] == second.hash
    assert verified["first_bad_seq"] is None


async def test_pages_follow_next_cursor(client, db):
    entries = [await record_in_transaction(db, action="test.step", target_type="test") for _ in range(5)]
    start = entries[0].seq - 1
    seen, cursor = [], None
    while True:
        params = {"after": start, "limit": 2} if cursor is None else {"cursor": cursor, "limit": 2}
        page = (await client.get("/api/audit", params=params)).json()
        seen += [item["seq"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [entry.seq for entry in entries]


async def test_bad_cursor_and_bad_limit_are_problem_details(client):
    response = await client.get("/api/audit", params={"cursor": "not-a-cursor!"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "cursor" in response.json()["detail"]

    response = await client.get("/api/audit", params={"limit": 1000})
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == 400 and body["title"] == "Bad Request"
    assert [error["field"] for error in body["errors"]] == ["limit"]


async def test_verify_names_the_first_tampered_entry(client, db):
    entries = [await record_in_transaction(db, action="test.step", target_type="test", data={"n": n}) for n in range(4)]
    tampered = entries[2]
    async with db.begin():
        # An attacker with database access bypasses the append-only trigger and rewrites history.
        await db.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only"))
        await db.execute(text("UPDATE audit_entries SET reason = 'rewritten' WHERE seq = :seq"), {"seq": tampered.seq})

    result = (await client.get("/api/audit/verify")).json()
    assert datetime.fromisoformat(result.pop("computed_at")) <= utcnow()
    assert result == {
        "ok": False,
        "entries": tampered.seq - 1,
        "head_hash": entries[1].hash,
        "first_bad_seq": tampered.seq,
    }


async def test_verify_names_the_entry_after_a_deleted_one(db):
    entries = [await record_in_transaction(db, action="test.step", target_type="test") for _ in range(3)]
    async with db.begin():
        await db.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only"))
        await db.execute(text("DELETE FROM audit_entries WHERE seq = :seq"), {"seq": entries[1].seq})
    result = await service.verify(db, now=utcnow())
    assert not result.ok
    assert result.first_bad_seq == entries[2].seq


async def test_entries_cannot_be_updated_or_deleted(db):
    seq = (await record_in_transaction(db, action="test.step", target_type="test")).seq
    statements = (
        "UPDATE audit_entries SET reason = 'x' WHERE seq = :seq",
        "DELETE FROM audit_entries WHERE seq = :seq",
    )
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.begin():
                await db.execute(text(statement), {"seq": seq})


async def test_concurrent_writers_build_one_valid_chain(own_engine):
    """Many transactions append at once, on separate connections, and commit: the chain stays linear."""
    sessionmaker = create_sessionmaker(own_engine)

    async def write(n: int) -> int:
        async with sessionmaker() as db, db.begin():
            entry = await service.record(db, action="test.concurrent", target_type="test", data={"n": n}, now=utcnow())
            await asyncio.sleep(0)  # hold the lock a little while others queue behind it
            return entry.seq

    seqs = await asyncio.gather(*(write(n) for n in range(40)))
    assert len(set(seqs)) == 40
    async with sessionmaker() as db:
        result = await service.verify(db, now=utcnow())
    assert result.ok, result
    assert result.entries == 40


async def test_verify_answers_are_reused_for_the_configured_seconds(settings, sessionmaker, db):
    await record_in_transaction(db, action="test.step", target_type="test")
    for seconds, reused in ((3600, True), (0, False)):
        app = create_app(replace(settings, audit_verify_cache_seconds=seconds), sessionmaker=sessionmaker)
        async with serve_in_process(app) as client:
            before = (await client.get("/api/audit/verify")).json()
            await record_in_transaction(db, action="test.step", target_type="test")
            after = (await client.get("/api/audit/verify")).json()
        assert (after == before) is reused
        assert after["ok"] is True
        computed = [datetime.fromisoformat(answer["computed_at"]) for answer in (before, after)]
        assert (computed[1] > computed[0]) is not reused


async def test_a_huge_after_is_a_clear_400(client):
    for params in ({"after": 10**30}, {"after": 2**63}, {"after": -1}):
        response = await client.get("/api/audit", params=params)
        assert response.status_code == 400
        assert response.json()["errors"][0]["field"] == "after"
    assert (await client.get("/api/audit", params={"after": 2**63 - 1})).json()["items"] == []
    cursor = encode_cursor(10**30)
    response = await client.get("/api/audit", params={"cursor": cursor})
    assert response.status_code == 400 and "cursor" in response.json()["detail"]


async def test_the_cli_names_the_tampered_entry_and_exits_1(own_database_url, own_engine, monkeypatch, capsys):
    async with create_sessionmaker(own_engine)() as db:
        entries = [await record_in_transaction(db, action="test.step", target_type="test") for _ in range(3)]
    monkeypatch.setenv("DELIBERATION_DATABASE_URL", own_database_url)
    assert await anyio.to_thread.run_sync(main, ["audit", "verify"]) == 0
    assert capsys.readouterr().out.startswith("ok: 3 entries")
    async with own_engine.begin() as connection:
        await connection.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only"))
        await connection.execute(text("UPDATE audit_entries SET action = 'test.other' WHERE seq = 2"))
    assert await anyio.to_thread.run_sync(main, ["audit", "verify"]) == 1
    assert f"TAMPERED: entry {entries[1].seq} " in capsys.readouterr().out


def check_signature(note: str, key: dict) -> tuple[str, int, str]:
    """Verify a checkpoint note with the published key, as anyone can (C2SP signed note); (origin, entries, hash)."""
    body, _, signature_lines = note.partition("\n\n")
    origin, entries, head = body.split("\n")
    (line,) = signature_lines.splitlines()
    assert line.startswith("\u2014 ") and line.split(" ")[1] == key["name"] == origin
    raw = base64.b64decode(line.split(" ")[2])
    public = base64.b64decode(key["public_key"])
    assert raw[:4] == hashlib.sha256(origin.encode() + b"\n\x01" + public).digest()[:4] == bytes.fromhex(key["key_id"])
    Ed25519PublicKey.from_public_bytes(public).verify(raw[4:], (body + "\n").encode())  # raises if forged
    return origin, int(entries), base64.b64decode(head).hex()


async def test_a_kept_checkpoint_detects_truncation_and_rewriting(own_database_url, own_engine, tmp_path, capsys):
    """Done when 3 of issue 14: the chain alone verifies after its newest entries are cut off; a checkpoint does not."""
    settings = Settings(database_url=own_database_url, data_dir=str(tmp_path), audit_verify_cache_seconds=0)
    db = create_sessionmaker(own_engine)()
    entries = [await record_in_transaction(db, action="test.step", target_type="test", data={"n": n}) for n in range(5)]
    async with serve_in_process(create_app(settings)) as client:
        answer = await client.get("/api/audit/checkpoint")
        key = (await client.get("/api/audit/public-key")).json()
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    assert check_signature(answer.text, key) == ("127.0.0.1:8000/audit", 5, entries[-1].hash)
    assert (
        key["verifier_key"]
        == f"{key['name']}+{key['key_id']}+" + base64.b64encode(b"\x01" + base64.b64decode(key["public_key"])).decode()
    )
    kept = tmp_path / "checkpoint.txt"
    kept.write_text(answer.text)
    forged = tmp_path / "forged.txt"
    forged.write_text(answer.text.replace("\n5\n", "\n4\n"))

    def cli(*args: str) -> tuple[int, str]:
        environment = {"DELIBERATION_DATABASE_URL": own_database_url, "DELIBERATION_DATA_DIR": str(tmp_path)}
        with pytest.MonkeyPatch.context() as patch:
            for name, value in environment.items():
                patch.setenv(name, value)
            code = main(["audit", "verify", *args])
        return code, capsys.readouterr().out

    async def run(*args: str) -> tuple[int, str]:
        return await anyio.to_thread.run_sync(lambda: cli(*args))

    assert await run("--checkpoint", str(kept)) == (
        0,
        "ok: the log still holds, unchanged, the 5 entries the checkpoint signed\n",
    )
    code, out = await run("--checkpoint", str(forged))
    assert code == 1 and out.startswith("INVALID CHECKPOINT: the signature does not verify")
    await record_in_transaction(db, action="test.step", target_type="test")  # the log grows: still fine
    assert (await run("--checkpoint", str(kept)))[0] == 0

    async with own_engine.begin() as connection:  # the database owner bypasses the append-only trigger
        await connection.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only"))
        await connection.execute(text("DELETE FROM audit_entries WHERE seq > 3"))
    assert (await run())[0] == 0  # the chain alone still verifies: 3 entries
    assert await run("--checkpoint", str(kept)) == (
        1,
        "TAMPERED: the log holds 3 entries, the checkpoint signed 5: entries were removed\n",
    )
    db.expunge_all()  # forget the deleted entries
    for n in range(3):  # cut short and written again: as many entries as before, a consistent chain
        await record_in_transaction(db, action="test.step", target_type="test", data={"n": f"rewritten {n}"})
    assert (await run())[0] == 0
    assert await run("--checkpoint", str(kept)) == (
        1,
        "TAMPERED: entry 5 is not the one the checkpoint signed: the log was rewritten\n",
    )
    async with own_engine.begin() as connection:
        await connection.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only"))
        await connection.execute(text("TRUNCATE audit_entries"))
    code, out = await run("--checkpoint", str(kept))
    assert code == 1 and "the log holds 0 entries, the checkpoint signed 5" in out
    await db.close()
