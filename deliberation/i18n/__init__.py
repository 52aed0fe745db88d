"""Languages of the interface and of the mails: English, Spanish, French (Babel catalogs in this package).

A string is marked where it is written: `{% trans %}...{% endtrans %}` or `_("...")` in a template,
`page.gettext("...")` in a page handler, `N_("...")` where it is only named and translated later (a
service message a form shows). `pybabel` extracts them into `messages.pot`; `es/` and `fr/` hold the
catalogs (`messages.po`), compiled in memory the first time a language is used, so a fresh clone needs
no build step. docs/web.md, "Languages", has the commands.
"""

from __future__ import annotations

import gettext as _gettext
import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

CATALOGS = Path(__file__).parent
DOMAIN = "messages"
DEFAULT_LANGUAGE = "en"
LANGUAGES = {"en": "English", "es": "Español", "fr": "Français"}  # each named in its own language


def N_(message: str) -> str:
    """Mark a string for extraction without translating it here (it is translated where it is shown)."""
    return message


def po_path(language: str) -> Path:
    return CATALOGS / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(language: str) -> _gettext.NullTranslations:
    """The compiled catalog of a language (English, the source language, translates to itself)."""
    if language not in LANGUAGES or language == DEFAULT_LANGUAGE:
        return _gettext.NullTranslations()
    with po_path(language).open("rb") as source:
        catalog = read_po(source, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries are left out: they fall back to English
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def supported(language: str | None) -> str | None:
    """The language code if it is one of ours ("es", "es-AR" -> "es"), else None."""
    if not language:
        return None
    code = language.strip().lower().replace("_", "-").split("-")[0]
    return code if code in LANGUAGES else None


def negotiate(accept_language: str | None) -> str | None:
    """The first of our languages in an `Accept-Language` header by quality (ties keep header order)."""
    choices: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if (code := supported(tag)) is not None and quality > 0:
            choices.append((-quality, index, code))
    return min(choices)[2] if choices else None


def gettext(language: str, message: str, **variables: object) -> str:
    """`message` in `language`, with `%(name)s` placeholders filled from `variables`."""
    text = translations(language).gettext(message)
    return text % variables if variables else text
