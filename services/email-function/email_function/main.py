"""Runs the Kafka trigger of the email function, with a /healthz."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from festflow_contracts.channels import ORDER_EVENTS_TOPIC
from festflow_contracts.event_stream import is_assigned, make_consumer
from email_function import kafka_trigger
from email_function.handler import EmailSettings, SqliteSentLog

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _sent_log_path() -> str:
    url = os.environ.get("EMAIL_SENT_LOG_URL", "sqlite+aiosqlite:///./email-sent.db")
    return url.split("///", 1)[1]


@asynccontextmanager
async def lifespan(app: FastAPI):
    settings = EmailSettings.from_env()
    consumer = make_consumer(os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"), ORDER_EVENTS_TOPIC,
                             group_id="email-function", from_beginning=True)
    await consumer.start()
    app.state.settings, app.state.consumer = settings, consumer
    task = asyncio.create_task(kafka_trigger.run(consumer, settings, SqliteSentLog(_sent_log_path())))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await consumer.stop()


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
        "kafka": "ok" if is_assigned(request.app.state.consumer) else "down",
        "smtp": "ok" if await asyncio.to_thread(_smtp_reachable, s.smtp_host, s.smtp_port) else "down",
    }
    healthy = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ok" if healthy else "degraded", "checks": checks},
                        status_code=200 if healthy else 503)
