import pytest

from accounts.models import SiteSettings

VALID = {
    "log_retention_days": 7,
    "metrics_retention_days": {"1m": 1, "15m": 14, "1h": 180},
    "signup_open": False,
    "default_upstreams": {"openai": "http://127.0.0.1:9999/v1"},
    "allow_private_upstreams": True,
    "server_aws_credentials": "everyone",
}


@pytest.fixture
def staff_api(api, user):
    user.is_staff = True
    user.save()
    return api


def test_it_shows_the_defaults_read_only_to_non_staff(api):
    assert api.get("/api/v1/settings/").json() == {
        "log_retention_days": 30,
        "metrics_retention_days": {"1m": 2, "15m": 30, "1h": 365},
        "signup_open": True,
        "default_upstreams": {},
        "allow_private_upstreams": False,
        "server_aws_credentials": "staff",
        "editable": False,
    }


def test_it_refuses_changes_from_non_staff(api):
    response = api.put("/api/v1/settings/", VALID, format="json")

    assert response.status_code == 403
    assert SiteSettings.current().log_retention_days == 30


def test_it_saves_changes_from_staff(staff_api):
    response = staff_api.put("/api/v1/settings/", VALID, format="json")

    assert response.status_code == 200
    assert response.json() == {**VALID, "editable": True}
    current = SiteSettings.current()
    assert (current.log_retention_days, current.signup_open) == (7, False)
    assert current.default_upstreams == {"openai": "http://127.0.0.1:9999/v1"}
    assert SiteSettings.objects.count() == 1


@pytest.mark.parametrize(
    "change, field",
    [
        ({"log_retention_days": 0}, "log_retention_days"),
        ({"metrics_retention_days": {"1m": 1}}, "metrics_retention_days"),
        ({"default_upstreams": {"nope": "http://x"}}, "default_upstreams"),
        ({"default_upstreams": {"openai": "not a url"}}, "default_upstreams"),
        ({"server_aws_credentials": "anyone"}, "server_aws_credentials"),
    ],
)
def test_it_rejects_invalid_settings(staff_api, change, field):
    response = staff_api.put("/api/v1/settings/", {**VALID, **change}, format="json")

    assert response.status_code == 400
    assert field in response.json()
