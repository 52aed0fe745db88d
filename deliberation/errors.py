"""Domain errors, and the one place where every error becomes RFC 9457 problem details."""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from deliberation.i18n import N_
from deliberation.text import field_message

log = logging.getLogger("deliberation.errors")

PROBLEM_JSON = "application/problem+json"
RETRYABLE_SQLSTATES = {"40P01", "40001"}  # deadlock detected, serialization failure


class FieldError(msgspec.Struct):
    field: str
    message: str


class Problem(msgspec.Struct, omit_defaults=True):
    """RFC 9457 problem details, as every error answer carries them."""

    status: int
    title: str
    detail: str
    type: str = "about:blank"
    errors: list[FieldError] | None = None


class DomainError(Exception):
    """An action refused for a reason the client can act on; subclasses set the status.

    `detail` is an English message marked with `N_` (pages translate it: deliberation/i18n); one that names
    values is a `%(name)s` template with its `values`, filled into the English `detail` the API answers and
    translated then filled on a page (`template`, `values`).
    """

    status_code = 400

    def __init__(
        self, detail: str, *, errors: list[FieldError] | None = None, values: dict[str, object] | None = None
    ) -> None:
        self.template = detail
        self.values = values or {}
        self.detail = detail % self.values if values else detail
        super().__init__(self.detail)
        self.errors = errors
        self.headers: dict[str, str] = {}


class BadRequest(DomainError):
    status_code = 400


class Unauthorized(DomainError):
    status_code = 401

    def __init__(self, detail: str = N_("Authentication required.")) -> None:
        super().__init__(detail)
        self.headers["WWW-Authenticate"] = "Bearer"


class Forbidden(DomainError):
    status_code = 403


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class PreconditionFailed(DomainError):
    status_code = 412


class PreconditionRequired(DomainError):
    """A conditional request (`If-Match`) was required and not made."""

    status_code = 428


class Invalid(DomainError):
    """Well-formed but invalid input (422); name the fields."""

    status_code = 422

    @classmethod
    def field(cls, field: str, message: str, values: dict[str, object] | None = None) -> Invalid:
        """Refused `field`: its error's message is the refusal's `detail` (`message` filled with `values`)."""
        refusal = cls(message, values=values)
        refusal.errors = [FieldError(field=field, message=refusal.detail)]
        return refusal


class RetryLater(DomainError):
    """Refused for now; `Retry-After` says when to try again."""

    def __init__(self, detail: str, *, retry_after: int, values: dict[str, object] | None = None) -> None:
        super().__init__(detail, values=values)
        self.headers["Retry-After"] = str(max(1, retry_after))


class TooManyRequests(RetryLater):
    status_code = 429


class Busy(RetryLater):
    """The service cannot take this now (every password-hashing slot is taken)."""

    status_code = 503


class JSONRequest(Request):
    """Every request; its `json()` decodes every JSON body the routes take (the one shared decoding step).

    The decoder follows nesting with Python's recursion: a body nested deeper than that is the client's
    error, answered 400 and logged in one line (no traceback: nothing is wrong with the service).
    """

    async def json(self) -> Any:
        try:
            return await super().json()
        except RecursionError:
            log.warning("refused a JSON body nested too deeply on %s %s", self.method, self.url.path)
            raise BadRequest(N_("The JSON body is nested too deeply.")) from None


def problem_of(status: int, detail: str, errors: list[FieldError] | None = None) -> Problem:
    """Problem details with the standard title for `status`."""
    return Problem(status=status, title=HTTPStatus(status).phrase, detail=detail, errors=errors)


