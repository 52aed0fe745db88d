import uuid

from tests.factories import publish_reactions
from tests.threads.conftest import write


async def audit_actions(client, forum) -> list[tuple[str, str | None]]:
    items = (await client.get("/api/audit", params={"session": str(forum.session.id)})).json()["items"]
    return [(e["action"], e["reason"]) for e in items]


async def test_reactions_one_of_each_kind_per_member_with_counts_and_mine(client, forum):
    post = await write(client, forum, "ana", "A proposal")
    url = f"/api/posts/{post['id']}/reactions"
    for who, kind in [
        ("ben", "agree"),
        ("ben", "agree"),
        ("ben", "insightful"),
        ("ana", "agree"),
        ("moderator", "disagree"),
    ]:
        assert (await client.put(f"{url}/{kind}", headers=forum.as_(who))).status_code == 204
    assert (await client.put(f"{url}/agree", headers=forum.as_("outsider"))).status_code == 403
    assert (await client.put(f"{url}/love", headers=forum.as_("ben"))).status_code == 400
    assert (await client.put(f"/api/posts/{uuid.uuid4()}/reactions/agree", headers=forum.as_("ben"))).status_code == 404

    seen_by_ben = (await client.get(f"/api/posts/{post['id']}", headers=forum.as_("ben"))).json()
    assert seen_by_ben["reactions"] == {"agree": 2, "disagree": 1, "insightful": 1}
    assert seen_by_ben["my_reactions"] == ["agree", "insightful"]

    assert (await client.delete(f"{url}/agree", headers=forum.as_("ben"))).status_code == 204
    assert (await client.delete(f"{url}/agree", headers=forum.as_("ben"))).status_code == 204  # idempotent
    tree = (await client.get(f"/api/threads/{forum.thread.id}/posts", headers=forum.as_("ben"))).json()["items"]
    assert tree[0]["reactions"] == {"agree": 1, "disagree": 1, "insightful": 1}
    assert tree[0]["my_reactions"] == ["insightful"]


async def test_hiding_keeps_the_place_and_shows_the_body_to_the_author_and_moderators_only(client, forum):
    root = await write(client, forum, "ana", "Off-topic rant")
    reply = await write(client, forum, "ben", "calm reply", parent_id=root["id"])
    url = f"/api/posts/{root['id']}/moderation"

    assert (await client.post(url, json={"action": "hide", "reason": "x"}, headers=forum.as_("ana"))).status_code == 403
    missing = await client.post(url, json={"action": "hide", "reason": "  "}, headers=forum.as_("moderator"))
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "reason"
    hidden = await client.post(url, json={"action": "hide", "reason": "Off topic"}, headers=forum.as_("moderator"))
    assert hidden.status_code == 200
    assert hidden.json()["hidden"] == {"reason": "Off topic"} and hidden.json()["body"] == "Off-topic rant"
    again = await client.post(url, json={"action": "hide", "reason": "Off topic"}, headers=forum.as_("moderator"))
    assert again.status_code == 409

    async def seen_by(who: str) -> dict:
        return (await client.get(f"/api/threads/{forum.thread.id}/posts", headers=forum.as_(who))).json()["items"][0]

    for who, body in [
        ("ana", "Off-topic rant"),
        ("moderator", "Off-topic rant"),
        ("admin", "Off-topic rant"),
        ("ben", ""),
        ("outsider", ""),
    ]:
        post = await seen_by(who)
        assert (post["id"], post["body"], post["hidden"]) == (root["id"], body, {"reason": "Off topic"}), who
        assert post["replies"][0]["id"] == reply["id"]
    assert (await client.get(f"/api/posts/{root['id']}", headers=forum.as_("ben"))).json()["body"] == ""

    # The author may still edit; the revisions of a hidden post are as private as its body.
    await client.patch(f"/api/posts/{root['id']}", json={"body": "On topic now"}, headers=forum.as_("ana"))
    revisions = f"/api/posts/{root['id']}/revisions"
    assert [r["body"] for r in (await client.get(revisions, headers=forum.as_("ben"))).json()["items"]] == [""]
    assert [r["body"] for r in (await client.get(revisions, headers=forum.as_("ana"))).json()["items"]] == [
        "Off-topic rant"
    ]
    # Nobody reacts to a hidden post.
    assert (await client.put(f"/api/posts/{root['id']}/reactions/agree", headers=forum.as_("ben"))).status_code == 409

    shown = await client.post(url, json={"action": "unhide", "reason": "Edited"}, headers=forum.as_("moderator"))
    assert shown.status_code == 200 and shown.json()["hidden"] is None
    assert (await seen_by("ben"))["body"] == "On topic now"
    assert (await client.post(url, json={"action": "unhide"}, headers=forum.as_("moderator"))).status_code == 409
    assert await audit_actions(client, forum) == [("post.hidden", "Off topic"), ("post.unhidden", "Edited")]


