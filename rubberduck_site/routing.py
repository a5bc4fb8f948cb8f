"""WebSocket routes; the logs and metrics apps add their consumers here."""

websocket_urlpatterns: list = []
