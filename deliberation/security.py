"""Security headers on every HTTP response (a `before_send` hook: it sees router 404s and 405s too)."""

from __future__ import annotations

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

BASE_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}
# The API serves JSON only; nothing it returns may run scripts or be framed. The schema viewer is HTML.
API_CSP = "default-src 'none'; frame-ancestors 'none'"
HSTS = "max-age=31536000; includeSubDomains"


async def add_security_headers(message: Message, scope: Scope) -> None:
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    for name, value in BASE_HEADERS.items():
        headers.setdefault(name, value)
    if not scope["path"].startswith("/schema"):
        headers.setdefault("content-security-policy", API_CSP)
    if scope["litestar_app"].state.settings.public_url.startswith("https://"):
        headers.setdefault("strict-transport-security", HSTS)
    if any(name == b"authorization" for name, _ in scope["headers"]):
        headers.setdefault("cache-control", "no-store")  # answers for a signed-in user stay out of shared caches
