"""Refunds: money owed back, each once. A paid order the organiser cancels (whole, or some of its tickets: their
price) owes it back through the way it was paid; so does a payment an order could not take (it expired and its
tickets were gone, or it was paid twice). A card refund is asked of Stripe by the payment worker (`run_card`);
a bank refund is made by the organiser's bank: `sepa_file` writes the due ones as a SEPA credit transfer file
(pain.001, made with sepaxml) from the account the money was paid into to the account it came from, and marks
them sent in the same transaction, so that no refund goes into two files. A bank refund whose payer's account
the statement did not name stays on the list, for a person."""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
import stripe
from sepaxml import SepaTransfer
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from festflow_contracts import events
from festflow_contracts.messages import OrderCancelled, PaymentMethod
from festflow_contracts.payment_reference import creditor_reference
from payment_service.db import card_payments, expected_payments, refunds

log = logging.getLogger("payment_service.refunds")


class NothingToRefund(Exception):
    """No bank refund is due that a file could carry (none due, or none with the payer's account)."""


async def owe(conn: AsyncConnection, refund_id: str, order_id: str, method: str, amount_cents: int, currency: str,
              reason: str) -> bool:
    """Records a refund (once: the same `refund_id` again changes nothing); whether it is new."""
    if amount_cents <= 0:
        return False
    undo = await conn.begin_nested()
    try:
        await conn.execute(refunds.insert().values(
            refund_id=refund_id, order_id=order_id, method=method, amount_cents=amount_cents, currency=currency,
            reason=reason[:300], status="due", created_at=events.now_iso()))
    except IntegrityError:
        await undo.rollback()
        return False
    await undo.commit()
    return True


async def owe_back_cancelled(conn: AsyncConnection, cancelled: OrderCancelled) -> bool:
    """A paid order was cancelled, whole or some of its tickets: what that part was paid is owed back, the way
    it was paid (a captured card, else a received bank transfer). Whether a refund is due."""
    part = ",".join(sorted(cancelled.codes)) or "all"
    refund_id = f"cancel:{cancelled.order_id}:{hashlib.sha256(part.encode()).hexdigest()[:16]}"
    card = (await conn.execute(sa.select(card_payments).where(card_payments.c.order_id == cancelled.order_id,
                                                              card_payments.c.status.in_(["captured", "refunded"]))
                               )).mappings().first()
    if card is not None:
        amount = cancelled.refund_cents or card["amount_cents"]
        return await owe(conn, refund_id, cancelled.order_id, PaymentMethod.CARD, amount, card["currency"],
                         f"cancelled: {cancelled.reason}")
    paid = (await conn.execute(sa.select(expected_payments).where(expected_payments.c.order_id == cancelled.order_id,
                                                                  expected_payments.c.received_cents > 0))
            ).mappings().first()
    if paid is None:
        return False
    amount = min(cancelled.refund_cents or paid["received_cents"], paid["received_cents"])
    return await owe(conn, refund_id, cancelled.order_id, PaymentMethod.BANK_TRANSFER, amount, paid["currency"],
                     f"cancelled: {cancelled.reason}")


async def due(engine: AsyncEngine) -> list[dict[str, Any]]:
    """The bank refunds not sent yet, oldest first, each with why and where to."""
    async with engine.connect() as conn:
        rows = (await conn.execute(
            sa.select(refunds, expected_payments.c.payer_name, expected_payments.c.payer_iban)
            .select_from(refunds.outerjoin(expected_payments, expected_payments.c.order_id == refunds.c.order_id))
            .where(refunds.c.method == PaymentMethod.BANK_TRANSFER, refunds.c.status == "due")
            .order_by(refunds.c.created_at, refunds.c.refund_id))).mappings().all()
    return [{"refund_id": r["refund_id"], "order_id": r["order_id"], "amount_cents": r["amount_cents"],
             "currency": r["currency"], "payer_name": r["payer_name"] or "", "payer_iban": r["payer_iban"] or "",
             "reason": r["reason"], "by_hand": not r["payer_iban"]} for r in rows]


@dataclass(frozen=True)
class SepaFile:
    xml: bytes
    count: int
    total_cents: int
    left_by_hand: int  # refunds due whose payer's account is unknown


