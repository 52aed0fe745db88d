"""Done when 1 (accounts) and 3 (axe on each page): a person signs up through the form, logs out, logs in;
requests a reset, opens the link from the mail (a real SMTP server), sets a new password and signs in with it.
Forms show their errors next to the field, keeping what was typed."""

from __future__ import annotations

import re
import secrets

from playwright.async_api import expect

from tests.web.conftest import PHONE, check_axe, mail_to, reset_link

PASSWORD = "a long and quiet river"
NEW_PASSWORD = "another long and quiet lake"


async def sign_up(page, email: str, name: str = "Lucía Torres") -> None:
    await page.goto("/signup")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_label("Display name").fill(name)
    await page.get_by_label("Organization").fill("Cooperativa del Valle")
    await page.get_by_label("Actor type").select_option(label="Civil society")
    await page.get_by_label("Territory").fill("Valle Norte")
    await page.get_by_role("button", name="Sign up").click()


async def log_in(page, email: str, password: str) -> None:
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password", exact=True).fill(password)
    await page.get_by_role("button", name="Log in").click()


async def test_sign_up_log_out_log_in(page):
    email = f"lucia.{secrets.token_hex(4)}@example.org"
    await page.goto("/signup")
    await check_axe(page)
    await sign_up(page, email)
    await expect(page).to_have_url(re.compile(r"/$"))
    header = page.get_by_role("banner")
    await expect(header.get_by_role("link", name="Lucía Torres")).to_be_visible()
    await check_axe(page)

    await header.get_by_role("button", name="Log out").click()
    await expect(header.get_by_role("link", name="Log in")).to_be_visible()
    await expect(header.get_by_role("button", name="Log out")).to_have_count(0)

    await header.get_by_role("link", name="Log in").click()
    await check_axe(page)
    await log_in(page, email, "not the password at all")
    await expect(page.get_by_text("The email address or the password is not correct.")).to_be_visible()
    await expect(page.get_by_label("Email")).to_have_value(email)  # what was typed stays
    await check_axe(page)
    await log_in(page, email, PASSWORD)
    await expect(header.get_by_role("link", name="Lucía Torres")).to_be_visible()

    await header.get_by_role("link", name="Lucía Torres").click()
    await expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    await expect(page.get_by_label("Organization")).to_have_value("Cooperativa del Valle")
    await check_axe(page)


async def test_sign_up_errors_are_next_to_their_field_and_keep_what_was_typed(page, open_page):
    taken = f"taken.{secrets.token_hex(4)}@example.org"
    first = await open_page()
    await sign_up(first, taken)
    await expect(first.get_by_role("banner").get_by_role("button", name="Log out")).to_be_visible()

    await page.goto("/signup")
    await page.get_by_label("Email").fill(taken)
    await page.get_by_label("Password").fill("short")
    await page.get_by_label("Display name").fill("Someone Else")
    await page.get_by_role("button", name="Sign up").click()
    password = page.get_by_label("Password")
    await expect(password).to_have_attribute("aria-invalid", "true")
    await expect(password).to_have_accessible_description(
        re.compile("The password must be at least 12 characters long.")
    )
    await expect(page.get_by_label("Display name")).to_have_value("Someone Else")
    await expect(page.get_by_label("Email")).to_have_value(taken)
    await check_axe(page)

    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign up").click()
    await expect(page.get_by_label("Email")).to_have_accessible_description(
        re.compile("An account with this email address already exists.")
    )


async def test_a_forgotten_password_is_reset_through_the_link_in_the_mail(open_page, web_server):
    page = await open_page(viewport=PHONE)
    email = f"reset.{secrets.token_hex(4)}@example.org"
    await sign_up(page, email)
    await page.get_by_role("banner").get_by_role("button", name="Log out").click()

    await page.goto("/sessions/1.1.1")
    await page.get_by_role("main").get_by_role("link", name="Recover your password").click()
    await check_axe(page)
    await page.get_by_label("Email").fill(email)
    await page.get_by_role("button", name="Send reset link").click()
    await expect(page.get_by_role("status")).to_contain_text("If an account uses this address")
    await check_axe(page)

    mail = await mail_to(web_server.smtp, email)
    assert mail["Subject"] == "Reset your password"
    link = reset_link(mail)
    assert link.startswith(f"{web_server.url}/reset-password?token=")
    await page.goto(link)
    await check_axe(page)
    await page.get_by_label("New password").fill(NEW_PASSWORD)
    await page.get_by_role("button", name="Set password").click()
    await expect(page.get_by_role("status")).to_have_text("Your new password is set. Log in with it.")
    await log_in(page, email, PASSWORD)
    await expect(page.get_by_text("The email address or the password is not correct.")).to_be_visible()
    await log_in(page, email, NEW_PASSWORD)
    await expect(page.get_by_role("banner").get_by_role("button", name="Log out")).to_be_visible()

    # The link is used up.
    await page.goto(link)
    await page.get_by_label("New password").fill("yet another long password")
    await page.get_by_role("button", name="Set password").click()
    await expect(page.get_by_role("alert")).to_contain_text("unknown, already used or expired")


async def test_a_signed_in_person_joins_and_leaves_a_session(page):
    await sign_up(page, f"joiner.{secrets.token_hex(4)}@example.org", "Joiner")
    await page.goto("/sessions/1.2.1")
    await expect(page.get_by_text("This event is live now.")).to_be_visible()
    await page.get_by_role("button", name="Join the discussion").click()
    meeting = page.get_by_role("link", name="Join the meeting")
    await expect(meeting).to_have_attribute("href", "https://zoom.example.org/j/1210003")
    await check_axe(page)
    await page.get_by_role("button", name="Leave").click()
    await expect(page.get_by_role("button", name="Join the discussion")).to_be_visible()
    await expect(page.get_by_role("link", name="Join the meeting")).to_have_count(0)
