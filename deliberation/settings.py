"""Settings: one msgspec Struct, filled from `DELIBERATION_*` environment variables."""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from typing import Annotated

import msgspec

PREFIX = "DELIBERATION_"

PositiveInt = Annotated[int, msgspec.Meta(gt=0)]
WindowMinutes = Annotated[int, msgspec.Meta(gt=0, le=24 * 60)]  # throttle windows: events are kept a day


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names the variable."""


class Settings(msgspec.Struct, kw_only=True, frozen=True):
    """Every setting is optional; the defaults run a local service on an embedded database."""

    # Database: unset means an embedded PostgreSQL in `data_dir`.
    database_url: str | None = None
    data_dir: str = ".deliberation"
    db_pool_size: PositiveInt = 10
    db_pool_timeout_seconds: Annotated[float, msgspec.Meta(gt=0)] = 30.0  # wait for a pooled connection, then fail

    # HTTP
    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 8000
    public_url: str = "http://127.0.0.1:8000"
    allowed_origins: tuple[str, ...] = ()
    max_body_bytes: PositiveInt = 1024 * 1024
    log_level: str = "INFO"  # any case; kept upper-case (what `logging` accepts)
    workers: PositiveInt | None = None  # processes of `deliberation serve` (`--workers`); unset: one per core

    # Mail: unset SMTP keeps mail in the outbox and logs it.
    smtp_url: str | None = None  # smtp://[user:password@]host[:port] (STARTTLS when offered) or smtps://
    mail_from: str = "deliberation@localhost"
    mail_worker: bool = True  # run the outbox sender in this instance (when SMTP is configured)
    mail_poll_seconds: Annotated[float, msgspec.Meta(gt=0)] = 5.0
    mail_retry_max_seconds: PositiveInt = 3600  # cap of the exponential backoff between attempts

    # Transparency log
    audit_verify_cache_seconds: Annotated[float, msgspec.Meta(ge=0)] = 10.0  # GET /api/audit/verify reuses its answer
    audit_signing_key: str | None = None  # base64 Ed25519 private key (32 bytes); unset: a key file in data_dir
    audit_origin: str | None = None  # the log's name in its checkpoints; unset: public_url's host:port + "/audit"

    # Accounts
    token_ttl_days: PositiveInt = 14
    login_max_failures: PositiveInt = 5  # per account from one client network within the window; the next is 429
    login_max_failures_per_account: PositiveInt = 100  # per account from all networks but those it signed in from
    login_max_failures_per_address: PositiveInt = 20  # per client address within the window
    signup_max_per_address: PositiveInt = 20  # sign-ups per client address within an hour; the next is 429
    password_hash_wait_seconds: Annotated[float, msgspec.Meta(gt=0)] = 3.0  # wait for a hashing slot, then 503
    login_window_minutes: WindowMinutes = 15
    password_reset_max_per_email: PositiveInt = 3  # more requests within the window send no mail
    password_reset_max_per_address: PositiveInt = 10  # more requests within the window get 429
    password_reset_window_minutes: WindowMinutes = 60

    # Live stream.
    live_fanout: bool = True  # off: this instance serves no websockets and sends no wake-ups (API-only)
    redis_url: str | None = None  # Redis pub/sub instead of PostgreSQL NOTIFY for wake-ups
    ws_queue_size: PositiveInt = 1000  # frames queued per client before it is dropped as too slow
    ws_max_message_bytes: PositiveInt = 4096  # largest frame a client may send
    ws_max_connections_per_user: PositiveInt = 10  # live connections per user and instance (close 4429 beyond)
    ws_heartbeat_seconds: Annotated[float, msgspec.Meta(gt=0)] = 25.0
    ws_batch_max_chars: PositiveInt = 65536  # a batched message (`?batch=true`) holds frames up to this length
    ws_max_pings_per_minute: PositiveInt = 60  # pings one connection may send within a minute (close 1008 beyond)
    live_poll_seconds: Annotated[float, msgspec.Meta(gt=0)] = 5.0  # safety net for lost wake-ups
    presence_refresh_seconds: Annotated[float, msgspec.Meta(gt=0)] = 15.0
    presence_delta_interval_seconds: Annotated[float, msgspec.Meta(gt=0)] = 0.25  # one presence_delta per session
    live_revalidate_seconds: Annotated[float, msgspec.Meta(gt=0)] = 30.0  # re-check tokens and membership
    live_ticket_seconds: Annotated[int, msgspec.Meta(gt=0, le=3600)] = 60  # a `?ticket=` is valid this long

    # Threads
    max_post_length: PositiveInt = 10_000  # characters of a post body; longer is 422
    max_reply_depth: PositiveInt = 200  # depth of the deepest reply (top-level posts are depth 0); deeper is 422
    post_rate_per_minute: PositiveInt = 30  # posts (replies included) per user within a minute; the next is 429
    max_posts_per_page: PositiveInt = 2000  # posts (replies included) of a tree page; always at least one root
    thread_page_roots: PositiveInt = 50  # top-level posts (with their replies) a thread's web page shows at once
    board_posts: Annotated[int, msgspec.Meta(gt=0, le=50)] = 4  # latest posts on the live board, newest first
    markdown_cache_entries: PositiveInt = 20_000  # rendered post texts each process keeps (the pages reuse them)

    # Conclusions
    conclusion_workers: bool = True  # run the vote closer, the tally and reaction publishers in this instance
    vote_closer_seconds: Annotated[float, msgspec.Meta(gt=0)] = 1.0  # how often due votes are looked for
    tally_event_interval_seconds: Annotated[float, msgspec.Meta(gt=0)] = 0.25  # at most one tally.updated per this
    reaction_event_interval_seconds: Annotated[float, msgspec.Meta(gt=0)] = 0.25  # one reactions.updated per post
    # The tally and reaction publishers run when a commit of this instance wakes them, else every this (marks set
    # by instances without conclusion_workers, or left unsent by one that stopped)
    publisher_idle_seconds: Annotated[float, msgspec.Meta(gt=0)] = 1.0

    def __post_init__(self) -> None:
        if self.database_url is not None and not self.database_url.startswith(("postgresql", "postgres")):
            raise SettingsError(f"{PREFIX}DATABASE_URL must be a postgresql:// URL, got {self.database_url!r}")
        if self.smtp_url is not None and not self.smtp_url.startswith(("smtp://", "smtps://")):
            raise SettingsError(f"{PREFIX}SMTP_URL must be an smtp:// or smtps:// URL")
        if self.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise SettingsError(f"{PREFIX}LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        if self.audit_signing_key is not None and len(_base64_bytes(self.audit_signing_key)) != 32:
            raise SettingsError(f"{PREFIX}AUDIT_SIGNING_KEY must be the base64 of a 32-byte Ed25519 private key")
        if self.audit_origin is not None and (not self.audit_origin or set(self.audit_origin) & {" ", "+", "\n"}):
            raise SettingsError(f"{PREFIX}AUDIT_ORIGIN must be a name without spaces or '+'")
        msgspec.structs.force_setattr(self, "log_level", self.log_level.upper())  # frozen: set once, here


def _base64_bytes(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        return b""


def to_asyncpg_url(url: str) -> str:
    """Name the asyncpg driver in a postgresql:// URL."""
    scheme, rest = url.split("://", 1)
    return f"postgresql+asyncpg://{rest}" if "+" not in scheme else url


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Read settings from `DELIBERATION_*` variables; raise SettingsError naming a bad one."""
    environ = os.environ if environ is None else environ
    raw: dict[str, object] = {}
    for field in msgspec.structs.fields(Settings):
        value = environ.get(PREFIX + field.name.upper())
        if value is None or value == "":
            continue
        if field.name == "allowed_origins":
            raw[field.name] = [part.strip() for part in value.split(",") if part.strip()]
        else:
            raw[field.name] = value
    raw.update(overrides)
    try:
        return msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        # msgspec says "Expected `int`, got `str` - at `$.port`": name the variable instead.
        message = str(exc)
        if " - at `$." in message:
            text, _, path = message.rpartition(" - at `$.")
            name = path.rstrip("`").split("[")[0]
            message = f"{PREFIX}{name.upper()}: {text}"
        raise SettingsError(message) from None
