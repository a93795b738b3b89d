"""Bank transfers: the payment an order awaits, and a bank statement matched against what is awaited.

Each credit is matched by the creditor reference in its text (references.py); the amount must be the order's
to the cent, in its currency. A reference nobody awaits, or none at all, leaves the line unmatched; a partial
payment, an over-payment, another currency or a second payment of a paid order goes to the review list for a
person. Partial payments add up: the one that completes the amount pays the order. A statement line already
read (the same statement imported again, or two overlapping statements) changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from festflow_contracts import events, messages
from festflow_contracts.channels import PAYMENT_EVENTS_TOPIC
from festflow_contracts.messages import PaymentMethod, PaymentReceived, PayTo
from festflow_contracts.money import euros
from festflow_contracts.payment_reference import creditor_reference, find_references
from festflow_runtime import outbox
from payment_service.db import event_outbox, expected_payments, statement_lines
from payment_service.statements import Credit, parse_statement

SOURCE = "/festflow/payment-service"


@dataclass(frozen=True)
class Awaited:
    order_id: str
    amount_cents: int
    currency: str
    due_at: str
    username: str | None = None  # the buyer (who alone may pay it by card)
    account: PayTo | None = None  # the organiser's account it is paid into


async def expect_payment(engine: AsyncEngine, order_id: str, amount_cents: int, currency: str, due_at: str) -> str:
    """Awaits a transfer for the order (once: asked again, the same reference); its creditor reference."""
    await expect_payments(engine, [Awaited(order_id, amount_cents, currency, due_at)])
    return creditor_reference(order_id)


async def expect_payments(engine: AsyncEngine, awaited: list[Awaited]) -> None:
    """Awaits a transfer for each order, in one transaction: a drop holds hundreds of orders a second. An
    order awaited already keeps its row; only a later deadline (a card hold turned into a transfer) is taken."""
    fresh = {creditor_reference(a.order_id): a for a in awaited}
    try:
        async with engine.begin() as conn:
            known = set((await conn.scalars(sa.select(expected_payments.c.reference)
                                            .where(expected_payments.c.reference.in_(sorted(fresh))))).all())
            now = events.now_iso()
            rows = [{"reference": ref, "order_id": a.order_id, "amount_cents": a.amount_cents,
                     "currency": a.currency.upper(), "status": "awaiting", "due_at": a.due_at, "created_at": now,
                     "username": a.username, "account_iban": a.account.iban if a.account else None,
                     "account_bic": a.account.bic if a.account else None,
                     "account_name": a.account.beneficiary if a.account else None}
                    for ref, a in fresh.items() if ref not in known]
            if rows:
                await conn.execute(expected_payments.insert(), rows)
            later = [{"b_ref": ref, "b_due": a.due_at} for ref, a in fresh.items() if ref in known]
            if later:  # held again: a card hold the buyer pays by transfer instead lasts longer
                await conn.execute(expected_payments.update().where(
                    expected_payments.c.reference == sa.bindparam("b_ref"), expected_payments.c.status == "awaiting",
                    expected_payments.c.due_at < sa.bindparam("b_due")).values(due_at=sa.bindparam("b_due")), later)
    except IntegrityError:  # another consumer awaited one of them meanwhile: one at a time then
        if len(awaited) == 1:
            return
        for one in awaited:
            await expect_payments(engine, [one])


async def owe_back(conn: AsyncConnection, order_id: str, reason: str) -> bool:
    """The order could not take its payment (it expired and sold out meanwhile, or was cancelled): the
    awaited payment is marked to be refunded, with the reason (in the caller's transaction)."""
    marked = await conn.execute(expected_payments.update().where(expected_payments.c.order_id == order_id)
                                .values(status="refund", note=reason[:300]))
    return marked.rowcount == 1


@dataclass
class ImportResult:
    format: str
    matched: list[str] = field(default_factory=list)  # the orders paid by this statement
    unmatched: int = 0
    duplicates: int = 0
    review: int = 0

    def summary(self) -> dict[str, Any]:
        return {"format": self.format, "matched": len(self.matched), "unmatched": self.unmatched,
                "duplicates": self.duplicates, "review": self.review, "paid_orders": self.matched}


async def import_statement(engine: AsyncEngine, data: bytes) -> ImportResult:
    """Reads the statement (StatementUnreadable says why it cannot) and applies each credit once, in one
    transaction: a statement is taken whole or not at all. The payments it names are read and written a
    chunk of statements at a time, not one per line (a statement may have tens of thousands of lines)."""
    kind, credits = parse_statement(data)
    result = ImportResult(kind)
    async with engine.begin() as conn:
        known = await _known_lines(conn, [credit.entry_id for credit in credits])
        fresh = []
        for credit in credits:
            if credit.entry_id in known:
                result.duplicates += 1
            else:
                known.add(credit.entry_id)
                fresh.append((credit, find_references(credit.text)))
        awaited = await _awaited(conn, sorted({ref for _, refs in fresh for ref in refs}))
        changed: set[str] = set()
        lines = []
        now = events.now_iso()
        for credit, references in fresh:
            outcome, reference, reason = _apply(credit, references, awaited)
            if reference and outcome != "unmatched":
                changed.add(reference)
            lines.append({"entry_id": credit.entry_id, "format": kind, "booked_on": credit.booked_on,
                          "amount_cents": credit.amount_cents, "currency": credit.currency, "text": credit.text[:500],
                          "payer": credit.payer[:140], "payer_iban": credit.payer_iban or None, "reference": reference,
                          "outcome": outcome, "reason": reason, "imported_at": now})
            if outcome == "unmatched":
                result.unmatched += 1
            elif outcome == "review":
                result.review += 1
            elif reference is not None:
                result.matched.append(awaited[reference]["order_id"])
        if changed:
            await conn.execute(SAVE_RECEIVED, [{"b_reference": ref, "b_received": awaited[ref]["received_cents"],
                                                "b_status": awaited[ref]["status"],
                                                "b_paid_at": now if awaited[ref]["status"] == "paid" else None,
                                                "b_payer_name": awaited[ref]["payer_name"],
                                                "b_payer_iban": awaited[ref]["payer_iban"]}
                                               for ref in sorted(changed)])
        for first in range(0, len(lines), CHUNK):
            await conn.execute(statement_lines.insert(), lines[first:first + CHUNK])
        paid = [(str(line["reference"]), str(line["entry_id"])) for line in lines if line["outcome"] == "matched"]
        await outbox.emit_many(conn, event_outbox, [
            (PAYMENT_EVENTS_TOPIC, awaited[reference]["order_id"], _received(awaited[reference], entry_id, now))
            for reference, entry_id in paid])
    return result


def _received(payment: dict[str, Any], entry_id: str, now: str) -> dict[str, Any]:
    """PAYMENT_RECEIVED for an order a statement line paid (the line's id is the payment's: read again, the
    same line is the same payment)."""
    return messages.envelope(PaymentReceived(
        order_id=payment["order_id"], amount_cents=payment["amount_cents"], currency=payment["currency"],
        method=PaymentMethod.BANK_TRANSFER, payment_id=f"bank:{entry_id}", received_at=now),
        SOURCE, subject=payment["order_id"])


CHUNK = 1000  # ids to a query and lines to an insert: a statement may have tens of thousands
SAVE_RECEIVED = (expected_payments.update().where(expected_payments.c.reference == sa.bindparam("b_reference"))
                 .values(received_cents=sa.bindparam("b_received"), status=sa.bindparam("b_status"),
                         paid_at=sa.bindparam("b_paid_at"), payer_name=sa.bindparam("b_payer_name"),
                         payer_iban=sa.bindparam("b_payer_iban")))


async def _known_lines(conn: AsyncConnection, entry_ids: list[str]) -> set[str]:
    known: set[str] = set()
    for first in range(0, len(entry_ids), CHUNK):
        known |= set((await conn.scalars(sa.select(statement_lines.c.entry_id).where(
            statement_lines.c.entry_id.in_(entry_ids[first:first + CHUNK])))).all())
    return known


async def _awaited(conn: AsyncConnection, references: list[str]) -> dict[str, dict[str, Any]]:
    """The expected payments these references name, locked for this transaction, by reference."""
    found: dict[str, dict[str, Any]] = {}
    for first in range(0, len(references), CHUNK):
        rows = (await conn.execute(sa.select(expected_payments).where(
            expected_payments.c.reference.in_(references[first:first + CHUNK])).with_for_update())).mappings()
        found |= {row["reference"]: dict(row) for row in rows}
    return found


def _apply(credit: Credit, references: list[str], awaited: dict[str, dict[str, Any]]) -> tuple[str, str | None,
                                                                                               str | None]:
    """(outcome, the reference it went to, why a person must look at it); the awaited payment it goes to is
    changed in `awaited` (received so far, status)."""
    if not references:
        return "unmatched", None, "no payment reference in the text"
    reference = next((ref for ref in references if ref in awaited), None)
    if reference is None:
        return "unmatched", None, f"nobody awaits {references[0]}"
    payment = awaited[reference]
    if credit.currency != payment["currency"]:
        return "review", reference, f"paid in {credit.currency}, the order is in {payment['currency']}"
    if payment["status"] != "awaiting" and payment["status"] != "review":
        return "review", reference, "the order was paid already: refund this payment"
    payment["payer_name"] = credit.payer[:140] or payment["payer_name"]
    payment["payer_iban"] = credit.payer_iban or payment["payer_iban"]
    received = payment["received_cents"] + credit.amount_cents
    due = payment["amount_cents"]
    payment["received_cents"] = received
    if received == due:
        payment["status"] = "paid"
        return "matched", reference, None
    payment["status"] = "review"
    if received < due:
        return "review", reference, f"{euros(received)} of {euros(due)} received so far"
    return "review", reference, f"over-paid: {euros(received)} for {euros(due)}"


async def review_list(engine: AsyncEngine, limit: int = 200) -> list[dict[str, Any]]:
    """The statement lines a person must look at, newest first."""
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(statement_lines).where(statement_lines.c.outcome != "matched")
                                   .order_by(statement_lines.c.imported_at.desc()).limit(limit))).mappings().all()
    return [dict(row) for row in rows]


