"""The proxy page's Cache tab against the real runner: answers recorded through the proxy are listed, searched,
deleted one by one after a confirmation, exported, cleared and imported back, and the cache mode is switched."""

import json

import openai
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ask
from tests.conftest import wait_until


def stored(api, proxy, count):
    url = f"/api/v1/proxies/{proxy['id']}/cache/"
    return wait_until(lambda: (page := api.get(url).json())["count"] == count and page["results"])


def test_it_lists_searches_deletes_switches_mode_exports_and_imports_the_cache(
    signed_in, live_app, openai_proxy, api, tmp_path, shot
):
    page = signed_in
    assert ask(openai_proxy, "beta").headers["x-rubberduck-cache"] == "miss"
    [beta] = stored(api, openai_proxy, 1)
    for text in ("alpha", "gamma"):
        assert ask(openai_proxy, text).headers["x-rubberduck-cache"] == "miss"
    stored(api, openai_proxy, 3)

    page.goto(live_app.url + f"/proxies/{openai_proxy['id']}")
    page.get_by_test_id("tab-cache").click()
    expect(page.get_by_test_id("cache-tab")).to_be_visible()
    rows = page.get_by_test_id("cache-row")
    expect(rows).to_have_count(3)
    expect(page.get_by_test_id("cache-totals")).to_contain_text("3 entries")
    expect(page.get_by_test_id("cache-page-info")).to_have_text("1–3 of 3")
    expect(page.get_by_test_id("cache-mode-record")).to_have_attribute("aria-checked", "true")

    # Search by part of a key, then by path.
    page.get_by_test_id("cache-search").fill(beta["key"][3:15])
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-key", beta["key"])
    expect(page.get_by_test_id("cache-totals")).to_contain_text("1 entry matching")
    page.get_by_test_id("cache-search").fill("no such thing")
    expect(page.get_by_test_id("cache-empty")).to_contain_text("No cached answers match")
    page.get_by_test_id("cache-filter-clear").click()
    page.get_by_test_id("cache-filter-path").fill("chat/completions")
    expect(rows).to_have_count(3)
    page.get_by_test_id("cache-filter-clear").click()

    # Delete one: nothing happens until it is confirmed.
    delete = page.get_by_test_id(f"cache-delete-{beta['key'][:12]}")
    delete.click()
    dialog = page.get_by_test_id("confirm-dialog")
    expect(dialog).to_contain_text("Delete this cached answer?")
    expect(dialog).to_contain_text("POST /v1/chat/completions")
    page.get_by_test_id("confirm-cancel").click()
    expect(dialog).to_be_hidden()
    expect(rows).to_have_count(3)
    delete.click()
    page.get_by_test_id("confirm-ok").click()
    expect(page.get_by_test_id("toast-success")).to_contain_text("Deleted 1 cached answer from duck-openai")
    expect(rows).to_have_count(2)
    assert beta["key"] not in {e["key"] for e in stored(api, openai_proxy, 2)}

    # Replay: answered from the cache only.
    page.get_by_test_id("cache-mode-replay").click()
    expect(page.get_by_test_id("toast-success").last).to_contain_text("Cache mode of duck-openai: Replay")
    expect(page.get_by_test_id("cache-mode-replay")).to_have_attribute("aria-checked", "true")
    assert api.get(f"/api/v1/proxies/{openai_proxy['id']}/").json()["cache_mode"] == "replay"
    assert ask(openai_proxy, "alpha").headers["x-rubberduck-cache"] == "hit"
    with pytest.raises(openai.NotFoundError):
        ask(openai_proxy, "beta")

    # Export, clear, import.
    with page.expect_download() as download:
        page.get_by_test_id("cache-export").click()
    assert download.value.suggested_filename == "duck-openai.rubberduck.jsonl"
    file = tmp_path / "duck-openai.rubberduck.jsonl"
    download.value.save_as(file)
    header, *lines = file.read_text().splitlines()
    assert json.loads(header)["entries"] == 2
    keys = [json.loads(line)["key"] for line in lines]
    assert keys == sorted(keys) and beta["key"] not in keys

    page.get_by_test_id("cache-clear").click()
    expect(dialog).to_contain_text("Clear the cache of “duck-openai”?")
    page.get_by_test_id("confirm-ok").click()
    expect(page.get_by_test_id("cache-empty")).to_contain_text("Nothing cached yet")
    with pytest.raises(openai.NotFoundError):
        ask(openai_proxy, "alpha")

    page.get_by_test_id("cache-import-file").set_input_files(str(file))
    expect(page.get_by_test_id("cache-import-result")).to_contain_text("2 added, 0 replaced, 0 unchanged")
    expect(rows).to_have_count(2)
    assert ask(openai_proxy, "alpha").headers["x-rubberduck-cache"] == "hit"

    bad = tmp_path / "bad.rubberduck.jsonl"
    bad.write_text(f"{header}\n{{not json\n")
    page.get_by_test_id("cache-import-file").set_input_files(str(bad))
    expect(page.get_by_test_id("cache-import-error")).to_contain_text("Line 2")
    expect(rows).to_have_count(2)
    shot()
