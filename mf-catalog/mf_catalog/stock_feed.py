"""Live stock for every open catalog: order and catalog events from Kafka, fanned out to SSE subscribers."""
from __future__ import annotations

import asyncio
from typing import Any

from festflow_contracts import events

QUEUE_SIZE = 100


class StockFeed:
    def __init__(self):
        self._subscribers: set[asyncio.Queue] = set()

    def subscribe(self) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(maxsize=QUEUE_SIZE)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        self._subscribers.discard(queue)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    async def on_event(self, event: dict[str, Any]) -> None:
        update = stock_update(event)
        if update is None:
            return
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(update)
            except asyncio.QueueFull:  # a stalled reader loses updates, not the server's memory
                self._subscribers.discard(queue)


def stock_update(event: dict[str, Any]) -> dict[str, Any] | None:
    """{"tickets": [{"ticket_id", "stock", ...}]} for events that change what the catalog shows."""
    data = event["data"]
    if event["type"] == events.TICKET_SOLD:
        return {"tickets": [{"ticket_id": s["ticket_id"], "stock": s["stock"]} for s in data.get("stock", [])]}
    if event["type"] == events.TICKET_CHANGED:
        return {"tickets": [{"ticket_id": data["id"], "stock": data["stock"], "price": data.get("price"),
                             "active": data.get("active", True)}], "reload": True}
    return None
