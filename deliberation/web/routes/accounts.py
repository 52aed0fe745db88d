"""Accounts in the browser: sign up, log in and out, recover and reset a password, the account page, and the
header's Language control. Each form posts here, then redirects (or shows itself again with its errors)."""

from __future__ import annotations

from babel import Locale
from litestar import get, post
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from deliberation import i18n
from deliberation.accounts import representatives
from deliberation.accounts import service as accounts
from deliberation.accounts.auth import SESSION_COOKIE
from deliberation.accounts.models import ActorType
from deliberation.accounts.routes import client_address
from deliberation.accounts.schemas import ClaimIn, LoginIn, PasswordResetConfirmIn, ProfilePatch, SignupIn
from deliberation.deps import DB
from deliberation.errors import BadRequest, Conflict, Invalid, RetryLater, Unauthorized
from deliberation.web.forms import FormInvalid, parse, refusal
from deliberation.web.page import Page, WebPage, local_path

SIGNUP_FIELDS = ("email", "password", "display_name", "organization", "actor_type", "territory")
PROFILE_FIELDS = ("display_name", "organization", "actor_type", "territory")
CLAIM_FIELDS = ("office", "territory", "term_ends")
NEXT = FromQuery[str | None]


def actor_types(page: Page) -> list[tuple[str, str]]:
    """The actor types as the forms offer them: (value, label in the page's language)."""
    labels = {
        ActorType.local_government: page.gettext("Local government"),
        ActorType.regional_government: page.gettext("Regional government"),
        ActorType.national_government: page.gettext("National government"),
        ActorType.civil_society: page.gettext("Civil society"),
        ActorType.academia: page.gettext("Academia"),
        ActorType.private_sector: page.gettext("Private sector"),
        ActorType.international_organization: page.gettext("International organization"),
        ActorType.citizen: page.gettext("Citizen"),
    }
    return [(kind.value, labels[kind]) for kind in ActorType]


def without_passwords(values: dict[str, str]) -> dict[str, str]:
    """What was typed, to show again; passwords are never sent back."""
    return {key: value for key, value in values.items() if "password" not in key}


# Sign up


def signup_page(page: Page, values: dict[str, str], invalid: FormInvalid | None = None) -> Template:
    """The form, with what was typed; with `invalid`, its errors, status and headers."""
    return page.render(
        "accounts/signup.html",
        status_code=invalid.status_code if invalid else 200,
        headers=invalid.headers if invalid else None,
        values=values,
        errors=invalid.errors if invalid else {},
        actor_types=actor_types(page),
    )


@get("/signup", name="signup")
async def signup_form(page: WebPage, next: NEXT = None) -> Template | Redirect:
    if page.viewer is not None:
        return page.redirect("/account")
    return signup_page(page, {"actor_type": ActorType.citizen.value, "next": local_path(next)})


@post("/signup", name="signup-post")
async def signup(page: WebPage, db: DB) -> Template | Redirect:
    """`Sign up`: the account (in the page's language), then signed in with a token as `Log in` gives."""
    values = await page.form()
    try:
        data = parse(page, SignupIn, values, fields=SIGNUP_FIELDS, optional=("organization", "territory"))
        user = await accounts.sign_up(db, page.settings, data, address=client_address(page.request), now=page.now)
    except (Invalid, Conflict, RetryLater) as exc:
        return signup_page(page, without_passwords(values), refusal(page, exc, "email"))
    except FormInvalid as invalid:
        return signup_page(page, without_passwords(values), invalid)
    await accounts.set_language(db, user.id, page.language)
    try:
        login = await accounts.log_in(
            db,
            page.settings,
            LoginIn(email=data.email, password=data.password),
            address=client_address(page.request),
            now=page.now,
        )
    except RetryLater as exc:  # the account exists: `Log in` (with its address) says why it cannot sign in yet
        values = {"email": user.email, "next": local_path(values.get("next"))}
        return login_page(page, values, refusal(page, exc, "password"))
    page.sign_in(login.access_token, login.expires_at)
    return page.redirect(local_path(values.get("next")))


# Log in and out


