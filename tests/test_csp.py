"""Content-Security-Policy: the React app may load and connect only to this server; Django's pages (admin,
Swagger UI) may add inline styles and data: images, and no page may run inline or foreign scripts or be framed."""

import pytest
from django.test import Client


def policy(response) -> dict[str, list[str]]:
    directives = [d.split() for d in response["Content-Security-Policy"].split(";")]
    return {name: sources for name, *sources in directives}


@pytest.fixture
def built_app(settings, tmp_path):
    (tmp_path / "index.html").write_text('<script type="module" src="/static/assets/index.js"></script>')
    settings.FRONTEND_DIST = tmp_path


def test_the_app_loads_and_connects_only_to_this_server(built_app, db):
    page = Client().get("/proxies/3")
    assert page.status_code == 200
    assert policy(page) == {
        "default-src": ["'self'"],
        "connect-src": ["'self'", "ws://testserver", "wss://testserver"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
    }


@pytest.mark.parametrize("path", ["/api/docs/", "/admin/login/", "/accounts/login/"])
def test_djangos_pages_may_add_inline_styles_and_data_images_only(db, path):
    page = Client().get(path)
    assert page.status_code == 200
    assert policy(page) == {
        "default-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
