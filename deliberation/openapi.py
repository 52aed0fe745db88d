"""OpenAPI: every operation documents its errors as RFC 9457 problem details (`application/problem+json`).

The schema is served at `/schema/openapi.json` and rendered at `/schema` by Redoc, vendored in
`deliberation/static/redoc` and served at `/schema/assets/`: the documentation loads nothing from outside.
Operation ids are the handlers' names in camelCase (`listSessions`, `castVote`), so generated clients read well.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from pathlib import Path
from typing import Any

import msgspec
from litestar import Litestar, Request
from litestar.datastructures import MultiDict
from litestar.openapi.plugins import RedocRenderPlugin
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Reference, Schema
from litestar.routes import HTTPRoute
from litestar.static_files import create_static_files_router

from deliberation.errors import BadRequest, FieldError

ASSETS_PATH = "/schema/assets"
SCHEMA_VIEWER = RedocRenderPlugin(
    js_url=f"{ASSETS_PATH}/redoc.standalone.js", google_fonts=False, favicon="", path=["/", "/redoc"]
)
schema_assets = create_static_files_router(
    path=ASSETS_PATH,
    directories=[Path(__file__).parent / "static" / "redoc"],
    include_in_schema=False,
    name="schema_assets",
)


def operation_id(handler: Any, _method: Any, _path: Any) -> str:
    """`list_sessions` -> `listSessions`: the handler's name, camelCase (unique: the schema refuses duplicates)."""
    first, *rest = handler.handler_name.split("_")
    return first + "".join(part.capitalize() for part in rest)


PROBLEM_SCHEMA = Schema(
    type=OpenAPIType.OBJECT,
    required=["status", "title", "detail"],
    properties={
        "status": Schema(type=OpenAPIType.INTEGER),
        "title": Schema(type=OpenAPIType.STRING),
        "detail": Schema(type=OpenAPIType.STRING),
        "type": Schema(type=OpenAPIType.STRING),
        "errors": Schema(
            type=OpenAPIType.ARRAY,
            items=Schema(
                type=OpenAPIType.OBJECT,
                required=["field", "message"],
                properties={"field": Schema(type=OpenAPIType.STRING), "message": Schema(type=OpenAPIType.STRING)},
            ),
        ),
    },
)


def _problem(description: str) -> OpenAPIResponse:
    return OpenAPIResponse(
        description=description,
        content={"application/problem+json": OpenAPIMediaType(schema=Reference(ref="#/components/schemas/Problem"))},
    )


def document_problems(app: Litestar) -> None:
    """Replace the framework's error responses with ours: any 4XX, and 503 while the database is away or busy."""
    schema = app.openapi_schema
    schema.components.schemas["Problem"] = PROBLEM_SCHEMA
    for path_item in (schema.paths or {}).values():
        for operation in (path_item.get, path_item.put, path_item.post, path_item.delete, path_item.patch):
            if operation is None:
                continue
            responses = operation.responses or {}
            for code in [code for code in responses if code.startswith("4")]:
                del responses[code]
            responses["4XX"] = _problem("The request was refused; see `status` and `detail` (RFC 9457).")
            responses["503"] = _problem(
                "Unavailable for now (the database is away, or too busy); retry after `Retry-After` seconds."
            )
            operation.responses = responses


