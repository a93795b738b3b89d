"""An order's invoice as a PDF: the number the inventory gave the sale (gapless, TicketSold.invoice_number), the
seller (the festival's beneficiary, address and VAT id), the buyer, each line with its VAT rate, and the totals
per rate: net, VAT and gross. Prices are gross (they include VAT, as a consumer's price does); each rate's VAT
is worked out once on its lines' gross total, so the invoice adds up to the cent."""
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
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, pageCompression=1)
    number = order["invoice_number"]
    pdf.setTitle(f"Invoice {number}")
    seller_name = seller.get("seller") or seller.get("beneficiary") or seller.get("name") or "FestFlow"
    pdf.setAuthor(seller_name)
    width, height = A4
    left, y = 20 * mm, height - 25 * mm

    def line(text: str, size: float = 10, bold: bool = False, x: float = left) -> None:
        nonlocal y
        pdf.setFont("Helvetica-Bold" if bold else "Helvetica", size)
        pdf.drawString(x, y, text)
        y -= size * 0.5 * mm + 2 * mm

    line(seller_name, 12, bold=True)
    for text in filter(None, [seller.get("seller_address"), seller.get("vat_id") and f"VAT id {seller['vat_id']}"]):
        line(str(text))
    y -= 6 * mm
    line(f"Invoice {number}", 16, bold=True)
    line(f"Date: {display.moment(order['updated_at'])[:11]}")
    line(f"Order: {order['order_id']}")
    line(f"Buyer: {buyer['username']}{' <' + buyer['email'] + '>' if buyer.get('email') else ''}")
    dates = display.date_range(seller["starts_on"], seller.get("ends_on")) if seller.get("starts_on") else ""
    line(f"For: {seller.get('name', '')}{', ' + dates if dates else ''}")
    y -= 4 * mm
    columns = (left, left + 85 * mm, left + 105 * mm, left + 130 * mm, left + 150 * mm)
    pdf.setFont("Helvetica-Bold", 10)
    for x, title in zip(columns, ("Ticket", "Quantity", "Unit price", "VAT", "Amount"), strict=True):
        pdf.drawString(x, y, title)
    y -= 7 * mm
    pdf.setFont("Helvetica", 10)
    for item in order["items"]:
        amount = item["quantity"] * item["unit_price_cents"]
        for x, text in zip(columns, (item["name"][:48], str(item["quantity"]), euros(item["unit_price_cents"]),
                                     rate_text(int(item.get("vat_rate_bp") or 0)), euros(amount)), strict=True):
            pdf.drawString(x, y, text)
        y -= 6 * mm
    y -= 4 * mm
    for rate, net, vat, gross in totals_by_rate(order["items"]):
        line(f"{rate_text(rate)} VAT: net {euros(net)} + VAT {euros(vat)} = {euros(gross)}", x=columns[1])
    line(f"Total (VAT included): {euros(order['total_cents'])}", 12, bold=True, x=columns[1])
    if order.get("payment"):  # it was held until paid (by transfer, card or at the box office): it is paid
        line("Paid.", x=columns[1])
    pdf.showPage()
    pdf.save()
    return out.getvalue()
