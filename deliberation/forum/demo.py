"""`deliberation demo`: the World Forum for Local Economic Development, loaded idempotently.

Rows are found by natural keys (line number, subline number, session code, email), so running the command
again adds nothing. An existing account at a demo address is the demo's only if it still has the demo password:
then it gets its demo role back (the organizer is admin again). Any other account at a demo address stops the
load (409) and is left untouched: the demo never resets a password. The two representatives get their
verification (by the organizer, in the audit log). Session times are set relative to the first run (1.1.1
passed a day before, as the seed's event page shows it; 1.2.1 live; 1.1.2 upcoming; 2.1.1 passed) and left
alone afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from deliberation.accounts.models import RepresentativeClaim, User
from deliberation.accounts.passwords import hash_password, verify_password
from deliberation.accounts.representatives import set_verified
from deliberation.accounts.schemas import VerifyIn
from deliberation.db import locks
from deliberation.errors import Conflict
from deliberation.forum.models import Role, Session, Subline, ThematicLine
from deliberation.forum.schemas import SessionIn
from deliberation.forum.service import add_member, add_session
from deliberation.i18n import N_

DEMO_PASSWORD = "forum-demo-password"  # noqa: S105 (printed by the command; demo data only)

MAIN_SESSION_DESCRIPTION = """\
The territory is the place where relationships of coexistence are established and social practices are \
configured and promoted. In addition, it is a space that generates resources, knowledge and transfer; as well \
as the enhancement of innovation and cooperation dynamics.

Local and regional governments as facilitators of alliances and partnerships between all the actors in the \
territory facilitate the integration of policies (horizontal and vertical), allow the increase of competences \
and new legal frameworks, ensure governance, promote innovative and sustainable policies and ensure the \
provision of public services, among others.

These policies of alliances between actors require the implementation of strategies that increase synergies \
between actors and institutions and strengthen multilevel governance models. Integrated and participatory \
territorial planning also links rural and urban activities for balanced territorial development.

Currently, our societies are facing an unprecedented crisis, exacerbated by the pandemic. And to the extent \
that local and regional governments are the intermediary between citizens and the State due to their \
proximity, they are essential in the articulation of the different levels of government to guarantee a real \
multilevel governance.

In the current context, a dynamic action plan is essential that, with a systemic and strategic territorial \
vision, encourages participation, co-creation and political dialogue that contributes to a better balance of \
the territories, a better quality of life of their communities, which provide resilience and build a \
dignified future, redesigning economically competitive territories, physically and digitally connected and \
socially cohesive.

This round table aims to be a space for reflection and exchange of concepts, strategies and experiences, \
where the importance of strengthening cooperation between actors in the territory is addressed, especially \
citizen participation and local democracy as pillars of development, placing all citizens at the center of \
the debate.

