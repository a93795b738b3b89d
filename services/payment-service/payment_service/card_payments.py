"""Card payments of orders held for payment, through Stripe PaymentIntents with manual capture; money is taken
only while the order's hold lives:

1. `start`: the buyer of an order awaiting payment asks to pay by card: an intent for its amount (its client
   secret goes to Stripe's own script on the pay page, which authorises the card).
2. `apply_webhooks`: Stripe's events, from the webhook inbox in the order Stripe made them, each once: an
   authorisation (`payment_intent.amount_capturable_updated`) announces PAYMENT_RECEIVED to the inventory
   (payment id `stripe:<intent>`, which the inventory applies once), in the same transaction that marks the
   event done; a failure or a cancellation is noted. A duplicate, or an event older than what is known (out of
   order), changes nothing.
3. `on_order_event`: the inventory's answer decides what is asked of Stripe: the sale (TICKET_SOLD) -> capture;
   a payment the order cannot take (ORDER_REFUND_DUE: the hold expired and the tickets are gone) -> cancel the
   authorisation, nothing is charged (money taken for nothing is owed back: refunds.py).
4. `run_actions`: asks Stripe what is due (capture, cancel), each call with its idempotency key; what fails
   stays due and is asked again later (after a restart too).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa
import stripe
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from festflow_contracts import events, messages
from festflow_contracts.channels import PAYMENT_EVENTS_TOPIC
from festflow_contracts.messages import OrderRefundDue, PaymentMethod, PaymentReceived, TicketSold
from festflow_contracts.payment_reference import creditor_reference
from festflow_runtime import outbox
from payment_service import refunds
from payment_service.db import card_payments, event_outbox, expected_payments, webhook_inbox
from payment_service.db import refunds as refunds_table
from payment_service.stripe_payments import Intent

log = logging.getLogger("payment_service.cards")
SOURCE = "/festflow/payment-service"
AUTHORISED_EVENTS = ("payment_intent.amount_capturable_updated", "payment_intent.succeeded")


class CardStripe(Protocol):
    async def prepare(self, order_id: str, amount_cents: int, currency: str, reference: str) -> Intent: ...
    async def retrieve(self, intent_id: str) -> Intent: ...
    async def capture(self, intent_id: str, order_id: str) -> Intent: ...
    async def cancel(self, intent_id: str, order_id: str) -> Intent: ...
    async def refund(self, intent_id: str, order_id: str, amount_cents: int | None = None,
                     step: str = "all") -> str: ...


class CardRefused(Exception):
    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status, self.detail = status, detail


@dataclass(frozen=True)
class CardStart:
    order_id: str
    intent_id: str
    client_secret: str | None
    amount_cents: int
    currency: str


async def start(engine: AsyncEngine, cards: CardStripe, order_id: str, username: str) -> CardStart:
    """An intent for paying this buyer's order awaiting payment by card (asked again: the intent to use now)."""
    async with engine.connect() as conn:
        awaited = (await conn.execute(sa.select(expected_payments).where(expected_payments.c.order_id == order_id))
                   ).mappings().first()
        card = (await conn.execute(sa.select(card_payments).where(card_payments.c.order_id == order_id))
                ).mappings().first()
    if awaited is None or awaited["username"] != username:
        raise CardRefused(404, "no order of yours awaits payment with this number")
    if awaited["status"] != "awaiting" or (card and card["status"] not in ("prepared", "failed", "cancelled")):
        raise CardRefused(409, "this order is paid already, or its payment is on its way")
    if awaited["due_at"] <= events.now_iso():
        raise CardRefused(409, "the time to pay this order is over: its tickets went back on sale")
    intent = await cards.prepare(order_id, awaited["amount_cents"], awaited["currency"], creditor_reference(order_id))
    now = events.now_iso()
    row = {"intent_id": intent.id, "amount_cents": awaited["amount_cents"], "currency": awaited["currency"],
           "status": "prepared", "action": None, "note": None, "updated_at": now}
    try:
        async with engine.begin() as conn:
            await conn.execute(card_payments.insert().values(order_id=order_id, **row))
    except IntegrityError:
        async with engine.begin() as conn:  # a new intent replaces one never authorised
            await conn.execute(card_payments.update().where(
                card_payments.c.order_id == order_id,
                card_payments.c.status.in_(["prepared", "failed", "cancelled"])).values(**row))
    return CardStart(order_id, intent.id, intent.client_secret, awaited["amount_cents"], awaited["currency"])


