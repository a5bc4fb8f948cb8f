"""Sign-up, email verification, sign-in and sign-out through the real screens and allauth's headless API."""

import re
from urllib.parse import urlsplit

from django.core import mail
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, sign_in


def test_it_signs_up_with_inline_errors_then_verifies_by_the_emailed_link_and_signs_in(page, live_app, shot):
    page.goto(live_app.url + "/signup")
    email = page.get_by_test_id("signup-email")
    password = page.get_by_test_id("signup-password")
    submit = page.get_by_test_id("signup-submit")
    field_error = page.get_by_test_id("field-error")

    # Checked in the browser: too short.
    email.fill("grace@example.com")
    password.fill("short")
    submit.click()
    expect(field_error).to_have_text("Use at least 8 characters.")
    expect(password).to_have_attribute("aria-invalid", "true")

    # Checked by the server (Django's common-password validator), shown next to the password field.
    password.fill("password123")
    submit.click()
    expect(field_error).to_contain_text("too common")
    expect(page).to_have_url(re.compile(r"/signup$"))
    assert mail.outbox == []

    password.fill("a-Str0ng-passphrase")
    submit.click()
    expect(page.get_by_test_id("check-inbox")).to_contain_text("grace@example.com")
    expect(page).to_have_url(re.compile(r"/account/verify-email$"))

    # The verification mail (locmem outbox: the live app runs in this process) links to the SPA.
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["grace@example.com"]
    link = re.search(r"https?://\S+/account/verify-email/\S+", mail.outbox[0].body)
    assert link, mail.outbox[0].body
    url = urlsplit(link.group(0))
    page.goto(live_app.url + url.path)
    expect(page.get_by_test_id("verify-done")).to_contain_text("Email verified")
    # Verified in the browser session that signed up: straight in.
    expect(page.get_by_test_id("account-name")).to_contain_text("grace", timeout=10_000)

    page.get_by_test_id("sign-out").click()
    expect(page.get_by_test_id("login-submit")).to_be_visible()
    sign_in(page, live_app, email="grace@example.com", password="a-Str0ng-passphrase")
    expect(page.get_by_test_id("account-name")).to_contain_text("grace")
    assert any(c["name"] == "sessionid" for c in page.context.cookies())  # a real browser cookie session
    shot()


def test_it_signs_in_and_out(page, live_app, user, shot):
    page.goto(live_app.url + "/")
    expect(page).to_have_url(re.compile(r"/login$"))  # anonymous: sent to the login screen

    page.get_by_test_id("login-email").fill("ada@example.com")
    page.get_by_test_id("login-password").fill("not-the-password")
    page.get_by_test_id("login-submit").click()
    # allauth ties this error to the password field; it is shown inline there.
    expect(page.get_by_test_id("field-error")).to_have_text(
        "The email address and/or password you specified are not correct."
    )
    expect(page).to_have_url(re.compile(r"/login$"))

    page.get_by_test_id("login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("account-name")).to_contain_text("ada")
    expect(page.get_by_test_id("nav-dashboard")).to_be_visible()
    page.reload()  # the session survives a reload: it is the server's cookie session, not page state
    expect(page.get_by_test_id("account-name")).to_contain_text("ada")

    page.get_by_test_id("sign-out").click()
    expect(page.get_by_test_id("login-submit")).to_be_visible()
    page.goto(live_app.url + "/proxies")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fproxies$"))
    status = page.request.get(live_app.url + "/api/v1/me/").status
    assert status in (401, 403)
    shot()
