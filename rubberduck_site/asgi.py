"""ASGI entry point: Django for HTTP, Channels for the live WebSocket streams."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rubberduck_site.settings")
django.setup(set_prefix=False)  # as django.core.asgi.get_asgi_application, whose handler this one extends

from rubberduck_site.web_threads import ReusedThreadsASGIHandler  # noqa: E402

django_asgi_app = ReusedThreadsASGIHandler()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from accounts.websocket_auth import TokenOrSessionAuth  # noqa: E402
from rubberduck_site.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": TokenOrSessionAuth(URLRouter(websocket_urlpatterns)),
    }
)
