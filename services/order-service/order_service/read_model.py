"""Keeps each order's status current from the inventory's events on Kafka (TICKET_SOLD, ORDER_REJECTED)."""
from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from festflow_contracts import events
from order_service.db import orders

log = logging.getLogger("order_service.read_model")


class OrderStatusProjection:
    def __init__(self, engine: AsyncEngine):
        self.engine = engine

    async def apply(self, event: dict[str, Any]) -> None:
        data = event["data"]
        if event["type"] == events.TICKET_SOLD:
            values = {"status": "CONFIRMED", "reason": None, "total_cents": data["total_cents"],
                      "items": data["items"]}
        elif event["type"] == events.ORDER_REJECTED:
            values = {"status": "REJECTED", "reason": data["reason"]}
        else:
            return
        async with self.engine.begin() as conn:
            result = await conn.execute(
                orders.update().where(orders.c.order_id == data["order_id"])
                .values(**values, updated_at=event["time"])
            )
        if result.rowcount:
            log.info("order %s is %s", data["order_id"], values["status"])
