"""Text input rules, declared once on the string types every input Struct uses.

Each type refuses, through msgspec, what no domain stores: NUL characters (PostgreSQL cannot store them),
more characters than its limit, and, where text is required, blank text (white space and zero-width
characters only). Names (display names, organizations, territories, offices, platforms, e-mail addresses)
also refuse control characters: line breaks, tabs and the rest of Unicode's Cc category, and the line and
paragraph separators. A string that breaks its type's rules answers 422 with `errors[].field` naming the
field, on every route (`field_message` turns msgspec's message into the one clients read; errors.py uses
it). The class-22 database fallback (400) stays only as a safety net.

A limit that is a setting (a post body's `DELIBERATION_MAX_POST_LENGTH`) cannot be part of a type; the
service checks it and words the error with `AT_MOST`, as the types do.
"""

from __future__ import annotations

import re
from typing import Annotated

from msgspec import Meta

from deliberation.i18n import N_

# Text over a limit: the types' words, and the service's for a limit that is a setting (`%(limit)s` filled in).
AT_MOST = N_("must be at most %(limit)s characters")

# Characters that show nothing: Unicode white space (`\s`) and the zero-width and invisible formatting ones.
INVISIBLE = r"\s\u00ad\u180e\u200b-\u200f\u2060-\u2064\ufeff"
CONTROL = r"\x00-\x1f\x7f-\x9f\u2028\u2029"

# Each pattern, and what it asks of the text (the 422 message).
_RULES: dict[str, str] = {}


def _rule(pattern: str, message: str) -> str:
    _RULES[pattern] = message
    return pattern


NO_NUL = _rule(r"^[^\x00]*$", "must not contain NUL characters")
VISIBLE = _rule(rf"(?s)^(?=.*[^{INVISIBLE}])[^\x00]*$", "must not be blank nor contain NUL characters")
NAME = _rule(
    rf"^(?=.*[^{INVISIBLE}])[^{CONTROL}]*$",
    "must not be blank nor contain control characters (line breaks, tabs, NUL)",
)
OPTIONAL_NAME = _rule(rf"^[^{CONTROL}]*$", "must not contain control characters (line breaks, tabs, NUL)")
DOTTED = _rule(r"^[0-9A-Za-z]+(\.[0-9A-Za-z]+)*$", "must be letters and digits in dot-separated parts, like 1.2")
TIME_ZONE = _rule(
    r"^[0-9A-Za-z][0-9A-Za-z_+\-]*(/[0-9A-Za-z][0-9A-Za-z_+\-]*)*$",
    "must be an IANA time zone name, like Europe/Madrid or UTC",
)
WEB_ADDRESS = _rule(rf"^https?://[^\s{CONTROL}]+$", "must be an http:// or https:// address without spaces")

# Free text: any characters but NUL, up to a limit (empty allowed).
Text = Annotated[str, Meta(max_length=20_000, pattern=NO_NUL)]
LongText = Annotated[str, Meta(max_length=100_000, pattern=NO_NUL)]
Summary = Annotated[str, Meta(max_length=5_000, pattern=NO_NUL)]
# A short public note: a moderation reason, a flag note, a vote comment, an endorsement statement.
REASON_MAX_LENGTH = 2_000
Reason = Annotated[str, Meta(max_length=REASON_MAX_LENGTH, pattern=NO_NUL)]
# Text that must say something: a post body (its length limit is a setting), a conclusion body.
Body = Annotated[str, Meta(min_length=1, pattern=VISIBLE)]
RequiredText = Annotated[str, Meta(min_length=1, max_length=20_000, pattern=VISIBLE)]
# Titles: a thread, a session, a guiding question, a line, a conclusion, a proposal.
Title = Annotated[str, Meta(min_length=1, max_length=300, pattern=VISIBLE)]
# Names, on one line.
DISPLAY_NAME_MAX = 120
DisplayName = Annotated[str, Meta(min_length=1, max_length=DISPLAY_NAME_MAX, pattern=NAME)]
Name = Annotated[str, Meta(min_length=1, max_length=200, pattern=NAME)]
# An IANA time zone name (forum.schemas checks that the zone exists).
TimeZoneName = Annotated[str, Meta(min_length=1, max_length=64, pattern=TIME_ZONE)]
OptionalName = Annotated[str, Meta(max_length=200, pattern=OPTIONAL_NAME)]
Platform = Annotated[str, Meta(min_length=1, max_length=100, pattern=NAME)]
Email = Annotated[str, Meta(min_length=3, max_length=320, pattern=NAME)]
# Identifiers people type: a line or subline number ("1.1"), a session code ("1.1.1"); a meeting address.
Number = Annotated[str, Meta(min_length=1, max_length=16, pattern=DOTTED)]
Code = Annotated[str, Meta(min_length=1, max_length=32, pattern=DOTTED)]
Url = Annotated[str, Meta(max_length=2000, pattern=WEB_ADDRESS)]

_LENGTH = re.compile(r"^Expected `str` of length (<=|>=) (\d+)$")
_PATTERN = re.compile(r"^Expected `str` matching regex (.+)$")


def field_message(message: str) -> str | None:
    """What a string field's rule asks, from msgspec's message for it; None when it is not a string rule."""
    if match := _LENGTH.match(message):
        bound, limit = match.group(1), int(match.group(2))
        if bound == "<=":
            return AT_MOST % {"limit": limit}
        return "must not be empty" if limit == 1 else f"must be at least {limit} characters"
    if match := _PATTERN.match(message):
        return next((text for pattern, text in _RULES.items() if repr(pattern) == match.group(1)), "is not valid")
    return None
