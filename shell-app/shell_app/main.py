"""The shell (see CONTRACT.md): the frame every page is composed in (frame.py: head, header with the bell,
footer, "page not found") and logging in and out (login.py). Each micro-frontend serves its own pages
under its own prefix; the gateway composes this frame into them (SSI)."""
from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI

from festflow_runtime.fragment_app import Subscribe, create_fragment_app
from shell_app import frame, login
from shell_app.settings import Settings


def create_app(settings: Settings | None = None, *, order_api_transport: httpx.AsyncBaseTransport | None = None,
               subscribe: Subscribe | None = None) -> FastAPI:
    """The app (run by `uvicorn --factory shell_app.main:create_app`); tests pass a fake order API transport
    and no Kafka."""
    settings = settings or Settings()
    return create_fragment_app(title="FestFlow shell", settings=settings, folder=Path(__file__).parent,
                               prefix="/shell", routers=[frame.router, login.router], refused_template=None,
                               apis={"orders": (settings.order_api_url, 5.0)}, transport=order_api_transport,
                               subscribe=subscribe)
