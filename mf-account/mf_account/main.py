"""The account pages (see CONTRACT.md), under /account/: the account itself and log out everywhere
(account_page.py), sign-up and the address confirmation (sign_up.py), a forgotten password (passwords.py),
the mailed one-time login link (login_link.py). The order API does the work; this app shows the pages and
passes on what the visitor typed, with the visitor's address."""
from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI

from festflow_runtime.fragment_app import Subscribe, create_fragment_app
from mf_account import account_page, login_link, passwords, sign_up
from mf_account.settings import Settings


def create_app(settings: Settings | None = None, *, order_api_transport: httpx.AsyncBaseTransport | None = None,
               subscribe: Subscribe | None = None) -> FastAPI:
    """The app (run by `uvicorn --factory mf_account.main:create_app`); tests pass a fake order API transport
    and no Kafka."""
    settings = settings or Settings()
    return create_fragment_app(
        title="FestFlow account micro-frontend", settings=settings, folder=Path(__file__).parent, prefix="/account",
        routers=[account_page.router, sign_up.router, passwords.router, login_link.router], refused_template=None,
        apis={"orders": (settings.order_api_url, 5.0)}, transport=order_api_transport, subscribe=subscribe)
