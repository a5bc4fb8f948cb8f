"""The proxies screens against the real runner: create (with a port clash), lifecycle, cache invalidation,
and the failure editor."""

import re
import socket

import openai
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ask, sdk


def test_it_creates_a_proxy_showing_an_inline_port_error_then_sees_it_running(
    signed_in, live_app, make_proxy, openai_upstream, api, shot
):
    page = signed_in
    taken = make_proxy("openai", upstream_url=openai_upstream.url + "/v1", name="first")
    page.goto(live_app.url + "/proxies")
    expect(page.get_by_test_id("status-first")).to_have_attribute("data-status", "running")

    page.get_by_test_id("new-proxy").click()
    panel = page.get_by_test_id("proxy-panel")
    expect(panel).to_be_visible()
    page.get_by_test_id("proxy-name").fill("second")
    page.get_by_test_id("proxy-provider").select_option("openai")
    page.get_by_test_id("proxy-model-name").fill("gpt-4o-mini")
    page.get_by_test_id("proxy-port").fill(str(taken["port"]))
    page.get_by_test_id("proxy-upstream-url").fill(openai_upstream.url + "/v1")
    page.get_by_test_id("proxy-save").click()

    # The API's field error, next to the port field; the panel stays open and nothing was created.
    expect(panel.get_by_test_id("field-error")).to_have_text("This port is already used by another proxy.")
    expect(page.get_by_test_id("proxy-port")).to_have_attribute("aria-invalid", "true")
    assert [p["name"] for p in api.get("/api/v1/proxies/").json()] == ["first"]

    page.get_by_test_id("proxy-port").fill("")  # auto-assign a free port
    expect(panel.get_by_test_id("field-error")).to_have_count(0)
    page.get_by_test_id("proxy-save").click()
    expect(panel).to_be_hidden()
    expect(page.get_by_test_id("toast-success")).to_contain_text("Created second")
    expect(page.get_by_test_id("proxy-row-second")).to_be_visible()
    expect(page.get_by_test_id("status-second")).to_have_attribute("data-status", "running", timeout=10_000)

    created = next(p for p in api.get("/api/v1/proxies/").json() if p["name"] == "second")
    assert created["port"] != taken["port"]
    expect(page.get_by_test_id("proxy-row-second")).to_contain_text(str(created["port"]))
    # ...and it really serves: a call through it reaches the fake upstream.
    assert ask(created).headers["x-rubberduck-cache"] == "miss"
    shot()


def test_it_shows_the_error_pill_and_last_error_when_another_program_holds_the_port(
    signed_in, live_app, openai_upstream, shot
):
    page = signed_in
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        page.goto(live_app.url + "/proxies")
        page.get_by_test_id("empty-new-proxy").click()
        page.get_by_test_id("proxy-name").fill("squatted")
        page.get_by_test_id("proxy-provider").select_option("openai")
        page.get_by_test_id("proxy-model-name").fill("gpt-4o-mini")
        page.get_by_test_id("proxy-port").fill(str(port))
        page.get_by_test_id("proxy-upstream-url").fill(openai_upstream.url + "/v1")
        page.get_by_test_id("proxy-save").click()
        expect(page.get_by_test_id("status-squatted")).to_have_attribute("data-status", "error", timeout=10_000)
        expect(page.get_by_test_id("last-error-squatted")).to_contain_text(str(port))
        expect(page.get_by_test_id("proxy-panel")).to_be_hidden()
        shot()


def test_it_starts_stops_gracefully_and_force_stops_with_the_status_pill_following(
    signed_in, live_app, openai_proxy, api, shot
):
    page = signed_in
    page.goto(live_app.url + "/proxies")
    pill = page.get_by_test_id("status-duck-openai")
    expect(pill).to_have_attribute("data-status", "running")
    expect(pill).to_have_text("Running")

    page.get_by_test_id("stop-graceful-duck-openai").click()
    expect(pill).to_have_attribute("data-status", "stopped", timeout=10_000)
    expect(pill).to_have_text("Stopped")
    assert api.get(f"/api/v1/proxies/{openai_proxy['id']}/").json()["status"] == "stopped"
    with pytest.raises(openai.APIConnectionError):
        ask(openai_proxy)

    page.get_by_test_id("start-duck-openai").click()
    expect(pill).to_have_attribute("data-status", "running", timeout=10_000)
    assert ask(openai_proxy).headers["x-rubberduck-cache"] == "miss"

    page.get_by_test_id("stop-menu-duck-openai").click()
    page.get_by_test_id("stop-force-duck-openai").click()
    expect(pill).to_have_attribute("data-status", "stopped", timeout=10_000)
    expect(page.get_by_test_id("toast-success").last).to_contain_text("force-stopped")
    assert api.get(f"/api/v1/proxies/{openai_proxy['id']}/").json()["status"] == "stopped"
    shot()


