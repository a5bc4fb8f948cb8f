"""The live log view: rows arrive over the WebSocket without a reload, filters apply to history and to the live
stream, and the CSV export downloads what is shown."""

import csv
import io

from playwright.sync_api import expect

from tests.browser.conftest import ask


def open_logs(page, live_app):
    page.goto(live_app.url + "/logs")
    expect(page.get_by_test_id("live-badge")).to_have_attribute("data-state", "open")
    # A marker on the window: if the page reloaded, it would be gone.
    page.evaluate("window.__sameDocument = true")


def still_same_document(page):
    assert page.evaluate("window.__sameDocument === true"), "the log view reloaded"


def test_it_shows_requests_arriving_live_in_the_log_view(signed_in, live_app, openai_proxy, shot):
    page = signed_in
    open_logs(page, live_app)
    expect(page.get_by_text("No requests logged yet")).to_be_visible()
    rows = page.get_by_test_id("log-row")
    expect(rows).to_have_count(0)

    assert ask(openai_proxy).headers["x-rubberduck-cache"] == "miss"
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("duck-openai")
    expect(rows.first).to_contain_text("200")
    expect(rows.first).to_contain_text("miss")
    expect(rows.first.get_by_role("cell").nth(7)).to_have_text("18")  # 11 prompt + 7 completion tokens
    expect(rows.first.get_by_role("cell").nth(8)).to_have_text("<$0.0001")  # a real, tiny cost

    assert ask(openai_proxy).headers["x-rubberduck-cache"] == "hit"
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("hit")  # newest on top
    expect(rows.nth(1)).to_contain_text("miss")
    still_same_document(page)
    shot()


def test_it_filters_the_log_stream_to_cache_hits(signed_in, live_app, openai_proxy, shot):
    page = signed_in
    ask(openai_proxy, "first")  # miss
    ask(openai_proxy, "first")  # hit
    open_logs(page, live_app)
    rows = page.get_by_test_id("log-row")
    expect(rows).to_have_count(2)

    page.get_by_test_id("filter-cache").select_option("hit")
    expect(rows).to_have_count(1)  # history, filtered by the API
    expect(rows.first).to_contain_text("hit")
    expect(page.get_by_test_id("live-badge")).to_have_attribute("data-state", "open")  # re-subscribed, filtered

    assert ask(openai_proxy, "second").headers["x-rubberduck-cache"] == "miss"
    assert ask(openai_proxy, "second").headers["x-rubberduck-cache"] == "hit"
    expect(rows).to_have_count(2)  # only the new hit arrived live; the new miss was filtered out
    for i in range(2):
        expect(rows.nth(i).get_by_role("cell").nth(5)).to_have_text("hit")

    page.get_by_test_id("filter-clear").click()
    expect(rows).to_have_count(4)
    still_same_document(page)
    shot()


def test_it_exports_the_log_as_csv(signed_in, live_app, openai_proxy, shot):
    page = signed_in
    ask(openai_proxy)
    ask(openai_proxy)
    open_logs(page, live_app)
    expect(page.get_by_test_id("log-row")).to_have_count(2)

    with page.expect_download() as download_info:
        page.get_by_test_id("export-csv").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".csv")
    with open(download.path(), newline="", encoding="utf-8") as f:
        table = list(csv.reader(io.StringIO(f.read())))
    header, entries = table[0], table[1:]
    for column in ("timestamp", "proxy", "status_code", "cache", "latency_ms"):
        assert column in header, header
    assert len(entries) == 2, table
    cache = header.index("cache")
    assert sorted(e[cache] for e in entries) == ["hit", "miss"]
    assert {e[header.index("status_code")] for e in entries} == {"200"}
    shot()


def test_it_shows_a_bounded_total_as_ten_thousand_plus(signed_in, live_app, user, shot):
    from django.db import connection

    from tests.factories import ProxyFactory

    proxy = ProxyFactory(owner=user, name="busy")
    with connection.cursor() as cursor:  # 10,001 entries in one statement (SQLite), a minute apart, recent
        cursor.execute(
            "WITH RECURSIVE n(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM n WHERE x < 10000) "
            "INSERT INTO logs_logentry (proxy_id, timestamp, ip, method, path, prompt_hash, status_code, latency_ms,"
            " cache, failure, model) SELECT %s, datetime('now', '-' || x || ' minutes'), '10.0.0.1', 'POST',"
            " '/v1/chat/completions', '', 200, 5.0, 'miss', NULL, '' FROM n",
            [proxy.id],
        )
    page = signed_in
    open_logs(page, live_app)
    expect(page.get_by_test_id("log-footer")).to_contain_text("10,000+ matching in history")
    shot()
