"""The confirmation mail's tickets: each ticket's QR code as an inline PNG in the HTML part, and a PDF
with one page per ticket (festival, ticket type, holder, code and a QR code large enough to scan)."""
from __future__ import annotations

import html
import io
from email.message import EmailMessage
from email.utils import make_msgid

import segno
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

from festflow_contracts.messages import FestivalSummary, IssuedTicket, TicketsIssued


def qr_png(payload: str, scale: int = 6) -> bytes:
    out = io.BytesIO()
    segno.make(payload, error="m").save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


def tickets_pdf(issued: TicketsIssued, when: str, where: str) -> bytes:
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, pageCompression=1)
    pdf.setTitle(f"Tickets - order {issued.order_id[:8]}")
    width, height = A4
    festival_name = issued.festival.name if issued.festival else "FestFlow"
    for number, ticket in enumerate(issued.tickets, start=1):
        pdf.setFont("Helvetica-Bold", 24)
        pdf.drawString(20 * mm, height - 30 * mm, festival_name)
        pdf.setFont("Helvetica", 12)
        y = height - 40 * mm
        for line in (when, where):
            if line:
                pdf.drawString(20 * mm, y, line)
                y -= 7 * mm
        pdf.setFont("Helvetica-Bold", 18)
        pdf.drawString(20 * mm, y - 8 * mm, ticket.name)
        pdf.setFont("Helvetica", 12)
        pdf.drawString(20 * mm, y - 16 * mm, f"Holder: {ticket.holder or issued.username}")
        pdf.drawString(20 * mm, y - 23 * mm, f"Ticket {number} of {len(issued.tickets)} - order {issued.order_id[:8]}")
        size = 90 * mm  # the same PNG as in the mail (segno), sharp at any zoom since it is scaled by whole pixels
        pdf.drawImage(ImageReader(io.BytesIO(qr_png(ticket.qr, scale=10))), (width - size) / 2, 60 * mm, size, size)
        pdf.setFont("Courier-Bold", 14)
        pdf.drawCentredString(width / 2, 50 * mm, ticket.code)
        pdf.setFont("Helvetica", 9)
        pdf.drawCentredString(width / 2, 42 * mm, "Show this code at the gate. It admits once.")
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def add_tickets(msg: EmailMessage, issued: TicketsIssued, text: str, when: str, where: str) -> None:
    """The mail's parts: plain text, HTML with each ticket's QR code inline, and the PDF attached."""
    msg.set_content(text)
    cids = [make_msgid(domain="festflow.local") for _ in issued.tickets]
    msg.add_alternative(_html(issued, cids, when, where), subtype="html")
    html_part = msg.get_body(preferencelist=("html",))
    assert isinstance(html_part, EmailMessage)
    for ticket, cid in zip(issued.tickets, cids, strict=True):
        html_part.add_related(qr_png(ticket.qr), maintype="image", subtype="png", cid=cid,
                              filename=f"ticket-{ticket.code}.png")
    msg.add_attachment(tickets_pdf(issued, when, where), maintype="application", subtype="pdf",
                       filename=f"tickets-{issued.order_id[:8]}.pdf")


def _html(issued: TicketsIssued, cids: list[str], when: str, where: str) -> str:
    e = html.escape
    festival: FestivalSummary | None = issued.festival
    head = (f"<h1 style=\"margin:0 0 4px\">{e(festival.name)}</h1><p style=\"margin:0 0 16px\">"
            f"{e(when)}{'<br>' if when and where else ''}{e(where)}</p>") if festival else ""
    cards = "".join(_card(ticket, cid, n, len(issued.tickets)) for n, (ticket, cid) in
                    enumerate(zip(issued.tickets, cids, strict=True), start=1))
    return (f"<!doctype html><html><body style=\"font-family:sans-serif;color:#1d1b29\">{head}"
            f"<p>Hello {e(issued.username)}, your order <b>{e(issued.order_id[:8])}</b> is confirmed. "
            f"Here are your tickets: show each QR code at the gate (the PDF has them too).</p>{cards}"
            "<p>See you at the festival!<br>FestFlow</p></body></html>")


def _card(ticket: IssuedTicket, cid: str, number: int, count: int) -> str:
    e = html.escape
    return (f"<div style=\"border:1px solid #ddd;border-radius:8px;padding:12px;margin:12px 0;max-width:360px\">"
            f"<p style=\"margin:0\"><b>{e(ticket.name)}</b> &middot; ticket {number} of {count}</p>"
            f"<img src=\"cid:{cid.strip('<>')}\" alt=\"QR code of ticket {e(ticket.code)}\" "
            "width=\"240\" height=\"240\">"
            f"<p style=\"margin:0;font-family:monospace\">{e(ticket.code)}</p></div>")
