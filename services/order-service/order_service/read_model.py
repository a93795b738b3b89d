"""Keeps each order's status current from the inventory's events on Kafka (TICKET_SOLD, ORDER_REJECTED).

An outcome is applied once: only a PENDING order changes, so a re-sent event changes nothing. A
rejected order's cart gets its lines back in the same transaction.
"""
from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from festflow_contracts import messages
from festflow_contracts.messages import OrderRejected, OrderStatus, TicketSold
from order_service import carts
from order_service.db import orders
from order_service.ordering import Limits

log = logging.getLogger("order_service.read_model")


class OrderStatusProjection:
    def __init__(self, engine: AsyncEngine, limits: Limits | None = None):
        self.engine = engine
        self.limits = limits or Limits()

    async def apply(self, event: dict[str, Any]) -> None:
        outcome = messages.parse_any(event)
        if isinstance(outcome, TicketSold):
            values: dict[str, Any] = {"status": OrderStatus.CONFIRMED, "reason": None,
                                      "total_cents": outcome.total_cents,
                                      "items": [line.model_dump() for line in outcome.items]}
        elif isinstance(outcome, OrderRejected):
            values = {"status": OrderStatus.REJECTED, "reason": outcome.reason}
        else:
            return
        async with self.engine.begin() as conn:
            result = await conn.execute(
                orders.update().where(orders.c.order_id == outcome.order_id, orders.c.status == OrderStatus.PENDING)
                .values(**values, updated_at=event["time"])
            )
            if result.rowcount and isinstance(outcome, OrderRejected):
                await carts.order_rejected(conn, outcome.order_id, outcome.reason, self.limits)
        if result.rowcount:
            log.debug("order %s is %s", outcome.order_id, values["status"])
