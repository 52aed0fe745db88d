import pytest

from deliberation.settings import Settings, load_settings
from tests.threads.conftest import write


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, max_post_length=20, max_reply_depth=2, max_posts_per_page=3)


async def test_post_length_and_reply_depth_follow_the_settings(client, forum):
    url = f"/api/threads/{forum.thread.id}/posts"
    assert (await client.post(url, json={"body": "é" * 20}, headers=forum.as_("ana"))).status_code == 201
    too_long = await client.post(url, json={"body": "é" * 21}, headers=forum.as_("ana"))
    assert too_long.status_code == 422 and "20 characters" in too_long.json()["errors"][0]["message"]

    parent = await write(client, forum, "ana", "depth 0")
    for _ in range(2):
        parent = await write(client, forum, "ben", f"depth {parent['depth'] + 1}", parent_id=parent["id"])
    assert parent["depth"] == 2
    deeper = await client.post(url, json={"body": "depth 3", "parent_id": parent["id"]}, headers=forum.as_("ana"))
    assert deeper.status_code == 422 and deeper.json()["errors"][0]["field"] == "parent_id"


async def test_a_tree_page_stops_at_the_post_cap_but_holds_at_least_one_root(client, forum):
    big = await write(client, forum, "ana", "big")
    parent = big
    for n in range(2):
        parent = await write(client, forum, "ben", f"reply {n}", parent_id=parent["id"])
    await write(client, forum, "ben", "reply 2", parent_id=big["id"])  # big's tree: 4 posts, over the cap of 3
    for body in ["a", "b", "c", "d"]:
        await write(client, forum, "ana", body)

    pages, cursor = [], None
    while True:
        params = {"limit": 10} | ({"cursor": cursor} if cursor else {})
        page = (
            await client.get(f"/api/threads/{forum.thread.id}/posts", params=params, headers=forum.as_("ben"))
        ).json()
        pages.append([post["body"] for post in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == [["big"], ["a", "b", "c"], ["d"]]


def test_limits_are_read_from_the_environment():
    settings = load_settings({"DELIBERATION_MAX_POST_LENGTH": "500", "DELIBERATION_MAX_REPLY_DEPTH": "1000"})
    assert (settings.max_post_length, settings.max_reply_depth) == (500, 1000)
    assert (Settings().max_post_length, Settings().max_reply_depth) == (10_000, 200)
