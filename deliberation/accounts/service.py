"""Account actions: sign up, sign in and out, recover a password, edit the profile; and the user shapes.

Each action runs one transaction, except `log_in`: the password check (argon2, slow on purpose) runs
between two short transactions, so no row or advisory lock is held while it hashes. Elsewhere a new
password is hashed before the transaction begins, for the same reason (`confirm_password_reset` excepted:
it must hold the token's row lock so the token is used once).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import unicodedata
import uuid
from collections.abc import Iterable
from datetime import date, datetime, timedelta

import msgspec
from email_validator import EmailNotValidError, validate_email
from msgspec import UNSET
from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from deliberation import i18n
from deliberation.accounts import throttle
from deliberation.accounts.auth import hash_token, issue_token, prune_user_tokens, revoke_user_tokens
from deliberation.accounts.models import (
    AccessToken,
    ClaimStatus,
    KnownNetwork,
    PasswordReset,
    RepresentativeClaim,
    User,
)
from deliberation.accounts.passwords import hash_password, in_hash_slot, password_problem, verify_password
from deliberation.accounts.schemas import (
    AuthorRef,
    LoginIn,
    LoginOut,
    PasswordResetConfirmIn,
    ProfilePatch,
    RepresentativeOut,
    SignupIn,
    UserOut,
)
from deliberation.errors import BadRequest, Conflict, FieldError, Invalid, Unauthorized
from deliberation.i18n import N_
from deliberation.mail import service as mail
from deliberation.settings import Settings
from deliberation.text import DisplayName, field_message

log = logging.getLogger("deliberation.accounts")

RESET_TTL = timedelta(minutes=30)
SIGNUP_WINDOW = timedelta(hours=1)
KNOWN_KEEP = timedelta(days=90)  # a network the account has not signed in from for this long is a stranger's again
BAD_LOGIN = N_("The email address or the password is not correct.")
TOO_MANY_LOGINS = N_("Too many failed sign-in attempts; try again later.")
TOO_MANY_WRONG_CURRENT = N_("Too many wrong current passwords; try again later.")


def normalize_email(email: str) -> str:
    """The address as accounts are keyed (see `valid_email`); what is not an address is only trimmed and lowered
    (sign-in and reset look it up and find nobody)."""
    try:
        return valid_email(email)
    except Invalid:
        return email.strip().lower()


def valid_email(email: str) -> str:
    """The normalised address, or 422 unless it is exactly one plain address (`name@example.org`).

    Normalised so that lookalikes are one account: Unicode compatibility forms folded (NFKC: a fullwidth
    `\uff45xample.org` is `example.org`), lower case, the domain in IDNA's form (`email-validator`). Refused: invisible
    and other unsafe characters, a part mixing scripts (a Cyrillic `\u0435` among Latin letters), and anything a mail
    header could read differently (`x<victim@corp>`, `a,b@evil.org`, quoting, comments, IP literals).
    """
    folded = unicodedata.normalize("NFKC", email.strip()).lower()
    try:
        address = validate_email(folded, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise Invalid.field("email", N_("This is not an email address: %(reason)s"), {"reason": str(exc)}) from None
    local, _, domain = address.rpartition("@")
    if any(len(_lookalike_scripts(part)) > 1 for part in (local, *domain.split("."))):
        raise Invalid.field("email", N_("This is not an email address: a part of it mixes Latin, Greek or Cyrillic."))
    return address


LOOKALIKE_SCRIPTS = {"LATIN", "GREEK", "CYRILLIC"}  # alphabets with many letters that look the same


def _lookalike_scripts(text: str) -> set[str]:
    """Which of Latin, Greek and Cyrillic the letters of `text` are written in (by their Unicode names)."""
    return {script for char in text if (script := unicodedata.name(char, "?").split()[0]) in LOOKALIKE_SCRIPTS}


def _optional_text(value: str | None) -> str | None:
    """Surrounding spaces trimmed; blank is no value."""
    return (value.strip() or None) if value is not None else None


def _check_password(password: str, email: str) -> None:
    if (problem := password_problem(password, email)) is not None:
        raise problem


def claim_is_verified(claim: RepresentativeClaim | None, today: date) -> bool:
    """Verified by an admin and the term (if given) not over on `today` (the UTC date of the action's now)."""
    if claim is None or claim.status != ClaimStatus.verified:
        return False
    return claim.term_ends is None or claim.term_ends >= today


def user_out(user: User, viewer: User | None, claim: RepresentativeClaim | None, *, today: date) -> UserOut:
    """A user as `viewer` may see them on `today`: the email and an unverified claim only for themselves and admins."""
    privileged = viewer is not None and (viewer.id == user.id or viewer.is_admin)
    verified = claim_is_verified(claim, today)
    representative = None
    if claim is not None and (privileged or verified):
        representative = RepresentativeOut(
            office=claim.office, territory=claim.territory, term_ends=claim.term_ends, verified=verified
        )
    return UserOut(
        id=user.id,
        display_name=user.display_name,
        organization=user.organization,
        actor_type=user.actor_type,  # type: ignore[arg-type]
        territory=user.territory,
        is_admin=user.is_admin,
        representative=representative,
        created_at=user.created_at,
        email=user.email if privileged else UNSET,
    )


def author_ref(user: User) -> AuthorRef:
    """The public reference to a user where they act (author, actor)."""
    return AuthorRef(id=user.id, display_name=user.display_name, actor_type=user.actor_type)  # type: ignore[arg-type]


async def claims_of(db: AsyncSession, user_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, RepresentativeClaim]:
    """The representative claims of these users, by user id, inside the caller's transaction."""
    ids = list(set(user_ids))
    if not ids:
        return {}
    claims = await db.scalars(select(RepresentativeClaim).where(RepresentativeClaim.user_id.in_(ids)))
    return {claim.user_id: claim for claim in claims}


async def users_out(db: AsyncSession, users: Iterable[User], viewer: User | None, *, today: date) -> list[UserOut]:
    """`user_out` for many users, with their claims read in one query (inside the caller's transaction)."""
    users = list(users)
    claims = await claims_of(db, (user.id for user in users))
    return [user_out(user, viewer, claims.get(user.id), today=today) for user in users]


async def sign_up(db: AsyncSession, settings: Settings, data: SignupIn, *, address: str, now: datetime) -> UserOut:
    """A new account; 422 for a weak password or a bad address, 409 when the address is taken, 429 past
    `signup_max_per_address` sign-ups from one client address within an hour."""
    email = valid_email(data.email)
    _check_password(data.password, email)
    async with db.begin():  # counted before the hash is spent, so a flood of sign-ups costs no hashing
        await throttle.admit(
            db,
            "signup.address",
            address,
            limit=settings.signup_max_per_address,
            window=SIGNUP_WINDOW,
            now=now,
            refusal=N_("Too many accounts created from your address; try again later."),
        )
    user = User(
        email=email,
        password_hash=await in_hash_slot(settings.password_hash_wait_seconds, hash_password, data.password),
        display_name=data.display_name.strip(),
        organization=_optional_text(data.organization),
        actor_type=data.actor_type,
        territory=_optional_text(data.territory),
        is_admin=False,
    )
    try:
        async with db.begin():
            db.add(user)
    except IntegrityError:
        # The unique constraint decides, so two sign-ups racing for one address cannot both win.
        raise Conflict(N_("An account with this email address already exists.")) from None
    return user_out(user, user, None, today=now.date())


def _account_network_key(email: str, address: str) -> str:
    return hashlib.sha256(f"{email}\n{address}".encode()).hexdigest()


async def log_in(db: AsyncSession, settings: Settings, data: LoginIn, *, address: str, now: datetime) -> LoginOut:
    """A new access token; the same 401 for an unknown address and a wrong password; 429 when throttled.

    Throttled as OWASP advises, slowing guesses without locking the owner out: per account from one client
    network (`login_max_failures`), per client address (`login_max_failures_per_address`), and per account
    from everywhere (`login_max_failures_per_account`, much higher) except from networks the account signed in
    from before: strangers guessing elsewhere never stop the owner signing in from where they did before.
    """
    email = normalize_email(data.email)
    window = timedelta(minutes=settings.login_window_minutes)
    async with db.begin():
        user = await db.scalar(select(User).where(User.email == email))
        known = user is not None and await db.get(KnownNetwork, (user.id, address)) is not None
        limits = [
            ("login.address", address, settings.login_max_failures_per_address),
            ("login.account_network", _account_network_key(email, address), settings.login_max_failures),
        ]
        if not known:
            limits.append(("login.account", email, settings.login_max_failures_per_account))
        # Count the attempt as a failure before checking it, so concurrent guesses cannot slip past the limit.
        # A 429 rolls back the whole transaction: an attempt refused for one key is not counted for the others.
        event_ids = [
            await throttle.admit(db, scope, key, limit=limit, window=window, now=now, refusal=TOO_MANY_LOGINS)
            for scope, key, limit in limits
        ]
    # Unknown addresses are checked against a dummy hash: both answers take the same time.
    password_hash = user.password_hash if user else None
    if not await in_hash_slot(settings.password_hash_wait_seconds, verify_password, password_hash, data.password):
        raise Unauthorized(BAD_LOGIN)
    assert user is not None
    async with db.begin():
        # A success forgets this network's failures and this attempt; strangers' failures elsewhere stay counted.
        await throttle.forget(db, "login.account_network", _account_network_key(email, address))
        for (scope, key, _), event_id in zip(limits, event_ids, strict=True):
            await throttle.forget(db, scope, key, event_id)
        await db.execute(
            insert(KnownNetwork)
            .values(user_id=user.id, network=address, signed_in_at=now)
            .on_conflict_do_update(index_elements=["user_id", "network"], set_={"signed_in_at": now})
        )
        await db.execute(
            delete(KnownNetwork).where(KnownNetwork.user_id == user.id, KnownNetwork.signed_in_at < now - KNOWN_KEEP)
        )
        await prune_user_tokens(db, user.id, now)
        raw, token = await issue_token(db, user.id, timedelta(days=settings.token_ttl_days), now=now)
        claim = await db.get(RepresentativeClaim, user.id)
    return LoginOut(access_token=raw, expires_at=token.expires_at, user=user_out(user, user, claim, today=now.date()))


async def log_out(db: AsyncSession, user: User, raw_token: str, *, now: datetime) -> None:
    """Revoke the token the request was made with."""
    async with db.begin():
        await revoke_user_tokens(db, user.id, now, raw=raw_token)


def reset_link(settings: Settings, token: str) -> str:
    return f"{settings.public_url.rstrip('/')}/reset-password?token={token}"


async def request_password_reset(
    db: AsyncSession, settings: Settings, email: str, *, address: str, now: datetime
) -> None:
    """For a known address, a reset token and the mail carrying it, in one transaction; otherwise nothing.

    Throttled per client address (429) and per email address (further requests are accepted and send no mail,
    so nobody learns anything and nobody can flood a mailbox).
    """
    email = normalize_email(email)
    window = timedelta(minutes=settings.password_reset_window_minutes)
    async with db.begin():
        await throttle.admit(
            db,
            "reset.address",
            address,
            limit=settings.password_reset_max_per_address,
            window=window,
            now=now,
            refusal=N_("Too many password reset requests; try again later."),
        )
        if await throttle.retry_after(
            db, "reset.email", email, limit=settings.password_reset_max_per_email, window=window, now=now
        ):
            # Logs never hold an address: the hash still tells an operator which requests were for one mailbox.
            log.info("password reset for address sha256:%s not sent: too many requests", hash_token(email)[:16])
            return
        await throttle.record_attempt(db, "reset.email", email, now)
        user = await db.scalar(select(User).where(User.email == email))
        if user is None:
            return
        # The user's used and expired reset tokens go now: the table holds only live ones (and this one).
        await db.execute(
            delete(PasswordReset).where(
                PasswordReset.user_id == user.id,
                or_(PasswordReset.used_at.is_not(None), PasswordReset.expires_at <= now),
            )
        )
        raw = secrets.token_urlsafe(32)
        db.add(PasswordReset(user_id=user.id, token_hash=hash_token(raw), expires_at=now + RESET_TTL))
        language = user.language or i18n.DEFAULT_LANGUAGE
        await mail.enqueue(
            db,
            settings,
            now=now,
            to=user.email,
            subject=i18n.gettext(language, N_("Reset your password")),
            body=i18n.gettext(
                language,
                N_(
                    "Hello %(name)s,\n\n"
                    "Someone (we hope you) asked to reset the password of your account. To choose a new one,\n"
                    "open this link within 30 minutes:\n\n%(link)s\n\n"
                    "If you did not ask for this, ignore this mail: your password stays as it is.\n"
                ),
                name=user.display_name,
                link=reset_link(settings, raw),
            ),
        )


async def confirm_password_reset(
    db: AsyncSession, settings: Settings, data: PasswordResetConfirmIn, *, now: datetime
) -> None:
    """Set a new password with a reset token: the token and every other of the user's is used up, every
    access token revoked. 400 for an unknown, used or expired token; 422 for a weak password (token kept)."""
    async with db.begin():
        reset = await db.scalar(
            select(PasswordReset).where(PasswordReset.token_hash == hash_token(data.token)).with_for_update()
        )
        if reset is None or reset.used_at is not None or reset.expires_at <= now:
            message = N_("This reset token is unknown, already used or expired; ask for a new one.")
            raise BadRequest(message, errors=[FieldError(field="token", message=message)])
        user = await db.get_one(User, reset.user_id)
        _check_password(data.password, user.email)
        user.password_hash = await in_hash_slot(settings.password_hash_wait_seconds, hash_password, data.password)
        await db.execute(
            update(PasswordReset)
            .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
            .values(used_at=now)
        )
        await revoke_user_tokens(db, user.id, now)


async def get_me(db: AsyncSession, user: User, *, now: datetime) -> UserOut:
    """The signed-in user, as they see themselves."""
    async with db.begin():
        return user_out(user, user, await db.get(RepresentativeClaim, user.id), today=now.date())


async def update_profile(db: AsyncSession, user: User, data: ProfilePatch, *, now: datetime) -> UserOut:
    """Change the editable profile fields that are given."""
    async with db.begin():
        row = await db.get_one(User, user.id, with_for_update=True)
        if data.display_name is not UNSET:
            row.display_name = data.display_name.strip()
        if data.actor_type is not UNSET:
            row.actor_type = data.actor_type
        for field in ("organization", "territory"):
            value = getattr(data, field)
            if value is not UNSET:
                setattr(row, field, _optional_text(value))
        return user_out(row, row, await db.get(RepresentativeClaim, user.id), today=now.date())


async def find_user(db: AsyncSession, email: str) -> User | None:
    """The account with this address (for organizers naming a moderator), or None."""
    async with db.begin():
        return await db.scalar(select(User).where(User.email == normalize_email(email)))


async def set_language(db: AsyncSession, user_id: uuid.UUID, language: str) -> None:
    """Remember the user's language (`en`, `es`, `fr`): of the pages they see and the mails they get."""
    async with db.begin():
        await db.execute(update(User).where(User.id == user_id).values(language=language))


async def change_password(
    db: AsyncSession, settings: Settings, user: User, current: str, new: str, *, keep_token: str, now: datetime
) -> None:
    """Replace the password after checking the current one (422 naming `current_password` when wrong, or
    `password` for a weak new one); every other access token of the user is revoked, `keep_token` stays.

    Wrong current passwords are throttled as sign-ins are (a stolen session must not guess the password):
    past `login_max_failures` within the login window, 429 with `Retry-After`; a success forgets them.
    """
    _check_password(new, user.email)
    key = str(user.id)
    async with db.begin():  # counted as a failure before the check, so concurrent guesses cannot slip past
        await throttle.admit(
            db,
            "password_change.account",
            key,
            limit=settings.login_max_failures,
            window=timedelta(minutes=settings.login_window_minutes),
            now=now,
            refusal=TOO_MANY_WRONG_CURRENT,
        )
    wait = settings.password_hash_wait_seconds
    if not await in_hash_slot(wait, verify_password, user.password_hash, current):
        raise Invalid.field("current_password", N_("The current password is not correct."))
    password_hash = await in_hash_slot(wait, hash_password, new)
    async with db.begin():
        await throttle.forget(db, "password_change.account", key)
        row = await db.get_one(User, user.id, with_for_update=True)
        row.password_hash = password_hash
        await db.execute(
            update(AccessToken)
            .where(
                AccessToken.user_id == user.id,
                AccessToken.revoked_at.is_(None),
                AccessToken.token_hash != hash_token(keep_token),
            )
            .values(revoked_at=now)
        )


async def set_admin_account(db: AsyncSession, email: str, display_name: str, password: str, *, now: datetime) -> bool:
    """Create an admin, or make an existing account admin with this password (its tokens revoked at `now`).

    Returns True when the account was created; 422 for a bad address, password or display name.
    """
    email = valid_email(email)
    _check_password(password, email)
    try:
        display_name = msgspec.convert(display_name.strip(), DisplayName)
    except msgspec.ValidationError as exc:
        raise Invalid.field("display_name", field_message(str(exc)) or str(exc)) from None
    password_hash = await in_hash_slot(None, hash_password, password)
    async with db.begin():
        user = await db.scalar(select(User).where(User.email == email).with_for_update())
        if user is None:
            db.add(User(email=email, password_hash=password_hash, display_name=display_name, is_admin=True))
            return True
        user.is_admin, user.password_hash = True, password_hash
        await revoke_user_tokens(db, user.id, now)
        return False
