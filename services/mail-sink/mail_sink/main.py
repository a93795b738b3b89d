"""SMTP on SMTP_PORT (default 1025), mailbox page and /api/messages on the HTTP port."""
from __future__ import annotations

import html
import os
from contextlib import asynccontextmanager
from pathlib import Path

from aiosmtpd.controller import Controller
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from mail_sink.mailbox import Mailbox


class _KeepEverything:
    def __init__(self, mailbox: Mailbox):
        self.mailbox = mailbox

    async def handle_DATA(self, server, session, envelope):
        self.mailbox.store(envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


@asynccontextmanager
async def lifespan(app: FastAPI):
    mailbox = Mailbox(Path(os.environ.get("MAILBOX_DIR", "./mailbox")))
    controller = Controller(_KeepEverything(mailbox), hostname=os.environ.get("SMTP_HOST", "127.0.0.1"),
                            port=int(os.environ.get("SMTP_PORT", "1025")))
    controller.start()
    app.state.mailbox = mailbox
    try:
        yield
    finally:
        controller.stop()


app = FastAPI(title="FestFlow mail sink", lifespan=lifespan)


@app.get("/healthz")
async def healthz():
    return {"status": "ok"}


@app.get("/api/messages")
async def messages(request: Request, order: str | None = None):
    """Every message, or with `?order=<order id>` those about that order."""
    return request.app.state.mailbox.messages(order)


@app.get("/", response_class=HTMLResponse)
async def mailbox_page(request: Request):
    rows = "".join(
        f"<article><h3>{html.escape(m['subject'] or '')}</h3><p><b>To:</b> {html.escape(m['to'] or '')} "
        f"<b>Date:</b> {html.escape(m['date'] or '')}</p><pre>{html.escape(m['body'])}</pre></article>"
        for m in reversed(request.app.state.mailbox.messages())
    )
    return f"<!doctype html><title>FestFlow mailbox</title><h1>Mailbox</h1>{rows or '<p>No mail yet.</p>'}"
