"""Runs the Kafka trigger of the email function, with a /healthz."""
from __future__ import annotations

import asyncio
import logging
import socket
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request

from email_function import kafka_trigger
from email_function.handler import SmtpSession, SqliteSentLog
from email_function.settings import Settings
from festflow_runtime.health import health_answer
from festflow_runtime.log_feed import LogFeed
from festflow_runtime.startup_heap import freeze_startup_heap

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@asynccontextmanager
async def lifespan(app: FastAPI):
    settings: Settings = app.state.settings
    log_feed = LogFeed("email-function", settings.kafka_bootstrap_servers, ("email_function", "uvicorn.error"))
    log_feed.start()
    session = SmtpSession(settings)  # one SMTP connection kept between mails
    app.state.events = kafka_trigger.subscribe(settings.kafka_bootstrap_servers, settings,
                                               SqliteSentLog(settings.sent_log_path()), session)
    app.state.events.start()
    freeze_startup_heap()  # no full garbage collection walks what was made at start
    try:
        yield
    finally:
        await app.state.events.stop()
        await asyncio.to_thread(session.close)
        await log_feed.stop()


def create_app(settings: Settings | None = None) -> FastAPI:
    """The function's trigger (run by `uvicorn --factory email_function.main:create_app`)."""
    app = FastAPI(title="FestFlow email function", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)  # internal: no documents of its routes for strangers
    app.state.settings = settings or Settings()
    app.add_api_route("/healthz", healthz, methods=["GET"])
    return app


def _smtp_reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


async def healthz(request: Request):
    s = request.app.state.settings
    checks = {
        "kafka": "ok" if request.app.state.events.ready else "down",
        "smtp": "ok" if await asyncio.to_thread(_smtp_reachable, s.smtp_host, s.smtp_port) else "down",
    }
    return health_answer(checks)
