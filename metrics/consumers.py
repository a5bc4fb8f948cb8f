"""`/ws/stats/`: `{"type": "stats", "stats": {...}}` for the signed-in user about once a second."""

from __future__ import annotations

import asyncio
import logging

from autobahn.exception import Disconnected
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from metrics.stats import stats_for

log = logging.getLogger("rubberduck.metrics")

CLOSE_UNAUTHENTICATED = 4401


class StatsConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.owner_id = user.id
        await self.accept()
        self.ticker = asyncio.ensure_future(self.tick())

    async def disconnect(self, code):
        ticker = getattr(self, "ticker", None)
        if ticker is not None:
            ticker.cancel()

    async def tick(self):
        while True:
            try:
                stats = await database_sync_to_async(stats_for)(self.owner_id)
            except Exception:
                log.exception("stats for user %s failed; retrying", self.owner_id)
            else:
                try:
                    await self.send_json({"type": "stats", "stats": stats})
                except Disconnected:  # the client left: daphne raises it on a send after its close frame
                    return  # not an error; websocket.disconnect comes once the TCP connection is gone
            await asyncio.sleep(settings.RUBBERDUCK_STATS_SECONDS)