async def apply_webhooks(engine: AsyncEngine, limit: int = 200) -> int:
    """Acts on the webhook events not acted on yet, oldest first, in one transaction; how many."""
    async with engine.begin() as conn:
        query = (sa.select(webhook_inbox.c.event_id, webhook_inbox.c.type, webhook_inbox.c.payload)
                 .where(webhook_inbox.c.provider == "stripe", webhook_inbox.c.processed_at.is_(None))
                 .order_by(webhook_inbox.c.created, webhook_inbox.c.event_id).limit(limit))
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = (await conn.execute(query)).all()
        objects = [json.loads(row.payload).get("data", {}).get("object", {}) for row in rows]
        objects = [obj if isinstance(obj, dict) else {} for obj in objects]
        wanted = sorted({str(obj.get("id", "")) for obj in objects})
        cards = {card["intent_id"]: card for card in (await conn.execute(  # the batch's card payments, read once
            sa.select(card_payments).where(card_payments.c.intent_id.in_(wanted)))).mappings()} if wanted else {}
        announced: list[tuple[str, str, dict[str, Any]]] = []
        for row, obj in zip(rows, objects, strict=True):
            received = await _apply_event(conn, row.type, obj, cards.get(str(obj.get("id", ""))))
            if received is not None:
                announced.append((PAYMENT_EVENTS_TOPIC, received["subject"], received))
        if rows:
            await conn.execute(webhook_inbox.update().where(webhook_inbox.c.event_id.in_([r.event_id for r in rows]))
                               .values(processed_at=events.now_iso()))
        await outbox.emit_many(conn, event_outbox, announced)
    return len(rows)


async def _apply_event(conn: AsyncConnection, kind: str, intent: dict[str, Any], card: Any) -> dict[str, Any] | None:
    """One Stripe event about a PaymentIntent (`card`: its card payment here, or None); the PAYMENT_RECEIVED it
    makes, if any. Each change is conditional on the status it comes from."""
    intent_id = str(intent.get("id", ""))
    if card is None:
        if intent_id.startswith("pi_"):
            log.warning("Stripe told of intent %s, which no order here made (%s)", intent_id, kind)
        return None
    now = events.now_iso()
    if kind in AUTHORISED_EVENTS:
        moved = await conn.execute(card_payments.update().where(
            card_payments.c.intent_id == intent_id, card_payments.c.status.in_(["prepared", "failed"]))
            .values(status="authorised", note=None, updated_at=now))
        if moved.rowcount != 1:
            return None  # known already (a duplicate, or after a later event)
        return messages.envelope(PaymentReceived(
            order_id=card["order_id"], amount_cents=card["amount_cents"], currency=card["currency"],
            method=PaymentMethod.CARD, payment_id=f"stripe:{intent_id}", received_at=now),
            SOURCE, subject=card["order_id"])
    if kind == "payment_intent.payment_failed":
        error = intent.get("last_payment_error") or {}
        await conn.execute(card_payments.update().where(card_payments.c.intent_id == intent_id,
                                                        card_payments.c.status == "prepared")
                           .values(status="failed", note=str(error.get("message") or "the card was declined")[:300],
                                   updated_at=now))
    elif kind == "payment_intent.canceled":
        await conn.execute(card_payments.update().where(card_payments.c.intent_id == intent_id,
                                                        card_payments.c.status.in_(["prepared", "failed"]))
                           .values(status="cancelled", updated_at=now))
    return None


async def on_order_event(conn: AsyncConnection, message: messages.Message) -> None:
    """What the inventory's answer asks of Stripe for an order paid by card: capture once it is sold; cancel the
    authorisation (or refund what was taken) when the order could not take the payment."""
    if isinstance(message, TicketSold):
        await conn.execute(card_payments.update().where(card_payments.c.order_id == message.order_id,
                                                        card_payments.c.status == "authorised",
                                                        card_payments.c.action.is_(None))
                           .values(action="capture", updated_at=events.now_iso()))
    elif isinstance(message, OrderRefundDue):
        await conn.execute(card_payments.update().where(card_payments.c.order_id == message.order_id,
                                                        card_payments.c.status == "authorised")
                           .values(action="cancel", note=message.reason[:300], updated_at=events.now_iso()))
        captured = (await conn.execute(sa.select(card_payments).where(card_payments.c.order_id == message.order_id,
                                                                      card_payments.c.status == "captured"))
                    ).mappings().first()
        if captured is not None and message.method == PaymentMethod.CARD:  # money taken twice: given back
            await refunds.owe(conn, f"due:{message.payment_id or message.order_id}", message.order_id,
                              PaymentMethod.CARD, message.amount_cents, message.currency, message.reason)


