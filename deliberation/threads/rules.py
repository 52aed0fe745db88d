"""What thread actions check about their input and about the state they act on (422 / 409)."""

from __future__ import annotations

from deliberation.errors import Conflict, Invalid
from deliberation.forum.models import Session, Thread
from deliberation.i18n import N_
from deliberation.settings import Settings
from deliberation.text import AT_MOST
from deliberation.threads.models import Post


def ensure_discussion_open(session: Session, thread: Thread) -> None:
    """409 unless members may write in the thread now."""
    ensure_writable(discussion_open=session.discussion_open, locked=thread.locked)


def ensure_writable(*, discussion_open: bool, locked: bool) -> None:
    """`ensure_discussion_open` on the two columns (the hot actions read columns, not rows)."""
    if not discussion_open:
        raise Conflict(N_("The discussion of this session is closed."))
    if locked:
        raise Conflict(N_("This thread is locked."))


def ensure_not_deleted(post: Post) -> None:
    if post.deleted_at is not None:
        raise Conflict(N_("This post has been deleted."))


def check_body(body: str, settings: Settings) -> str:
    """A post body (its type refused blank text and NUL) of at most `max_post_length` characters (422 otherwise)."""
    if len(body) > settings.max_post_length:
        raise Invalid.field("body", AT_MOST, {"limit": settings.max_post_length})
    return body


def check_reason(reason: str | None, *, required: bool) -> str | None:
    """A moderation reason (public): trimmed, None when blank; 422 when required and missing."""
    reason = reason.strip() if reason is not None else ""
    if required and not reason:
        raise Invalid.field("reason", N_("a public reason is required"))
    return reason or None
