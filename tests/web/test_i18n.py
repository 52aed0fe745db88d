"""Languages: the catalogs cover every marked string (nothing is left in English on a Spanish or French page),
the template is up to date with the sources, every refusal a service raises is marked, the mails and the form
errors are translated."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

from deliberation import errors, i18n
from deliberation.accounts.passwords import MAX_LENGTH, MIN_LENGTH, password_problem
from deliberation.accounts.service import BAD_LOGIN, TOO_MANY_LOGINS
from deliberation.errors import Invalid

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


def refusal_classes() -> set[str]:
    found, todo = set(), [errors.DomainError]
    while todo:
        found.add((cls := todo.pop()).__name__)
        todo.extend(cls.__subclasses__())
    return found


def unmarked_refusals(tree: ast.Module, refusals: set[str], marked: set[str]) -> list[str]:
    """The refusals built in `tree` whose message pybabel does not extract: a literal, an f-string or a formatted
    string rather than `N_("...")` (with `values=` for a template), or a module constant not assigned from `N_`."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in refusals:
            message = node.args[0] if node.args else None
        elif isinstance(func, ast.Attribute) and func.attr == "field" and getattr(func.value, "id", "") == "Invalid":
            message = node.args[1]
        else:
            message = next((k.value for k in node.keywords if k.arg == "refusal"), None)  # throttle.admit(...)
        if isinstance(message, ast.Name) and message.id.isupper() and message.id not in marked:
            found.append(f"line {node.lineno}: {message.id}")
        elif isinstance(message, (ast.Constant, ast.JoinedStr, ast.BinOp)):
            found.append(f"line {node.lineno}: {ast.unparse(message)}")
    return found


def test_every_refusal_a_service_raises_is_marked_for_translation():
    """A form shows a service's refusal in the page's language (`forms.refusal`): every message is marked with
    `N_` where it is raised (the tests above then hold it translated in es and fr). The web routes' own 404s
    are not shown (the 404 page is), nor are the live stream's refusals (a websocket's close reason)."""
    sources = {
        path: ast.parse(path.read_text(encoding="utf-8"))
        for path in sorted((ROOT / "deliberation").rglob("*.py"))
        if path.relative_to(ROOT / "deliberation").parts[0] not in ("web", "realtime")
    }
    marked = {
        target.id
        for tree in sources.values()
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
        and getattr(node.value.func, "id", "") == "N_"
        for target in node.targets
        if isinstance(target, ast.Name)
    }  # fmt: skip
    refusals = refusal_classes()
    assert {"Conflict", "Forbidden", "Invalid", "TooManyRequests"} <= refusals
    unmarked = {
        str(path.relative_to(ROOT)): found
        for path, tree in sources.items()
        if (found := unmarked_refusals(tree, refusals, marked))
    }
    assert unmarked == {}, "mark these with N_ (a message with values: a %(name)s template and values=)"


def test_a_refusal_with_values_answers_the_api_in_english_and_a_page_in_its_language():
    refusal = Invalid.field("parent_id", i18n.N_("replies may nest at most %(depth)s deep"), {"depth": 7})
    assert refusal.detail == "replies may nest at most 7 deep"  # the API's text, as before
    assert [(e.field, e.message) for e in refusal.errors] == [("parent_id", "replies may nest at most 7 deep")]
    assert i18n.gettext("es", refusal.template, **refusal.values) == (
        "las respuestas pueden anidarse hasta 7 niveles como máximo"
    )
    assert "sur 7 niveaux au plus" in i18n.gettext("fr", refusal.template, **refusal.values)


def test_the_account_refusals_forms_show_are_in_the_catalogs():
    shown = [
        (BAD_LOGIN, {}),
        (TOO_MANY_LOGINS, {}),
        *(
            (refusal.template, refusal.values)
            for refusal in (
                password_problem("x" * (MIN_LENGTH - 1), "a@example.org"),
                password_problem("x" * (MAX_LENGTH + 1), "a@example.org"),
                password_problem("password1234", "a@example.org"),
                password_problem("someone@example.org", "someone@example.org"),
            )
        ),
    ]
    assert password_problem("x" * (MIN_LENGTH - 1), "a@example.org").detail == (
        f"The password must be at least {MIN_LENGTH} characters long."
    )
    for template, values in shown:
        for language in ("es", "fr"):
            text = i18n.gettext(language, template, **values)
            assert text != template % values, (language, template)
            assert all(str(value) in text for value in values.values()), (language, text)


def test_languages_are_negotiated_from_accept_language():
    assert i18n.negotiate("fr-CA,fr;q=0.9,en;q=0.5") == "fr"
    assert i18n.negotiate("de-DE, es;q=0.3, en;q=0.2") == "es"
    assert i18n.negotiate("de, it") is None
    assert i18n.negotiate("es;q=0, fr;q=0.1") == "fr"
    assert i18n.negotiate("") is None