def test_it_invalidates_the_cache_after_confirming_and_the_next_call_misses(
    signed_in, live_app, openai_proxy, openai_upstream, shot
):
    page = signed_in
    assert ask(openai_proxy).headers["x-rubberduck-cache"] == "miss"
    assert ask(openai_proxy).headers["x-rubberduck-cache"] == "hit"

    page.goto(live_app.url + "/proxies")
    page.get_by_test_id("clear-cache-duck-openai").click()
    dialog = page.get_by_test_id("confirm-dialog")
    expect(dialog).to_contain_text("Clear the cache of “duck-openai”?")
    page.get_by_test_id("confirm-cancel").click()  # nothing destructive happens on a single click
    expect(dialog).to_be_hidden()
    assert ask(openai_proxy).headers["x-rubberduck-cache"] == "hit"

    page.get_by_test_id("clear-cache-duck-openai").click()
    expect(dialog).to_be_visible()
    page.get_by_test_id("confirm-ok").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_test_id("toast-success")).to_contain_text("Cleared 1 cached response from duck-openai")

    again = ask(openai_proxy)
    assert again.headers["x-rubberduck-cache"] == "miss"
    assert again.parse().choices[0].message.content == "Hello from the fake upstream!"
    assert len(openai_upstream.requests) == 2
    shot()


def test_it_saves_a_failure_config_from_the_editor_and_the_proxy_applies_it(
    signed_in, live_app, openai_proxy, api, shot
):
    page = signed_in
    page.goto(live_app.url + "/proxies")
    page.get_by_test_id("proxy-link-duck-openai").click()
    expect(page).to_have_url(re.compile(rf"/proxies/{openai_proxy['id']}$"))
    expect(page.get_by_test_id("proxy-base-url")).to_have_text(openai_proxy["base_url"])
    expect(page.get_by_test_id("sdk-snippet")).to_contain_text(openai_proxy["base_url"])

    expect(page.get_by_test_id("failure-form")).to_be_visible()
    page.get_by_test_id("failure-add-error").click()
    expect(page.get_by_test_id("failure-error-status-0")).to_have_value("429")
    page.get_by_test_id("failure-error-rate-0-pct").fill("100")
    page.get_by_test_id("failure-rpm").fill("600")
    page.get_by_test_id("failure-seed").fill("7")
    page.get_by_test_id("failures-save").click()
    expect(page.get_by_test_id("toast-success")).to_contain_text("Failure settings of duck-openai saved")

    saved = api.get(f"/api/v1/proxies/{openai_proxy['id']}/failures").json()
    assert saved["errors"] == [{"status": 429, "rate": 1.0}]
    assert saved["rpm_limit"] == 600
    assert saved["seed"] == 7

    # The saved rule is live: the SDK gets the provider's own 429.
    with pytest.raises(openai.RateLimitError):
        sdk(openai_proxy).chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])

    page.reload()  # the editor shows what the server stored
    expect(page.get_by_test_id("failure-error-status-0")).to_have_value("429")
    expect(page.get_by_test_id("failure-error-rate-0-pct")).to_have_value("100")
    expect(page.get_by_test_id("failure-rpm")).to_have_value("600")
    shot()


def test_it_clones_a_proxy_from_its_page_and_opens_the_copy_running(signed_in, live_app, openai_proxy, api, shot):
    page = signed_in
    assert api.put(f"/api/v1/proxies/{openai_proxy['id']}/failures", {"rpm_limit": 5}, format="json").status_code == 200
    page.goto(live_app.url + f"/proxies/{openai_proxy['id']}")
    expect(page.get_by_test_id("proxy-detail-duck-openai")).to_be_visible()

    page.get_by_test_id("clone-duck-openai").click()

    expect(page.get_by_test_id("toast-success")).to_contain_text("Cloned duck-openai as duck-openai-copy")
    expect(page.get_by_test_id("proxy-detail-duck-openai-copy")).to_be_visible()
    copy = api.get("/api/v1/proxies/?name=duck-openai-copy").json()[0]
    expect(page).to_have_url(re.compile(rf"/proxies/{copy['id']}$"))
    expect(page.get_by_test_id("status-duck-openai-copy")).to_have_attribute("data-status", "running")
    expect(page.get_by_test_id("proxy-base-url")).to_have_text(copy["base_url"])
    assert copy["port"] != openai_proxy["port"] and copy["upstream_url"] == openai_proxy["upstream_url"]
    assert api.get(f"/api/v1/proxies/{copy['id']}/failures").json() == {"rpm_limit": 5}
    assert ask(copy).headers["x-rubberduck-cache"] == "miss"  # it really serves, in front of the same upstream
    shot()
