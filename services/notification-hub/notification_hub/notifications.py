"""From a domain event to the notification a buyer sees in the bell."""
from __future__ import annotations

from typing import Any

from festflow_contracts import events
from festflow_contracts.money import euros


def notification_for(event: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(username, notification) for order events, None for anything else."""
    data = event.get("data", {})
    username = data.get("username")
    if not username:
        return None
    if event["type"] == events.TICKET_SOLD:
        count = sum(item["quantity"] for item in data["items"])
        return username, {
            "id": event["id"], "kind": "order.confirmed", "order_id": data["order_id"], "time": event["time"],
            "title": "Order confirmed",
            "message": f"{count} ticket{'s' if count != 1 else ''} confirmed, total {euros(data['total_cents'])}",
        }
    if event["type"] == events.ORDER_REJECTED:
        return username, {
            "id": event["id"], "kind": "order.rejected", "order_id": data["order_id"], "time": event["time"],
            "title": "Order rejected", "message": data["reason"],
        }
    return None