async def sepa_file(engine: AsyncEngine, execution_date: date | None = None) -> SepaFile:
    """The due bank refunds paid into one account (the oldest's: a file has one debtor account) as a pain.001
    file, each marked sent in the same transaction."""
    async with engine.begin() as conn:
        query = (sa.select(refunds, expected_payments.c.payer_name, expected_payments.c.payer_iban,
                           expected_payments.c.account_iban, expected_payments.c.account_bic,
                           expected_payments.c.account_name)
                 .select_from(refunds.join(expected_payments, expected_payments.c.order_id == refunds.c.order_id))
                 .where(refunds.c.method == PaymentMethod.BANK_TRANSFER, refunds.c.status == "due",
                        refunds.c.currency == "EUR")
                 .order_by(refunds.c.created_at, refunds.c.refund_id))
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(of=refunds)
        rows = (await conn.execute(query)).mappings().all()
        payable = [r for r in rows if r["payer_iban"] and r["account_iban"]]
        if not payable:
            raise NothingToRefund("no bank refund is due that a file can carry" if not rows else
                                  f"{len(rows)} refund(s) are due, but the statements did not name the payer's "
                                  "account (or the order's account is unknown): refund those by hand")
        account = payable[0]["account_iban"]
        batch = [r for r in payable if r["account_iban"] == account]
        xml = _pain001(batch, execution_date or date.today())
        await conn.execute(refunds.update().where(refunds.c.refund_id.in_([r["refund_id"] for r in batch]),
                                                  refunds.c.status == "due")
                           .values(status="sent", done_at=events.now_iso()))
    return SepaFile(xml, len(batch), sum(r["amount_cents"] for r in batch), len(rows) - len(payable))


def _pain001(rows: Sequence[Any], execution_date: date) -> bytes:
    first = rows[0]
    config = {"name": first["account_name"] or "Festival organiser", "IBAN": first["account_iban"], "batch": True,
              "currency": "EUR"} | ({"BIC": first["account_bic"]} if first["account_bic"] else {})
    transfer = SepaTransfer(config, clean=True)
    for row in rows:
        transfer.add_payment({
            "name": (row["payer_name"] or "Buyer")[:70], "IBAN": row["payer_iban"], "amount": row["amount_cents"],
            "execution_date": execution_date,
            "description": f"Refund FestFlow order {creditor_reference(row['order_id'])}"[:140],
            "endtoend_id": creditor_reference(row["order_id"])})
    return transfer.export(validate=True)


async def run_card(engine: AsyncEngine, cards: Any, limit: int = 50) -> int:
    """Asks Stripe for the due card refunds, each with its own idempotency key (a retry never refunds twice);
    how many were done. One Stripe refuses for good is noted for a person; one that fails on the way stays due."""
    async with engine.connect() as conn:
        rows = (await conn.execute(
            sa.select(refunds, card_payments.c.intent_id)
            .select_from(refunds.join(card_payments, card_payments.c.order_id == refunds.c.order_id))
            .where(refunds.c.method == PaymentMethod.CARD, refunds.c.status == "due")
            .order_by(refunds.c.created_at).limit(limit))).mappings().all()
    done = 0
    for row in rows:
        step = hashlib.sha256(row["refund_id"].encode()).hexdigest()[:16]
        try:
            await cards.refund(row["intent_id"], row["order_id"], row["amount_cents"], step=step)
        except stripe.InvalidRequestError as exc:
            note = f"Stripe refused the refund: {exc.user_message or exc}"[:300]
            log.error("order %s: %s", row["order_id"][:8], note)
            async with engine.begin() as conn:
                await conn.execute(refunds.update().where(refunds.c.refund_id == row["refund_id"])
                                   .values(status="failed", note=note))
            continue
        except (stripe.StripeError, OSError) as exc:
            log.warning("order %s: a refund failed, asked again later: %r", row["order_id"][:8], exc)
            continue
        async with engine.begin() as conn:
            await conn.execute(refunds.update().where(refunds.c.refund_id == row["refund_id"],
                                                      refunds.c.status == "due")
                               .values(status="done", done_at=events.now_iso()))
            await _mark_card_refunded(conn, row["order_id"])
        done += 1
    return done


async def _mark_card_refunded(conn: AsyncConnection, order_id: str) -> None:
    """A card payment whose refunds add up to all of it is refunded."""
    given_back = await conn.scalar(sa.select(sa.func.coalesce(sa.func.sum(refunds.c.amount_cents), 0)).where(
        refunds.c.order_id == order_id, refunds.c.method == PaymentMethod.CARD, refunds.c.status == "done"))
    await conn.execute(card_payments.update().where(card_payments.c.order_id == order_id,
                                                    card_payments.c.status == "captured",
                                                    card_payments.c.amount_cents <= given_back)
                       .values(status="refunded", updated_at=events.now_iso()))
