"""/api/docs/: Swagger UI renders every operation of the schema offline, and calls the API with the session."""

from urllib.parse import urlsplit

from playwright.sync_api import expect

from tests.browser.conftest import sign_in


def test_it_renders_every_operation_with_nothing_fetched_from_elsewhere(page, live_app, user, shot):
    elsewhere = []

    def only_ours(route):
        if urlsplit(route.request.url).netloc == urlsplit(live_app.url).netloc:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_ours)
    schema = page.request.get(live_app.url + "/api/schema/?format=json").json()
    operations = sum(len(methods) for methods in schema["paths"].values())

    sign_in(page, live_app, path="/api/docs/")
    expect(page.locator(".opblock")).to_have_count(operations)
    providers = page.locator("#operations-providers-providers_list")
    providers.locator(".opblock-summary").click()
    providers.get_by_role("button", name="Try it out").click()
    providers.get_by_role("button", name="Execute").click()
    expect(providers.locator(".live-responses-table tbody .response-col_status")).to_have_text("200")
    expect(providers.locator(".live-responses-table")).to_contain_text('"id": "openai"')
    shot()
    assert elsewhere == []
