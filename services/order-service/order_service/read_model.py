"""Keeps each order's status current from the inventory's events on Kafka (TICKET_SOLD, ORDER_REJECTED).

An outcome is applied once: only a PENDING order changes, so a re-sent event changes nothing. A
rejected order's cart gets its lines back in the same transaction.
"""
from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from festflow_contracts import events
from order_service import carts
from order_service.db import orders
from order_service.ordering import Limits

log = logging.getLogger("order_service.read_model")


class OrderStatusProjection:
    def __init__(self, engine: AsyncEngine, limits: Limits | None = None):
        self.engine = engine
        self.limits = limits or Limits()

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
                orders.update().where(orders.c.order_id == data["order_id"], orders.c.status == "PENDING")
                .values(**values, updated_at=event["time"])
            )
            if result.rowcount and values["status"] == "REJECTED":
                await carts.order_rejected(conn, data["order_id"], data["reason"], self.limits)
        if result.rowcount:
            log.debug("order %s is %s", data["order_id"], values["status"])
