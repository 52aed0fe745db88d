import asyncio
import io
import secrets
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from deliberation import cli
from deliberation.accounts.models import AccessToken, User
from deliberation.accounts.passwords import verify_password
from deliberation.accounts.service import set_admin_account
from deliberation.db.engine import create_engine, create_sessionmaker
from tests.factories import make_token, make_user


def run_create_admin(
    monkeypatch, committed_database_url: str, email: str, password: str, name: str = "Organizer"
) -> int:
    monkeypatch.setenv("DELIBERATION_DATABASE_URL", committed_database_url)
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    return cli.main(["create-admin", email, "--name", name])


def fetch(committed_database_url: str, email: str) -> User | None:
    async def read() -> User | None:
        engine = create_engine(committed_database_url, pool_size=1)
        try:
            async with create_sessionmaker(engine)() as db, db.begin():
                return await db.scalar(select(User).where(User.email == email))
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_create_admin_reads_the_password_from_stdin(monkeypatch, committed_database_url, capsys):
    email = f"Admin-{secrets.token_hex(4)}@Example.org"
    assert run_create_admin(monkeypatch, committed_database_url, email, "admin passphrase of decent length") == 0
    assert "created admin" in capsys.readouterr().out
    user = fetch(committed_database_url, email.lower())
    assert user.is_admin and user.display_name == "Organizer"

    # Run again for the same account: it stays admin and gets the new password.
    assert run_create_admin(monkeypatch, committed_database_url, email, "another admin passphrase") == 0
    assert "now an admin" in capsys.readouterr().out
    assert verify_password(fetch(committed_database_url, email.lower()).password_hash, "another admin passphrase")


def test_create_admin_refuses_a_weak_password(monkeypatch, committed_database_url, capsys):
    email = f"a-{secrets.token_hex(4)}@example.org"
    assert run_create_admin(monkeypatch, committed_database_url, email, "password") == 1
    assert "at least 12" in capsys.readouterr().err
    assert fetch(committed_database_url, email) is None


@pytest.mark.parametrize(
    ("name", "email"), [("   ", "plain"), ("x" * 121, "plain"), ("A\x00B", "plain"), ("Ana", "bad")]
)
def test_create_admin_refuses_a_bad_name_or_address_cleanly(monkeypatch, committed_database_url, capsys, name, email):
    address = f"a-{secrets.token_hex(4)}@example.org" if email == "plain" else "Ana <a@example.org>"
    assert (
        run_create_admin(monkeypatch, committed_database_url, address, "admin passphrase of decent length", name) == 1
    )
    assert capsys.readouterr().err.startswith("refused:")
    assert fetch(committed_database_url, address) is None


async def test_making_an_account_admin_revokes_its_tokens_at_the_clock_given(db):
    user = await make_user(db)
    await make_token(db, user)
    when = datetime(2031, 1, 2, 3, 4, tzinfo=UTC)
    assert not await set_admin_account(db, user.email, "Organizer", "admin passphrase of decent length", now=when)
    async with db.begin():
        assert (await db.scalars(select(AccessToken.revoked_at).where(AccessToken.user_id == user.id))).all() == [when]
