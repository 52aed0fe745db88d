"""`posts.latest_posts`, what the live board shows: the newest posts anyone may read, replies included, newest
first, of one thread or of the whole session, page by page; never a deleted or hidden post (moderators included:
the board is a shared screen); members and admins only."""

from __future__ import annotations

import pytest

from deliberation.db.base import utcnow
from deliberation.errors import BadRequest, Forbidden
from deliberation.settings import Settings
from deliberation.threads import moderation, posts
from deliberation.threads.schemas import PostIn, PostModerationIn
from tests.factories import make_thread


async def test_newest_first_replies_included_without_deleted_or_hidden_posts(db, forum):
    other = await make_thread(db, forum.session, title="Another question")
    now, settings = utcnow(), Settings()

    async def write(who, body, thread=forum.thread, parent=None):
        data = PostIn(body=body, parent_id=parent.id if parent else None)
        return await posts.create_post(db, thread.id, forum.users[who], data, settings=settings, now=now)

    first = await write("ana", "First")
    reply = await write("ben", "A reply", parent=first)
    elsewhere = await write("cai", "In another thread", thread=other)
    deleted = await write("ana", "Soon deleted")
    hidden = await write("ben", "Soon hidden")
    await posts.delete_post(db, deleted.id, forum.ana, reason=None, now=now)
    await moderation.moderate_post(
        db, hidden.id, forum.moderator, PostModerationIn(action="hide", reason="Off topic"), now=now
    )
    last = await write("cai", "Last")

    async def bodies(who, thread_id, limit=10, cursor=None):
        page = await posts.latest_posts(
            db, forum.session.id, forum.users[who], thread_id=thread_id, cursor=cursor, limit=limit
        )
        return [post.body for post in page.items], page.next_cursor

    assert await bodies("moderator", forum.thread.id) == (["Last", "A reply", "First"], None)
    assert await bodies("admin", None) == (["Last", "In another thread", "A reply", "First"], None)
    assert (await bodies("ana", other.id))[0] == [elsewhere.body]
    newest, cursor = await bodies("ana", None, limit=2)
    assert newest == ["Last", "In another thread"] and cursor is not None
    assert await bodies("ana", None, limit=2, cursor=cursor) == (["A reply", "First"], None)
    assert reply.parent_id == first.id and last.thread_id == forum.thread.id


async def test_only_members_and_admins_read_them(db, forum):
    with pytest.raises(Forbidden):
        await posts.latest_posts(db, forum.session.id, forum.outsider, thread_id=None, cursor=None, limit=5)


async def test_a_cursor_of_another_list_is_400(db, forum):
    with pytest.raises(BadRequest):
        await posts.latest_posts(db, forum.session.id, forum.ana, thread_id=None, cursor="not-a-cursor", limit=5)
