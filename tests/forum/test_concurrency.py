"""Concurrent writes on one session never deadlock or fail: every action takes the session row, then the log."""

import asyncio

from tests.factories import bearer, make_forum_session, make_token, make_user


async def test_role_changes_edits_and_removals_at_once_all_succeed(live_client, committed_engine):
    from deliberation.db.engine import create_sessionmaker

    async with create_sessionmaker(committed_engine)() as db:
        admin = await make_user(db, is_admin=True)
        members = [await make_user(db) for _ in range(20)]
        session = await make_forum_session(db, members={user: "participant" for user in members})
        headers = bearer(await make_token(db, admin))

    async def promote(user, role):
        return await live_client.put(
            f"/api/sessions/{session.id}/members/{user.id}", json={"role": role}, headers=headers
        )

    async def edit(n):
        return await live_client.patch(f"/api/sessions/{session.id}", json={"title": f"Title {n}"}, headers=headers)

    async def remove(user):
        return await live_client.delete(f"/api/sessions/{session.id}/members/{user.id}", headers=headers)

    actions = [promote(user, "moderator") for user in members[:10]]
    actions += [edit(n) for n in range(20)]
    actions += [remove(user) for user in members[10:]]
    actions += [promote(user, "participant") for user in members[:10]]
    responses = await asyncio.gather(*actions)
    assert sorted({r.status_code for r in responses}) == [200, 204], [r.text for r in responses if r.status_code >= 300]

    audit = (await live_client.get("/api/audit/verify")).json()
    assert audit["ok"] is True
    events = (
        await live_client.get(f"/api/sessions/{session.id}/events", params={"limit": 200}, headers=headers)
    ).json()["items"]
    assert [event["seq"] for event in events] == list(range(1, len(events) + 1))


async def test_setting_a_role_while_the_member_is_removed_never_fails(live_client, committed_engine):
    """A removal can land between the role change's insert and its read: the change still answers 200."""
    from deliberation.db.engine import create_sessionmaker

    async with create_sessionmaker(committed_engine)() as db:
        admin = await make_user(db, is_admin=True)
        members = [await make_user(db) for _ in range(5)]
        session = await make_forum_session(db, members={user: "participant" for user in members})
        headers = bearer(await make_token(db, admin))

    async def churn(user):
        url = f"/api/sessions/{session.id}/members/{user.id}"
        answers = []
        for round_ in range(8):
            role = "moderator" if round_ % 2 else "participant"
            answers += await asyncio.gather(
                live_client.put(url, json={"role": role}, headers=headers),
                live_client.delete(url, headers=headers),
                live_client.put(url, json={"role": role}, headers=headers),
            )
        return answers

    answers = [answer for batch in await asyncio.gather(*(churn(user) for user in members)) for answer in batch]
    assert {answer.status_code for answer in answers} <= {200, 204, 404}, [
        answer.text for answer in answers if answer.status_code >= 500
    ]