async def test_text_replaced_while_hidden_stays_private_after_unhiding(client, forum):
    post = await write(client, forum, "ana", "First thoughts")
    url, revisions = f"/api/posts/{post['id']}", f"/api/posts/{post['id']}/revisions"
    await client.patch(url, json={"body": "Offensive text"}, headers=forum.as_("ana"))
    hide = {"action": "hide", "reason": "Offensive"}
    assert (await client.post(f"{url}/moderation", json=hide, headers=forum.as_("moderator"))).status_code == 200
    await client.patch(url, json={"body": "Calm text"}, headers=forum.as_("ana"))
    unhide = {"action": "unhide"}
    assert (await client.post(f"{url}/moderation", json=unhide, headers=forum.as_("moderator"))).status_code == 200

    for who, bodies in [
        ("ben", ["First thoughts", ""]),
        ("outsider", ["First thoughts", ""]),
        ("ana", ["First thoughts", "Offensive text"]),
        ("moderator", ["First thoughts", "Offensive text"]),
    ]:
        items = (await client.get(revisions, headers=forum.as_(who))).json()["items"]
        assert [r["body"] for r in items] == bodies, who
    assert (await client.get(url, headers=forum.as_("ben"))).json()["body"] == "Calm text"
    assert await audit_actions(client, forum) == [("post.hidden", "Offensive"), ("post.unhidden", None)]


async def test_a_deleted_hidden_post_cannot_be_unhidden(client, forum):
    post = await write(client, forum, "ana", "Rant")
    url = f"/api/posts/{post['id']}/moderation"
    hide = {"action": "hide", "reason": "Rant"}
    assert (await client.post(url, json=hide, headers=forum.as_("moderator"))).status_code == 200
    assert (await client.delete(f"/api/posts/{post['id']}", headers=forum.as_("ana"))).status_code == 204
    unhide = {"action": "unhide", "reason": "Fine"}
    assert (await client.post(url, json=unhide, headers=forum.as_("moderator"))).status_code == 409
    assert await audit_actions(client, forum) == [("post.hidden", "Rant")]
    events = (await client.get(f"/api/sessions/{forum.session.id}/events", headers=forum.as_("ana"))).json()["items"]
    assert "post.unhidden" not in [event["event"] for event in events]


