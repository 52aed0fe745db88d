"""Optimistic concurrency for versioned resources: `ETag: "<version>"` on reads, `If-Match: <version>` on edits.

The version is the resource's integer `version` field; `If-Match: 3`, `"3"` and `W/"3"` all name version 3, so
the ETag of a read can be sent back as it is. Missing header: 428 (the client must say which version it
edits); not a version: 400; another version: 412.
"""

from __future__ import annotations

import re
from typing import Annotated, Protocol, TypeVar

from litestar import Response
from litestar.datastructures import ResponseHeader
from litestar.params import HeaderParameter

from deliberation.errors import BadRequest, PreconditionFailed, PreconditionRequired
from deliberation.i18n import N_

_VERSION = re.compile(r'^(?:W/)?"?([0-9]{1,9})"?$')

IfMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-Match", pattern=_VERSION.pattern, description='The version being edited, e.g. `3` or `"3"`.'
    ),
]


def expected_version(if_match: str | None) -> int:
    """The version an `If-Match` header names; 428 when missing, 400 when it names no version."""
    if if_match is None or not if_match.strip():
        raise PreconditionRequired(N_("Send `If-Match: <version>` with the version you are editing."))
    match = _VERSION.match(if_match.strip())
    if match is None:
        raise BadRequest(N_("`If-Match` must be the version number you are editing, e.g. `If-Match: 3`."))
    return int(match.group(1))


def check_version(current: int, expected: int) -> None:
    """412 unless the client edits the current version."""
    if current != expected:
        raise PreconditionFailed(
            N_("Version %(expected)s is not the current version (%(current)s); reload and retry."),
            values={"expected": expected, "current": current},
        )


class Versioned(Protocol):
    version: int


V = TypeVar("V", bound=Versioned)

ETAG = ResponseHeader(
    name="ETag", documentation_only=True, description='The version, quoted (`"3"`); `If-Match` takes it back as is.'
)


def with_etag(resource: V) -> Response[V]:
    """The resource with its version as its ETag."""
    return Response(resource, headers={"ETag": f'"{resource.version}"'})
