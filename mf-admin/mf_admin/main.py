"""The organisers' micro-frontend (see CONTRACT.md): its pages under /admin/ (pages.py), and one module a
feature for the fragments and actions: the dashboard and its live updates
(dashboard.py), ticket types (ticket_editor.py), the festival (festival_editor.py), orders (orders.py) and
login locks (login_locks.py). Only the admin role, read from the verified token, gets admin content; the
order API checks it again."""
from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI

from festflow_runtime.fragment_app import Subscribe, create_fragment_app
from mf_admin import dashboard, festival_editor, login_locks, orders, pages, payments, ticket_editor, waiting_room
from mf_admin.settings import Settings


def create_app(settings: Settings | None = None, *, order_api_transport: httpx.AsyncBaseTransport | None = None,
               subscribe: Subscribe | None = None) -> FastAPI:
    """The app (run by `uvicorn --factory mf_admin.main:create_app`); tests pass a fake transport for the
    APIs and no Kafka."""
    settings = settings or Settings()
    return create_fragment_app(
        title="FestFlow admin micro-frontend", settings=settings, folder=Path(__file__).parent, prefix="/admin",
        routers=[pages.router, dashboard.router, ticket_editor.router, festival_editor.router, orders.router,
                 login_locks.router, payments.router, waiting_room.router],
        apis={"orders": (settings.order_api_url, 5.0), "tickets": (settings.ticketing_api_url, 3.0),
              "payments": (settings.payment_api_url, 30.0),
              "waiting": (settings.waiting_room_api_url, 10.0)},
        live=[dashboard.UPDATES], filters={"local_input": ticket_editor.local_input},
        transport=order_api_transport, subscribe=subscribe)
