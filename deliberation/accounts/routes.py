from __future__ import annotations

import ipaddress
import uuid
from typing import Annotated

from litestar import Controller, Request, get, patch, post
from litestar.datastructures import CacheControlHeader, State
from litestar.params import FromPath, JSONBody, Parameter

from deliberation.accounts import representatives, service
from deliberation.accounts.auth import Admin, CurrentUser, bearer_token
from deliberation.accounts.schemas import (
    ClaimIn,
    ClaimPage,
    ClaimStatusName,
    LoginIn,
    LoginOut,
    PasswordResetConfirmIn,
    PasswordResetIn,
    ProfilePatch,
    SignupIn,
    UserOut,
    VerifyIn,
)
from deliberation.deps import DB, Now
from deliberation.pagination import DEFAULT_LIMIT, Cursor, Limit


def client_address(request: Request) -> str:
    """The client's address as throttling counts it: IPv4 as is, IPv6 by its /64 (one subscriber's network).

    Behind a proxy, `deliberation serve` trusts X-Forwarded-For (uvicorn proxy_headers) from the addresses in
    FORWARDED_ALLOW_IPS (default 127.0.0.1), so this is the real client's address (see docs/operations.md).
    """
    host = request.client.host if request.client else "unknown"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


NO_STORE = CacheControlHeader(no_store=True)  # answers that carry a token stay out of every cache


class AuthController(Controller):
    path = "/api/auth"
    tags = ["accounts"]

    @post("/signup", summary="Create an account")
    async def sign_up(self, db: DB, state: State, now: Now, request: Request, data: JSONBody[SignupIn]) -> UserOut:
        return await service.sign_up(db, state.settings, data, address=client_address(request), now=now)

    @post(
        "/login",
        status_code=200,
        summary="Sign in: an access token (throttled after repeated failures)",
        cache_control=NO_STORE,
    )
    async def log_in(self, db: DB, state: State, now: Now, request: Request, data: JSONBody[LoginIn]) -> LoginOut:
        return await service.log_in(db, state.settings, data, address=client_address(request), now=now)

    @post("/logout", status_code=204, summary="Sign out: the token used stops working")
    async def log_out(self, db: DB, user: CurrentUser, now: Now, request: Request) -> None:
        await service.log_out(db, user, bearer_token(request) or "", now=now)

    @post("/password-reset", status_code=202, summary="Ask for a password reset mail (always 202)")
    async def request_password_reset(
        self, db: DB, state: State, now: Now, request: Request, data: JSONBody[PasswordResetIn]
    ) -> None:
        await service.request_password_reset(db, state.settings, data.email, address=client_address(request), now=now)

    @post("/password-reset/confirm", status_code=204, summary="Set a new password with a reset token")
    async def confirm_password_reset(
        self, db: DB, state: State, now: Now, data: JSONBody[PasswordResetConfirmIn]
    ) -> None:
        await service.confirm_password_reset(db, state.settings, data, now=now)


class MeController(Controller):
    path = "/api/me"
    tags = ["accounts"]

    @get("/", summary="The signed-in user")
    async def get_me(self, db: DB, user: CurrentUser, now: Now) -> UserOut:
        return await service.get_me(db, user, now=now)

    @patch("/", summary="Edit your profile: display name, organization, actor type, territory")
    async def update_me(self, db: DB, user: CurrentUser, now: Now, data: JSONBody[ProfilePatch]) -> UserOut:
        return await service.update_profile(db, user, data, now=now)

    @post("/representative-claim", status_code=202, summary="Claim an elected office (pending until verified)")
    async def claim_office(self, db: DB, user: CurrentUser, now: Now, data: JSONBody[ClaimIn]) -> UserOut:
        return await representatives.submit_claim(db, user, data, now=now)


class AdminAccountsController(Controller):
    path = "/api/admin"
    tags = ["accounts"]

    @get("/representative-claims", summary="Representative claims, oldest first (admins; pending by default)")
    async def list_claims(
        self,
        db: DB,
        admin: Admin,
        now: Now,
        status: Annotated[ClaimStatusName, Parameter(description="Only claims with this status.")] = "pending",
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> ClaimPage:
        return await representatives.list_claims(db, admin, status=status, cursor=cursor, limit=limit, now=now)

    @post("/users/{user_id:uuid}/representative", status_code=200, summary="Verify or unverify a claim (admins)")
    async def set_representative(
        self, db: DB, admin: Admin, now: Now, user_id: FromPath[uuid.UUID], data: JSONBody[VerifyIn]
    ) -> UserOut:
        return await representatives.set_verified(db, admin, user_id, data, now=now)
