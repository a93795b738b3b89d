"""Wires the payment service in one place: `build` makes its Services from the settings (no I/O), `running`
creates the schema and keeps the token verifier current with logouts. Routes get them through the typed
dependency `api.AppServices`."""
from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from festflow_contracts.tokens import TokenVerifier
from festflow_runtime.log_feed import LogFeed
from festflow_runtime.revocations import subscribe_revocations
from payment_service import db
from payment_service.settings import Settings


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    verifier: TokenVerifier


def build(settings: Settings, *, engine: AsyncEngine | None = None) -> Services:
    return Services(settings, engine or db.make_engine(settings.database_url), TokenVerifier(settings.public_key_pem()))


@asynccontextmanager
async def running(services: Services) -> AsyncIterator[None]:
    settings = services.settings
    log_feed = LogFeed("payment-service", settings.kafka_bootstrap_servers, ("payment_service", "uvicorn.error"))
    log_feed.start()
    await db.create_schema(services.engine)
    revocations = subscribe_revocations(settings.kafka_bootstrap_servers, services.verifier)
    revocations.start()  # logged-out tokens are refused here too
    try:
        yield
    finally:
        await revocations.stop()
        await services.engine.dispose()
        await log_feed.stop()
