"""Paying an order held for the buyer: what to pay, by when, to whom, with which reference, and the EPC QR
code (GiroCode) a European banking app scans to fill in the transfer."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import segno.helpers
from markupsafe import Markup

from festflow_contracts.money import cents_to_str
from festflow_contracts.payment_reference import printed


def pay_box(order: dict[str, Any]) -> dict[str, Any] | None:
    """How to pay an order awaiting payment (None for any other): the amount, the deadline, the account in
    groups of four as banks print it, and the EPC QR code, which needs the account holder's name."""
    payment = order.get("payment")
    if order.get("status") != "AWAITING_PAYMENT" or not payment:
        return None
    iban, bic, name = payment.get("iban") or "", payment.get("bic") or "", payment.get("beneficiary") or ""
    qr = None
    if iban and name and payment["currency"] == "EUR":
        code = segno.helpers.make_epc_qr(name=name, iban=iban, amount=Decimal(payment["amount_cents"]) / 100,
                                         reference=payment["reference"], bic=bic or None)
        qr = Markup(code.svg_inline(scale=4, dark="#111", title="EPC QR code of this bank transfer"))
    return {"amount": cents_to_str(payment["amount_cents"]), "currency": payment["currency"],
            "due_at": payment["due_at"], "iban": printed(iban), "bic": bic, "beneficiary": name,
            "reference": printed(payment["reference"]), "method": payment["method"], "qr": qr}
