"""Password hashing with argon2id (argon2-cffi defaults: RFC 9106 low-memory profile), and the password rules.

Each hash or check takes 64 MiB for its duration, so they run in worker threads, at most one per core at once
in a process (`HASH_SLOTS`): waiting callers queue, and one that waits longer than
`DELIBERATION_PASSWORD_HASH_WAIT_SECONDS` is answered 503 with `Retry-After`. Memory stays bounded by
the cores, not by how many people sign in at once.
"""

from __future__ import annotations

import asyncio
import math
import os
import weakref
from collections.abc import Callable
from functools import lru_cache
from importlib import resources
from typing import TypeVar

import anyio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from deliberation.errors import Busy, Invalid
from deliberation.i18n import N_

T = TypeVar("T")
HASH_SLOTS = os.cpu_count() or 1
# One semaphore per event loop (a process serves from one loop; tests and the CLI may run several in turn).
_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher().hash("a password nobody has, to spend the time of a real check")


async def warm_up() -> None:
    """App startup: compute the dummy hash now, so the first unknown-address login costs what later ones do."""
    await anyio.to_thread.run_sync(_dummy_hash)


async def in_hash_slot(wait: float | None, function: Callable[..., T], *args: object) -> T:
    """Run `function(*args)` (a hash or a check) in a worker thread once a slot is free; 503 past `wait` seconds
    (None: wait as long as it takes, for the CLI)."""
    loop = asyncio.get_running_loop()
    slots = _slots.get(loop)
    if slots is None:
        slots = _slots[loop] = asyncio.Semaphore(HASH_SLOTS)
    try:
        async with asyncio.timeout(wait):  # cancels the acquire cleanly (never a slot taken and lost)
            await slots.acquire()
    except TimeoutError:
        raise Busy(N_("Too many sign-ins at once; try again in a moment."), retry_after=math.ceil(wait or 1)) from None
    try:
        return await anyio.to_thread.run_sync(function, *args)
    finally:
        slots.release()


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check a password; with no hash (unknown account) spend the same time and answer False."""
    try:
        return _hasher().verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


MIN_LENGTH = 12
MAX_LENGTH = 1024  # argon2 hashes anything, but a megabyte password is not a password


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The most common passwords (lower-case), from the list shipped next to this module."""
    text = (resources.files(__package__) / "common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip())


def password_problem(password: str, email: str) -> Invalid | None:
    """Why a new password is refused (the 422 on `password`), or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return Invalid.field("password", N_("The password must be at least %(n)s characters long."), {"n": MIN_LENGTH})
    if len(password) > MAX_LENGTH:
        return Invalid.field("password", N_("The password must be at most %(n)s characters long."), {"n": MAX_LENGTH})
    lowered = password.lower()
    # "password2024!" is the common password "password" with a suffix: refuse it too.
    if lowered in common_passwords() or lowered.rstrip("0123456789!?.@#$%*_-") in common_passwords():
        return Invalid.field("password", N_("This password is one of the most common ones; choose another."))
    if lowered.strip() == email.lower():
        return Invalid.field("password", N_("The password must not be your email address."))
    return None
