"""What every page handler works with: `page: Page` (the viewer, language, time zone, CSRF token, rendering).

A page handler takes `page: WebPage` and returns `page.render("area/name.html", **context)` or
`page.redirect("/path")`. `page.viewer` is the signed-in user or None (the session cookie, never a bearer
header); `page.user` is the signed-in user or sends the person to `Log in`. Strings written in Python are
translated with `page.gettext("...")`. See docs/web.md, "How to add a page".
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import babel.dates
from litestar import Request
from litestar.datastructures import Cookie, State
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from deliberation import i18n
from deliberation.accounts.auth import SESSION_COOKIE, user_for_token
from deliberation.accounts.models import User
from deliberation.deps import DB, Now
from deliberation.errors import NotFound
from deliberation.forum.schemas import time_zone_names
from deliberation.settings import Settings

LANGUAGE_COOKIE = "deliberation_language"  # the Language control's choice (also kept on the account)
TIME_ZONE_COOKIE = "deliberation_time_zone"  # the browser's zone, set by static/tz.js; UTC without it
CSRF_COOKIE = "deliberation_csrf"  # the CSRF secret of a browser that is not signed in
CSRF_FIELD = "csrf_token"  # the hidden field every page form carries
CSRF_HEADER = "x-csrf-token"  # the same token, sent by htmx (hx-headers on <body>)
YEAR = 365 * 24 * 3600


class LoginRequired(Exception):
    """The page needs a signed-in person: they are sent to `Log in` and come back afterwards."""


class CSRFRejected(Exception):
    """An unsafe request without the page's CSRF token: 403, nothing done."""


def is_secure(settings: Settings) -> bool:
    return settings.public_url.startswith("https://")


def make_cookie(settings: Settings, key: str, value: str, *, max_age: int) -> Cookie:
    """A cookie as every page cookie is: HttpOnly, SameSite=Lax, whole site, Secure behind https."""
    return Cookie(
        key=key, value=value, max_age=max_age, path="/", httponly=True, samesite="lax", secure=is_secure(settings)
    )


def expired_cookie(settings: Settings, key: str) -> Cookie:
    return make_cookie(settings, key, "", max_age=0)


def csrf_token_of(session_token: str | None, anonymous_secret: str | None) -> str | None:
    """The token forms must carry: derived from the session cookie when there is one (so it changes with each
    sign-in and cannot be planted), else the browser's own random CSRF cookie (double submit)."""
    if session_token:
        return hashlib.sha256(b"deliberation-csrf\x00" + session_token.encode()).hexdigest()
    return anonymous_secret or None


def csrf_valid(request: Request, sent: str | None) -> bool:
    expected = csrf_token_of(request.cookies.get(SESSION_COOKIE), request.cookies.get(CSRF_COOKIE))
    # As bytes: compare_digest refuses str with non-ASCII characters (TypeError), and any text may be sent.
    return bool(expected and sent) and hmac.compare_digest(expected.encode(), (sent or "").encode())