async def test_flags_queue_oldest_first_and_resolution_is_recorded(client, forum):
    first = await write(client, forum, "ana", "buy cheap watches")
    second = await write(client, forum, "ana", "you are all idiots")
    flag_url = "/api/posts/{}/flags"

    created = await client.post(
        flag_url.format(first["id"]), json={"reason": "spam", "note": "link farm"}, headers=forum.as_("ben")
    )
    assert created.status_code == 201
    flag = created.json()
    assert (flag["status"], flag["reason"], flag["note"], flag["post_id"]) == ("open", "spam", "link farm", first["id"])
    assert flag["flagged_by"]["id"] == str(forum.ben.id)
    duplicate = await client.post(flag_url.format(first["id"]), json={"reason": "other"}, headers=forum.as_("ben"))
    assert duplicate.status_code == 409
    outsider = await client.post(flag_url.format(first["id"]), json={"reason": "spam"}, headers=forum.as_("outsider"))
    assert outsider.status_code == 403
    bad = await client.post(flag_url.format(first["id"]), json={"reason": "boring"}, headers=forum.as_("ben"))
    assert bad.status_code == 422
    for who in ("ben", "moderator"):
        response = await client.post(
            flag_url.format(second["id"]), json={"reason": "offensive"}, headers=forum.as_(who)
        )
        assert response.status_code == 201

    queue_url = f"/api/sessions/{forum.session.id}/flags"
    assert (await client.get(queue_url, headers=forum.as_("ben"))).status_code == 403
    page = (await client.get(queue_url, params={"limit": 2}, headers=forum.as_("moderator"))).json()
    rest = (await client.get(queue_url, params={"cursor": page["next_cursor"]}, headers=forum.as_("moderator"))).json()
    queue = page["items"] + rest["items"]
    assert [(f["post_id"], f["flagged_by"]["display_name"]) for f in queue] == [
        (first["id"], "Ben"),
        (second["id"], "Ben"),
        (second["id"], "Mod"),
    ]
    assert rest["next_cursor"] is None and queue[0]["post"]["body"] == "buy cheap watches"

    resolution = "/api/flags/{}/resolution"
    refused = await client.post(resolution.format(queue[0]["id"]), json={"action": "dismiss"}, headers=forum.as_("ben"))
    assert refused.status_code == 403
    dismissed = await client.post(
        resolution.format(queue[0]["id"]),
        json={"action": "dismiss", "reason": "Not spam"},
        headers=forum.as_("moderator"),
    )
    assert dismissed.status_code == 200
    assert (dismissed.json()["status"], dismissed.json()["resolution_reason"]) == ("dismissed", "Not spam")
    again = await client.post(
        resolution.format(queue[0]["id"]), json={"action": "dismiss"}, headers=forum.as_("moderator")
    )
    assert again.status_code == 409
    # Once resolved, the same member may flag the post again.
    assert (
        await client.post(flag_url.format(first["id"]), json={"reason": "spam"}, headers=forum.as_("ben"))
    ).status_code == 201

    no_reason = await client.post(
        resolution.format(queue[1]["id"]), json={"action": "hide_post"}, headers=forum.as_("moderator")
    )
    assert no_reason.status_code == 422
    hid = await client.post(
        resolution.format(queue[1]["id"]),
        json={"action": "hide_post", "reason": "Insults"},
        headers=forum.as_("moderator"),
    )
    assert hid.status_code == 200 and hid.json()["status"] == "post_hidden"
    assert hid.json()["post"]["hidden"] == {"reason": "Insults"}
    # Hiding closed every open flag on that post; flagging a hidden post is refused.
    remaining = (await client.get(queue_url, headers=forum.as_("moderator"))).json()["items"]
    assert [f["post_id"] for f in remaining] == [first["id"]]
    assert (
        await client.post(flag_url.format(second["id"]), json={"reason": "spam"}, headers=forum.as_("ana"))
    ).status_code == 409
    assert await audit_actions(client, forum) == [("flag.dismissed", "Not spam"), ("post.hidden", "Insults")]
    assert (
        await client.post(resolution.format(uuid.uuid4()), json={"action": "dismiss"}, headers=forum.as_("admin"))
    ).status_code == 404


