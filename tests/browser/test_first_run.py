"""First run of a fresh server with no email service: a newcomer gets in through the screens alone, and the
first account becomes the admin."""

import re
from urllib.parse import urlsplit

from playwright.sync_api import expect


def test_a_newcomer_signs_up_verifies_by_the_console_link_and_is_the_admin(page, live_app, settings, caplog, shot):
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"  # what runs without SENDGRID_API_KEY

    page.goto(live_app.url + "/")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.get_by_test_id("to-signup").click()
    expect(page.get_by_test_id("console-email-note")).to_contain_text("printed in the server's console")
    page.get_by_test_id("signup-email").fill("newcomer@example.com")
    page.get_by_test_id("signup-password").fill("a-Str0ng-passphrase")
    page.get_by_test_id("signup-submit").click()

    inbox = page.get_by_test_id("check-inbox")
    expect(inbox).to_contain_text("Check the server's console")
    expect(inbox).to_contain_text("verification link for newcomer@example.com was printed in the server's console")

    # The console: the email as the console backend prints it, and our line naming its link.
    notices = [r.getMessage() for r in caplog.records if r.name == "rubberduck.accounts"]
    assert len(notices) == 1 and "No email service is configured" in notices[0], notices
    link = re.search(r"Its link: (\S+)", notices[0]).group(1)
    page.goto(live_app.url + urlsplit(link).path)
    expect(page.get_by_test_id("verify-done")).to_contain_text("Email verified")
    expect(page.get_by_test_id("account-name")).to_contain_text("newcomer", timeout=10_000)

    page.goto(live_app.url + "/users")
    expect(page.get_by_test_id("user-self")).to_contain_text("Staff")
    page.goto(live_app.url + "/settings")
    expect(page.get_by_test_id("settings-save")).to_be_visible()
    expect(page.get_by_test_id("settings-readonly")).to_have_count(0)
    shot()


def test_with_an_email_service_the_screens_say_inbox(page, live_app):
    page.goto(live_app.url + "/signup")
    expect(page.get_by_test_id("signup-form")).to_be_visible()
    expect(page.get_by_test_id("console-email-note")).to_have_count(0)
