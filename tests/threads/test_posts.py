import uuid

from tests.threads.conftest import write


async def test_members_post_and_reply_and_everyone_signed_in_reads_the_tree(client, forum):
    empty = await client.get(f"/api/threads/{forum.thread.id}/posts", headers=forum.as_("outsider"))
    last_seq = (await client.get(f"/api/sessions/{forum.session.id}", headers=forum.as_("ana"))).json()["last_seq"]
    assert empty.json() == {"items": [], "next_cursor": None, "as_of_seq": last_seq}
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


async def test_body_rules_are_422(client, forum):
    url = f"/api/threads/{forum.thread.id}/posts"
    for body in ("", "   \n", "nul \x00 inside", "x" * 10_001):
        response = await client.post(url, json={"body": body}, headers=forum.as_("ana"))
        assert response.status_code == 422, body[:20]
        assert response.json()["errors"][0]["field"] == "body"
    assert (await client.post(url, json={"body": "x" * 10_000}, headers=forum.as_("ana"))).status_code == 201
    assert (await client.post(url, json={"text": "x"}, headers=forum.as_("ana"))).status_code == 400


async def test_locked_thread_or_closed_discussion_refuse_posts_with_409(client, db, forum):
    from tests.factories import make_forum_session, make_thread

    url = f"/api/threads/{forum.thread.id}/posts"
    root = await write(client, forum, "ana", "before the lock")
    locked = await client.post(
        f"/api/threads/{forum.thread.id}/moderation", json={"action": "lock"}, headers=forum.as_("moderator")
    )
    assert locked.status_code == 200 and locked.json()["locked"] is True
    for payload in ({"body": "after"}, {"body": "reply", "parent_id": root["id"]}):
        assert (await client.post(url, json=payload, headers=forum.as_("ana"))).status_code == 409
    assert (
        await client.patch(f"/api/posts/{root['id']}", json={"body": "e"}, headers=forum.as_("ana"))
    ).status_code == 409

    closed = await make_forum_session(db, discussion_open=False, members={forum.ana: "participant"})
    thread = await make_thread(db, closed)
    response = await client.post(f"/api/threads/{thread.id}/posts", json={"body": "x"}, headers=forum.as_("ana"))
    assert response.status_code == 409


async def test_pages_by_oldest_newest_and_top_stay_stable_while_posts_arrive(client, forum):
    roots = [await write(client, forum, "ana", f"root {n}") for n in range(5)]
    ids = [root["id"] for root in roots]
    # top = agree + insightful; disagree does not count; ties oldest first.
    for who, post, kind in [
        ("ben", 3, "agree"),
        ("ana", 3, "insightful"),
        ("ben", 1, "insightful"),
        ("ben", 4, "disagree"),
    ]:
        response = await client.put(f"/api/posts/{ids[post]}/reactions/{kind}", headers=forum.as_(who))
        assert response.status_code == 204

    async def pages(sort: str) -> list[str]:
        seen, cursor = [], None
        url = f"/api/threads/{forum.thread.id}/posts"
        while True:
            params = {"sort": sort, "limit": 2, **({"cursor": cursor} if cursor else {})}
            page = (await client.get(url, params=params, headers=forum.as_("ben"))).json()
            seen += [item["id"] for item in page["items"]]
            if len(seen) == 2:
                # A post arriving between pages does not shift the following pages.
                await write(client, forum, "ben", f"late {sort}")
            cursor = page["next_cursor"]
            if cursor is None:
                return seen

    oldest = await pages("oldest")
    assert oldest == [*ids, oldest[5]] and oldest[5] not in ids  # the late post at the end, once
    newest = await pages("newest")
    # Starts with the post that came during the oldest pass; the one arriving now is before the cursor.
    assert newest == [oldest[5], *reversed(ids)]
    top = await pages("top")
    assert top[:5] == [ids[3], ids[1], ids[0], ids[2], ids[4]]
    assert len(top) == 8 and len(set(top)) == 8  # the three late posts (score 0) come after, once each


async def test_a_cursor_only_works_with_its_own_sort(client, forum):
    for n in range(3):
        await write(client, forum, "ana", f"p{n}")
    url = f"/api/threads/{forum.thread.id}/posts"
    cursor = (await client.get(url, params={"limit": 1}, headers=forum.as_("ana"))).json()["next_cursor"]
    assert (
        await client.get(url, params={"sort": "top", "cursor": cursor}, headers=forum.as_("ana"))
    ).status_code == 400
    assert (await client.get(url, params={"cursor": "garbage!"}, headers=forum.as_("ana"))).status_code == 400
    assert (await client.get(url, params={"sort": "best"}, headers=forum.as_("ana"))).status_code == 400