DONE = {"capture": "captured", "cancel": "cancelled"}


async def run_actions(engine: AsyncEngine, cards: CardStripe, limit: int = 50) -> int:
    """Asks Stripe what is due (capture, cancel; refunds are refunds.run_card's); how many were done. A call
    Stripe refuses for good (an intent that can no longer be captured, say) is noted for a person and not asked
    again; one that fails on the way (network, Stripe away) stays due."""
    async with engine.connect() as conn:
        due = (await conn.execute(sa.select(card_payments).where(card_payments.c.action.is_not(None))
                                  .order_by(card_payments.c.updated_at).limit(limit))).mappings().all()
    done = 0
    for card in due:
        action, order_id, intent_id = card["action"], card["order_id"], card["intent_id"]
        note = card["note"]
        try:
            if action == "capture":
                await cards.capture(intent_id, order_id)
            else:
                await cards.cancel(intent_id, order_id)
            status = DONE[action]
        except stripe.InvalidRequestError as exc:
            status, note = card["status"], f"Stripe refused to {action}: {exc.user_message or exc}"[:300]
            log.error("order %s: %s", order_id[:8], note)
        except (stripe.StripeError, OSError) as exc:
            log.warning("order %s: %s of %s failed, asked again later: %r", order_id[:8], action, intent_id, exc)
            continue
        async with engine.begin() as conn:
            await conn.execute(card_payments.update().where(card_payments.c.order_id == order_id,
                                                            card_payments.c.action == action)
                               .values(status=status, action=None, note=note, updated_at=events.now_iso()))
        done += 1
    return done


async def payment_of(engine: AsyncEngine, order_id: str) -> dict[str, Any]:
    """What the payment service knows of an order: the payment it awaits (bank transfer) and its card payment."""
    async with engine.connect() as conn:
        awaited = (await conn.execute(sa.select(expected_payments).where(expected_payments.c.order_id == order_id))
                   ).mappings().first()
        card = (await conn.execute(sa.select(card_payments).where(card_payments.c.order_id == order_id))
                ).mappings().first()
        given_back = (await conn.execute(sa.select(refunds_table).where(refunds_table.c.order_id == order_id)
                                         .order_by(refunds_table.c.created_at))).mappings().all()
    return {"order_id": order_id, "awaited": dict(awaited) if awaited else None, "card": dict(card) if card else None,
            "refunds": [dict(r) for r in given_back]}


# what Stripe says of an intent in each of FestFlow's states of a card payment (a refund leaves it succeeded)
STRIPE_STATUS = {"prepared": {"requires_payment_method", "requires_confirmation", "requires_action", "processing"},
                 "failed": {"requires_payment_method"}, "authorised": {"requires_capture"},
                 "captured": {"succeeded"}, "refunded": {"succeeded"}, "cancelled": {"canceled"}}


async def reconcile(engine: AsyncEngine, cards: CardStripe, limit: int = 500) -> list[dict[str, Any]]:
    """Compares each recent card payment with its intent at Stripe: the differences (a status that does not fit,
    another amount or currency, an intent Stripe does not know), newest first, for a person to look at."""
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(card_payments).order_by(card_payments.c.updated_at.desc()).limit(limit))
                ).mappings().all()
    differences = []
    for row in rows:
        try:
            intent = await cards.retrieve(row["intent_id"])
        except stripe.InvalidRequestError:
            differences.append({"order_id": row["order_id"], "intent_id": row["intent_id"], "ours": row["status"],
                                "stripe": None, "problem": "Stripe does not know this intent"})
            continue
        problems = []
        if intent.status not in STRIPE_STATUS.get(row["status"], set()):
            problems.append(f"FestFlow has it {row['status']}, Stripe {intent.status}")
        if intent.amount_cents != row["amount_cents"] or intent.currency != row["currency"]:
            problems.append(f"Stripe's amount is {intent.amount_cents} {intent.currency}, "
                            f"FestFlow's {row['amount_cents']} {row['currency']}")
        if problems:
            differences.append({"order_id": row["order_id"], "intent_id": row["intent_id"], "ours": row["status"],
                                "stripe": intent.status, "problem": "; ".join(problems)})
    return differences
