"""A reaction sent in place answers with the post's reaction buttons drawn again: the new counts and the pressed
button at once (the stream's `reactions.updated` is coalesced, up to a quarter second later)."""

from __future__ import annotations

import re

from deliberation.db.base import utcnow
from deliberation.settings import Settings
from deliberation.threads.posts import create_post
from deliberation.threads.schemas import PostIn
from tests.conftest import serve_in_process
from tests.factories import make_forum_session, make_thread, make_user
from tests.web.test_sessions_and_csrf import csrf_of, log_in


async def test_a_reaction_in_place_answers_the_posts_buttons_with_the_new_counts(app, db):
    ana, ben = await make_user(db), await make_user(db)
    session = await make_forum_session(db, members={ana: "participant", ben: "participant"})
    thread = await make_thread(db, session)
    post = await create_post(db, thread.id, ana, PostIn(body="A post"), settings=Settings(), now=utcnow())
    agree = re.compile(rf'<button [^>]*value="{post.id}:agree:(\w+)" aria-pressed="(\w+)">Agree (\d+)</button>')
    async with serve_in_process(app) as client:
        await log_in(client, ben.email)
        token = csrf_of((await client.get(f"/sessions/{session.code}/threads/{thread.id}")).text)
        react = f"/sessions/{session.code}/reactions"
        for change, expected in (("add", ("remove", "true", "1")), ("remove", ("add", "false", "0"))):
            form = {"csrf_token": token, "reaction": f"{post.id}:agree:{change}"}
            answer = await client.post(react, data=form, headers={"X-Live-Submit": "1"})
            assert answer.status_code == 200, answer.text
            assert answer.text.lstrip().startswith(f'<p class="reactions" id="reactions-{post.id}">')
            assert agree.search(answer.text).groups() == expected
        # Without JavaScript: back to the thread, where the post shows the same.
        form = {"csrf_token": token, "reaction": f"{post.id}:agree:add"}
        assert (await client.post(react, data=form)).status_code == 303