def problem_response(
    status: int,
    detail: str,
    *,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[Problem]:
    """A problem-details response with the standard title for `status`."""
    return Response(problem_of(status, detail, errors), status_code=status, media_type=PROBLEM_JSON, headers=headers)


# msgspec names the object, not the field, when a field is missing or unknown: take the field from the message.
_NAMED_FIELD = re.compile(r"(?:unknown|required) field `([^`]+)`")
# The body's shape is wrong (a type, a missing or unknown field): 400. Any other refusal is of a value: 422.
_SHAPE = re.compile(r"^(?:Expected `[^`]+`, got `[^`]+`|Object missing required field|Object contains unknown field)")


def _validation_errors(extra: Any) -> list[tuple[FieldError, str | None]]:
    """Litestar reports validation failures as [{message, key, source}]; keep field, message and source.

    `field` names the request's field (`role`, `items[0]`), never the handler's `data` parameter.
    """
    errors = []
    for item in extra if isinstance(extra, list) else []:
        if isinstance(item, dict):
            text = str(item.get("message", "invalid"))
            key = item.get("key")
            field = str(key or item.get("source") or "body")
            if key == "data":
                field = "body"
            if named := _NAMED_FIELD.search(text):
                field = named.group(1) if field == "body" else f"{field}.{named.group(1)}"
            errors.append((FieldError(field=field, message=text), item.get("source")))
    return errors


def _value_errors(errors: list[tuple[FieldError, str | None]]) -> bool:
    """Whether every error is a value of a well-formed body that its field does not accept (an enum, a range)."""
    return bool(errors) and all(source == "body" and not _SHAPE.match(error.message) for error, source in errors)


def _text_errors(errors: list[tuple[FieldError, str | None]]) -> list[FieldError] | None:
    """The errors worded by the text rules when every one is body or query text that broke its type's rules."""
    worded = [field_message(error.message) if source in ("body", "query") else None for error, source in errors]
    if not errors or None in worded:
        return None
    return [FieldError(field=error.field, message=text) for (error, _), text in zip(errors, worded, strict=True)]


def handle_domain_error(_: Request, exc: DomainError) -> Response[Problem]:
    return problem_response(exc.status_code, exc.detail, errors=exc.errors, headers=exc.headers or None)


def handle_http_exception(_: Request, exc: HTTPException) -> Response[Problem]:
    if isinstance(exc, ValidationException):
        errors = _validation_errors(exc.extra)
        if text_errors := _text_errors(errors):  # well-formed, but text its field does not accept
            return problem_response(422, "; ".join(f"{e.field} {e.message}" for e in text_errors), errors=text_errors)
        fields = [error for error, _ in errors] or None
        if _value_errors(errors):
            return problem_response(422, "; ".join(f"{e.field}: {e.message}" for e, _ in errors), errors=fields)
        return problem_response(400, exc.detail or "Invalid request.", errors=fields)
    headers = dict(exc.headers or {})
    return problem_response(exc.status_code, exc.detail or HTTPStatus(exc.status_code).phrase, headers=headers)


def handle_database_error(request: Request, exc: DBAPIError) -> Response[Problem]:
    """Values PostgreSQL refuses (class 22: a NUL character, a number out of range) are the client's: 400.

    A safety net: the input types refuse such text first (422, see deliberation/text.py).

    The action's transaction rolled back, so nothing changed. A lost connection, a deadlock or a serialization
    failure is 503 with Retry-After (the client may simply retry); the rest is a bug.
    """
    sqlstate = getattr(exc.orig, "sqlstate", None) or ""
    if sqlstate.startswith("22"):
        return problem_response(400, "A value cannot be stored: it is out of range or holds a NUL character.")
    if (
        sqlstate in RETRYABLE_SQLSTATES
        or exc.connection_invalidated
        or isinstance(exc, (OperationalError, InterfaceError))
    ):
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc.__class__.__name__)
        return problem_response(503, "The database is unavailable; try again shortly.", headers={"Retry-After": "5"})
    return handle_unexpected(request, exc)


def handle_pool_timeout(request: Request, exc: PoolTimeout) -> Response[Problem]:
    """Every pooled connection stayed busy for `DELIBERATION_DB_POOL_TIMEOUT_SECONDS`: the service is overloaded,
    nothing was done, and the client may retry: 503 with Retry-After (the pool's own error is not a DBAPIError)."""
    log.warning("no database connection free on %s %s", request.method, request.url.path)
    return problem_response(503, "The service is busy; try again shortly.", headers={"Retry-After": "5"})


def handle_unexpected(request: Request, exc: Exception) -> Response[Problem]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(500, "An unexpected error occurred; it has been logged.")


EXCEPTION_HANDLERS = {
    DomainError: handle_domain_error,
    HTTPException: handle_http_exception,
    DBAPIError: handle_database_error,
    PoolTimeout: handle_pool_timeout,
    Exception: handle_unexpected,
}
