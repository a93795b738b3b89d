"""Refunds of paid orders: an order the organiser cancels after it was paid (or a payment the order could not
take) owes its money back. A card payment is refunded through Stripe by the payment worker; a bank transfer is
refunded by the organiser's bank: `sepa_file` writes the due transfers as a SEPA credit transfer file (pain.001,
made with sepaxml) from the account the money was paid into, to the account it came from, and marks them sent
in the same transaction, so that no refund goes into two files. A refund whose payer's account the statement
did not name stays on the list, for a person."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sepaxml import SepaTransfer
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from festflow_contracts import events
from festflow_contracts.payment_reference import creditor_reference
from payment_service.db import card_payments, expected_payments


class NothingToRefund(Exception):
    """No bank refund is due that a file could carry (none due, or none with the payer's account)."""


async def owe_back_cancelled(conn: AsyncConnection, order_id: str, reason: str) -> None:
    """A paid order was cancelled: its bank transfer is owed back, its captured card payment refunded."""
    await conn.execute(expected_payments.update().where(expected_payments.c.order_id == order_id,
                                                        expected_payments.c.status == "paid")
                       .values(status="refund", note=f"cancelled: {reason}"[:300]))
    await conn.execute(card_payments.update().where(card_payments.c.order_id == order_id,
                                                    card_payments.c.status == "captured",
                                                    card_payments.c.action.is_(None))
                       .values(action="refund", note=f"cancelled: {reason}"[:300], updated_at=events.now_iso()))


async def due(engine: AsyncEngine) -> list[dict[str, Any]]:
    """The bank transfers owed back and not sent yet, oldest first, each with why and where to."""
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(expected_payments).where(expected_payments.c.status == "refund",
                                                                      expected_payments.c.received_cents > 0)
                                   .order_by(expected_payments.c.created_at))).mappings().all()
    return [{"order_id": r["order_id"], "amount_cents": r["received_cents"], "currency": r["currency"],
             "payer_name": r["payer_name"] or "", "payer_iban": r["payer_iban"] or "", "reason": r["note"] or "",
             "by_hand": not r["payer_iban"]} for r in rows]


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
        query = (sa.select(expected_payments).where(expected_payments.c.status == "refund",
                                                    expected_payments.c.received_cents > 0,
                                                    expected_payments.c.currency == "EUR")
                 .order_by(expected_payments.c.created_at))
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        rows = (await conn.execute(query)).mappings().all()
        payable = [r for r in rows if r["payer_iban"] and r["account_iban"]]
        if not payable:
            raise NothingToRefund("no bank refund is due that a file can carry" if not rows else
                                  f"{len(rows)} refund(s) are due, but the statements did not name the payer's "
                                  "account (or the order's account is unknown): refund those by hand")
        account = payable[0]["account_iban"]
        batch = [r for r in payable if r["account_iban"] == account]
        xml = _pain001(batch, execution_date or date.today())
        await conn.execute(expected_payments.update().where(
            expected_payments.c.reference.in_([r["reference"] for r in batch]),
            expected_payments.c.status == "refund").values(status="refunded", refunded_at=events.now_iso()))
    return SepaFile(xml, len(batch), sum(r["received_cents"] for r in batch), len(rows) - len(payable))


def _pain001(rows: Sequence[Any], execution_date: date) -> bytes:
    first = rows[0]
    config = {"name": first["account_name"] or "Festival organiser", "IBAN": first["account_iban"], "batch": True,
              "currency": "EUR"} | ({"BIC": first["account_bic"]} if first["account_bic"] else {})
    transfer = SepaTransfer(config, clean=True)
    for row in rows:
        transfer.add_payment({
            "name": (row["payer_name"] or "Buyer")[:70], "IBAN": row["payer_iban"], "amount": row["received_cents"],
            "execution_date": execution_date,
            "description": f"Refund FestFlow order {creditor_reference(row['order_id'])}"[:140],
            "endtoend_id": creditor_reference(row["order_id"])})
    return transfer.export(validate=True)