def local_path(value: str | None, default: str = "/") -> str:
    """`value` if it is a path on this site (an open redirect is not), else `default`."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")) or any(c < " " for c in value):
        return default
    return value


def request_language(request: Request, viewer: User | None) -> str:
    """The Language control's choice, else the account's, else `Accept-Language`, else English."""
    return (
        i18n.supported(request.cookies.get(LANGUAGE_COOKIE))
        or (viewer.language if viewer is not None else None)
        or i18n.negotiate(request.headers.get("accept-language"))
        or i18n.DEFAULT_LANGUAGE
    )


def zone(name: str | None) -> ZoneInfo:
    """The IANA zone `name`, or UTC when it is missing or unknown."""
    return ZoneInfo(name if name in time_zone_names() else "UTC")


@dataclass
class Page:
    request: Request
    settings: Settings
    viewer: User | None
    language: str
    time_zone: ZoneInfo
    csrf_token: str
    now: datetime
    cookies: list[Cookie] = field(default_factory=list)
    _datetimes: dict[tuple[datetime, ZoneInfo], str] = field(default_factory=dict)  # this page's, by minute

    @property
    def user(self) -> User:
        """The signed-in user; anonymous people are sent to `Log in` (and back here afterwards)."""
        if self.viewer is None:
            raise LoginRequired()
        return self.viewer

    def require_admin(self) -> User:
        """The signed-in organizer; anyone else gets the 404 page (the page does not exist for them)."""
        if not self.user.is_admin:
            raise NotFound("No such page.")
        return self.user

    # Text
    def gettext(self, message: str, **variables: Any) -> str:
        """`message` in the page's language; `%(name)s` placeholders are filled (write `%%` for a percent sign)."""
        return i18n.translations(self.language).gettext(message) % variables

    def ngettext(self, singular: str, plural: str, n: int, **variables: Any) -> str:
        variables.setdefault("num", n)
        return i18n.translations(self.language).ngettext(singular, plural, n) % variables

    # Dates and times, by Babel, in the page's language
    def datetime(self, value: datetime, time_zone: ZoneInfo | None = None) -> str:
        """E.g. "Tue, Dec 1, 2026, 4:30 PM" in the viewer's zone (or `time_zone`)."""
        tz = time_zone or self.time_zone
        # Formatted once per minute and zone: a thread's thousands of posts fall in a few dozen minutes.
        key = (value.replace(second=0, microsecond=0), tz)
        if key not in self._datetimes:
            date = babel.dates.format_skeleton("yMMMEd", value, tzinfo=tz, locale=self.language)
            self._datetimes[key] = f"{date}, {babel.dates.format_time(value, 'short', tzinfo=tz, locale=self.language)}"
        return self._datetimes[key]

    def time(self, value: datetime, time_zone: ZoneInfo | None = None) -> str:
        return babel.dates.format_time(value, "short", tzinfo=time_zone or self.time_zone, locale=self.language)

    def date(self, value: Any) -> str:
        return babel.dates.format_date(value, "long", locale=self.language)

    def duration(self, minutes: int) -> str:
        """As the forum writes it: `1h30min`, `2h`, `45min`."""
        hours, rest = divmod(minutes, 60)
        return (f"{hours}h" if hours else "") + (f"{rest}min" if rest or not hours else "")

    # Answers
    def render(
        self, template: str, *, status_code: int = 200, headers: dict[str, str] | None = None, **context: Any
    ) -> Template:
        """The page; `headers` are added to the answer (a refusal's `Retry-After`)."""
        return Template(
            template_name=template,
            context={
                **context,
                "page": self,
                "gettext": self.gettext,
                "ngettext": self.ngettext,
                "languages": i18n.LANGUAGES,
            },
            status_code=status_code,
            headers=headers,
            cookies=self.cookies,
        )

    def redirect(self, path: str) -> Redirect:
        """303 to a path on this site (after a form: the browser then GETs it)."""
        return Redirect(local_path(path), status_code=303, cookies=self.cookies)

    @property
    def path(self) -> str:
        """This page's path and query, for `next=` links and the Language control."""
        query = self.request.url.query
        return self.request.url.path + (f"?{query}" if query else "")

    async def form(self) -> dict[str, str]:
        """The submitted form as single values (the last of repeated names), surrounding spaces kept."""
        data = await self.request.form()
        return {key: value for key, value in data.items() if isinstance(value, str)}

    def sign_in(self, token: str, expires_at: datetime) -> None:
        """Set the session cookie (a fresh access token); the CSRF token follows from it."""
        max_age = max(0, int((expires_at - self.now).total_seconds()))
        self.cookies.append(make_cookie(self.settings, SESSION_COOKIE, token, max_age=max_age))
        self.cookies.append(expired_cookie(self.settings, CSRF_COOKIE))

    def sign_out(self) -> None:
        self.cookies.append(expired_cookie(self.settings, SESSION_COOKIE))

    def remember_language(self, language: str) -> None:
        self.language = language
        self.cookies.append(make_cookie(self.settings, LANGUAGE_COOKIE, language, max_age=YEAR))


async def provide_page(request: Request, db: DB, now: Now, state: State) -> Page:
    settings: Settings = state.settings
    cookies: list[Cookie] = []
    session_token = request.cookies.get(SESSION_COOKIE) or None
    viewer = await user_for_token(db, session_token, now=now) if session_token else None
    if viewer is not None:
        # Detached, so a refused action's rollback (which expires what the session holds) leaves it readable.
        db.expunge(viewer)
    if session_token and viewer is None:  # expired or revoked: forget it
        cookies.append(expired_cookie(settings, SESSION_COOKIE))
        session_token = None
    anonymous_secret = request.cookies.get(CSRF_COOKIE) or None
    if session_token is None and (anonymous_secret is None or len(anonymous_secret) > 100):
        anonymous_secret = secrets.token_urlsafe(32)
        cookies.append(make_cookie(settings, CSRF_COOKIE, anonymous_secret, max_age=YEAR))
    token = csrf_token_of(session_token, anonymous_secret)
    assert token is not None
    return Page(
        request=request,
        settings=settings,
        viewer=viewer,
        language=request_language(request, viewer),
        time_zone=zone(unquote(request.cookies.get(TIME_ZONE_COOKIE, ""))),
        csrf_token=token,
        now=now,
        cookies=cookies,
    )


WebPage = NamedDependency[Page]  # a page handler's `page: WebPage`