class NotAwaited(Exception):
    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status, self.detail = status, detail


async def mark_paid(engine: AsyncEngine, order_id: str, by: str) -> None:
    """The organiser took the money themselves (at the box office, in cash): the order's awaited payment is paid,
    and PAYMENT_RECEIVED (method manual, payment id `manual:<order>`) goes to the inventory in the same
    transaction. Marked twice, it is paid once (409 the second time)."""
    async with engine.begin() as conn:
        marked = await conn.execute(expected_payments.update().where(
            expected_payments.c.order_id == order_id, expected_payments.c.status.in_(["awaiting", "review"]))
            .values(status="paid", received_cents=expected_payments.c.amount_cents, paid_at=events.now_iso(),
                    note=f"marked paid by {by}"[:300]))
        if marked.rowcount != 1:
            status = await conn.scalar(sa.select(expected_payments.c.status)
                                       .where(expected_payments.c.order_id == order_id))
            if status is None:
                raise NotAwaited(404, "no payment of this order is awaited")
            raise NotAwaited(409, f"this order's payment is {status} already")
        row = (await conn.execute(sa.select(expected_payments).where(expected_payments.c.order_id == order_id))
               ).mappings().one()
        received = messages.envelope(PaymentReceived(
            order_id=order_id, amount_cents=row["amount_cents"], currency=row["currency"], method=PaymentMethod.MANUAL,
            payment_id=f"manual:{order_id}", received_at=events.now_iso()), SOURCE, subject=order_id)
        await outbox.emit(conn, event_outbox, PAYMENT_EVENTS_TOPIC, order_id, received)
