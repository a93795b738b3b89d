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


def _note(event: dict[str, Any], outcome: Any, kind: str, title: str, message: str) -> tuple[str, dict[str, Any]]:
    return outcome.username, {"id": event["id"], "kind": kind, "order_id": outcome.order_id, "time": event["time"],
                              "title": title, "message": message}


def notification_for(event: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(username, notification) for order outcomes, None for anything else."""
    outcome = messages.parse_any(event)
    if isinstance(outcome, TicketSold):
        count = sum(item.quantity for item in outcome.items)
        return _note(event, outcome, "order.confirmed", "Order confirmed",
                     f"{count} ticket{'s' if count != 1 else ''} confirmed, total {euros(outcome.total_cents)}")
    if isinstance(outcome, OrderRejected):
        return _note(event, outcome, "order.rejected", "Order rejected", outcome.reason)
    if isinstance(outcome, OrderCancelled):
        return _note(event, outcome, "order.cancelled",
                     f"{len(outcome.codes)} ticket(s) cancelled" if outcome.codes else "Order cancelled",
                     f"{outcome.reason}; nothing is owed" if outcome.unpaid
                     else f"{outcome.reason}; your other tickets stay valid" if outcome.codes
                     else f"{outcome.reason}; its tickets no longer admit anyone")
    if isinstance(outcome, OrderHeld):
        return _note(event, outcome, "order.awaiting-payment", "Tickets reserved: please pay",
                     f"pay {euros(outcome.total_cents)} by {display.moment(outcome.due_at)}")
    if isinstance(outcome, OrderExpired):
        return _note(event, outcome, "order.expired", "Order expired",
                     "not paid by its deadline: its tickets are back on sale")
    if isinstance(outcome, OrderRefundDue):
        return _note(event, outcome, "order.refund-due", "Payment to be refunded",
                     f"{euros(outcome.amount_cents)}: {outcome.reason}")
    return None
