"""Ticketing service: issues tickets from the sold events on Kafka, serves them and checks them in. What it is
made of is wired in bootstrap.py."""
from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from festflow_runtime import database
from festflow_runtime.http_errors import install_error_handlers
from festflow_runtime.same_origin import SameOriginMiddleware
from festflow_runtime.startup_heap import lifespan_running
from ticketing_service import bootstrap
from ticketing_service.api import AppServices, router
from ticketing_service.settings import Settings

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


async def healthz(parts: AppServices) -> JSONResponse:
    checks = {"database": await database.health(parts.engine)}
    checks["kafka"] = "ok" if parts.events and parts.events.ready else "down"
    healthy = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ok" if healthy else "degraded", "checks": checks},
                        status_code=200 if healthy else 503)


def create_app(settings: Settings | None = None, services: bootstrap.Services | None = None) -> FastAPI:
    """The ticketing service (run by `uvicorn --factory ticketing_service.main:create_app`); tests hand in
    Services built on a test database."""
    app = FastAPI(title="FestFlow ticketing service", lifespan=lifespan_running(bootstrap.running), docs_url=None,
                  redoc_url=None, openapi_url=None)  # internal: no documents of its routes for strangers
    app.state.services = services or bootstrap.build(settings or Settings())
    app.add_middleware(SameOriginMiddleware)
    install_error_handlers(app)
    app.include_router(router)
    app.add_api_route("/healthz", healthz, methods=["GET"])
    return app
