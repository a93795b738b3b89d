"""Keeps each order's status current from the inventory's events on Kafka (ORDER_HELD, TICKET_SOLD,
ORDER_REJECTED, ORDER_EXPIRED, ORDER_CANCELLED, ORDER_REFUND_DUE), and its tickets from the ticketing
service's (TICKETS_ISSUED, TICKET_UPDATED).

An order's life: PENDING -> AWAITING_PAYMENT (held; held again with a later deadline when the buyer of a card
hold pays by bank transfer instead) -> CONFIRMED (paid) or EXPIRED (a late payment may still
confirm it) or CANCELLED; or PENDING -> CONFIRMED (nothing to pay) or REJECTED. Each change is conditional on
the status it comes from, so a re-sent event changes nothing; an
order's tickets are issued once, so a re-sent TICKETS_ISSUED changes nothing either. What else reacts to
a rejection (the cart the order came from gets its lines back) is registered beside this projection in
bootstrap.py and runs in the same transaction. The events of one fetch are applied in one transaction
(`apply_many`); if that fails, the consumer applies them one by one.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from festflow_contracts import messages
from festflow_contracts.messages import (
    OrderCancelled,
    OrderExpired,
    OrderHeld,
    OrderRefundDue,
    OrderRejected,
    OrderStatus,
    TicketsIssued,
    TicketSold,
    TicketUpdated,
)
from order_service.db import orders

_PENDING = orders.update().where(orders.c.order_id == sa.bindparam("b_order_id"),
                                 orders.c.status == OrderStatus.PENDING)
# a sale: at checkout, or of a hold when it is paid (an expired one too, when a late payment reinstates it)
SETTLE_SOLD = (orders.update().where(orders.c.order_id == sa.bindparam("b_order_id"),
                                     sa.or_(orders.c.status == OrderStatus.PENDING,
                                            orders.c.status == OrderStatus.AWAITING_PAYMENT,
                                            orders.c.status == OrderStatus.EXPIRED))
               .values(status=OrderStatus.CONFIRMED, reason=None, total_cents=sa.bindparam("b_total"),
                       items=sa.bindparam("b_items", type_=orders.c["items"].type), updated_at=sa.bindparam("b_time"),
                       invoice_number=sa.bindparam("b_invoice"),
                       seller=sa.bindparam("b_seller", type_=orders.c.seller.type)))
# a hold: at checkout, or again when the buyer of a card hold pays by bank transfer instead (a later deadline)
SETTLE_HELD = (orders.update().where(orders.c.order_id == sa.bindparam("b_order_id"),
                                     orders.c.status.in_([OrderStatus.PENDING, OrderStatus.AWAITING_PAYMENT]))
               .values(status=OrderStatus.AWAITING_PAYMENT, total_cents=sa.bindparam("b_total"),
                       items=sa.bindparam("b_items", type_=orders.c["items"].type),
                       payment=sa.bindparam("b_payment", type_=orders.c.payment.type),
                       updated_at=sa.bindparam("b_time")))
SETTLE_REJECTED = _PENDING.values(status=OrderStatus.REJECTED, reason=sa.bindparam("b_reason"),
                                  updated_at=sa.bindparam("b_time"))
# an order's tickets, the first time they are issued (an order is inserted without any)
ISSUE_TICKETS = (orders.update().where(orders.c.order_id == sa.bindparam("b_order_id"), orders.c.tickets.is_(None))
                 .values(tickets=sa.bindparam("b_tickets", type_=orders.c.tickets.type)))


class RejectionReaction(Protocol):
    """Something else that changes when an order is rejected, in the same transaction (bootstrap.py registers
    them: the cart gets its lines back)."""

    async def concerned(self, conn: AsyncConnection, order_ids: list[str]) -> set[str]:
        """The orders among these it reacts to (those are applied one by one)."""

    async def __call__(self, conn: AsyncConnection, order_id: str, reason: str) -> None:
        """Reacts to the rejection of an order that was PENDING until now."""


class OrderStatusProjection:
    def __init__(self, engine: AsyncEngine, on_rejected: Sequence[RejectionReaction] = ()):
        self.engine = engine
        self.on_rejected = tuple(on_rejected)

    async def apply(self, event: dict[str, Any]) -> None:
        await self.apply_many([event])

    async def apply_many(self, batch: list[dict[str, Any]]) -> None:
        """A batch of events from Kafka in one transaction (a drop's outcomes come hundreds a second), with
        the same result as one by one. Outcomes are written a statement for all of them (one for the sales,
        one for the rejections), and so are orders' issued tickets (a sell-out brings hundreds at once);
        only an order's first outcome can change it (it is PENDING no more), only its first tickets are
        kept, and any other event, or a rejection that something reacts to (`on_rejected`), is applied on
        its own, in order."""
        parsed = [(event, messages.parse_any(event)) for event in batch]
        async with self.engine.begin() as conn:
            rejected = [outcome.order_id for _, outcome in parsed if isinstance(outcome, OrderRejected)]
            reacted: set[str] = set()
            for reaction in self.on_rejected if rejected else ():
                reacted |= await reaction.concerned(conn, rejected)
            outcomes: list[tuple[dict[str, Any], Outcome]] = []
            issued: list[TicketsIssued] = []
            seen: set[str] = set()
            for event, outcome in parsed:
                if isinstance(outcome, TicketSold | OrderHeld) or (isinstance(outcome, OrderRejected)
                                                                   and outcome.order_id not in reacted):
                    if outcome.order_id in seen:  # a second outcome of one order (held, then paid): after the first
                        await self._settle(conn, outcomes, issued)
                        outcomes, issued, seen = [], [], set()
                    seen.add(outcome.order_id)
                    outcomes.append((event, outcome))
                    continue
                if isinstance(outcome, TicketsIssued):  # sent again too: kept only if none were before
                    issued.append(outcome)
                    continue
                await self._settle(conn, outcomes, issued)
                outcomes, issued = [], []
                await self._apply_alone(conn, event, outcome)
            await self._settle(conn, outcomes, issued)

    async def _settle(self, conn: AsyncConnection, outcomes: list[tuple[dict[str, Any], Outcome]],
                      issued: list[TicketsIssued]) -> None:
        """Outcomes of distinct orders, each changing its order only from the status it comes from, and
        orders' tickets, each kept only if the order had none (in the order they came)."""
        sold = [{"b_order_id": o.order_id, "b_total": o.total_cents, "b_items": [line.model_dump() for line in o.items],
                 "b_time": event["time"], "b_invoice": o.invoice_number or None,
                 "b_seller": o.festival.model_dump() if o.festival else None}
                for event, o in outcomes if isinstance(o, TicketSold)]
        held = [{"b_order_id": o.order_id, "b_total": o.total_cents, "b_items": [line.model_dump() for line in o.items],
                 "b_payment": payment_view(o), "b_time": event["time"]}
                for event, o in outcomes if isinstance(o, OrderHeld)]
        rejected = [{"b_order_id": o.order_id, "b_reason": o.reason, "b_time": event["time"]}
                    for event, o in outcomes if isinstance(o, OrderRejected)]
        if held:
            await conn.execute(SETTLE_HELD, held)
        if sold:
            await conn.execute(SETTLE_SOLD, sold)
        if rejected:
            await conn.execute(SETTLE_REJECTED, rejected)
        if issued:
            await conn.execute(ISSUE_TICKETS, [{"b_order_id": message.order_id, "b_tickets": issued_view(message)}
                                               for message in issued])

    async def _apply_alone(self, conn: AsyncConnection, event: dict[str, Any], outcome: Any) -> None:
        """What is not written with the others: a ticket changed, a cancellation, and a rejection that
        something reacts to (only if the rejection changed the order)."""
        if isinstance(outcome, OrderCancelled) and outcome.credit_note_number:
            await keep_credit_note(conn, outcome, event["time"])
        if isinstance(outcome, TicketUpdated):
            await self.apply_ticket_update(conn, outcome)
        elif isinstance(outcome, OrderCancelled) and outcome.codes:  # some tickets: the order stays confirmed
            count = len(outcome.codes)
            await conn.execute(orders.update().where(orders.c.order_id == outcome.order_id).values(
                reason=f"{count} ticket{'s' if count != 1 else ''} cancelled: {outcome.reason}",
                updated_at=event["time"]))
        elif isinstance(outcome, OrderCancelled):  # a confirmed order, or one awaiting payment
            await conn.execute(orders.update().where(
                orders.c.order_id == outcome.order_id,
                orders.c.status.in_([OrderStatus.CONFIRMED, OrderStatus.AWAITING_PAYMENT]))
                .values(status=OrderStatus.CANCELLED, reason=outcome.reason, updated_at=event["time"]))
        elif isinstance(outcome, OrderExpired):
            await conn.execute(orders.update().where(orders.c.order_id == outcome.order_id,
                                                     orders.c.status == OrderStatus.AWAITING_PAYMENT)
                               .values(status=OrderStatus.EXPIRED, reason=outcome.reason, updated_at=event["time"]))
        elif isinstance(outcome, OrderRefundDue):  # the order stays as it is; its payment is owed back
            payment = await conn.scalar(sa.select(orders.c.payment).where(orders.c.order_id == outcome.order_id))
            if payment is not None:
                await conn.execute(orders.update().where(orders.c.order_id == outcome.order_id).values(
                    payment={**payment, "refund_due": outcome.reason}, updated_at=event["time"]))
        elif isinstance(outcome, OrderRejected):
            result = await conn.execute(SETTLE_REJECTED, {"b_order_id": outcome.order_id, "b_reason": outcome.reason,
                                                          "b_time": event["time"]})
            if result.rowcount:
                for reaction in self.on_rejected:
                    await reaction(conn, outcome.order_id, outcome.reason)

    async def apply_ticket_update(self, conn: AsyncConnection, message: TicketUpdated) -> None:
        """A ticket of an order as the ticketing service changed it (no QR payloads here: the ticketing
        service serves those to the ticket's owner)."""
        current = await conn.scalar(sa.select(orders.c.tickets).where(orders.c.order_id == message.order_id))
        tickets = [ticket_view(t["code"], t["ticket_id"], t["name"], message.holder, message.status)
                   if t["code"] == message.code else t for t in (current or [])]
        await conn.execute(orders.update().where(orders.c.order_id == message.order_id).values(tickets=tickets))


Outcome = TicketSold | OrderRejected | OrderHeld


async def keep_credit_note(conn: AsyncConnection, cancelled: OrderCancelled, at: str) -> None:
    """The credit note of a cancellation of something paid, kept with its order once (by its number)."""
    notes = await conn.scalar(sa.select(orders.c.credit_notes).where(orders.c.order_id == cancelled.order_id)) or []
    if any(note["number"] == cancelled.credit_note_number for note in notes):
        return
    note = {"number": cancelled.credit_note_number, "amount_cents": cancelled.refund_cents, "at": at,
            "items": [line.model_dump() for line in cancelled.items], "codes": list(cancelled.codes),
            "reason": cancelled.reason}
    await conn.execute(orders.update().where(orders.c.order_id == cancelled.order_id)
                       .values(credit_notes=[*notes, note]))


def payment_view(held: OrderHeld) -> dict[str, Any]:
    """What the buyer must pay, by when, how and to whom (GET /api/orders/{id} shows it as `payment`)."""
    pay_to = held.pay_to.model_dump() if held.pay_to else {}
    return {"method": str(held.method), "amount_cents": held.total_cents, "currency": held.currency,
            "due_at": held.due_at, "reference": held.reference} | pay_to


def issued_view(message: TicketsIssued) -> list[dict[str, Any]]:
    """An order's tickets as the ticketing service issued them."""
    return [ticket_view(t.code, t.ticket_id, t.name, t.holder, t.status) for t in message.tickets]


def ticket_view(code: str, ticket_id: str, name: str, holder: str, status: str) -> dict[str, Any]:
    return {"code": code, "ticket_id": ticket_id, "name": name, "holder": holder, "status": str(status),
            "qr_url": f"/api/tickets/{code}/qr.svg", "page_url": f"/cart/tickets/{code}"}
