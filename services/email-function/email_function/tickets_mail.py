"""The confirmation mail's tickets: each ticket's QR code as an inline PNG in the HTML part, and a PDF
with one page per ticket (festival, ticket type, holder, code and a QR code large enough to scan)."""
from __future__ import annotations

import html
import io
from email.message import EmailMessage
from email.utils import make_msgid

import segno
from PIL import Image, ImageOps
from reportlab import rl_config
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from festflow_contracts.messages import FestivalSummary, IssuedTicket, TicketsIssued

# PDF streams compressed and left binary: ASCII85 encoding them (reportlab's default, in Python) cost a
# tenth of a confirmation mail
rl_config.useA85 = 0


def qr_code(payload: str) -> segno.QRCode:
    """A ticket's QR code, made once per mail. The mask is fixed: choosing the best of the eight (segno's
    default) costs five times the rest of the encoding, and any mask scans (it is named in the code)."""
    return segno.make(payload, error="m", mask=0)


def qr_png(qr: segno.QRCode, scale: int = 6, border: int = 4) -> bytes:
    """The code as a black-and-white PNG, `scale` pixels a module, inside a quiet zone of `border` modules
    (drawn and compressed by Pillow in C: segno's own PNG writer, in Python, cost 3-7 ms a code)."""
    rows = [bytes(0 if module & 1 else 255 for module in row) for row in qr.matrix]
    size = len(rows)
    image = ImageOps.expand(Image.frombytes("L", (size, size), b"".join(rows)), border=border, fill=255)
    image = image.resize(((size + 2 * border) * scale,) * 2, Image.Resampling.NEAREST).convert("1")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def draw_qr(pdf: canvas.Canvas, qr: segno.QRCode, x: float, y: float, size: float) -> None:
    """The QR code as vector squares (sharp at any zoom; no image to encode and decode), inside a quiet
    zone of 4 modules: one rectangle per run of dark modules in a row, written as PDF operators in module
    units (reportlab's own rect() formats four floats in Python per call, the bulk of a mail's cost)."""
    rows = [list(row) for row in qr.matrix]
    count = len(rows)
    module = size / (count + 8)
    runs = []
    for r, row in enumerate(rows):
        c = 0
        while c < count:
            if row[c] & 1:
                start = c
                while c < count and row[c] & 1:
                    c += 1
                runs.append(f"{start + 4} {count + 3 - r} {c - start} 1 re")
            else:
                c += 1
    pdf.saveState()
    pdf.transform(module, 0, 0, module, x, y)
    pdf.addLiteral("\n".join(runs) + "\nf")
    pdf.restoreState()


def tickets_pdf(issued: TicketsIssued, when: str, where: str, codes: list[segno.QRCode] | None = None) -> bytes:
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, pageCompression=1)
    pdf.setTitle(f"Tickets - order {issued.order_id[:8]}")
    width, height = A4
    festival_name = issued.festival.name if issued.festival else "FestFlow"
    codes = codes or [qr_code(ticket.qr) for ticket in issued.tickets]
    for number, (ticket, qr) in enumerate(zip(issued.tickets, codes, strict=True), start=1):
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
        size = 90 * mm
        draw_qr(pdf, qr, (width - size) / 2, 60 * mm, size)
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
    codes = [qr_code(ticket.qr) for ticket in issued.tickets]
    for ticket, cid, qr in zip(issued.tickets, cids, codes, strict=True):
        html_part.add_related(qr_png(qr), maintype="image", subtype="png", cid=cid,
                              filename=f"ticket-{ticket.code}.png")
    msg.add_attachment(tickets_pdf(issued, when, where, codes), maintype="application", subtype="pdf",
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