def login_page(
    page: Page, values: dict[str, str], invalid: FormInvalid | None = None, notice: str | None = None
) -> Template:
    """The form, with what was typed; with `invalid`, its errors, status and headers."""
    return page.render(
        "accounts/login.html",
        status_code=invalid.status_code if invalid else 200,
        headers=invalid.headers if invalid else None,
        values=values,
        errors=invalid.errors if invalid else {},
        notice=notice,
    )


@get("/login", name="login")
async def login_form(page: WebPage, next: NEXT = None, reset: FromQuery[str | None] = None) -> Template | Redirect:
    if page.viewer is not None:
        return page.redirect(local_path(next))
    notice = page.gettext("Your new password is set. Log in with it.") if reset else None
    return login_page(page, {"next": local_path(next)}, notice=notice)


@post("/login", name="login-post")
async def login(page: WebPage, db: DB) -> Template | Redirect:
    """`Log in`: the session cookie holds a new access token (same table, lifetime and revocation as the API's)."""
    values = await page.form()
    try:
        data = parse(page, LoginIn, values, fields=("email", "password"))
        login = await accounts.log_in(db, page.settings, data, address=client_address(page.request), now=page.now)
    except (Unauthorized, RetryLater) as exc:
        return login_page(page, without_passwords(values), refusal(page, exc, "password"))
    except FormInvalid as invalid:
        return login_page(page, without_passwords(values), invalid)
    page.sign_in(login.access_token, login.expires_at)
    return page.redirect(local_path(values.get("next")))


@post("/logout", name="logout")
async def logout(page: WebPage, db: DB) -> Redirect:
    """`Log out` (the header's button): the cookie's token is revoked, the cookie cleared."""
    if page.viewer is not None:
        await accounts.log_out(db, page.viewer, page.request.cookies.get(SESSION_COOKIE, ""), now=page.now)
    page.sign_out()
    return page.redirect("/")


@post("/language", name="language")
async def choose_language(page: WebPage, db: DB) -> Redirect:
    """The header's `Language` control: remembered in a cookie, and on the account when signed in."""
    values = await page.form()
    language = i18n.supported(values.get("language"))
    if language is not None:
        page.remember_language(language)
        if page.viewer is not None:
            await accounts.set_language(db, page.viewer.id, language)
    return page.redirect(local_path(values.get("next")))


# Recover a password


@get("/recover-password", name="recover-password")
async def recover_form(page: WebPage) -> Template:
    return page.render("accounts/recover.html", values={}, errors={}, sent=False)


@post("/recover-password", name="recover-password-post")
async def recover(page: WebPage, db: DB) -> Template:
    """`Send reset link`: the same answer whether or not the address has an account."""
    values = await page.form()
    email = values.get("email", "").strip()
    if not email:
        return page.render(
            "accounts/recover.html",
            status_code=422,
            values=values,
            errors={"email": page.gettext("This field is required.")},
            sent=False,
        )
    try:
        await accounts.request_password_reset(
            db, page.settings, email[:320], address=client_address(page.request), now=page.now
        )
    except RetryLater as exc:
        invalid = refusal(page, exc, "email")
        return page.render(
            "accounts/recover.html",
            status_code=invalid.status_code,
            headers=invalid.headers,
            values=values,
            errors=invalid.errors,
            sent=False,
        )
    return page.render("accounts/recover.html", values=values, errors={}, sent=True)


@get("/reset-password", name="reset-password")
async def reset_form(page: WebPage, token: FromQuery[str | None] = None) -> Template:
    """The page the reset mail links to."""
    return page.render("accounts/reset.html", token=token or "", errors={}, values={})


@post("/reset-password", name="reset-password-post")
async def reset(page: WebPage, db: DB) -> Template | Redirect:
    """`Set password`: the token is used up and every access token of the account revoked."""
    values = await page.form()
    token = values.get("token", "")
    try:
        data = parse(page, PasswordResetConfirmIn, values, fields=("token", "password"))
        await accounts.confirm_password_reset(db, page.settings, data, now=page.now)
    except (Invalid, BadRequest, RetryLater) as exc:
        invalid = refusal(page, exc, "password")
        return page.render(
            "accounts/reset.html",
            status_code=invalid.status_code,
            headers=invalid.headers,
            token=token,
            errors=invalid.errors,
            values={},
        )
    except FormInvalid as invalid:
        return page.render("accounts/reset.html", status_code=422, token=token, errors=invalid.errors, values={})
    page.sign_out()
    return page.redirect("/login?reset=1")


