"""A thread of 10,000 posts in reply chains 50 deep: the first page carries whole subtrees, and the number
of SQL statements it takes does not grow with depth."""

import itertools
import uuid
from contextlib import contextmanager

from sqlalchemy import event, insert, update

from deliberation.forum.models import Thread
from deliberation.threads.models import Post
from tests.factories import make_thread


async def add_chains(db, thread: Thread, author_id: uuid.UUID, *, chains: int, depth: int, singles: int = 0) -> None:
    """`chains` top-level posts, each with a chain of replies down to `depth`, then `singles` lone posts, in bulk."""
    rows = []
    for chain in range(chains):
        root_id = parent_id = uuid.uuid4()
        for level in range(depth + 1):
            post_id = root_id if level == 0 else uuid.uuid4()
            rows.append(
                {
                    "id": post_id,
                    "thread_id": thread.id,
                    "session_id": thread.session_id,
                    "parent_id": None if level == 0 else parent_id,
                    "root_id": root_id,
                    "depth": level,
                    "author_id": author_id,
                    "body": f"chain {chain} depth {level}",
                    "reply_count": 0 if level == depth else 1,
                }
            )
            parent_id = post_id
    for n in range(singles):
        post_id = uuid.uuid4()
        rows.append(
            {
                "id": post_id,
                "thread_id": thread.id,
                "session_id": thread.session_id,
                "parent_id": None,
                "root_id": post_id,
                "depth": 0,
                "author_id": author_id,
                "body": f"single {n}",
            }
        )
    async with db.begin():
        # One multi-row INSERT per batch; rows are listed parents first, so seq puts parents before replies.
        for start in range(0, len(rows), 2000):
            await db.execute(insert(Post).values(rows[start : start + 2000]))
        await db.execute(update(Thread).where(Thread.id == thread.id).values(post_count=len(rows)))


@contextmanager
def counting_statements(engine):
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if not statement.startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")):
            statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)


def chain_of(post: dict) -> list[dict]:
    chain = [post]
    while chain[-1]["replies"]:
        assert len(chain[-1]["replies"]) == 1
        chain.append(chain[-1]["replies"][0])
    return chain


async def test_ten_thousand_posts_fifty_deep_first_page_in_constant_queries(client, db, engine, forum):
    deep = forum.thread
    await add_chains(db, deep, forum.ana.id, chains=196, depth=50, singles=4)  # 196 * 51 + 4 = 10,000
    shallow = await make_thread(db, forum.session, title="Shallow")
    await add_chains(db, shallow, forum.ana.id, chains=60, depth=5)

    async def first_page(thread) -> tuple[dict, int]:
        with counting_statements(engine) as statements:
            response = await client.get(f"/api/threads/{thread.id}/posts", headers=forum.as_("ben"))
        assert response.status_code == 200
        return response.json(), len(statements)

    page, deep_queries = await first_page(deep)
    assert (await client.get(f"/api/threads/{deep.id}", headers=forum.as_("ben"))).json()["post_count"] == 10_000
    # 50 roots of 51 posts would be 2550 posts: the page stops at 39 roots (1989 posts), under the default cap.
    assert len(page["items"]) == 39 and page["next_cursor"] is not None
    for number, root in enumerate(page["items"]):
        chain = chain_of(root)
        assert [post["depth"] for post in chain] == list(range(51))
        assert [post["body"] for post in chain] == [f"chain {number} depth {level}" for level in range(51)]
        assert all(post["parent_id"] == parent["id"] for parent, post in itertools.pairwise(chain))
        assert [post["reply_count"] for post in chain] == [1] * 50 + [0]

    following = await client.get(
        f"/api/threads/{deep.id}/posts", params={"cursor": page["next_cursor"]}, headers=forum.as_("ben")
    )
    assert [post["body"] for post in chain_of(following.json()["items"][0])][:2] == [
        "chain 39 depth 0",
        "chain 39 depth 1",
    ]

    shallow_page, shallow_queries = await first_page(shallow)
    assert [post["depth"] for post in chain_of(shallow_page["items"][0])] == list(range(6))
    assert deep_queries == shallow_queries
    # token, thread, viewer's role, roots (with their tree sizes), their replies, the viewer's reactions, and the
    # session's last seq in the same snapshot (as_of_seq)
    assert deep_queries == 7


async def test_the_tree_does_not_depend_on_parents_having_lower_seqs(client, db, forum):
    root_id, reply_id, nested_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    common = {
        "thread_id": forum.thread.id,
        "session_id": forum.session.id,
        "root_id": root_id,
        "author_id": forum.ana.id,
    }
    async with db.begin():
        # One statement, the nested reply listed (so numbered) before its parent; foreign keys hold at its end.
        await db.execute(
            insert(Post).values(
                [
                    {**common, "id": root_id, "parent_id": None, "depth": 0, "body": "root", "reply_count": 1},
                    {**common, "id": nested_id, "parent_id": reply_id, "depth": 2, "body": "nested"},
                    {**common, "id": reply_id, "parent_id": root_id, "depth": 1, "body": "reply", "reply_count": 1},
                ]
            )
        )
    response = await client.get(f"/api/threads/{forum.thread.id}/posts", headers=forum.as_("ben"))
    assert response.status_code == 200
    assert [post["body"] for post in chain_of(response.json()["items"][0])] == ["root", "reply", "nested"]
