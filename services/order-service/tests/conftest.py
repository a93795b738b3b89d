"""Fakes for the order service's use cases (a catalog and a broker publisher) and a fresh database."""
from __future__ import annotations

import pytest

from order_service import db
from order_service.inventory_client import InventoryUnavailable
from order_service.ordering import Checkout, CheckoutWriter, Limits, VerifiedBuyers
from order_service.publisher import BrokerUnavailable

TICKETS = {
    "vip": {"id": "vip", "name": "VIP Weekend", "price_cents": 24900, "stock": 50},
    "camping": {"id": "camping", "name": "Camping Pass", "price_cents": 4500, "stock": 100},
}


class FakeCatalog:
    def __init__(self, tickets: dict | None = None):
        self.tickets = dict(TICKETS if tickets is None else tickets)
        self.down = False

    async def on_sale(self, ticket_ids: list[str]) -> dict[str, dict]:
        if self.down:
            raise InventoryUnavailable("ticket catalog unavailable (ConnectError)")
        return {t: self.tickets[t] for t in ticket_ids if t in self.tickets}


class FakePublisher:
    """Records what it was asked to publish; `failing` makes it refuse like a broker that is away."""

    def __init__(self):
        self.published: list[tuple[bytes, str, str]] = []
        self.failing: set[str] | bool = False

    async def publish(self, body: bytes, message_id: str, type_: str) -> None:
        if self.failing is True or (isinstance(self.failing, set) and message_id in self.failing):
            raise BrokerUnavailable("message broker is not connected")
        self.published.append((body, message_id, type_))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def engine(request, tmp_path):
    """The order service's schema on SQLite, and again on a real PostgreSQL server (tests marked postgres)."""
    url = (f"sqlite+aiosqlite:///{tmp_path / 'orders.db'}" if request.param == "sqlite"
           else request.getfixturevalue("postgres_url"))
    engine = db.make_engine(url)
    await db.create_schema(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def catalog() -> FakeCatalog:
    return FakeCatalog()


@pytest.fixture
def publisher() -> FakePublisher:
    return FakePublisher()


def checkout_of(engine, catalog, limits: Limits | None = None, verified: VerifiedBuyers | None = None,
                gate=None) -> Checkout:
    """The checkout use case as bootstrap.py wires it, on this database and catalog."""
    return Checkout(engine, catalog, limits or Limits(), CheckoutWriter(engine, verified), gate)
