"""The dashboard's stat cards follow /ws/stats/ live, without a reload."""

from playwright.sync_api import expect

from tests.browser.conftest import ask


def test_it_shows_live_stats_on_the_dashboard(signed_in, live_app, openai_proxy, shot):
    page = signed_in  # signing in lands on the dashboard
    expect(page.get_by_test_id("live-badge")).to_have_attribute("data-state", "open")
    expect(page.get_by_test_id("stat-proxies-value")).to_have_text("1")
    expect(page.get_by_test_id("stat-proxies")).to_contain_text("0 stopped")
    expect(page.get_by_test_id("stat-rpm-value")).to_have_text("0")
    page.evaluate("window.__sameDocument = true")

    ask(openai_proxy)  # miss
    ask(openai_proxy)  # hit
    expect(page.get_by_test_id("stat-hit-rate-value")).to_have_text("50%", timeout=10_000)
    expect(page.get_by_test_id("stat-rpm-value")).not_to_have_text("0")
    expect(page.get_by_test_id("stat-error-rate-value")).to_have_text("0%")
    # 11 + 7 tokens of gpt-4o-mini cost millionths of a dollar: shown as such, not as a flat $0.0000.
    expect(page.get_by_test_id("stat-cost-value")).to_have_text("<$0.0001")
    assert page.evaluate("window.__sameDocument === true"), "the dashboard reloaded"
    shot()
