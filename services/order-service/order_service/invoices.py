"""An order's invoice, and the credit note of each cancellation of something paid, as PDFs. The invoice: the
number the inventory gave the sale (gapless, TicketSold.invoice_number), the seller (the festival's
beneficiary, address and VAT id), the buyer, each line with its VAT rate, and the totals per rate: net, VAT and
gross. Prices are gross (they include VAT, as a consumer's price does); each rate's VAT is worked out once on
its lines' gross total, so the invoice adds up to the cent. A credit note (its own gapless series,
OrderCancelled.credit_note_number) names the invoice it corrects and the same, negative, for what was
cancelled."""
from __future__ import annotations

import io
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from festflow_contracts.money import euros
from festflow_runtime import display


def vat_split(gross_cents: int, rate_bp: int) -> tuple[int, int]:
    """(net, VAT) in cents of a gross amount that includes VAT at `rate_bp` basis points."""
    net = (Decimal(gross_cents) * 10000 / (10000 + rate_bp)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return int(net), gross_cents - int(net)


def rate_text(rate_bp: int) -> str:
    return f"{Decimal(rate_bp) / 100:.2f}".rstrip("0").rstrip(".") + " %"


def totals_by_rate(items: list[dict[str, Any]]) -> list[tuple[int, int, int, int]]:
    """[(rate in basis points, net, VAT, gross)] of the order's lines, highest rate first."""
    gross: dict[int, int] = defaultdict(int)
    for item in items:
        gross[int(item.get("vat_rate_bp") or 0)] += item["quantity"] * item["unit_price_cents"]
    return [(rate, *vat_split(amount, rate), amount) for rate, amount in sorted(gross.items(), reverse=True)]


def invoice_pdf(order: dict[str, Any], buyer: dict[str, str], seller: dict[str, Any]) -> bytes:
    """The invoice of a confirmed order (`order`: its row, with `invoice_number`, `items`, `total_cents` and
    `updated_at`, when it was confirmed; `buyer`: username and email; `seller`: the festival and who sold, as
    they were at the sale: `name`, dates, `seller` (or `beneficiary`), `seller_address`, `vat_id`)."""
    # it was held until paid (by transfer, card or at the box office): it is paid
    return _document(f"Invoice {order['invoice_number']}", order, order["updated_at"], order["items"],
                     order["total_cents"], buyer, seller, ["Paid."] if order.get("payment") else [])


def credit_note_pdf(order: dict[str, Any], note: dict[str, Any], buyer: dict[str, str],
                    seller: dict[str, Any]) -> bytes:
    """The credit note of a cancellation of something paid (`note`: its `number`, `at`, `items` cancelled,
    `amount_cents`, `reason`, `codes`): it names the invoice it corrects, and its lines and totals are negative."""
    reference = f"Corrects invoice {order['invoice_number']}" if order.get("invoice_number") else ""
    part = f" (tickets {', '.join(note['codes'])})" if note.get("codes") else " (the whole order)"
    return _document(f"Credit note {note['number']}", order, note["at"], note["items"], note["amount_cents"], buyer,
                     seller, [f"Cancelled{part}: {note['reason']}", "The amount is refunded to the buyer."],
                     sign=-1, reference=reference)


def _document(title: str, order: dict[str, Any], dated: str, items: list[dict[str, Any]], total_cents: int,
              buyer: dict[str, str], seller: dict[str, Any], closing: list[str], sign: int = 1,
              reference: str = "") -> bytes:
    """An invoice or a credit note (`sign` -1: every amount negative) as one A4 page."""
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, pageCompression=1)
    pdf.setTitle(title)
    seller_name = seller.get("seller") or seller.get("beneficiary") or seller.get("name") or "FestFlow"
    pdf.setAuthor(seller_name)
    width, height = A4
    left, y = 20 * mm, height - 25 * mm

    def line(text: str, size: float = 10, bold: bool = False, x: float = left) -> None:
        nonlocal y
        pdf.setFont("Helvetica-Bold" if bold else "Helvetica", size)
        pdf.drawString(x, y, text)
        y -= size * 0.5 * mm + 2 * mm

    def money(cents: int) -> str:
        return euros(sign * cents) if sign > 0 or cents == 0 else "-" + euros(cents)

    line(seller_name, 12, bold=True)
    for text in filter(None, [seller.get("seller_address"), seller.get("vat_id") and f"VAT id {seller['vat_id']}"]):
        line(str(text))
    y -= 6 * mm
    line(title, 16, bold=True)
    if reference:
        line(reference, bold=True)
    line(f"Date: {display.moment(dated)[:11]}")
    line(f"Order: {order['order_id']}")
    line(f"Buyer: {buyer['username']}{' <' + buyer['email'] + '>' if buyer.get('email') else ''}")
    dates = display.date_range(seller["starts_on"], seller.get("ends_on")) if seller.get("starts_on") else ""
    line(f"For: {seller.get('name', '')}{', ' + dates if dates else ''}")
    y -= 4 * mm
    columns = (left, left + 85 * mm, left + 105 * mm, left + 130 * mm, left + 150 * mm)
    pdf.setFont("Helvetica-Bold", 10)
    for x, heading in zip(columns, ("Ticket", "Quantity", "Unit price", "VAT", "Amount"), strict=True):
        pdf.drawString(x, y, heading)
    y -= 7 * mm
    pdf.setFont("Helvetica", 10)
    for item in items:
        amount = item["quantity"] * item["unit_price_cents"]
        for x, text in zip(columns, (item["name"][:48], str(item["quantity"]), euros(item["unit_price_cents"]),
                                     rate_text(int(item.get("vat_rate_bp") or 0)), money(amount)), strict=True):
            pdf.drawString(x, y, text)
        y -= 6 * mm
    y -= 4 * mm
    for rate, net, vat, gross in totals_by_rate(items):
        line(f"{rate_text(rate)} VAT: net {money(net)} + VAT {money(vat)} = {money(gross)}", x=columns[1])
    line(f"Total (VAT included): {money(total_cents)}", 12, bold=True, x=columns[1])
    for text in closing:
        line(text[:100], x=columns[1] if len(text) < 40 else left)
    pdf.showPage()
    pdf.save()
    return out.getvalue()