# The account page


async def account_page(
    page: Page,
    db: DB,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    notice: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Template:
    me = await accounts.get_me(db, page.user, now=page.now)
    profile = {
        "display_name": me.display_name,
        "organization": me.organization or "",
        "actor_type": me.actor_type,
        "territory": me.territory or "",
    }
    claim = me.representative
    claim_values = {
        "office": claim.office if claim else "",
        "claim_territory": claim.territory if claim else "",
        "term_ends": claim.term_ends.isoformat() if claim and claim.term_ends else "",
    }
    return page.render(
        "accounts/account.html",
        status_code=status,
        headers=headers,
        me=me,
        values={**profile, **claim_values, **(values or {})},
        errors=errors or {},
        notice=notice,
        actor_types=actor_types(page),
        claim=claim,
        language_name=Locale(page.language).get_language_name(page.language),  # mid-sentence: "en español"
    )


@get("/account", name="account")
async def account(page: WebPage, db: DB, saved: FromQuery[str | None] = None) -> Template:
    """Profile, language, password change and the representative claim of the signed-in person."""
    notices = {
        "profile": page.gettext("Your profile is saved."),
        "password": page.gettext("Your password is changed. You are still signed in here, and nowhere else."),
        "claim": page.gettext("Your claim is filed. An organizer will verify it."),
    }
    return await account_page(page, db, notice=notices.get(saved or ""))


@post("/account/profile", name="account-profile")
async def save_profile(page: WebPage, db: DB) -> Template | Redirect:
    values = await page.form()
    try:
        data = parse(page, ProfilePatch, values, fields=PROFILE_FIELDS, optional=("organization", "territory"))
        await accounts.update_profile(db, page.user, data, now=page.now)
    except FormInvalid as invalid:
        return await account_page(page, db, errors=invalid.errors, values=values, status=422)
    return page.redirect("/account?saved=profile")


@post("/account/password", name="account-password")
async def change_password(page: WebPage, db: DB) -> Template | Redirect:
    values = await page.form()
    try:
        for name in ("current_password", "password"):
            if not values.get(name):
                raise FormInvalid({name: page.gettext("This field is required.")})
        await accounts.change_password(
            db,
            page.settings,
            page.user,
            values["current_password"][:4096],
            values["password"][:4096],
            keep_token=page.request.cookies.get(SESSION_COOKIE, ""),
            now=page.now,
        )
    except (Invalid, RetryLater) as exc:
        invalid = refusal(page, exc, "current_password")  # a refusal for now concerns the check
        return await account_page(page, db, errors=invalid.errors, status=invalid.status_code, headers=invalid.headers)
    except FormInvalid as invalid:
        return await account_page(page, db, errors=invalid.errors, status=422)
    return page.redirect("/account?saved=password")


@post("/account/representative", name="account-representative")
async def claim_office(page: WebPage, db: DB) -> Template | Redirect:
    """The representative claim (`Office`, `Territory`, `Term ends`): pending until an organizer verifies it."""
    values = await page.form()
    fields = {
        "office": values.get("office", ""),
        "territory": values.get("claim_territory", ""),
        "term_ends": values.get("term_ends", ""),
    }
    try:
        data = parse(page, ClaimIn, fields, fields=CLAIM_FIELDS, optional=("term_ends",))
        await representatives.submit_claim(db, page.user, data, now=page.now)
    except (Invalid, FormInvalid) as exc:
        errors = exc.errors if isinstance(exc, FormInvalid) else refusal(page, exc, "term_ends").errors
        errors = {("claim_territory" if key == "territory" else key): message for key, message in errors.items()}
        return await account_page(page, db, errors=errors, values=values, status=422)
    return page.redirect("/account?saved=claim")


ROUTES = [
    signup_form,
    signup,
    login_form,
    login,
    logout,
    choose_language,
    recover_form,
    recover,
    reset_form,
    reset,
    account,
    save_profile,
    change_password,
    claim_office,
]
