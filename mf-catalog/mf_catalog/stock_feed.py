"""What an open catalog needs to hear: stock after each sale or hold (and its release), and any change to a
ticket type."""
from __future__ import annotations

from typing import Any

from festflow_contracts import messages
from festflow_contracts.messages import (
    FestivalChanged,
    OrderCancelled,
    OrderExpired,
    OrderHeld,
    TicketChanged,
    TicketSold,
)


def stock_update(event: dict[str, Any]) -> dict[str, Any] | None:
    """{"tickets": [{"ticket_id", "stock", ...}], "reload"?} for events that change what the catalog shows."""
    message = messages.parse_any(event)
    if isinstance(message, TicketSold | OrderHeld | OrderCancelled | OrderExpired):  # taken, or back on sale
        return {"tickets": [{"ticket_id": s.ticket_id, "stock": s.stock} for s in message.stock]}
    if isinstance(message, FestivalChanged):
        return {"tickets": [], "festival": True}
    if isinstance(message, TicketChanged):
        return {"tickets": [{"ticket_id": message.id, "stock": message.stock, "price": message.price,
                             "active": message.active}], "reload": True}
    return None
