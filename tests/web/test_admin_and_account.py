"""The account page (profile, password change, representative claim) and /admin (a line, a subline, a session
with its guiding questions, its edit, a moderator, a claim verified), in Chromium, with axe on each page."""

from __future__ import annotations

import re
import secrets

from playwright.async_api import expect

from tests.web.conftest import check_axe
from tests.web.test_accounts import PASSWORD, log_in, sign_up

ORGANIZER = ("organizer@demo.example.org", "forum-demo-password")


async def test_the_account_page_keeps_the_profile_changes_the_password_and_files_a_claim(page):
    email = f"mayor.{secrets.token_hex(4)}@example.org"
    await sign_up(page, email, "Rosa Mayor")
    await page.goto("/account")
    profile = page.get_by_role("form", name="Profile")
    await profile.get_by_label("Display name").fill("Rosa M.")
    await profile.get_by_label("Actor type").select_option(label="Local government")
    await profile.get_by_role("button", name="Save profile").click()
    await expect(page.get_by_role("status")).to_have_text("Your profile is saved.")
    await expect(page.get_by_role("banner").get_by_role("link", name="Rosa M.")).to_be_visible()
    await check_axe(page)

    password = page.get_by_role("form", name="Change your password")
    await password.get_by_label("Current password").fill("not my password")
    await password.get_by_label("New password").fill("a brand new long password")
    await password.get_by_role("button", name="Change password").click()
    await expect(page.get_by_label("Current password")).to_have_accessible_description(
        "The current password is not correct."
    )
    await check_axe(page)
    password = page.get_by_role("form", name="Change your password")
    await password.get_by_label("Current password").fill(PASSWORD)
    await password.get_by_label("New password").fill("a brand new long password")
    await password.get_by_role("button", name="Change password").click()
    await expect(page.get_by_role("status")).to_contain_text("Your password is changed.")

    claim = page.get_by_role("form", name="Representative claim")
    await claim.get_by_label("Office").fill("Mayor")
    await claim.get_by_label("Territory").fill("Villa Sur")
    await claim.get_by_role("button", name="Claim the office").click()
    await expect(page.get_by_role("status")).to_have_text("Your claim is filed. An organizer will verify it.")
    await expect(
        page.get_by_text(re.compile("Waiting for an organizer to verify it.*Mayor, Villa Sur"))
    ).to_be_visible()

    # The organizer verifies it.
    organizer = await page.context.browser.new_context(base_url=page.url.split("/account")[0])
    admin = await organizer.new_page()
    try:
        await admin.goto("/login")
        await log_in(admin, *ORGANIZER)
        await admin.goto("/admin")
        await admin.get_by_role("button", name="Verify the claim of Rosa M.").click()
        await expect(admin.get_by_role("button", name="Verify the claim of Rosa M.")).to_have_count(0)
    finally:
        await organizer.close()
    await page.reload()
    await expect(page.get_by_text("Verified: Mayor, Villa Sur.")).to_be_visible()


async def test_an_organizer_builds_a_session_in_admin(page):
    tag = secrets.token_hex(2)
    await page.goto("/login")
    await log_in(page, *ORGANIZER)
    await page.get_by_role("banner").get_by_role("link", name="Administration").click()
    await check_axe(page)

    line = page.get_by_role("form", name="Add a line")
    await line.get_by_label("Number").fill(f"9{tag}")
    await line.get_by_label("Title").fill("Cities and climate")
    await line.get_by_role("button", name="Add line").click()
    subline = page.get_by_role("form", name="Add a subline")
    await subline.get_by_label("Thematic line").select_option(label=f"9{tag}. Cities and climate")
    await subline.get_by_label("Number").fill(f"9{tag}.1")
    await subline.get_by_label("Title").fill("Adaptation")
    await subline.get_by_role("button", name="Add subline").click()

    form = page.get_by_role("form", name="Create a session")
    await form.get_by_label("Code").fill(f"9{tag}.1.1")
    await form.get_by_label("Title").fill("Heat plans for small towns")
    await form.get_by_label("Subline").select_option(label=f"9{tag}.1. Adaptation")
    await form.get_by_label("Category").select_option(label="Workshops")
    await form.get_by_label("Starts at").fill("2030-06-01T10:00")
    await form.get_by_label("Time zone").fill("Europe/Paris")
    await form.get_by_label("Duration in minutes").fill("0")
    await form.get_by_label("Platform").fill("Jitsi")
    await form.get_by_label("Guiding questions").fill("Who pays?\nWho decides?")
    await form.get_by_role("button", name="Create session").click()
    await expect(page.get_by_label("Duration in minutes")).to_have_accessible_description("This value is not valid.")
    await expect(page.get_by_label("Code")).to_have_value(f"9{tag}.1.1")  # what was typed stays
    await check_axe(page)
    await page.get_by_label("Duration in minutes").fill("75")
    await page.get_by_role("button", name="Create session").click()
    await expect(page).to_have_url(re.compile(rf"/admin/sessions/9{tag}\.1\.1$"))
    await check_axe(page)

    details = page.get_by_role("form", name="Details")
    await expect(details.get_by_label("Starts at")).to_have_value("2030-06-01T10:00")
    await details.get_by_label("Platform").fill("Zoom")
    await details.get_by_role("button", name="Save session").click()
    await expect(page.get_by_role("status")).to_have_text("The session is saved.")

    moderators = page.get_by_role("form", name="Add a moderator")
    await moderators.get_by_label("Email").fill("nobody@example.org")
    await moderators.get_by_role("button", name="Add moderator").click()
    await expect(page.get_by_label("Email", exact=True)).to_have_accessible_description("No account uses this address.")
    await page.get_by_role("form", name="Add a moderator").get_by_label("Email").fill("moderator@demo.example.org")
    await page.get_by_role("button", name="Add moderator").click()
    await expect(page.get_by_role("button", name="Remove moderator: Marta Ruiz")).to_be_visible()

    await page.goto(f"/sessions/9{tag}.1.1")
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Heat plans for small towns (Session 9{tag}.1.1)")
    await expect(page.locator("dl.facts")).to_contain_text("1h15min")
    await expect(page.locator("dl.facts")).to_contain_text("Zoom")
    await expect(page.get_by_text(re.compile(r"10:00.*\(Europe/Paris\)"))).to_be_visible()
    await expect(page.get_by_role("region", name="Guiding questions").get_by_role("link")).to_have_text(
        ["Who pays?", "Who decides?"]
    )
