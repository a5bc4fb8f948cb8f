"""WebSocket routes; the logs and metrics apps add their consumers here."""

from django.urls import path

from logs.consumers import LogStreamConsumer
from metrics.consumers import StatsConsumer

websocket_urlpatterns: list = [
    path("ws/logs/", LogStreamConsumer.as_asgi()),
    path("ws/stats/", StatsConsumer.as_asgi()),
]
