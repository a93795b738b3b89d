"""The JSON views of the order service's rows that more than one route answers with."""
from __future__ import annotations

from typing import Any

from festflow_contracts.money import cents_to_str


def order_view(row) -> dict:
    return {
        "order_id": row["order_id"], "status": row["status"], "reason": row["reason"],
        "items": row["items"], "total": cents_to_str(row["total_cents"]), "total_cents": row["total_cents"],
        "created_at": row["created_at"], "updated_at": row["updated_at"], "tickets": row.get("tickets") or [],
        "payment": row.get("payment"), "invoice_number": row.get("invoice_number"),
        "invoice_url": f"/api/orders/{row['order_id']}/invoice.pdf" if row.get("invoice_number") else None,
        "credit_notes": [{"number": note["number"], "amount_cents": note["amount_cents"],
                          "url": f"/api/orders/{row['order_id']}/credit-notes/{note['number']}.pdf"}
                         for note in row.get("credit_notes") or []],
    }


# how buyers pay and who sells: on pay pages, receipts and invoices (the defaults of an older inventory's event)
PAYMENT_DEFAULTS = {"payment_hold_minutes": 15, "card_payments": False, "bank_transfer_days": 5,
                    "late_payment_days": 14, "iban": "", "bic": "", "beneficiary": "", "vat_id": "",
                    "seller_address": ""}


def public_festival(details: dict[str, Any]) -> dict[str, Any]:
    version = details.get("banner_version") or 0
    return {key: details.get(key, "") for key in ("name", "starts_on", "ends_on", "venue", "address", "description")} \
        | {key: details.get(key, default) for key, default in PAYMENT_DEFAULTS.items()} \
        | {"banner_url": f"/api/festival/banner?v={version}" if version else None, "version": details["version"]}
