"""Security headers on every HTTP response (a `before_send` hook: it sees router 404s and 405s too).

Pages (everything outside `/api`, `/schema` and the operations endpoints) get `PAGE_CSP`: scripts, styles,
images and connections from the service itself only, no inline script, no eval, no framing. The live board
(`/sessions/{code}/board`) is the one page that may be framed, by the service's own pages only (`BOARD_CSP`,
`X-Frame-Options: SAMEORIGIN`).
"""

from __future__ import annotations

import re

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

from deliberation.accounts.auth import SESSION_COOKIE

BASE_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}
# The API serves JSON only; nothing it returns may run scripts or be framed. The schema viewer is HTML.
API_CSP = "default-src 'none'; frame-ancestors 'none'"
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
BOARD_CSP = PAGE_CSP.replace("frame-ancestors 'none'", "frame-ancestors 'self'")
BOARD_PATH = re.compile(r"/sessions/[^/]+/board")
HSTS = "max-age=31536000; includeSubDomains"
NON_PAGE_PREFIXES = ("/api", "/health", "/ready", "/metrics")
SESSION_COOKIE_PREFIX = f"{SESSION_COOKIE}=".encode()


async def add_security_headers(message: Message, scope: Scope) -> None:
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    path = scope["path"]
    if BOARD_PATH.fullmatch(path):
        headers.setdefault("x-frame-options", "SAMEORIGIN")
        headers.setdefault("content-security-policy", BOARD_CSP)
    for name, value in BASE_HEADERS.items():
        headers.setdefault(name, value)
    if path.startswith(NON_PAGE_PREFIXES):
        headers.setdefault("content-security-policy", API_CSP)
    elif not path.startswith("/schema"):
        headers.setdefault("content-security-policy", PAGE_CSP)
    if scope["litestar_app"].state.settings.public_url.startswith("https://"):
        headers.setdefault("strict-transport-security", HSTS)
    if any(
        name == b"authorization" or (name == b"cookie" and SESSION_COOKIE_PREFIX in value)
        for name, value in scope["headers"]
    ):
        headers.setdefault("cache-control", "no-store")  # answers for a signed-in user stay out of shared caches
