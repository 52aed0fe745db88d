"""A seeded world with one user per role, and `deliberation serve` subprocesses on a database of their own.

Roles (the permission matrix's columns): anonymous, outsider (signed in, not a member), participant,
other_moderator (moderates another session), moderator, representative (verified, not a member), admin.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio
import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from deliberation.db import migrate
from deliberation.forum.models import Subline
from tests.factories import make_forum_session, make_representative, make_thread, signed_in
from tests.ops.test_embedded_service import free_port

ROLES = ("anonymous", "outsider", "participant", "other_moderator", "moderator", "representative", "admin")


@dataclass
class World:
    """Ids of one of everything, and each role's headers. `ids` names what route rows point at."""

    headers: dict[str, dict[str, str]]
    users: dict[str, uuid.UUID]
    ids: dict[str, str] = field(default_factory=dict)


async def expect(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json() if response.content else {}


async def seed_world(db: AsyncSession, client: httpx.AsyncClient) -> World:
    """Users by factory; everything else through the API as its moderator (so rows are as real as they get)."""
    people = {
        role: await signed_in(db, display_name=role.replace("_", " ").title(), is_admin=role == "admin")
        for role in ROLES
        if role != "anonymous"
    }
    await make_representative(db, people["representative"][0])
    session = await make_forum_session(
        db,
        members={
            people["participant"][0]: "participant",
            people["moderator"][0]: "moderator",
            # A second participant: the target of the member routes, so they never change the roles above.
            (bystander := await signed_in(db, display_name="Bystander"))[0]: "participant",
        },
    )
    other = await make_forum_session(db, members={people["other_moderator"][0]: "moderator"})
    thread = await make_thread(db, session)
    async with db.begin():
        line_id = (await db.get(Subline, session.subline_id)).line_id
    headers = {role: value for role, (_, value) in people.items()} | {"anonymous": {}}
    world = World(headers=headers, users={role: user.id for role, (user, _) in people.items()})
    mod, member = headers["moderator"], headers["participant"]
    world.ids.update(
        session=str(session.id),
        other_session=str(other.id),
        line=str(line_id),
        subline=str(session.subline_id),
        thread=str(thread.id),
        bystander=str(bystander[0].id),
        participant_email=people["participant"][0].email,
        representative_user=str(people["representative"][0].id),
    )

    post = await expect(
        await client.post(f"/api/threads/{thread.id}/posts", json={"body": "A post"}, headers=member), 201
    )
    world.ids["post"] = post["id"]
    flag = await expect(
        await client.post(f"/api/posts/{post['id']}/flags", json={"reason": "off_topic"}, headers=bystander[1]), 201
    )
    world.ids["flag"] = flag["id"]

    async def conclusion(title: str) -> str:
        body = {"title": title, "body": "We agree.", "source_post_ids": [post["id"]]}
        return (
            await expect(await client.post(f"/api/sessions/{session.id}/conclusions", json=body, headers=mod), 201)
        )["id"]

    world.ids["draft_conclusion"] = await conclusion("A draft")
    world.ids["voting_conclusion"] = voting = await conclusion("Being voted")
    world.ids["adopted_conclusion"] = adopted = await conclusion("Adopted")
    for conclusion_id in (voting, adopted):
        await expect(
            await client.post(f"/api/conclusions/{conclusion_id}/voting", json={"action": "open"}, headers=mod), 200
        )
    await expect(await client.put(f"/api/conclusions/{adopted}/vote", json={"choice": "support"}, headers=member), 200)
    await expect(await client.put(f"/api/conclusions/{voting}/vote", json={"choice": "support"}, headers=member), 200)
    await expect(await client.post(f"/api/conclusions/{adopted}/voting", json={"action": "close"}, headers=mod), 200)

    async def proposal(title: str, *, publish: bool) -> str:
        body = {"title": title, "summary": "In short.", "body": "In full.", "conclusion_ids": [adopted]}
        url = f"/api/sessions/{session.id}/proposals"
        proposal_id = (await expect(await client.post(url, json=body, headers=mod), 201))["id"]
        if publish:
            await expect(await client.post(f"/api/proposals/{proposal_id}/publish", headers=mod), 200)
        return proposal_id

    world.ids["draft_proposal"] = await proposal("A draft proposal", publish=False)
    world.ids["published_proposal"] = await proposal("Published", publish=True)
    world.ids["endorsed_proposal"] = endorsed = await proposal("Endorsed", publish=True)
    await expect(
        await client.post(
            f"/api/proposals/{endorsed}/endorsements", json={"stance": "endorse"}, headers=headers["representative"]
        ),
        201,
    )
    return world


@asynccontextmanager
async def fresh_database(create_database) -> AsyncIterator[str]:
    """A new database migrated to head (committed data here cannot disturb the other tests' database)."""
    url = await create_database("deliberation_security")
    await anyio.to_thread.run_sync(migrate.upgrade, url)
    yield url


class Service:
    """`deliberation serve` in a subprocess, on `database_url`; kill() is kill -9."""

    def __init__(self, database_url: str, *, workers: int = 1, **settings: object) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws = f"ws://127.0.0.1:{self.port}"
        env = {key: value for key, value in os.environ.items() if not key.startswith("DELIBERATION_")}
        env["DELIBERATION_DATABASE_URL"] = database_url
        env["DELIBERATION_LOG_LEVEL"] = "WARNING"
        env.update({f"DELIBERATION_{key.upper()}": str(value) for key, value in settings.items()})
        self.process = subprocess.Popen(
            # One worker unless told: kill() must take the whole instance down (workers outlive a killed supervisor).
            [sys.executable, "-m", "deliberation.cli", "serve", "--port", str(self.port), "--workers", str(workers)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    async def ready(self, timeout: float = 60) -> None:
        async with httpx.AsyncClient(base_url=self.url, timeout=2) as client:
            with anyio.fail_after(timeout):
                while True:
                    if self.process.poll() is not None:
                        raise AssertionError(f"serve exited: {self.process.stderr.read().decode()[-3000:]}")
                    try:
                        if (await client.get("/ready")).status_code == 200:
                            return
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.1)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process.stderr.close()


@asynccontextmanager
async def services(database_url: str, count: int = 1, **settings: object) -> AsyncIterator[list[Service]]:
    """`count` instances on one database, ready; every one is stopped (or killed) on the way out."""
    started = [Service(database_url, **settings) for _ in range(count)]
    try:
        for service in started:
            await service.ready()
        yield started
    finally:
        for service in started:
            service.stop()
