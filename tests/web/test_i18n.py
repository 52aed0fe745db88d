"""Languages: the catalogs cover every marked string (nothing is left in English on a Spanish or French page),
the template is up to date with the sources, the mails and the form errors are translated."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

from deliberation import i18n
from deliberation.accounts.passwords import MAX_LENGTH, MIN_LENGTH, password_problem
from deliberation.accounts.service import BAD_LOGIN, TOO_MANY_LOGINS
from deliberation.web.forms import SERVICE_MESSAGES

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = i18n.CATALOGS / "messages.pot"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def extract(target: Path) -> None:
    """What `pybabel extract` makes of the sources now (the command docs/web.md gives)."""
    CommandLineInterface().run(
        ["pybabel", "-q", "extract", "-F", str(i18n.CATALOGS / "babel.cfg"), "--no-location", "--sort-output",
         "--omit-header", "-o", str(target), str(ROOT)]
    )  # fmt: skip


def ids(path: Path) -> set[str]:
    with path.open("rb") as source:
        return {
            message.id if isinstance(message.id, str) else message.id[0] for message in read_po(source) if message.id
        }


def test_the_template_holds_every_marked_string(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # the configuration's patterns are relative to the repository
    fresh = tmp_path / "messages.pot"
    extract(fresh)
    assert ids(fresh) == ids(TEMPLATE), "run the extraction and update commands of docs/web.md, then translate"


@pytest.mark.parametrize("language", ["es", "fr"])
def test_every_catalog_entry_is_translated(language):
    with i18n.po_path(language).open("rb") as source:
        catalog = read_po(source, locale=language)
    assert {message.id if isinstance(message.id, str) else message.id[0] for message in catalog if message.id} == ids(
        TEMPLATE
    )
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings), f"{language}: no translation for {message.id!r}"
        assert not message.fuzzy, f"{language}: fuzzy translation for {message.id!r}"
        source = message.id if isinstance(message.id, str) else message.id[0]
        for string in strings:
            assert set(PLACEHOLDER.findall(string)) == set(PLACEHOLDER.findall(source)), (language, source)


def test_the_service_messages_forms_show_are_in_the_catalogs():
    shown = {
        BAD_LOGIN,
        TOO_MANY_LOGINS,
        password_problem("x" * (MIN_LENGTH - 1), "a@example.org"),
        password_problem("x" * (MAX_LENGTH + 1), "a@example.org"),
        password_problem("password1234", "a@example.org"),
        password_problem("someone@example.org", "someone@example.org"),
    }
    assert shown <= set(SERVICE_MESSAGES)
    for message in shown:
        assert i18n.gettext("es", message) != message
        assert i18n.gettext("fr", message) != message


def test_languages_are_negotiated_from_accept_language():
    assert i18n.negotiate("fr-CA,fr;q=0.9,en;q=0.5") == "fr"
    assert i18n.negotiate("de-DE, es;q=0.3, en;q=0.2") == "es"
    assert i18n.negotiate("de, it") is None
    assert i18n.negotiate("es;q=0, fr;q=0.1") == "fr"
    assert i18n.negotiate("") is None
