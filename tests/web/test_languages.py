"""Done when 1 (languages): the pages in Spanish and French, `<html lang>` right, no interface string left in
English on them; the Language control is remembered; the reset mail goes out in the recipient's language; a
service's refusal shown next to a form is in the page's language."""

from __future__ import annotations

import re
import secrets

import pytest
from babel.messages.pofile import read_po
from playwright.async_api import expect

from deliberation import i18n
from deliberation.forum.access import NOT_A_MEMBER
from tests.web.conftest import PHONE, check_axe, mail_to
from tests.web.test_accounts import sign_up
from tests.web.test_thread_live import LIVE_CODE, api_post, api_token, member

ANONYMOUS_PAGES = [
    "/",
    "/sessions/1.1.1",
    "/signup",
    "/login",
    "/recover-password",
    "/reset-password?token=x",
    "/nowhere",
]
SIGNED_IN_PAGES = ["/account", "/sessions/1.2.1", "/admin", "/admin/sessions/1.1.1"]
TEXTS = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.documentElement, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const parent = walker.currentNode.parentElement;
    if (parent && !["SCRIPT", "STYLE"].includes(parent.tagName)) out.push(walker.currentNode.textContent);
  }
  for (const element of document.querySelectorAll("[aria-label], [placeholder], [title], [alt]")) {
    for (const name of ["aria-label", "placeholder", "title", "alt"]) {
      if (element.hasAttribute(name)) out.push(element.getAttribute(name));
    }
  }
  return out.flatMap((text) => text.split(" · ")).map((text) => text.trim()).filter((text) => text);
}"""


def english_patterns(language: str) -> list[re.Pattern]:
    """Every interface string whose translation differs from the English, as a pattern for a whole text."""
    with i18n.po_path(language).open("rb") as source:
        catalog = read_po(source, locale=language)
    patterns = []
    for message in catalog:
        english = message.id if isinstance(message.id, str) else message.id[0]
        if not english or message.string == english:
            continue
        parts = re.split(r"%\(\w+\)s", english)
        patterns.append(re.compile("^" + ".+".join(re.escape(part) for part in parts) + "$"))
    return patterns


async def english_left(page, patterns) -> list[str]:
    return sorted({text for text in await page.evaluate(TEXTS) for pattern in patterns if pattern.match(text)})


async def sign_in_as_organizer(page) -> None:
    await page.goto("/login")
    await page.locator("#f-email").fill("organizer@demo.example.org")
    await page.locator("#f-password").fill("forum-demo-password")
    await page.locator("form.stacked button[type=submit]").click()
    await expect(page.locator("header form[action='/logout']")).to_be_visible()


@pytest.mark.parametrize(("language", "accept"), [("es", "es-ES,es;q=0.9"), ("fr", "fr-FR,fr;q=0.9")])
async def test_pages_in_spanish_and_french_hold_no_english_interface_string(open_page, language, accept):
    patterns = english_patterns(language)
    assert patterns
    page = await open_page(locale=accept.split(",")[0])
    for path in ANONYMOUS_PAGES:
        await page.goto(path)
        await expect(page.locator("html")).to_have_attribute("lang", language)
        assert await english_left(page, patterns) == [], f"{language} {path}"
        await check_axe(page)
    await sign_in_as_organizer(page)
    for path in SIGNED_IN_PAGES:
        await page.goto(path)
        await expect(page.locator("html")).to_have_attribute("lang", language)
        assert await english_left(page, patterns) == [], f"{language} {path}"
        await check_axe(page)


async def test_the_language_control_is_remembered_and_the_reset_mail_follows_it(page, web_server):
    await page.goto("/sessions/1.1.1")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await page.get_by_label("Language").select_option(label="Français")
    await page.get_by_role("button", name="Change").click()
    await expect(page).to_have_url(re.compile(r"/sessions/1\.1\.1$"))
    await expect(page.locator("html")).to_have_attribute("lang", "fr")
    await expect(page.get_by_text("Cet événement est passé.")).to_be_visible()
    await page.get_by_role("link", name="« Tous les événements").click()
    await expect(page.locator("html")).to_have_attribute("lang", "fr")

    email = f"claire.{secrets.token_hex(4)}@example.org"
    await page.get_by_role("banner").get_by_role("link", name="S’inscrire").click()  # noqa: RUF001 (French typography)
    await page.get_by_label("Adresse e-mail").fill(email)
    await page.get_by_label("Mot de passe").fill("un mot de passe assez long")
    await page.get_by_label("Nom affiché").fill("Claire")
    await page.get_by_role("button", name="S’inscrire").click()  # noqa: RUF001
    await page.get_by_role("banner").get_by_role("button", name="Se déconnecter").click()
    await page.goto("/recover-password")
    await page.get_by_label("Adresse e-mail").fill(email)
    await page.get_by_role("button", name="Envoyer le lien").click()
    mail = await mail_to(web_server.smtp, email)
    assert mail["Subject"] == "Réinitialisez votre mot de passe"
    assert mail.get_content().startswith("Bonjour Claire,")


async def test_a_refusal_on_a_spanish_page_is_in_spanish_next_to_the_form(open_page):
    """Ana's membership ends (in another tab) while she writes a post in Spanish: the service's refusal comes
    back next to her post, in Spanish, with what she typed kept."""
    ana, _ = await member(open_page, "Ana")
    thread = ana.url
    await ana.get_by_label("Language").select_option(label="Español")
    await ana.get_by_role("button", name="Change").click()
    await expect(ana.locator("html")).to_have_attribute("lang", "es")
    await ana.get_by_label("Su publicación").fill("Propongo una mesa comarcal del agua.")

    other = await ana.context.new_page()
    await other.goto(f"/sessions/{LIVE_CODE}")
    await other.get_by_role("button", name="Salir").click()
    await expect(other.get_by_role("button", name="Unirse al debate")).to_be_visible()
    await other.close()

    await ana.get_by_role("button", name="Publicar", exact=True).click()
    refusal = i18n.gettext("es", NOT_A_MEMBER)
    assert refusal == "Solo los miembros de esta sesión pueden hacer esto; únase a ella primero."
    await expect(ana.get_by_label("Su publicación")).to_have_accessible_description(refusal)
    await expect(ana.get_by_label("Su publicación")).to_have_value("Propongo una mesa comarcal del agua.")
    assert ana.url.split("#")[0] == thread.split("#")[0]
    assert ana.problems == ["Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)"]
    ana.problems.clear()  # the refused form's answer, expected
    await check_axe(ana)


@pytest.mark.parametrize(
    ("language", "refusal"),
    [
        ("es", "Como máximo 30 publicaciones por minuto; vuelva a intentarlo dentro de un minuto."),
        ("fr", "Au plus 30 messages par minute ; réessayez dans une minute."),
    ],
)
async def test_a_post_past_the_rate_limit_is_refused_in_words_a_person_reads(open_page, web_server, language, refusal):
    """Ana has posted 30 times this minute (through the API) and posts once more from the thread page in Spanish
    or French: the refusal next to her post says when to try again in her words, not by an HTTP header's name,
    and what she typed is kept."""
    ana, email = await member(open_page, "Ana", viewport=PHONE)
    thread_id = ana.url.rsplit("/", 1)[1]
    token = await api_token(web_server, email)
    # One top-level post and the rest its replies: the thread is shared, and its first page (50 top-level posts)
    # must keep room for the posts other tests write live.
    root = await api_post(web_server, token, thread_id, "Post 0")
    for n in range(1, web_server.settings.post_rate_per_minute):
        await api_post(web_server, token, thread_id, f"Post {n}", parent_id=root)
    await ana.get_by_label("Language").select_option(language)
    await ana.get_by_role("button", name="Change").click()
    await expect(ana.locator("html")).to_have_attribute("lang", language)
    composer = ana.get_by_label({"es": "Su publicación", "fr": "Votre message"}[language])
    await composer.fill("Una más / Encore un")
    await ana.get_by_role("button", name={"es": "Publicar", "fr": "Publier"}[language], exact=True).click()
    assert web_server.settings.post_rate_per_minute == 30  # the number in the refusal
    await expect(composer).to_have_accessible_description(refusal)
    await expect(composer).to_have_value("Una más / Encore un")


@pytest.mark.parametrize(
    ("language", "sentence"),
    [
        ("es", "Las páginas y los correos le llegan en español."),
        ("fr", "Les pages et les e-mails vous parviennent en français."),
        ("en", "Pages and mails reach you in English."),
    ],
)
async def test_the_account_page_names_the_language_as_a_sentence_does(open_page, language, sentence):
    """Lucía's account page says which language her pages and mails come in, named as the sentence's own language
    writes it mid-sentence (lower case in Spanish and French)."""
    page = await open_page(viewport=PHONE)
    await sign_up(page, f"lucia.{secrets.token_hex(4)}@example.org")
    await page.goto("/account")
    await page.get_by_role("combobox", name="Language").select_option(language)
    await page.get_by_role("button", name="Change", exact=True).click()
    await expect(page.locator("html")).to_have_attribute("lang", language)
    await expect(page.get_by_role("main").get_by_text(re.compile(re.escape(sentence)))).to_be_visible()  # case counts
