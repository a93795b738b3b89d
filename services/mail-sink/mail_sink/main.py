"""SMTP on SMTP_PORT (default 1025), mailbox page and /api/messages on the HTTP port."""
from __future__ import annotations

import html
from contextlib import asynccontextmanager
from pathlib import Path

from aiosmtpd.controller import Controller
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from mail_sink.mailbox import Mailbox
from mail_sink.settings import Settings


class _KeepEverything:
    def __init__(self, mailbox: Mailbox):
        self.mailbox = mailbox

    async def handle_DATA(self, server, session, envelope):
        self.mailbox.store(envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


@asynccontextmanager
async def lifespan(app: FastAPI):
    settings: Settings = app.state.settings
    mailbox = Mailbox(Path(settings.mailbox_dir))
    controller = Controller(_KeepEverything(mailbox), hostname=settings.smtp_host, port=settings.smtp_port)
    controller.start()
    app.state.mailbox = mailbox
    try:
        yield
    finally:
        controller.stop()


def create_app(settings: Settings | None = None) -> FastAPI:
    """The mail sink (run by `uvicorn --factory mail_sink.main:create_app`)."""
    app = FastAPI(title="FestFlow mail sink", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)  # internal: no documents of its routes for strangers
    app.state.settings = settings or Settings()
    app.add_api_route("/healthz", healthz, methods=["GET"])
    app.add_api_route("/api/messages", messages, methods=["GET"])
    app.add_api_route("/api/count", count, methods=["GET"])
    app.add_api_route("/api/messages/{name}/raw", raw_message, methods=["GET"])
    app.add_api_route("/", mailbox_page, methods=["GET"], response_class=HTMLResponse)
    return app


async def healthz():
    return {"status": "ok"}


async def messages(request: Request, order: str | None = None, to: str | None = None):
    """Every message, or with `?order=<order id>` those about that order, `?to=<address>` those to it."""
    return request.app.state.mailbox.messages(order, to)


async def count(request: Request):
    """How many messages are kept, without reading any (a bench waits on this for a drop's mails)."""
    return {"messages": request.app.state.mailbox.count()}


async def raw_message(request: Request, name: str) -> Response:
    """The message as it arrived (message/rfc822), with its HTML part and attachments."""
    raw = request.app.state.mailbox.raw(name)
    if raw is None:
        raise HTTPException(404, "no such message")
    return Response(raw, media_type="message/rfc822")


async def mailbox_page(request: Request):
    rows = "".join(
        f"<article><h3>{html.escape(m['subject'] or '')}</h3><p><b>To:</b> {html.escape(m['to'] or '')} "
        f"<b>Date:</b> {html.escape(m['date'] or '')}</p><pre>{html.escape(m['body'])}</pre></article>"
        for m in reversed(request.app.state.mailbox.messages())
    )
    return f"<!doctype html><title>FestFlow mailbox</title><h1>Mailbox</h1>{rows or '<p>No mail yet.</p>'}"
