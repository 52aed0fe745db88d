"""Input and output of the account routes (see docs/api.md, "Accounts"), and the user shapes others reuse."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from deliberation.pagination import Page
from deliberation.text import DisplayName, Email, Name, OptionalName, Reason

ActorTypeName = Literal[
    "local_government",
    "regional_government",
    "national_government",
    "civil_society",
    "academia",
    "private_sector",
    "international_organization",
    "citizen",
]
ClaimStatusName = Literal["pending", "verified", "unverified"]
# Login never hashes more than this; new passwords are checked by the password rules (422).
Password = Annotated[str, Meta(min_length=1, max_length=4096)]
ResetToken = Annotated[str, Meta(min_length=1, max_length=200)]


class SignupIn(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    password: Password
    display_name: DisplayName
    organization: OptionalName | None = None
    actor_type: ActorTypeName = "citizen"
    territory: OptionalName | None = None


class LoginIn(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    password: Password


class PasswordResetIn(msgspec.Struct, forbid_unknown_fields=True):
    email: Email


class PasswordResetConfirmIn(msgspec.Struct, forbid_unknown_fields=True):
    token: ResetToken
    password: Password


class ProfilePatch(msgspec.Struct, forbid_unknown_fields=True):
    display_name: DisplayName | UnsetType = UNSET
    organization: OptionalName | UnsetType | None = UNSET
    actor_type: ActorTypeName | UnsetType = UNSET
    territory: OptionalName | UnsetType | None = UNSET


class ClaimIn(msgspec.Struct, forbid_unknown_fields=True):
    office: Name
    territory: Name
    term_ends: date | None = None


class VerifyIn(msgspec.Struct, forbid_unknown_fields=True):
    verified: bool
    reason: Reason | None = None


class RepresentativeOut(msgspec.Struct):
    office: str
    territory: str
    term_ends: date | None
    verified: bool


class UserOut(msgspec.Struct):
    """A user as api.md shows it; `email` is left out (not null) unless the viewer is the user or an admin."""

    id: uuid.UUID
    display_name: str
    organization: str | None
    actor_type: ActorTypeName
    territory: str | None
    is_admin: bool
    representative: RepresentativeOut | None
    created_at: datetime
    email: str | UnsetType = UNSET


class AuthorRef(msgspec.Struct):
    """The public face of a user where they act (a post's author, a member): never the email."""

    id: uuid.UUID
    display_name: str
    actor_type: ActorTypeName


class LoginOut(msgspec.Struct):
    access_token: str
    expires_at: datetime
    user: UserOut
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (the scheme name, not a secret)


class ClaimOut(msgspec.Struct):
    user: UserOut
    office: str
    territory: str
    term_ends: date | None
    status: ClaimStatusName
    claimed_at: datetime
    reviewed_at: datetime | None


class ClaimPage(Page):
    items: list[ClaimOut]