async def test_flags_changed_events_carry_the_open_count_and_the_resolved_queue_lists_the_rest(client, forum):
    first = await write(client, forum, "ana", "buy cheap watches")
    second = await write(client, forum, "ben", "off topic")
    for post, who in ((first, "ben"), (second, "ana")):
        flagged = await client.post(f"/api/posts/{post['id']}/flags", json={"reason": "spam"}, headers=forum.as_(who))
        assert flagged.status_code == 201
    queue_url = f"/api/sessions/{forum.session.id}/flags"
    open_flags = (await client.get(queue_url, headers=forum.as_("moderator"))).json()["items"]
    dismissed = await client.post(
        f"/api/flags/{open_flags[0]['id']}/resolution", json={"action": "dismiss"}, headers=forum.as_("moderator")
    )
    assert dismissed.status_code == 200
    assert (await client.delete(f"/api/posts/{second['id']}", headers=forum.as_("ben"))).status_code == 204

    events = (await client.get(f"/api/sessions/{forum.session.id}/events", headers=forum.as_("ana"))).json()
    changes = [item["data"] for item in events["items"] if item["event"] == "flags.changed"]
    assert changes == [{"open_flags": 1}, {"open_flags": 2}, {"open_flags": 1}, {"open_flags": 0}]

    assert (await client.get(queue_url, headers=forum.as_("moderator"))).json()["items"] == []
    resolved = (await client.get(queue_url, params={"status": "resolved"}, headers=forum.as_("moderator"))).json()
    assert [(flag["post_id"], flag["status"]) for flag in resolved["items"]] == [
        (first["id"], "dismissed"),
        (second["id"], "post_deleted"),
    ]
    bad = await client.get(queue_url, params={"status": "closed"}, headers=forum.as_("moderator"))
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "status"


async def test_threads_are_created_locked_and_pinned_by_moderators_only(client, forum):
    url = f"/api/sessions/{forum.session.id}/threads"
    assert (await client.post(url, json={"title": "Mine"}, headers=forum.as_("ana"))).status_code == 403
    assert (await client.post(url, json={"title": "Nul\x00"}, headers=forum.as_("moderator"))).status_code == 422
    assert (await client.post(url, json={"title": " \t "}, headers=forum.as_("moderator"))).status_code == 422
    post = await write(client, forum, "ana", "A post")
    too_long = {"reason": "x" * 2001}
    deleting = await client.delete(f"/api/posts/{post['id']}", params=too_long, headers=forum.as_("moderator"))
    assert deleting.status_code == 422 and deleting.json()["errors"][0]["field"] == "reason"
    created = await client.post(url, json={"title": "Financing", "body": "Who pays?"}, headers=forum.as_("moderator"))
    assert created.status_code == 201
    thread = created.json()
    assert {k: thread[k] for k in ("title", "body", "locked", "pinned", "post_count")} == {
        "title": "Financing",
        "body": "Who pays?",
        "locked": False,
        "pinned": False,
        "post_count": 0,
    }
    listed = (await client.get(url, headers=forum.as_("outsider"))).json()["items"]
    assert [t["id"] for t in listed] == [str(forum.thread.id), thread["id"]]
    assert (await client.get(url)).status_code == 401

    moderation = f"/api/threads/{thread['id']}/moderation"
    assert (await client.post(moderation, json={"action": "pin"}, headers=forum.as_("ana"))).status_code == 403
    pinned = await client.post(
        moderation, json={"action": "pin", "reason": "Key topic"}, headers=forum.as_("moderator")
    )
    assert pinned.status_code == 200 and pinned.json()["pinned"] is True
    assert (await client.post(moderation, json={"action": "pin"}, headers=forum.as_("moderator"))).status_code == 409
    assert (await client.post(moderation, json={"action": "close"}, headers=forum.as_("moderator"))).status_code == 422
    listed = (await client.get(url, params={"limit": 1}, headers=forum.as_("ana"))).json()
    assert listed["items"][0]["id"] == thread["id"]  # pinned first
    rest = (await client.get(url, params={"cursor": listed["next_cursor"]}, headers=forum.as_("ana"))).json()
    assert [t["id"] for t in rest["items"]] == [str(forum.thread.id)] and rest["next_cursor"] is None

    for action in ("lock", "unlock", "unpin"):
        assert (await client.post(moderation, json={"action": action}, headers=forum.as_("admin"))).status_code == 200
    assert await audit_actions(client, forum) == [
        ("thread.pinned", "Key topic"),
        ("thread.locked", None),
        ("thread.unlocked", None),
        ("thread.unpinned", None),
    ]
    assert (await client.get(f"/api/threads/{uuid.uuid4()}", headers=forum.as_("ana"))).status_code == 404


