"""OpenAPI: every operation documents its errors as RFC 9457 problem details (`application/problem+json`)."""

from __future__ import annotations

from litestar import Litestar
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Reference, Schema

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
    """Replace the framework's error responses with ours: any 4XX, and 503 while the database is away."""
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
            responses["503"] = _problem("The database is unavailable; retry after `Retry-After` seconds.")
            operation.responses = responses
