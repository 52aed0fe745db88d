"""Build rows directly for tests that need users, tokens and the like without going through every route.

`make_forum` is the one way tests build a forum (a session with its people and a thread); the API steps at
the end (a post, a draft conclusion, a vote) are what several test packages do through the routes.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from deliberation.accounts.auth import issue_token
from deliberation.accounts.models import ClaimStatus, RepresentativeClaim, User
from deliberation.accounts.passwords import hash_password
from deliberation.db.base import utcnow
from deliberation.forum.models import Session, SessionMember, Subline, ThematicLine, Thread
from deliberation.threads.models import ReactionMark
from deliberation.threads.reactions import publish_due_reactions

PASSWORD = "correct horse battery staple"


@lru_cache(maxsize=1)
def password_hash() -> str:
    return hash_password(PASSWORD)


async def make_user(
    db: AsyncSession,
    *,
    display_name: str | None = None,
    email: str | None = None,
    is_admin: bool = False,
    actor_type: str = "citizen",
) -> User:
    """A user with password `PASSWORD`, committed (to the test's savepoint)."""
    name = display_name or f"User {secrets.token_hex(3)}"
    user = User(
        email=email or f"{secrets.token_hex(6)}@example.org",
        password_hash=password_hash(),
        display_name=name,
        actor_type=actor_type,
        is_admin=is_admin,
    )
    async with db.begin():
        db.add(user)
    return user


async def make_token(db: AsyncSession, user: User, *, expires_at: datetime | None = None) -> str:
    """A token for `user`, valid until `expires_at` (default: for a century, so tests may move the app clock)."""
    now = utcnow()
    async with db.begin():
        raw, _ = await issue_token(db, user.id, (expires_at or now + timedelta(days=36500)) - now, now=now)
    return raw


async def make_representative(
    db: AsyncSession, user: User, *, verified: bool = True, office: str = "Mayor", territory: str = "Rosario"
) -> RepresentativeClaim:
    """A representative claim for `user`, verified unless told (no audit entry: a test shortcut)."""
    claim = RepresentativeClaim(
        user_id=user.id,
        office=office,
        territory=territory,
        term_ends=None,
        status=(ClaimStatus.verified if verified else ClaimStatus.pending).value,
        claimed_at=utcnow(),
    )
    async with db.begin():
        db.add(claim)
    return claim


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def signed_in(db: AsyncSession, **fields) -> tuple[User, dict[str, str]]:
    """A user and the headers that authenticate as them."""
    user = await make_user(db, **fields)
    return user, bearer(await make_token(db, user))


async def make_forum_session(
    db: AsyncSession,
    *,
    starts_at: datetime | None = None,
    duration_minutes: int = 90,
    category: str = "round_table",
    meeting_url: str | None = "https://zoom.example.org/j/123",
    discussion_open: bool = True,
    members: dict[User, str] | None = None,
) -> Session:
    """A session (in a fresh line and subline) starting in a day unless told, with `members` {user: role}."""
    tag = secrets.token_hex(3)
    line = ThematicLine(id=uuid.uuid4(), number=f"L{tag}", title=f"Line {tag}", description="")
    subline = Subline(id=uuid.uuid4(), line_id=line.id, number=f"L{tag}.1", title=f"Subline {tag}")
    session = Session(
        id=uuid.uuid4(),
        code=f"L{tag}.1.1",
        title=f"Session {tag}",
        subline_id=subline.id,
        category=category,
        description="",
        starts_at=starts_at or utcnow() + timedelta(days=1),
        duration_minutes=duration_minutes,
        platform="Zoom",
        meeting_url=meeting_url,
        discussion_open=discussion_open,
        last_seq=0,
    )
    async with db.begin():
        # No ORM relationships here, so flush parents before children.
        for row in (line, subline, session):
            db.add(row)
            await db.flush()
        db.add_all(
            SessionMember(session_id=session.id, user_id=user.id, role=role) for user, role in (members or {}).items()
        )
    return session


async def make_thread(
    db: AsyncSession, session: Session, *, title: str = "What works?", locked: bool = False
) -> Thread:
    """A thread in `session` (as if made for a guiding question)."""
    thread = Thread(session_id=session.id, title=title, body="", position=0, locked=locked)
    async with db.begin():
        db.add(thread)
    return thread


# The people of `make_forum`: members of several actor types, an outsider, an admin; with `representatives`,
# two verified elected representatives (not members) and one unverified claimant.
PEOPLE = {
    "moderator": {"display_name": "Mod", "actor_type": "civil_society"},
    "ana": {"display_name": "Ana", "actor_type": "civil_society"},
    "ben": {"display_name": "Ben", "actor_type": "local_government"},
    "cai": {"display_name": "Cai", "actor_type": "academia"},
    "outsider": {"display_name": "Out"},
    "admin": {"display_name": "Org", "is_admin": True},
}
REPRESENTATIVES = {
    "mayor": {"display_name": "Mayor Elena", "actor_type": "local_government"},
    "councillor": {"display_name": "Councillor Sam", "actor_type": "regional_government"},
    "claimant": {"display_name": "Pending Pat", "actor_type": "local_government"},
}
MEMBERS = {"moderator": "moderator", "ana": "participant", "ben": "participant", "cai": "participant"}


@dataclass
class Forum:
    """A session with one thread, and its people by name (`forum.ana`, `forum.as_("ana")` for headers)."""

    session: Session
    thread: Thread
    users: dict[str, User]
    headers: dict[str, dict[str, str]]

    def as_(self, who: str) -> dict[str, str]:
        return self.headers[who]

    def __getattr__(self, name: str) -> User:
        try:
            return self.__dict__["users"][name]
        except KeyError:
            raise AttributeError(name) from None


async def make_forum(db: AsyncSession, *, representatives: bool = False) -> Forum:
    """The forum, written through `db` (the rolled-back test session, or one that commits)."""
    people = {name: await signed_in(db, **fields) for name, fields in PEOPLE.items()}
    if representatives:
        people |= {name: await signed_in(db, **fields) for name, fields in REPRESENTATIVES.items()}
    session = await make_forum_session(db, members={people[name][0]: role for name, role in MEMBERS.items()})
    if representatives:
        await make_representative(db, people["mayor"][0], office="Mayor", territory="Valle Norte")
        await make_representative(db, people["councillor"][0], office="Regional Councillor", territory="Costa")
        await make_representative(db, people["claimant"][0], verified=False)
    return Forum(
        session=session,
        thread=await make_thread(db, session),
        users={name: user for name, (user, _) in people.items()},
        headers={name: headers for name, (_, headers) in people.items()},
    )


async def write_post(client, forum: Forum, body: str = "We need local procurement.") -> str:
    """Ana's post in the forum's thread (201 expected); its id."""
    response = await client.post(f"/api/threads/{forum.thread.id}/posts", json={"body": body}, headers=forum.as_("ana"))
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def draft(client, forum: Forum, **fields) -> dict:
    """A draft conclusion made by the moderator."""
    body = {"title": "Buy local", "body": "Municipalities should buy from local firms.", **fields}
    response = await client.post(
        f"/api/sessions/{forum.session.id}/conclusions", json=body, headers=forum.as_("moderator")
    )
    assert response.status_code == 201, response.text
    return response.json()


async def open_vote(client, forum: Forum, conclusion_id: str, **rules) -> dict:
    response = await client.post(
        f"/api/conclusions/{conclusion_id}/voting", json={"action": "open", **rules}, headers=forum.as_("moderator")
    )
    assert response.status_code == 200, response.text
    return response.json()


async def close_vote(client, forum: Forum, conclusion_id: str) -> dict:
    response = await client.post(
        f"/api/conclusions/{conclusion_id}/voting", json={"action": "close"}, headers=forum.as_("moderator")
    )
    assert response.status_code == 200, response.text
    return response.json()


async def vote(client, forum: Forum, who: str, conclusion_id: str, choice: str, **extra):
    return await client.put(
        f"/api/conclusions/{conclusion_id}/vote", json={"choice": choice, **extra}, headers=forum.as_(who)
    )


async def publish_reactions(db: AsyncSession) -> int:
    """What the reaction publisher does on one tick (apps of rolled-back tests run no loops): send every due
    coalesced `reactions.updated`; how many sessions had some."""
    sent = 0
    while await publish_due_reactions(db, now=utcnow(), interval=0):
        sent += 1
    return sent


async def reactions_published(db: AsyncSession, session_id: uuid.UUID, timeout: float = 10.0) -> None:
    """Wait until a running server's reaction publisher has sent every pending `reactions.updated` of a session."""
    async with asyncio.timeout(timeout):
        while True:
            async with db.begin():
                pending = await db.scalar(
                    select(func.count())
                    .select_from(ReactionMark)
                    .where(ReactionMark.session_id == session_id, ReactionMark.dirty)
                )
            if not pending:
                return
            await asyncio.sleep(0.02)
