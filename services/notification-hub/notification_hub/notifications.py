"""From a domain event to the notification a buyer sees in the bell."""
from __future__ import annotations

from typing import Any

from festflow_contracts import messages
from festflow_contracts.messages import (
    OrderCancelled,
    OrderExpired,
    OrderHeld,
    OrderRefundDue,
    OrderRejected,
    TicketSold,
)
from festflow_contracts.money import euros
from festflow_runtime import display


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
            "title": f"{len(outcome.codes)} ticket(s) cancelled" if outcome.codes else "Order cancelled",
            "message": (f"{outcome.reason}; nothing is owed" if outcome.unpaid
                        else f"{outcome.reason}; your other tickets stay valid" if outcome.codes
                        else f"{outcome.reason}; its tickets no longer admit anyone"),
        }
    if isinstance(outcome, OrderHeld):
        return outcome.username, {
            "id": event["id"], "kind": "order.awaiting-payment", "order_id": outcome.order_id, "time": event["time"],
            "title": "Tickets reserved: please pay",
            "message": f"pay {euros(outcome.total_cents)} by {display.moment(outcome.due_at)}",
        }
    if isinstance(outcome, OrderExpired):
        return outcome.username, {
            "id": event["id"], "kind": "order.expired", "order_id": outcome.order_id, "time": event["time"],
            "title": "Order expired", "message": "not paid by its deadline: its tickets are back on sale",
        }
    if isinstance(outcome, OrderRefundDue):
        return outcome.username, {
            "id": event["id"], "kind": "order.refund-due", "order_id": outcome.order_id, "time": event["time"],
            "title": "Payment to be refunded", "message": f"{euros(outcome.amount_cents)}: {outcome.reason}",
        }
    return None
