import re
from datetime import UTC, datetime

import anyio
import pytest
from sqlalchemy import func, select

from deliberation.accounts.models import RepresentativeClaim, User
from deliberation.accounts.passwords import verify_password
from deliberation.audit.models import AuditEntry
from deliberation.cli import main
from deliberation.db import migrate
from deliberation.db.engine import create_engine, create_sessionmaker
from deliberation.errors import Conflict
from deliberation.forum.demo import ACCOUNTS, ADMIN, GUIDING_QUESTIONS, MODERATOR, REPRESENTATIVES, load_demo
from deliberation.forum.models import Session, SessionMember, Subline, ThematicLine, Thread
from tests.factories import bearer, make_token, make_user

NOW = datetime(2031, 3, 10, 12, 0, tzinfo=UTC)


async def test_demo_command_run_twice_leaves_one_copy_and_its_accounts_work(create_database, monkeypatch, capsys):
    url = await create_database()
    await anyio.to_thread.run_sync(migrate.upgrade, url)
    monkeypatch.setenv("DELIBERATION_DATABASE_URL", url)

    # On a configured database the demo (an admin with a published password) needs --yes.
    assert await anyio.to_thread.run_sync(main, ["demo"]) == 1
    assert "--yes" in capsys.readouterr().err
    assert await anyio.to_thread.run_sync(main, ["demo", "--yes"]) == 0
    first = capsys.readouterr().out
    assert await anyio.to_thread.run_sync(main, ["demo", "--yes"]) == 0
    assert capsys.readouterr().out == first
    printed = dict(re.findall(r"^\s+(\S+@\S+)\s+password: (\S+)", first, re.M))
    assert len(printed) == 9

    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as db, db.begin():
            counts = {
                model.__tablename__: await db.scalar(select(func.count()).select_from(model))
                for model in (ThematicLine, Subline, Session, Thread, SessionMember, User, RepresentativeClaim)
            }
            hashes = dict((await db.execute(select(User.email, User.password_hash))).all())
            verifications = (
                await db.scalars(select(AuditEntry.action).where(AuditEntry.action == "representative.verified"))
            ).all()
    finally:
        await engine.dispose()
    assert counts == {
        "thematic_lines": 2,
        "sublines": 3,
        "sessions": 4,
        "threads": 4 + 1 + 2 + 1,
        "session_members": 8 + 4 + 5 + 4,  # each session: its moderator and members
        "users": 9,
        "representative_claims": 2,
    }
    assert len(verifications) == 2
    for email, password in printed.items():
        assert verify_password(hashes[email], password), email


async def test_demo_forum_has_the_main_round_table_and_sessions_in_every_status(app, client, db):
    await load_demo(db, now=NOW)
    app.state.clock = lambda: NOW

    async def codes(status):
        items = (await client.get("/api/sessions", params={"status": status})).json()["items"]
        return {item["code"] for item in items}

    assert "1.2.1" in await codes("live")
    assert "1.1.2" in await codes("upcoming")
    assert {"1.1.1", "2.1.1"} <= await codes("passed")  # 1.1.1 as the seed's event page shows it

    async with db.begin():
        main_session = await db.scalar(select(Session).where(Session.code == "1.1.1"))
        moderator = await db.scalar(select(User).where(User.email == MODERATOR.email))
    headers = bearer(await make_token(db, moderator))
    session = (await client.get(f"/api/sessions/{main_session.id}", headers=headers)).json()
    assert session["title"].startswith("Alliances and partnerships between actors")
    assert (session["category"], session["duration_minutes"], session["platform"]) == ("round_table", 90, "Zoom")
    assert session["line"]["title"] == "The Territory as a basis for social, economic and environmental innovation"
    assert session["subline"]["title"] == "The territory as a source of innovation, knowledge and transfer"
    assert session["meeting_url"] is not None
    assert "multilevel governance" in session["description"]

    members = (await client.get(f"/api/sessions/{main_session.id}/members", headers=headers)).json()["items"]
    roles = {item["user"]["display_name"]: item["role"] for item in members}
    assert roles[MODERATOR.display_name] == "moderator"
    assert {item["user"]["actor_type"] for item in members} >= {
        "local_government", "regional_government", "civil_society", "private_sector", "academia", "citizen"
    }  # fmt: skip

    representatives = {item["user"]["display_name"]: item["user"]["representative"] for item in members}
    for account in REPRESENTATIVES:
        assert representatives[account.display_name]["verified"] is True

    for account in ACCOUNTS:
        login = await client.post("/api/auth/login", json={"email": account.email, "password": account.password})
        assert login.status_code == 200, (account.email, login.text)

    async with db.begin():
        threads = (
            await db.scalars(select(Thread.title).where(Thread.session_id == main_session.id).order_by(Thread.position))
        ).all()
    assert threads == GUIDING_QUESTIONS


async def test_demo_never_takes_over_an_existing_account_and_restores_its_own(db):
    organizer = await make_user(db, email=ADMIN.email)  # someone else's account, at a demo address
    organizer_id, password_hash = organizer.id, organizer.password_hash
    with pytest.raises(Conflict, match=ADMIN.email):
        await load_demo(db, now=NOW)
    async with db.begin():
        row = await db.get_one(User, organizer_id, populate_existing=True)
        assert (row.password_hash, row.is_admin) == (password_hash, False)
        assert await db.scalar(select(func.count()).select_from(Session).where(Session.code == "1.1.1")) == 0
        await db.delete(row)

    await load_demo(db, now=NOW)
    async with db.begin():
        demo_organizer = await db.scalar(select(User).where(User.email == ADMIN.email))
        demo_organizer.is_admin, demo_id = False, demo_organizer.id  # demoted by hand since
    await load_demo(db, now=NOW)
    async with db.begin():
        assert (await db.get_one(User, demo_id, populate_existing=True)).is_admin is True
