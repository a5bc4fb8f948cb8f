"""Every screen works under its Content-Security-Policy: the browser refuses nothing the pages load or do."""

from playwright.sync_api import expect

from tests.browser.conftest import ask, sign_in


def test_no_screen_breaks_its_content_security_policy(page, live_app, user, openai_proxy, shot):
    refused = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: refused.append(str(e)))
    ask(openai_proxy)  # a log entry and stats for the live streams to carry

    sign_in(page, live_app)
    for path in ("/", "/proxies", f"/proxies/{openai_proxy['id']}", "/logs", "/settings"):
        page.goto(live_app.url + path)
        expect(page.get_by_test_id("sign-out")).to_be_visible()
        page.wait_for_load_state("networkidle")
    page.goto(live_app.url + "/logs")
    expect(page.get_by_test_id("live-badge")).to_have_attribute("data-state", "open")  # /ws/logs/ connected
    rows = page.get_by_test_id("log-row")
    expect(rows).to_have_count(1)
    ask(openai_proxy, "live")
    expect(rows).to_have_count(2)  # arrived over the WebSocket

    page.goto(live_app.url + "/api/docs/")
    expect(page.locator(".opblock").first).to_be_visible()
    page.goto(live_app.url + "/admin/login/")
    expect(page.locator("#login-form")).to_be_visible()
    shot()
    assert refused == []


def test_a_page_elsewhere_cannot_frame_the_app_or_script_it(page, live_app):
    answer = page.goto(live_app.url + "/login")
    policy = answer.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy and "unsafe-eval" not in policy