async def test_the_author_edits_and_every_earlier_text_is_kept(client, forum):
    post = await write(client, forum, "ana", "first")
    url = f"/api/posts/{post['id']}"
    assert (await client.patch(url, json={"body": "by ben"}, headers=forum.as_("ben"))).status_code == 403
    assert (await client.patch(url, json={"body": "by mod"}, headers=forum.as_("moderator"))).status_code == 403
    assert (await client.patch(url, json={"body": "bad\x00"}, headers=forum.as_("ana"))).status_code == 422

    second = (await client.patch(url, json={"body": "second"}, headers=forum.as_("ana"))).json()
    third = (await client.patch(url, json={"body": "third"}, headers=forum.as_("ana"))).json()
    assert second["edited_at"] is not None and third["body"] == "third" and third["edited_at"] >= second["edited_at"]

    revisions = (await client.get(f"{url}/revisions", headers=forum.as_("outsider"))).json()["items"]
    assert [r["body"] for r in revisions] == ["first", "second"]
    assert revisions[0]["written_at"] == post["created_at"]
    assert revisions[0]["replaced_at"] == revisions[1]["written_at"] == second["edited_at"]
    assert revisions[1]["replaced_at"] == third["edited_at"]


async def test_deleting_leaves_a_tombstone_with_its_replies(client, forum):
    root = await write(client, forum, "ana", "to be deleted")
    reply = await write(client, forum, "ben", "a reply", parent_id=root["id"])
    await client.patch(f"/api/posts/{root['id']}", json={"body": "edited"}, headers=forum.as_("ana"))
    url = f"/api/posts/{root['id']}"

    assert (await client.delete(url, headers=forum.as_("ben"))).status_code == 403
    assert (await client.delete(url, headers=forum.as_("outsider"))).status_code == 403
    assert (await client.delete(url, headers=forum.as_("ana"))).status_code == 204
    assert (await client.delete(url, headers=forum.as_("ana"))).status_code == 204  # already a tombstone

    tree = (await client.get(f"/api/threads/{forum.thread.id}/posts", headers=forum.as_("moderator"))).json()["items"]
    assert (tree[0]["id"], tree[0]["deleted"], tree[0]["body"]) == (root["id"], True, "")
    assert tree[0]["author"]["id"] == str(forum.ana.id)
    assert [r["id"] for r in tree[0]["replies"]] == [reply["id"]] and tree[0]["reply_count"] == 1
    assert (await client.get(f"{url}/revisions", headers=forum.as_("moderator"))).json()["items"] == []
    assert (await client.patch(url, json={"body": "back"}, headers=forum.as_("ana"))).status_code == 409
    assert (await client.put(f"{url}/reactions/agree", headers=forum.as_("ben"))).status_code == 409
    answer = await client.post(
        f"/api/threads/{forum.thread.id}/posts", json={"body": "r", "parent_id": root["id"]}, headers=forum.as_("ben")
    )
    assert answer.status_code == 409
    thread = (await client.get(f"/api/threads/{forum.thread.id}", headers=forum.as_("ana"))).json()
    assert thread["post_count"] == 1
    # The author's own deletion is not a moderation step: nothing in the audit log.
    audit = (await client.get("/api/audit", params={"session": str(forum.session.id)})).json()["items"]
    assert audit == []


async def test_a_moderator_deletes_with_a_reason_and_it_is_audited(client, forum):
    post = await write(client, forum, "ana", "rude words")
    url = f"/api/posts/{post['id']}"
    nul = await client.delete(url, params={"reason": "bad\x00"}, headers=forum.as_("moderator"))
    assert nul.status_code == 422
    response = await client.delete(url, params={"reason": "Personal attack"}, headers=forum.as_("moderator"))
    assert response.status_code == 204
    audit = (await client.get("/api/audit", params={"session": str(forum.session.id)})).json()["items"]
    assert [(e["action"], e["target_id"], e["reason"], e["actor"]["display_name"]) for e in audit] == [
        ("post.deleted", post["id"], "Personal attack", "Mod")
    ]
    # Admins moderate every session.
    other = await write(client, forum, "ben", "spam")
    assert (await client.delete(f"/api/posts/{other['id']}", headers=forum.as_("admin"))).status_code == 204
