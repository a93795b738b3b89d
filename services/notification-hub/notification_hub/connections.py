"""Open WebSockets by user: a buyer's notifications go to that buyer's pages only."""
from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from fastapi import WebSocket


class Connections:
    def __init__(self):
        self._by_user: dict[str, set[WebSocket]] = defaultdict(set)

    def add(self, username: str, ws: WebSocket) -> None:
        self._by_user[username].add(ws)

    def remove(self, username: str, ws: WebSocket) -> None:
        sockets = self._by_user.get(username)
        if sockets is not None:
            sockets.discard(ws)
            if not sockets:
                del self._by_user[username]

    def count(self) -> int:
        return sum(len(s) for s in self._by_user.values())

    async def send(self, username: str, message: dict[str, Any]) -> int:
        sockets = list(self._by_user.get(username, ()))
        results = await asyncio.gather(*(ws.send_json(message) for ws in sockets), return_exceptions=True)
        for ws, result in zip(sockets, results, strict=True):
            if isinstance(result, Exception):
                self.remove(username, ws)
        return sum(1 for r in results if not isinstance(r, Exception))
