"""Staff decide on the settings screen what every user's proxies may use of the server itself."""

from playwright.sync_api import expect

from accounts.models import SiteSettings
from tests.browser.conftest import sign_in


def test_staff_allow_private_upstreams_and_the_servers_aws_credentials_for_everyone(page, live_app, user, shot):
    user.is_staff = True
    user.save()
    sign_in(page, live_app, path="/settings")
    private = page.get_by_test_id("settings-private-upstreams")
    credentials = page.get_by_test_id("settings-aws-credentials")
    expect(private).not_to_be_checked()
    expect(credentials).to_have_value("staff")

    private.check()
    credentials.select_option("everyone")
    page.get_by_test_id("settings-save").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()

    site = SiteSettings.objects.get(pk=1)
    assert (site.allow_private_upstreams, site.server_aws_credentials) == (True, "everyone")
    page.reload()
    expect(page.get_by_test_id("settings-private-upstreams")).to_be_checked()
    expect(page.get_by_test_id("settings-aws-credentials")).to_have_value("everyone")
    shot()


def test_others_see_them_read_only(page, live_app, user):
    sign_in(page, live_app, path="/settings")
    expect(page.get_by_test_id("settings-readonly")).to_be_visible()
    expect(page.get_by_test_id("settings-private-upstreams")).to_be_disabled()
    expect(page.get_by_test_id("settings-aws-credentials")).to_be_disabled()
