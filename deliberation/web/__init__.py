"""The web client: server-rendered pages at `/` (the JSON API stays at `/api`), in `create_app`.

`web_router()` holds every page route (`routes/`), the `page` dependency, the CSRF check of every unsafe
request and the error pages; `template_config()` is the Jinja2 environment (autoescaped, with Jinja's i18n
extension); `/static` serves `static/` (htmx vendored in `static/vendor/`). How to add a page: docs/web.md.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from litestar import Request, Response, Router
from litestar.connection import ASGIConnection
from litestar.di import Provide
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.handlers.base import BaseRouteHandler
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from deliberation import i18n
from deliberation.errors import DomainError, Problem
from deliberation.security import NON_PAGE_PREFIXES
from deliberation.settings import Settings
from deliberation.web.markdown import first_line, render_markdown
from deliberation.web.page import CSRF_FIELD, CSRF_HEADER, CSRFRejected, LoginRequired, csrf_valid, provide_page
from deliberation.web.page import request_language as _request_language
from deliberation.web.routes import ROUTES
from deliberation.web.routes.threads import post_path

log = logging.getLogger("deliberation.web")

HERE = Path(__file__).parent
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def template_config(settings: Settings) -> TemplateConfig:
    environment = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # `{{ post.body|markdown }}`: user text, sanitized. The same text always renders the same, so the posts of a
    # busy thread are rendered once per process rather than on every view of its page.
    environment.filters["markdown"] = functools.lru_cache(maxsize=settings.markdown_cache_entries)(render_markdown)
    # `{{ parent.body|first_line }}`: what a reply quotes of the post it answers, as plain text (cached alike).
    environment.filters["first_line"] = functools.lru_cache(maxsize=settings.markdown_cache_entries)(first_line)
    environment.globals["post_path"] = post_path  # a post's permalink: the page of its thread that holds it
    environment.policies["ext.i18n.trimmed"] = True  # `{% trans %}` blocks are one line each in the catalogs
    environment.install_null_translations(newstyle=True)  # every page passes its own gettext (page.render)
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment))


def static_files_router() -> Router:
    return create_static_files_router(
        path="/static", directories=[HERE / "static"], name="static", include_in_schema=False
    )


async def check_csrf(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Every unsafe page request carries the page's CSRF token (form field or htmx header), or is 403."""
    if connection.scope["method"] in SAFE_METHODS:
        return
    request: Request = Request(connection.scope, receive=connection.receive)
    sent = connection.headers.get(CSRF_HEADER) or (await request.form()).get(CSRF_FIELD)
    if not isinstance(sent, str) or not csrf_valid(request, sent):
        raise CSRFRejected()


def error_page(request: Request, status: int, message: str | None = None) -> Template:
    """The page for an error a person meets (404, 403, ...), in their language, with a way back."""
    language = _request_language(request, None)

    def gettext(text: str, **variables: object) -> str:
        return i18n.translations(language).gettext(text) % variables

    return Template(
        template_name="errors/error.html",
        context={
            "page": None,
            "status": status,
            "message": message,
            "language": language,
            "gettext": gettext,
            "ngettext": lambda s, p, n, **v: (i18n.translations(language).ngettext(s, p, n)) % v,
        },
        status_code=status,
    )


def handle_login_required(request: Request, _: LoginRequired) -> Redirect:
    """To `Log in`, and back to the page afterwards (a form's address is no page: then to the forum)."""
    if request.method not in ("GET", "HEAD"):
        return Redirect("/login", status_code=303)
    query = request.url.query
    path = request.url.path + (f"?{query}" if query else "")
    return Redirect(f"/login?next={quote(path, safe='/')}", status_code=303)


def handle_csrf(request: Request, _: CSRFRejected) -> Template:
    return error_page(request, 403, "csrf")


def handle_domain_error(request: Request, exc: DomainError) -> Template:
    """A refusal that reaches a page: 404 stays 404, "not allowed" is shown as 404 too (web.md: a page a person
    may not see answers 404), the rest as the error page with its status."""
    status = 404 if exc.status_code in (403, 404) else exc.status_code
    return error_page(request, status)


def handle_http_exception(request: Request, exc: HTTPException) -> Template:
    if isinstance(exc, ValidationException):
        return error_page(request, 400)
    return error_page(request, exc.status_code)


def handle_unexpected(request: Request, exc: Exception) -> Template:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_page(request, 500)


def web_router() -> Router:
    return Router(
        path="/",
        route_handlers=ROUTES,
        dependencies={"page": Provide(provide_page)},
        guards=[check_csrf],
        exception_handlers={
            LoginRequired: handle_login_required,
            CSRFRejected: handle_csrf,
            DomainError: handle_domain_error,
            HTTPException: handle_http_exception,
            Exception: handle_unexpected,
        },
        include_in_schema=False,
    )


def pages_or_problems(api_handler):
    """The app's handler for an HTTP error outside any route (an unknown path, a wrong method): a page for
    page paths, problem details (`api_handler`) for the API and the operations endpoints."""

    def handler(request: Request, exc: HTTPException) -> Response[Problem] | Template:
        if request.url.path.startswith((*NON_PAGE_PREFIXES, "/schema", "/static")):
            return api_handler(request, exc)
        if isinstance(exc, NotFoundException):
            return error_page(request, 404)
        return handle_http_exception(request, exc)

    return handler
