"""A proxy's page says what it caches, forwards, passes through and refuses, and what it says holds."""

import re

import anthropic
import pytest
from playwright.sync_api import expect

from tests.fakes import anthropic as fake_anthropic
from tests.fakes.server import FakeUpstream


@pytest.fixture
def anthropic_upstream():
    server = FakeUpstream(fake_anthropic.respond).start()
    yield server
    server.stop()


def test_the_proxy_page_lists_what_is_cached_and_a_listed_operation_is_cached(
    signed_in, live_app, make_proxy, anthropic_upstream, shot
):
    page = signed_in
    proxy = make_proxy("anthropic", upstream_url=anthropic_upstream.url, name="duck-claude")
    page.goto(live_app.url + "/proxies")
    page.get_by_test_id("proxy-link-duck-claude").click()
    expect(page).to_have_url(re.compile(rf"/proxies/{proxy['id']}$"))

    cached = page.get_by_test_id("coverage-cached")
    expect(cached.get_by_test_id("coverage-op-messages")).to_be_visible()
    expect(cached.get_by_test_id("coverage-op-messages")).to_have_attribute("title", re.compile(r"^POST /v1/messages"))
    expect(cached.get_by_test_id("coverage-op-complete")).to_be_visible()
    expect(cached.get_by_test_id("coverage-op-batches.create")).to_have_count(0)
    expect(page.get_by_test_id("coverage-forwarded").get_by_test_id("coverage-op-batches.create")).to_be_visible()
    expect(page.get_by_test_id("coverage-passthrough")).to_contain_text("/v1/")
    expect(page.get_by_test_id("coverage-websockets")).to_contain_text("any under the roots above tunnels through")
    expect(page.get_by_test_id("coverage-refused")).to_contain_text("Anthropic's own 404")
    paths = page.get_by_test_id("coverage-paths")
    paths.locator("summary").click()
    expect(paths.locator("tr", has_text="/v1/complete")).to_contain_text("Yes")
    expect(paths.locator("tr", has_text="/v1/messages/batches/{id}/cancel")).to_contain_text("No")

    # What the page calls cached is: the second identical message is a cache hit.
    client = anthropic.Anthropic(base_url=proxy["base_url"], api_key="sk-ant-test", max_retries=0)
    ask = dict(model="claude-sonnet-4-5", max_tokens=16, messages=[{"role": "user", "content": "hi"}])
    caches = [client.messages.with_raw_response.create(**ask).headers["x-rubberduck-cache"] for _ in range(2)]
    assert caches == ["miss", "hit"]
    shot()
