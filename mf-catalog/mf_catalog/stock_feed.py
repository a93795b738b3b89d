"""What an open catalog needs to hear: stock after each sale, and any change to a ticket type."""
from __future__ import annotations

from typing import Any

from festflow_contracts import events


def stock_update(event: dict[str, Any]) -> dict[str, Any] | None:
    """{"tickets": [{"ticket_id", "stock", ...}], "reload"?} for events that change what the catalog shows."""
    data = event["data"]
    if event["type"] == events.TICKET_SOLD:
        return {"tickets": [{"ticket_id": s["ticket_id"], "stock": s["stock"]} for s in data.get("stock", [])]}
    if event["type"] == events.TICKET_CHANGED:
        return {"tickets": [{"ticket_id": data["id"], "stock": data["stock"], "price": data.get("price"),
                             "active": data.get("active", True)}], "reload": True}
    return None
