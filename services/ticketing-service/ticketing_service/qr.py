"""QR codes drawn server-side (segno), as SVG for pages and PNG for mails."""
from __future__ import annotations

import io

import segno


def svg(payload: str, scale: int = 6) -> bytes:
    out = io.BytesIO()
    segno.make(payload, error="m").save(out, kind="svg", scale=scale, border=4, xmldecl=False,
                                         svgclass=None, lineclass=None, title="Ticket QR code")
    return out.getvalue()
