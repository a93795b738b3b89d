"""The waiting room in front of a sale (room.py). What it is made of is wired in bootstrap.py."""
from __future__ import annotations

import logging

from fastapi import FastAPI

from festflow_runtime.http_errors import install_error_handlers
from festflow_runtime.same_origin import SameOriginMiddleware
from festflow_runtime.startup_heap import lifespan_running
from waiting_room import bootstrap
from waiting_room.api import router
from waiting_room.settings import Settings

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def create_app(settings: Settings | None = None, services: bootstrap.Services | None = None) -> FastAPI:
    """The waiting room (run by `uvicorn --factory waiting_room.main:create_app`); tests hand in Services built
    on a test database."""
    app = FastAPI(title="FestFlow waiting room", lifespan=lifespan_running(bootstrap.running), docs_url=None,
                  redoc_url=None, openapi_url=None)
    app.state.services = services or bootstrap.build(settings or Settings())
    app.add_middleware(SameOriginMiddleware)  # cookie-authenticated writes come from our own pages only
    install_error_handlers(app)
    app.include_router(router)
    return app
