import uuid

from tests.threads.conftest import write


async def test_members_post_and_reply_and_everyone_signed_in_reads_the_tree(client, forum):
    root = await write(client, forum, "ana", "Cooperatives *work* <script>alert(1)</script>")
    assert root["author"] == {"id": str(forum.ana.id), "display_name": "Ana", "actor_type": "civil_society"}
    assert root["body"] == "Cooperatives *work* <script>alert(1)</script>"  # stored and returned as written
    assert (root["depth"], root["parent_id"], root["reply_count"], root["deleted"], root["hidden"]) == (
        0,
        None,
        0,
        False,
        None,
    )
    assert root["reactions"] == {"agree": 0, "disagree": 0, "insightful": 0} and root["my_reactions"] == []
    assert "replies" not in root

    reply = await write(client, forum, "ben", "Only with public money", parent_id=root["id"])
    deeper = await write(client, forum, "ana", "Which money?", parent_id=reply["id"])
    second = await write(client, forum, "ben", "Second root")
    assert (reply["depth"], deeper["depth"], deeper["parent_id"]) == (1, 2, reply["id"])

    # The outsider is signed in but not a member: reads, but may not write.
    page = (await client.get(f"/api/threads/{forum.thread.id}/posts", headers=forum.as_("outsider"))).json()
    assert page["next_cursor"] is None
    assert [p["id"] for p in page["items"]] == [root["id"], second["id"]]
    tree = page["items"][0]
    assert tree["reply_count"] == 1 and tree["replies"][0]["id"] == reply["id"]
    assert tree["replies"][0]["replies"][0]["body"] == "Which money?"
    assert tree["replies"][0]["replies"][0]["replies"] == []
    refused = await client.post(
        f"/api/threads/{forum.thread.id}/posts", json={"body": "hi"}, headers=forum.as_("outsider")
    )
    assert refused.status_code == 403

    assert (await client.get(f"/api/threads/{forum.thread.id}/posts")).status_code == 401
    thread = (await client.get(f"/api/threads/{forum.thread.id}", headers=forum.as_("outsider"))).json()
    assert thread["post_count"] == 4

    single = (await client.get(f"/api/posts/{reply['id']}", headers=forum.as_("ana"))).json()
    assert single["reply_count"] == 1 and "replies" not in single


async def test_a_reply_must_have_its_parent_in_the_same_thread(client, db, forum):
    from tests.factories import make_thread

    other_thread = await make_thread(db, forum.session, title="Other")
    elsewhere = (
        await client.post(f"/api/threads/{other_thread.id}/posts", json={"body": "x"}, headers=forum.as_("ana"))
    ).json()
    for parent in (elsewhere["id"], str(uuid.uuid4())):
        response = await client.post(
            f"/api/threads/{forum.thread.id}/posts", json={"body": "y", "parent_id": parent}, headers=forum.as_("ana")
        )
        assert response.status_code == 404
    missing = await client.post(f"/api/threads/{uuid.uuid4()}/posts", json={"body": "y"}, headers=forum.as_("ana"))
    assert missing.status_code == 404
