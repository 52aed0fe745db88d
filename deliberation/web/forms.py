"""Forms: the submitted values become the service's input struct; every refusal becomes a message next to its
field, in the page's language, with what was typed kept.

    values = await page.form()
    try:
        data = parse(page, SignupIn, values, optional=("organization", "territory"))
        await service.sign_up(db, data)
    except FormInvalid as invalid:
        return page.render("accounts/signup.html", values=values, errors=invalid.errors, status=422)

A service's refusal is marked with `N_` where it is raised, so that it is in the catalogs (deliberation/i18n).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Iterable
from typing import Any, TypeVar

import msgspec

from deliberation.errors import DomainError, RetryLater, Unauthorized
from deliberation.web.page import Page

T = TypeVar("T")
FIELD = re.compile(r"at `\$\.(\w+)")


class FormInvalid(Exception):
    """A form's errors, by field name, already in the page's language; the status the page answers with, and
    its headers (`Retry-After`)."""

    def __init__(
        self, errors: dict[str, str], *, status_code: int = 422, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(errors)
        self.errors = errors
        self.status_code = status_code
        self.headers = headers or {}


def parse(
    page: Page,
    type_: type[T],
    values: dict[str, Any],
    *,
    fields: Iterable[str],
    optional: Iterable[str] = (),
    texts: Iterable[str] = (),
) -> T:
    """`values` (only `fields`) as a `type_`. A field left blank is an error, unless it is `optional` (then None)
    or one of `texts` (free text that may be empty: then "")."""
    optional, texts = set(optional), set(texts)
    data: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in fields:
        value = values.get(name, "")
        if name in texts or not isinstance(value, str):  # free text, or a value already built (a list)
            data[name] = value
            continue
        if not value.strip():
            if name in optional:
                data[name] = None
            else:
                errors[name] = page.gettext("This field is required.")
            continue
        data[name] = value
    if errors:
        raise FormInvalid(errors)
    try:
        return msgspec.convert(data, type_, strict=False)
    except msgspec.ValidationError as exc:
        match = FIELD.search(str(exc))
        # A check of the whole struct (`__post_init__`) names its field at the start of its message.
        field = (
            match.group(1) if match else next((name for name in data if str(exc).startswith(name)), next(iter(data)))
        )
        message = (
            page.gettext("This value is too long.")
            if "length <=" in str(exc)
            else page.gettext("This value is not valid.")
        )
        raise FormInvalid({field: message}) from None


def refusal(page: Page, exc: DomainError, field: str) -> FormInvalid:
    """A service's refusal as form errors: on the fields it names, else on `field`. An address refused by
    email-validator gets our own words (its reasons are English only). The page answers 422, or as the API
    does for wrong credentials (401) and when the service says to retry later: 429 throttled or 503 busy,
    with its `Retry-After`."""
    status_code = exc.status_code if isinstance(exc, (Unauthorized, RetryLater)) else 422
    headers = exc.headers if isinstance(exc, RetryLater) else None
    message = page.gettext(exc.template, **exc.values)  # a field error's message is the refusal's (Invalid.field)
    if exc.errors:
        errors = {
            error.field: page.gettext("This is not an email address.") if error.field == "email" else message
            for error in exc.errors
        }
    else:
        errors = {field: message}
    return FormInvalid(errors, status_code=status_code, headers=headers)


async def attempt(page: Page, action: Awaitable[T], field: str) -> T:
    """What `action` (a service call) gives; every refusal becomes the form's errors (see `refusal`), a 403 too
    (a membership or role that ended while the form was open: its reason next to the form, what was typed kept),
    while a 404 goes on to the 404 page (what the form acts on is gone)."""
    try:
        return await action
    except DomainError as exc:
        if exc.status_code == 404:
            raise
        raise refusal(page, exc, field) from None
