"""`/ws/logs/`: each new entry of the signed-in user, as `{"type": "log", "entry": {...}}`, filtered like the API."""

from __future__ import annotations

import asyncio
from datetime import datetime

from autobahn.exception import Disconnected
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from rest_framework.exceptions import ValidationError

from logs import live
from logs.selectors import matches, parse_filters

CLOSE_UNAUTHENTICATED = 4401
CLOSE_BAD_FILTER = 4400


def query_params(scope) -> dict:
    from django.http import QueryDict

    return QueryDict(scope.get("query_string", b"").decode("latin-1"))


class LogStreamConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        try:
            self.filters = parse_filters(query_params(self.scope))
        except ValidationError:
            await self.close(code=CLOSE_BAD_FILTER)
            return

        live.register_consumer_loop(asyncio.get_running_loop())
        self.group = live.group_of(user.id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await self.leave_group()

    async def log_entries(self, message):
        try:
            for entry in message["entries"]:
                if matches(_as_row(entry), self.filters):
                    await self.send_json({"type": "log", "entry": entry})
        except Disconnected:  # the client left: daphne raises it on a send after the client's close frame
            await self.leave_group()  # now: websocket.disconnect comes only once the TCP connection is gone
            raise StopConsumer from None

    async def leave_group(self):
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)


def _as_row(entry: dict) -> dict:
    return {
        **entry,
        "proxy_id": entry["proxy"],
        "timestamp": datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00")),
    }
