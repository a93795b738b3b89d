"""Inventory service: a RabbitMQ command consumer, an outbox relay to Kafka, and a small HTTP API. What it is
made of is wired in bootstrap.py."""
from __future__ import annotations

import logging

from fastapi import FastAPI

from festflow_runtime.http_errors import install_error_handlers
from festflow_runtime.startup_heap import lifespan_running
from inventory_service import bootstrap
from inventory_service.api import internal, router
from inventory_service.settings import Settings

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def create_app(settings: Settings | None = None, services: bootstrap.Services | None = None) -> FastAPI:
    """The inventory service (run by `uvicorn --factory inventory_service.main:create_app`); tests hand in
    Services built on a test database, and run no lifespan."""
    app = FastAPI(title="FestFlow inventory service", lifespan=lifespan_running(bootstrap.running), docs_url=None,
                  redoc_url=None, openapi_url=None)  # internal: no documents of its routes for strangers
    app.state.services = services or bootstrap.build(settings or Settings())
    install_error_handlers(app)
    app.include_router(router)
    app.include_router(internal)
    return app
