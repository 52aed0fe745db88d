"""User text (posts, statements, proposals, session descriptions) from Markdown to safe HTML.

markdown-it-py renders CommonMark with raw HTML off; nh3 then keeps only the tags below, only http, https
and mailto links, and gives every link `rel="nofollow ugc noopener"`. No images (they would load from
anywhere) and no headings (the page's own headings keep their order): their text stays.
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

FIRST_LINE_CHARS = 80

TAGS = {"p", "br", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li", "a", "hr"}
ATTRIBUTES = {"a": {"href"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "nofollow ugc noopener"

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).disable("image")


def render_markdown(text: str) -> Markup:
    """Safe HTML for untrusted Markdown."""
    html = _markdown.render(text)
    safe = nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, url_schemes=URL_SCHEMES, link_rel=LINK_REL)
    return Markup(safe)  # noqa: S704 (sanitized by nh3 just above)


def first_line(text: str) -> str:
    """The first line of a Markdown text that has words, as plain text (its markup dropped), shortened to
    FIRST_LINE_CHARS: what a reply quotes of the post it answers."""
    for line in text.splitlines():
        words = " ".join(Markup(_markdown.render(line)).striptags().split())  # noqa: S704 (tags stripped: text)
        if words:
            return words if len(words) <= FIRST_LINE_CHARS else words[: FIRST_LINE_CHARS - 1] + "…"
    return ""
