"""The `deliberation` command: serve, db, audit verify (and the commands domains add)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from deliberation.db import migrate
from deliberation.db.embedded import EmbeddedPostgres
from deliberation.db.engine import create_engine, create_sessionmaker
from deliberation.settings import Settings, SettingsError, load_settings

T = TypeVar("T")


@contextmanager
def database_url(settings: Settings) -> Iterator[str]:
    """The configured database, or a handle on the embedded one (shared with a running service)."""
    if settings.database_url is not None:
        yield settings.database_url
        return
    embedded = EmbeddedPostgres(settings.data_dir)
    try:
        yield embedded.start()
    finally:
        embedded.stop()


def run_with_session(settings: Settings, action: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run one async action on a database session, on the configured or embedded database."""

    async def run(url: str) -> T:
        engine = create_engine(url, pool_size=1)
        try:
            async with create_sessionmaker(engine)() as db:
                return await action(db)
        finally:
            await engine.dispose()

    with database_url(settings) as url:
        if settings.database_url is None:
            migrate.upgrade(url)
        return asyncio.run(run(url))


# What `deliberation serve` runs on, named rather than left to uvicorn's "auto" (which falls back, silently, to
# asyncio's loop and the pure-Python parser when uvloop or httptools is missing): both are dependencies.
SERVER_LOOP = "uvloop"
SERVER_HTTP = "httptools"
SERVER_WS = "websockets-sansio"  # uvicorn's websocket protocol: the fan-out's fastest (docs/performance.md, issue 19)


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    uvicorn.run(
        "deliberation.app:create_app",
        factory=True,
        host=args.host or settings.host,
        port=args.port if args.port is not None else settings.port,
        workers=args.workers or settings.workers or usable_cores(),
        log_level=settings.log_level.lower(),
        proxy_headers=True,
        loop=SERVER_LOOP,
        **uvicorn_options(settings),
    )
    return 0


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, which containers and `taskset` narrow)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def uvicorn_options(settings: Settings) -> dict[str, object]:
    """Server options the service depends on (the tests' servers use the same)."""
    return {
        "http": SERVER_HTTP,
        "ws": SERVER_WS,
        # A frame larger than this is refused by the server before the app sees it.
        "ws_max_size": settings.ws_max_message_bytes,
        # Compression is per connection: it would redo, for every subscriber, work the hub does once.
        "ws_per_message_deflate": False,
    }


def cmd_db(settings: Settings, args: argparse.Namespace) -> int:
    with database_url(settings) as url:
        if args.db_command == "upgrade":
            migrate.upgrade(url, args.revision)
        elif args.db_command == "downgrade":
            migrate.downgrade(url, args.revision)
        else:
            migrate.current(url)
    return 0


def cmd_audit_verify(settings: Settings, args: argparse.Namespace) -> int:
    from deliberation.audit.checkpoint import CheckpointError, load_signer
    from deliberation.audit.service import checkpoint_problem, verify
    from deliberation.db.base import utcnow

    if args.checkpoint is None:
        result = run_with_session(settings, lambda db: verify(db, now=utcnow()))
        if result.ok:
            print(f"ok: {result.entries} entries, head {result.head_hash}")
            return 0
        print(f"TAMPERED: entry {result.first_bad_seq} does not match the chain ({result.entries} entries verify)")
        return 1
    try:
        with open(args.checkpoint, encoding="utf-8") as file:
            checkpoint = load_signer(settings).open(file.read())
    except (OSError, UnicodeDecodeError, CheckpointError) as exc:
        print(f"INVALID CHECKPOINT: {exc}")
        return 1
    problem = run_with_session(settings, lambda db: checkpoint_problem(db, checkpoint, now=utcnow()))
    if problem is None:
        print(f"ok: the log still holds, unchanged, the {checkpoint.entries} entries the checkpoint signed")
        return 0
    print(f"TAMPERED: {problem}")
    return 1


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from deliberation.db.base import utcnow
    from deliberation.errors import DomainError
    from deliberation.forum.demo import load_demo

    if settings.database_url is not None and not args.yes:
        print(
            "refused: DELIBERATION_DATABASE_URL is set. The demo creates an admin whose password is published;"
            " load it there only on purpose, with --yes.",
            file=sys.stderr,
        )
        return 1
    try:
        accounts = run_with_session(settings, lambda db: load_demo(db, now=utcnow()))
    except DomainError as exc:
        print(f"refused: {exc.detail}", file=sys.stderr)
        return 1
    print("Demo forum loaded: World Forum for Local Economic Development. Demo accounts:")
    for account in accounts:
        print(f"  {account.email:<34} password: {account.password:<22} {account.description}")
    return 0


def cmd_create_admin(settings: Settings, args: argparse.Namespace) -> int:
    from deliberation.accounts.service import set_admin_account
    from deliberation.db.base import utcnow
    from deliberation.errors import DomainError

    if sys.stdin.isatty():
        password = getpass.getpass("Password (at least 12 characters): ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        created = run_with_session(
            settings, lambda db: set_admin_account(db, args.email, args.name, password, now=utcnow())
        )
    except DomainError as exc:
        print(f"refused: {exc.detail}", file=sys.stderr)
        return 1
    if created:
        print(f"created admin {args.email}")
    else:
        print(f"{args.email} is now an admin; its password was replaced and its tokens revoked")
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deliberation", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP and WebSocket service")
    serve.add_argument("--host", default=None, help="bind address (DELIBERATION_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (DELIBERATION_PORT, default 8000)")
    serve.add_argument(
        "--workers",
        type=_positive,
        default=None,
        help="worker processes (DELIBERATION_WORKERS, default one per core this process may use)",
    )
    serve.set_defaults(handler=cmd_serve)

    db = commands.add_parser("db", help="database migrations")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_commands.add_parser("upgrade", help="apply migrations (default: to head)")
    upgrade.add_argument("revision", nargs="?", default="head")
    downgrade = db_commands.add_parser("downgrade", help="revert migrations down to a revision ('base': all)")
    downgrade.add_argument("revision")
    db_commands.add_parser("current", help="show the applied revision")
    db.set_defaults(handler=cmd_db)

    audit = commands.add_parser("audit", help="transparency log")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_commands.add_parser("verify", help="recompute the hash chain; exit 1 if it was tampered with")
    verify.add_argument(
        "--checkpoint",
        metavar="FILE",
        help="a signed checkpoint kept earlier (GET /api/audit/checkpoint): exit 1 unless the log still holds,"
        " unchanged, the chain it signed",
    )
    verify.set_defaults(handler=cmd_audit_verify)

    demo = commands.add_parser("demo", help="load the demo forum (idempotent) and print the demo accounts")
    demo.add_argument(
        "--yes",
        action="store_true",
        help="required with DELIBERATION_DATABASE_URL: the demo admin's password is public",
    )
    demo.set_defaults(handler=cmd_demo)

    create_admin = commands.add_parser(
        "create-admin",
        help="create an admin (password from stdin); an existing account becomes admin with that password",
    )
    create_admin.add_argument("email")
    create_admin.add_argument("--name", required=True, help="display name of a new account")
    create_admin.set_defaults(handler=cmd_create_admin)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return args.handler(settings, args)


if __name__ == "__main__":
    sys.exit(main())
