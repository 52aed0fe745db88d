from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, delete, get, patch, post, put
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody, Parameter

from deliberation.accounts.auth import CurrentUser
from deliberation.deps import DB, Now
from deliberation.pagination import DEFAULT_LIMIT, Cursor, Limit
from deliberation.text import NO_NUL, REASON_MAX_LENGTH
from deliberation.threads import moderation, posts, reactions, service
from deliberation.threads.schemas import (
    FlagIn,
    FlagOut,
    FlagPage,
    FlagQueueName,
    FlagResolutionIn,
    PostIn,
    PostModerationIn,
    PostOut,
    PostPage,
    PostPatch,
    ReactionName,
    RevisionList,
    SortName,
    ThreadIn,
    ThreadModerationIn,
    ThreadOut,
    ThreadPage,
)

# The query-string twin of schemas.Reason (Litestar checks query parameters through `Parameter`).
ReasonParam = Annotated[
    str | None,
    Parameter(max_length=REASON_MAX_LENGTH, pattern=NO_NUL, description="Public reason (moderators; audited)."),
]


class SessionThreadsController(Controller):
    path = "/api/sessions/{session_id:uuid}"
    tags = ["threads"]

    @get("/threads", summary="Threads of a session, pinned first (signed-in users)")
    async def list_threads(
        self,
        db: DB,
        user: CurrentUser,
        session_id: FromPath[uuid.UUID],
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> ThreadPage:
        return await service.list_threads(db, session_id, cursor=cursor, limit=limit)

    @post("/threads", summary="Open a thread in a session (moderators)")
    async def create_thread(
        self, db: DB, user: CurrentUser, session_id: FromPath[uuid.UUID], data: JSONBody[ThreadIn]
    ) -> ThreadOut:
        return await service.create_thread(db, session_id, user, data)

    @get("/flags", summary="Open (or resolved) flags of a session, oldest first (moderators)")
    async def list_flags(
        self,
        db: DB,
        user: CurrentUser,
        session_id: FromPath[uuid.UUID],
        status: Annotated[FlagQueueName, Parameter(description="open (default) or resolved.")] = "open",
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> FlagPage:
        return await moderation.list_flags(db, session_id, user, status=status, cursor=cursor, limit=limit)


class ThreadController(Controller):
    path = "/api/threads/{thread_id:uuid}"
    tags = ["threads"]

    @get("/", summary="One thread (signed-in users)")
    async def get_thread(self, db: DB, user: CurrentUser, thread_id: FromPath[uuid.UUID]) -> ThreadOut:
        return await service.get_thread(db, thread_id)

    @get("/posts", summary="A page of top-level posts, each with its whole reply tree (signed-in users)")
    async def list_posts(
        self,
        db: DB,
        user: CurrentUser,
        state: State,
        thread_id: FromPath[uuid.UUID],
        sort: Annotated[SortName, Parameter(description="oldest, newest or top (agree + insightful).")] = "oldest",
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> PostPage:
        return await posts.list_posts(
            db, thread_id, user, sort=sort, cursor=cursor, limit=limit, max_posts=state.settings.max_posts_per_page
        )

    @post("/posts", summary="Write a post or a reply (members)")
    async def create_post(
        self, db: DB, user: CurrentUser, now: Now, state: State, thread_id: FromPath[uuid.UUID], data: JSONBody[PostIn]
    ) -> PostOut:
        return await posts.create_post(db, thread_id, user, data, settings=state.settings, now=now)

    @post("/moderation", status_code=200, summary="Lock, unlock, pin or unpin a thread (moderators)")
    async def moderate_thread(
        self, db: DB, user: CurrentUser, now: Now, thread_id: FromPath[uuid.UUID], data: JSONBody[ThreadModerationIn]
    ) -> ThreadOut:
        return await moderation.moderate_thread(db, thread_id, user, data, now=now)


class PostController(Controller):
    path = "/api/posts/{post_id:uuid}"
    tags = ["threads"]

    @get("/", summary="One post, without its replies (signed-in users)")
    async def get_post(self, db: DB, user: CurrentUser, post_id: FromPath[uuid.UUID]) -> PostOut:
        return await posts.get_post(db, post_id, user)

    @patch("/", summary="Edit your post; the earlier text is kept as a revision (author)")
    async def edit_post(
        self, db: DB, user: CurrentUser, now: Now, state: State, post_id: FromPath[uuid.UUID], data: JSONBody[PostPatch]
    ) -> PostOut:
        return await posts.edit_post(db, post_id, user, data.body, settings=state.settings, now=now)

    @delete("/", summary="Delete a post, leaving a tombstone (author or moderator)")
    async def delete_post(
        self, db: DB, user: CurrentUser, now: Now, post_id: FromPath[uuid.UUID], reason: ReasonParam = None
    ) -> None:
        await posts.delete_post(db, post_id, user, reason=reason, now=now)

    @get("/revisions", summary="Every earlier text of a post, oldest first (signed-in users)")
    async def list_revisions(self, db: DB, user: CurrentUser, post_id: FromPath[uuid.UUID]) -> RevisionList:
        return await posts.list_revisions(db, post_id, user)

    # 204 as the contract says (design/api.md): the new counts reach everyone, the reacting client too, in the next
    # coalesced `reactions.updated` (or `GET` the post); the web page's own form answers with the post's buttons.
    @put("/reactions/{kind:str}", status_code=204, summary="React to a post (members; idempotent)")
    async def add_reaction(
        self, db: DB, user: CurrentUser, now: Now, post_id: FromPath[uuid.UUID], kind: FromPath[ReactionName]
    ) -> None:
        await reactions.set_reaction(db, post_id, user, kind, present=True, now=now)

    @delete("/reactions/{kind:str}", summary="Take back a reaction (members; idempotent)")
    async def remove_reaction(
        self, db: DB, user: CurrentUser, now: Now, post_id: FromPath[uuid.UUID], kind: FromPath[ReactionName]
    ) -> None:
        await reactions.set_reaction(db, post_id, user, kind, present=False, now=now)

    @post("/flags", summary="Flag a post to the moderators (members)")
    async def flag_post(
        self, db: DB, user: CurrentUser, now: Now, post_id: FromPath[uuid.UUID], data: JSONBody[FlagIn]
    ) -> FlagOut:
        return await moderation.flag_post(db, post_id, user, data, now=now)

    @post("/moderation", status_code=200, summary="Hide or unhide a post with a public reason (moderators)")
    async def moderate_post(
        self, db: DB, user: CurrentUser, now: Now, post_id: FromPath[uuid.UUID], data: JSONBody[PostModerationIn]
    ) -> PostOut:
        return await moderation.moderate_post(db, post_id, user, data, now=now)


class FlagController(Controller):
    path = "/api/flags/{flag_id:uuid}"
    tags = ["threads"]

    @post("/resolution", status_code=200, summary="Resolve a flag: dismiss it or hide the post (moderators)")
    async def resolve_flag(
        self, db: DB, user: CurrentUser, now: Now, flag_id: FromPath[uuid.UUID], data: JSONBody[FlagResolutionIn]
    ) -> FlagOut:
        return await moderation.resolve_flag(db, flag_id, user, data, now=now)