async def test_every_change_is_an_event_with_the_public_view(client, db, forum):
    root = await write(client, forum, "ana", "Secret-ish")
    await client.put(f"/api/posts/{root['id']}/reactions/agree", headers=forum.as_("ben"))
    assert await publish_reactions(db) == 1
    await client.patch(f"/api/posts/{root['id']}", json={"body": "Edited"}, headers=forum.as_("ana"))
    await client.post(
        f"/api/posts/{root['id']}/moderation", json={"action": "hide", "reason": "r"}, headers=forum.as_("moderator")
    )
    await client.post(f"/api/posts/{root['id']}/moderation", json={"action": "unhide"}, headers=forum.as_("moderator"))
    url = f"/api/sessions/{forum.session.id}/events"
    events = (await client.get(url, headers=forum.as_("ben"))).json()["items"]
    assert [(e["event"], e["data"].get("body")) for e in events] == [
        ("post.created", ""),  # redacted when the post was hidden: the view then
        ("reactions.updated", ""),
        ("post.updated", ""),
        ("post.hidden", ""),  # the hidden body is never broadcast
        ("post.unhidden", "Edited"),
    ]
    await client.delete(f"/api/posts/{root['id']}", headers=forum.as_("ana"))
    await client.post(
        f"/api/threads/{forum.thread.id}/moderation", json={"action": "lock"}, headers=forum.as_("moderator")
    )
    events = (await client.get(url, headers=forum.as_("ben"))).json()["items"]
    assert [(e["event"], e["data"].get("body"), e["data"].get("deleted")) for e in events] == [
        *[(event, "", True) for event in ("post.created", "reactions.updated", "post.updated")],
        *[(event, "", True) for event in ("post.hidden", "post.unhidden", "post.deleted")],
        ("thread.updated", "", None),  # a thread has a body too
    ]
    assert events[1]["data"]["reactions"]["agree"] == 1  # the post's view now
    assert all(e["data"]["my_reactions"] == [] and "replies" not in e["data"] for e in events[:-1])
    assert events[-1]["data"]["locked"] is True


async def test_a_post_hidden_or_deleted_before_its_reactions_were_sent_gets_no_reactions_event(client, db, forum):
    """The pending coalesced event is dropped; the post.hidden / post.deleted event carries the counts."""
    hidden, deleted = await write(client, forum, "ana", "Rude words"), await write(client, forum, "ana", "Mine")
    for post in (hidden, deleted):
        reacted = await client.put(f"/api/posts/{post['id']}/reactions/agree", headers=forum.as_("ben"))
        assert reacted.status_code == 204
    hide = {"action": "hide", "reason": "rude"}
    moderation = f"/api/posts/{hidden['id']}/moderation"
    assert (await client.post(moderation, json=hide, headers=forum.as_("moderator"))).status_code == 200
    assert (await client.delete(f"/api/posts/{deleted['id']}", headers=forum.as_("ana"))).status_code == 204
    assert await publish_reactions(db) == 0
    events = (await client.get(f"/api/sessions/{forum.session.id}/events", headers=forum.as_("ben"))).json()["items"]
    assert [(e["event"], e["data"]["body"], e["data"]["reactions"]["agree"]) for e in events] == [
        ("post.created", "", 1),  # redacted: the view now
        ("post.created", "", 1),
        ("post.hidden", "", 1),
        ("post.deleted", "", 1),
    ]