def document_request_rules(app: Litestar) -> None:
    """What the handlers enforce beyond their types, in the schema.

    - A request body whose Struct refuses unknown fields (400) says so: `additionalProperties: false`.
    - An `If-Match` on a PATCH is a required string (428 without it; the handler answers, hence optional in its
      signature); a response header (`ETag`) is a string.
    - A handler with `opt={"text_media_types": [...]}` also answers in those text types (e.g. a Markdown export).
    """
    schema = app.openapi_schema
    for route in app.routes:
        path_item = (schema.paths or {}).get(route.path_format) if isinstance(route, HTTPRoute) else None
        for handler in route.route_handlers if path_item is not None else ():
            data = handler.parsed_fn_signature.parameters.get("data")
            struct = data.annotation if data is not None else None
            closed = isinstance(struct, type) and issubclass(struct, msgspec.Struct)
            closed = closed and struct.__struct_config__.forbid_unknown_fields
            for method in handler.http_methods:
                operation = getattr(path_item, method.lower(), None)
                if operation is None:  # not in the schema (the automatic OPTIONS answers)
                    continue
                for parameter in operation.parameters or ():
                    if method == "PATCH" and getattr(parameter, "name", None) == "If-Match":
                        parameter.required = True
                        pattern = getattr(parameter.schema, "pattern", None)
                        parameter.schema = Schema(type=OpenAPIType.STRING, pattern=pattern)
                for response in (operation.responses or {}).values():
                    for header in (getattr(response, "headers", None) or {}).values():
                        header.schema = header.schema or Schema(type=OpenAPIType.STRING)
                for media_type in handler.opt.get("text_media_types", ()):
                    ok = operation.responses[str(handler.status_code)]
                    ok.content[media_type] = OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))
                body = operation.request_body.content["application/json"].schema if closed else None
                if isinstance(body, Reference):
                    schema.components.schemas[body.ref.rsplit("/", 1)[-1]].additional_properties = False


def index_query_parameters(app: Litestar) -> None:
    """The query parameters each `/api/...` operation documents, for `refuse_bad_query_parameters`."""
    known: dict[tuple[str, str], frozenset[str]] = {}
    for path, item in (app.openapi_schema.paths or {}).items():
        for method in ("get", "put", "post", "delete", "patch") if path.startswith("/api/") else ():
            if (operation := getattr(item, method)) is not None:
                names = {parameter.name for parameter in operation.parameters or () if parameter.param_in == "query"}
                known[(path, method.upper())] = frozenset(names)
    app.state.query_parameters = known


def query_parameters_problem(query: MultiDict[str], known: Collection[str]) -> BadRequest | None:
    """The 400 for a query naming a parameter its operation does not take (a typo must not pass as a default) or
    giving one more than once (none takes a list: which value would count?), naming each; None when neither."""
    counts = Counter(name for name, _ in query.multi_items())
    unknown = sorted(name for name in counts if name not in known)
    repeated = sorted(name for name in counts if name in known and counts[name] > 1)
    if not unknown and not repeated:
        return None
    details, errors = [], []
    if unknown:
        details.append(f"Unknown query parameter {_names(unknown)}: see the operation in /schema.")
        errors += [FieldError(field=name, message="is not a parameter of this operation") for name in unknown]
    if repeated:
        details.append(f"Query parameter {_names(repeated)} given more than once; give each once.")
        errors += [FieldError(field=name, message="is given more than once") for name in repeated]
    return BadRequest(" ".join(details), errors=errors)


def _names(names: list[str]) -> str:
    return ", ".join(f"`{name}`" for name in names)


async def refuse_bad_query_parameters(request: Request) -> None:
    """400 for an `/api/...` request with a query parameter its operation does not document, or one repeated."""
    known = request.app.state.query_parameters.get((request.scope.get("path_template"), request.method))
    if known is not None and (problem := query_parameters_problem(request.query_params, known)) is not None:
        raise problem


AUTHENTICATED = {"user", "admin"}  # the dependencies that answer 401 without a valid bearer token


def document_security(app: Litestar) -> None:
    """Operations whose handler needs a signed-in user (`user: CurrentUser`, `admin: Admin`) require the bearer
    scheme; public ones (anonymous allowed, `viewer` included) declare nothing."""
    schema = app.openapi_schema
    for route in app.routes:
        path_item = (schema.paths or {}).get(route.path_format) if isinstance(route, HTTPRoute) else None
        for handler in route.route_handlers if path_item is not None else ():
            if not AUTHENTICATED & handler.parsed_fn_signature.parameters.keys():
                continue
            for method in handler.http_methods:
                operation = getattr(path_item, method.lower(), None)
                if operation is not None:
                    operation.security = [{"bearer": []}]
