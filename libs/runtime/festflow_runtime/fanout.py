"""Fan-out of updates to many open pages (server-sent events): one bounded queue per subscriber.
A reader that stalls is dropped rather than letting its queue grow; its page reconnects."""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

QUEUE_SIZE = 100


class Fanout:
    def __init__(self) -> None:
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()

    def publish(self, update: dict[str, Any]) -> None:
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(update)
            except asyncio.QueueFull:
                self._subscribers.discard(queue)

    async def sse_events(self, event_name: str) -> AsyncIterator[dict[str, str]]:
        """`ready` once, then one `event_name` event per update, for sse-starlette's EventSourceResponse."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self._subscribers.add(queue)
        try:
            yield {"event": "ready", "data": "{}"}
            while True:
                yield {"event": event_name, "data": json.dumps(await queue.get())}
        finally:
            self._subscribers.discard(queue)
