"""The buyer's micro-frontend (see CONTRACT.md): its pages under /cart/ (pages.py), the cart and checkout
(cart.py), My orders and an order (orders.py), a ticket (tickets.py).

The cart itself is kept by the order API (`/api/cart`): a logged-in buyer's belongs to their account,
an anonymous visitor's to the random token in the `festflow_cart` cookie, merged into the account at
login. This app only renders it and forwards the buyer's actions; rendering never writes anything.
"""
from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI

from festflow_runtime.fragment_app import Subscribe, create_fragment_app
from mf_cart import cart, orders, pages, tickets, waiting_room
from mf_cart.settings import Settings

# below the gateway's 5 s for /cart/, so this app always answers before the gateway gives up
API_TIMEOUT = 4.0


def create_app(settings: Settings | None = None, *, order_api_transport: httpx.AsyncBaseTransport | None = None,
               subscribe: Subscribe | None = None) -> FastAPI:
    """The app (run by `uvicorn --factory mf_cart.main:create_app`); tests pass a fake transport for the APIs
    and no Kafka."""
    settings = settings or Settings()
    return create_fragment_app(
        title="FestFlow cart micro-frontend", settings=settings, folder=Path(__file__).parent, prefix="/cart",
        routers=[pages.router, cart.router, orders.router, tickets.router, waiting_room.router],
        refused_template=None,
        apis={"orders": (settings.order_api_url, API_TIMEOUT), "tickets": (settings.ticketing_api_url, API_TIMEOUT),
              "payments": (settings.payment_api_url, API_TIMEOUT),
              "waiting": (settings.waiting_room_api_url, API_TIMEOUT)},
        transport=order_api_transport, subscribe=subscribe)