It also aims to reach conclusions and an effective proposal, which allows to strengthen alliances and local \
democracy, for which local and regional elected representatives are invited to propose how: to implement a \
logic of co-creation from a vision of multilevel governance and multi-actor; generate the capacity to \
innovate; create structures for dialogue, work and evaluation commissions; take on the challenge of \
management that demonstrates transparency."""

GUIDING_QUESTIONS = [
    "How can we implement a logic of co-creation from a vision of multilevel, multi-actor governance?",
    "How can territories generate the capacity to innovate?",
    "Which structures for dialogue, work and evaluation commissions should we create?",
    "How can we take on the challenge of managing with demonstrable transparency?",
]


@dataclass(frozen=True)
class DemoAccount:
    email: str
    display_name: str
    description: str
    actor_type: str
    organization: str
    territory: str
    is_admin: bool = False
    office: str | None = None  # an elected office, verified by the organizer
    password: str = DEMO_PASSWORD


ADMIN = DemoAccount(
    "organizer@demo.example.org", "Forum Organizer", "admin (organizer)", "international_organization",
    "World Forum for Local Economic Development", "Global", is_admin=True,
)  # fmt: skip
MODERATOR = DemoAccount(
    "moderator@demo.example.org", "Marta Ruiz", "moderator of every demo session", "academia",
    "Institute for Territorial Studies", "Valle Norte",
)  # fmt: skip
MAYOR = DemoAccount(
    "mayor@demo.example.org", "Elena García", "verified representative: Mayor of Valle Norte", "local_government",
    "Municipality of Valle Norte", "Valle Norte", office="Mayor",
)  # fmt: skip
COUNCILLOR = DemoAccount(
    "councillor@demo.example.org", "Samuel Okoro", "verified representative: Regional Councillor, Costa Region",
    "regional_government", "Costa Regional Government", "Costa Region", office="Regional Councillor",
)  # fmt: skip
REPRESENTATIVES = [MAYOR, COUNCILLOR]
PARTICIPANTS = [
    DemoAccount(
        "civil.society@demo.example.org", "Kofi Mensah", "participant", "civil_society",
        "Local Development Network", "Costa Region",
    ),
    DemoAccount(
        "business@demo.example.org", "Jonas Weber", "participant", "private_sector",
        "Valle Norte Chamber of Commerce", "Valle Norte",
    ),
    DemoAccount(
        "researcher@demo.example.org", "Ana Lima", "participant", "academia",
        "University of the Coast", "Costa Region",
    ),
    DemoAccount(
        "citizen@demo.example.org", "Sofía Pérez", "participant", "citizen",
        "Neighbourhood association", "Valle Norte",
    ),
    DemoAccount(
        "cooperation@demo.example.org", "Claire Dubois", "participant", "international_organization",
        "Agency for Decentralised Cooperation", "Global",
    ),
]  # fmt: skip
ACCOUNTS = [ADMIN, MODERATOR, MAYOR, COUNCILLOR, *PARTICIPANTS]

LINES = [
    ("1", "The Territory as a basis for social, economic and environmental innovation",
     "How territories generate resources, knowledge and cooperation for sustainable development."),
    ("2", "Local economic development in the face of crises",
     "Resilient local economies: financing, employment and public services in times of crisis."),
]  # fmt: skip
SUBLINES = [
    ("1", "1.1", "The territory as a source of innovation, knowledge and transfer"),
    ("1", "1.2", "Green and circular economy in the territory"),
    ("2", "2.1", "Financing local development"),
]


def demo_sessions(now: datetime) -> list[tuple[str, dict]]:
    """(subline number, session fields) of the demo sessions, timed relative to `now`."""
    start = now.replace(second=0, microsecond=0)
    return [
        ("1.1", {
            "code": "1.1.1",
            "title": "Alliances and partnerships between actors: towards co-responsibility to address crisis "
            "contexts and achieve sustainable objectives",
            "category": "round_table", "description": MAIN_SESSION_DESCRIPTION,
            "starts_at": (start - timedelta(days=1)).replace(hour=14, minute=0), "duration_minutes": 90,
            "platform": "Zoom",
            "time_zone": "Europe/Madrid",
            "meeting_url": "https://zoom.example.org/j/1110001", "guiding_questions": GUIDING_QUESTIONS,
        }),
        ("1.1", {
            "code": "1.1.2", "title": "Local innovation ecosystems: universities, companies and local governments",
            "category": "workshop",
            "description": "A hands-on workshop on building innovation ecosystems around local knowledge.",
            "starts_at": start + timedelta(days=3), "duration_minutes": 120, "platform": "Zoom",
            "meeting_url": "https://zoom.example.org/j/1120002",
            "guiding_questions": ["Which partnerships turn local knowledge into innovation?"],
        }),
        ("1.2", {
            "code": "1.2.1", "title": "Circular economy and green jobs: local strategies", "category": "round_table",
            "description": "Experiences of cities and regions creating green jobs through the circular economy.",
            "starts_at": start - timedelta(minutes=45), "duration_minutes": 90, "platform": "Zoom",
            "meeting_url": "https://zoom.example.org/j/1210003",
            "guiding_questions": ["Which local policies create green jobs?", "How to measure circularity?"],
        }),
        ("2.1", {
            "code": "2.1.1", "title": "Financing local development after the pandemic", "category": "plenary",
            "description": "Plenary on public, private and international financing for local development.",
            "starts_at": start - timedelta(days=2), "duration_minutes": 60, "platform": "Zoom",
            "meeting_url": "https://zoom.example.org/j/2110004",
            "guiding_questions": ["Which financing instruments reach local governments?"],
        }),
    ]  # fmt: skip


# Who is in which session beyond the moderator, by email.
MEMBERS = {
    "1.1.1": [MAYOR, COUNCILLOR, *PARTICIPANTS],
    "1.1.2": PARTICIPANTS[:3],
    "1.2.1": [MAYOR, *PARTICIPANTS[2:]],
    "2.1.1": [COUNCILLOR, *PARTICIPANTS[:2]],
}


async def _ensure_user(db: AsyncSession, account: DemoAccount) -> User:
    user = await db.scalar(select(User).where(User.email == account.email))  # stored lower-case
    if user is None:
        user = User(
            email=account.email,
            password_hash=hash_password(account.password),
            display_name=account.display_name,
            organization=account.organization,
            actor_type=account.actor_type,
            territory=account.territory,
            is_admin=account.is_admin,
        )
        db.add(user)
    elif verify_password(user.password_hash, account.password):
        user.is_admin = account.is_admin
    else:
        raise Conflict(
            N_(
                "%(email)s belongs to an account that is not the demo's (its password is not the demo"
                " password); the demo leaves it alone. Use another database for the demo."
            ),
            values={"email": account.email},
        )
    await db.flush()
    return user


async def _ensure_line(db: AsyncSession, number: str, title: str, description: str) -> ThematicLine:
    line = await db.scalar(select(ThematicLine).where(ThematicLine.number == number))
    if line is None:
        line = ThematicLine(number=number, title=title, description=description)
        db.add(line)
        await db.flush()
    return line


async def _ensure_subline(db: AsyncSession, line: ThematicLine, number: str, title: str) -> Subline:
    subline = await db.scalar(select(Subline).where(Subline.line_id == line.id, Subline.number == number))
    if subline is None:
        subline = Subline(line_id=line.id, number=number, title=title)
        db.add(subline)
        await db.flush()
    return subline


async def _ensure_claim(db: AsyncSession, user: User, account: DemoAccount, now: datetime) -> None:
    await db.execute(
        insert(RepresentativeClaim)
        .values(user_id=user.id, office=account.office, territory=account.territory, claimed_at=now)
        .on_conflict_do_nothing()
    )


async def load_demo(db: AsyncSession, *, now: datetime) -> list[DemoAccount]:
    """Load the demo forum (idempotent), its sessions timed around `now`, and return the demo accounts.

    One transaction builds the forum and files the representatives' claims; the organizer then verifies them
    through the accounts action (a no-op when already verified), so the audit log shows it as for any claim.
    """
    async with db.begin():
        # Serializes concurrent demo loads so two runs at once still leave one copy.
        await db.execute(select(func.pg_advisory_xact_lock(locks.DEMO)))
        users = {account.email: await _ensure_user(db, account) for account in ACCOUNTS}
        lines = {number: await _ensure_line(db, number, title, text) for number, title, text in LINES}
        sublines = {
            number: await _ensure_subline(db, lines[line_number], number, title)
            for line_number, number, title in SUBLINES
        }
        for subline_number, fields in demo_sessions(now):
            session = await db.scalar(select(Session).where(Session.code == fields["code"]))
            if session is None:
                data = SessionIn(subline_id=sublines[subline_number].id, **fields)
                session = await add_session(db, data)
            await add_member(db, session.id, users[MODERATOR.email].id, Role.moderator)
            for account in MEMBERS[session.code]:
                await add_member(db, session.id, users[account.email].id, Role.participant)
        for account in REPRESENTATIVES:
            await _ensure_claim(db, users[account.email], account, now)
    for account in REPRESENTATIVES:
        verify = VerifyIn(verified=True, reason="Demo forum: office checked by the organizer.")
        await set_verified(db, users[ADMIN.email], users[account.email].id, verify, now=now)
    return ACCOUNTS
