"""Runs the Kafka trigger of the email function, with a /healthz."""
from __future__ import annotations

import asyncio
import logging
import os
import socket
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from email_function import kafka_trigger
from email_function.handler import EmailSettings, SqliteSentLog
from festflow_runtime.log_feed import LogFeed

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _sent_log_path() -> str:
    url = os.environ.get("EMAIL_SENT_LOG_URL", "sqlite+aiosqlite:///./email-sent.db")
    return url.split("///", 1)[1]


@asynccontextmanager
async def lifespan(app: FastAPI):
    settings = EmailSettings.from_env()
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    log_feed = LogFeed("email-function", bootstrap, ("email_function", "uvicorn.error"))
    log_feed.start()
    app.state.settings = settings
    app.state.events = kafka_trigger.subscribe(bootstrap, settings, SqliteSentLog(_sent_log_path()))
    app.state.events.start()
    try:
        yield
    finally:
        await app.state.events.stop()
        await log_feed.stop()


app = FastAPI(title="FestFlow email function", lifespan=lifespan)


def _smtp_reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@app.get("/healthz")
async def healthz(request: Request):
    s = request.app.state.settings
    checks = {
        "kafka": "ok" if request.app.state.events.ready else "down",
        "smtp": "ok" if await asyncio.to_thread(_smtp_reachable, s.smtp_host, s.smtp_port) else "down",
    }
    healthy = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ok" if healthy else "degraded", "checks": checks},
                        status_code=200 if healthy else 503)
