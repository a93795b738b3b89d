"""The organisers' live logs: the latest records of every service, kept in memory and pushed to admins."""
from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from fastapi import WebSocket

HISTORY = 500


class LogStream:
    def __init__(self, history: int = HISTORY):
        self.recent: deque[dict[str, Any]] = deque(maxlen=history)
        self.watchers: set[WebSocket] = set()

    async def on_event(self, event: dict[str, Any]) -> None:
        record = {**event["data"], "id": event["id"]}
        self.recent.append(record)
        watchers = list(self.watchers)
        results = await asyncio.gather(*(ws.send_json({"kind": "log", "record": record}) for ws in watchers),
                                       return_exceptions=True)
        for ws, result in zip(watchers, results, strict=True):
            if isinstance(result, Exception):
                self.watchers.discard(ws)

    def history(self) -> list[dict[str, Any]]:
        """Oldest first, as they happened."""
        return sorted(self.recent, key=lambda r: r.get("time", ""))
