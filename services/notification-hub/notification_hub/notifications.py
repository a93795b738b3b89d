"""From a domain event to the notification a buyer sees in the bell."""
from __future__ import annotations

from typing import Any

from festflow_contracts import messages
from festflow_contracts.messages import OrderCancelled, OrderRejected, TicketSold
from festflow_contracts.money import euros


def notification_for(event: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(username, notification) for order outcomes, None for anything else."""
    outcome = messages.parse_any(event)
    if isinstance(outcome, TicketSold):
        count = sum(item.quantity for item in outcome.items)
        return outcome.username, {
            "id": event["id"], "kind": "order.confirmed", "order_id": outcome.order_id, "time": event["time"],
            "title": "Order confirmed",
            "message": f"{count} ticket{'s' if count != 1 else ''} confirmed, total {euros(outcome.total_cents)}",
        }
    if isinstance(outcome, OrderRejected):
        return outcome.username, {
            "id": event["id"], "kind": "order.rejected", "order_id": outcome.order_id, "time": event["time"],
            "title": "Order rejected", "message": outcome.reason,
        }
    if isinstance(outcome, OrderCancelled):
        return outcome.username, {
            "id": event["id"], "kind": "order.cancelled", "order_id": outcome.order_id, "time": event["time"],
            "title": "Order cancelled", "message": f"{outcome.reason}; its tickets no longer admit anyone",
        }
    return None
