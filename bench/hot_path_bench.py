"""The hot path's Python parts in one process, without the stack: CPU per order, one way and the other.

`python bench/hot_path_bench.py [--orders N] [--batch B]` measures, each on a fresh SQLite file:

1. accept: N well-formed checkouts sent straight to the order service's ASGI callable (no sockets, no
   HTTP parsing: what is left is the app's own work; a catalog in memory, the command left in the outbox
   for the relay), one at a time through FastAPI's route and through the checkout lane; then B at once
   (as they arrive in a drop) through the lane, each written in a transaction of its own and written
   together (the group commit of ordering.CheckoutWriter). Every answer must be a 202 with the order
   stored.
2. reserve: N place-order commands placed by the inventory one transaction each, and B to a transaction
   (as the consumer does with the commands delivered together). The stock sold must be the same.
3. outcome: N outcome events applied to the order service's read model one transaction each, and B to a
   transaction (as the Kafka consumer does with the events of one fetch).

Each pair runs twice, alternated (the machine's speed drifts). The drop benchmark (checkout_bench.py)
measures the whole stack; this one isolates the parts these changes touch.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from festflow_contracts import events, messages
from festflow_contracts.fixtures import sample
from festflow_contracts.tokens import generate_keypair
from inventory_service import db as inventory_db
from inventory_service.reservation import place_order, place_orders
from order_service import bootstrap, db
from order_service.checkout_lane import CheckoutLane
from order_service.main import busy, create_api
from order_service.ordering import CheckoutWriter, VerifiedBuyers
from order_service.read_model import OrderStatusProjection
from order_service.security import TokenIssuer
from order_service.settings import Settings


class Catalog:
    async def on_sale(self, ticket_ids: list[str]) -> dict[str, dict[str, Any]]:
        return {t: {"id": t, "name": "General Admission", "price_cents": 8900} for t in ticket_ids if t == "ga"}


class Relay:
    def notify(self) -> None:
        pass


@asynccontextmanager
async def scratch(make_engine: Callable[[str], AsyncEngine],
                  create_schema: Callable[[AsyncEngine], Awaitable[None]]) -> AsyncIterator[AsyncEngine]:
    """A service's schema on a fresh SQLite file, gone afterwards."""
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite+aiosqlite:///{folder}/scratch.db")
        await create_schema(engine)
        try:
            yield engine
        finally:
            await engine.dispose()


def build(engine: AsyncEngine, fast: bool, group_commit: bool) -> tuple[CheckoutLane, str]:
    """The order service as bootstrap.py wires it, with a catalog in memory; without `group_commit` each
    checkout is written in a transaction of its own (a batch of one)."""
    private, public = generate_keypair()
    settings = Settings(jwt_public_key=public, jwt_private_key=private, fast_checkout=fast)
    services = bootstrap.build(settings, engine=engine, catalog=Catalog())
    services.checkout.writer = CheckoutWriter(engine, VerifiedBuyers(), max_size=200 if group_commit else 1)
    services.commands = Relay()
    token = TokenIssuer(private, 3600).issue("buyer", "client", "b@x")
    return CheckoutLane(create_api(services), services, busy), token


async def checkout(app: CheckoutLane, token: str) -> int:
    body = json.dumps({"items": [{"ticket_id": "ga", "quantity": 2}]}).encode()
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/api/orders", "raw_path": b"/api/orders", "query_string": b"", "root_path": "",
             "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000),
             "headers": [(b"host", b"127.0.0.1:8000"), (b"content-type", b"application/json"),
                         (b"content-length", str(len(body)).encode()), (b"authorization", f"Bearer {token}".encode()),
                         (b"idempotency-key", uuid.uuid4().hex.encode())]}
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def measure(fast: bool, orders: int, together: int = 1, group_commit: bool = True) -> float:
    async with scratch(db.make_engine, db.create_schema) as engine:
        app, token = build(engine, fast, group_commit)
        for _ in range(50):  # warm up: statement caches, the verified-buyer cache
            await checkout(app, token)
        started = time.process_time()
        statuses = []
        for _ in range(0, orders, together):
            statuses += await asyncio.gather(*(checkout(app, token) for _ in range(together)))
        spent = time.process_time() - started
        async with engine.connect() as conn:
            stored = await conn.scalar(sa.select(sa.func.count()).select_from(db.orders))
    if statuses.count(202) != orders or stored != orders + 50:
        raise SystemExit(f"not every checkout was accepted and stored: {set(statuses)}, {stored} stored")
    return 1000 * spent / orders


async def measure_first_checkouts(remembered: bool, orders: int, together: int) -> float:
    """Each checkout a different buyer's first, as in a 10,000-buyer drop: their tokens issued at login by
    the service (and so remembered by its verifier) or by another instance (checked at the checkout)."""
    async with scratch(db.make_engine, db.create_schema) as engine:
        app, _ = build(engine, True, True)
        services = app.services
        issuer = TokenIssuer(services.settings.private_key_pem(), 3600, services.verifier if remembered else None)
        tokens = [issuer.issue(f"buyer{i}", "client", f"b{i}@x") for i in range(orders)]
        started = time.process_time()
        statuses = []
        for first in range(0, orders, together):
            statuses += await asyncio.gather(*(checkout(app, token) for token in tokens[first:first + together]))
        spent = time.process_time() - started
    if statuses.count(202) != orders:
        raise SystemExit(f"not every checkout was accepted: {set(statuses)}")
    return 1000 * spent / orders


async def measure_reserve(batch: int, orders: int) -> float:
    async with scratch(inventory_db.make_engine, inventory_db.create_schema) as engine:
        await inventory_db.seed(engine)
        async with engine.begin() as conn:  # stock for half the orders: sales and refusals, as in a drop
            await conn.execute(inventory_db.tickets.update().where(inventory_db.tickets.c.id == "general-admission")
                               .values(stock=orders))
        commands = [messages.PlaceOrder(order_id=str(uuid.uuid4()), username=f"buyer{n % 500}", email="b@x",
                                        items=(messages.OrderItem(ticket_id="general-admission", quantity=1 + n % 3),))
                    for n in range(orders)]
        started = time.process_time()
        if batch == 1:
            outcomes = [await place_order(engine, command) for command in commands]
        else:
            outcomes = []
            for at in range(0, orders, batch):
                outcomes += await place_orders(engine, commands[at:at + batch])
        spent = time.process_time() - started
        async with engine.connect() as conn:
            left = await conn.scalar(sa.select(inventory_db.tickets.c.stock)
                                     .where(inventory_db.tickets.c.id == "general-admission"))
    sold = sum(c.items[0].quantity for c, o in zip(commands, outcomes, strict=True) if o.status == "CONFIRMED")
    if sold != orders - left or left != 0:
        raise SystemExit(f"stock mismatch: sold {sold}, left {left}")
    return 1000 * spent / orders


async def measure_outcomes(batch: int, orders: int) -> float:
    async with scratch(db.make_engine, db.create_schema) as engine:
        ids = [str(uuid.uuid4()) for _ in range(orders)]
        async with engine.begin() as conn:
            await conn.execute(db.orders.insert(), [
                {"order_id": i, "username": "buyer", "idempotency_key": i, "request_hash": "h", "status": "PENDING",
                 "items": [], "created_at": "2026-12-02T00:00:00Z",
                 "updated_at": "2026-12-02T00:00:00Z"} for i in ids])
        outcomes = [sample(events.ORDER_CONFIRMED, order_id=i) if n % 3 == 0 else
                    sample(events.ORDER_REJECTED, order_id=i, reason="sold out") for n, i in enumerate(ids)]
        projection = OrderStatusProjection(engine)
        started = time.process_time()
        if batch == 1:
            for outcome in outcomes:
                await projection.apply(outcome)
        else:
            for at in range(0, orders, batch):
                await projection.apply_many(outcomes[at:at + batch])
        spent = time.process_time() - started
        async with engine.connect() as conn:
            pending = await conn.scalar(sa.select(sa.func.count()).select_from(db.orders)
                                        .where(db.orders.c.status == "PENDING"))
    if pending:
        raise SystemExit(f"{pending} orders left PENDING")
    return 1000 * spent / orders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=20, help="orders to a transaction (default 20)")
    args = parser.parse_args()
    n, b = args.orders, args.batch
    for _ in range(2):  # alternated: the machine's speed drifts
        route, lane = asyncio.run(measure(False, n)), asyncio.run(measure(True, n))
        print(f"accept:  FastAPI route {route:.2f} ms, checkout lane {lane:.2f} ms CPU per checkout ({n})")
    for _ in range(2):
        alone, batched = asyncio.run(measure(True, n, b, False)), asyncio.run(measure(True, n, b, True))
        print(f"accept, {b} at once: a transaction each {alone:.2f} ms, group commit {batched:.2f} ms CPU per "
              f"checkout ({n})")
    for _ in range(2):
        checked, remembered = (asyncio.run(measure_first_checkouts(False, n, b)),
                               asyncio.run(measure_first_checkouts(True, n, b)))
        print(f"accept, each a buyer's first checkout, {b} at once: token checked {checked:.2f} ms, remembered at "
              f"login {remembered:.2f} ms CPU per checkout ({n})")
    for _ in range(2):
        alone, batched = asyncio.run(measure_reserve(1, n)), asyncio.run(measure_reserve(b, n))
        print(f"reserve: one a transaction {alone:.2f} ms, {b} a transaction {batched:.2f} ms CPU per command ({n})")
    for _ in range(2):
        alone, batched = asyncio.run(measure_outcomes(1, n)), asyncio.run(measure_outcomes(b, n))
        print(f"outcome: one a transaction {alone:.2f} ms, {b} a transaction {batched:.2f} ms CPU per event ({n})")


if __name__ == "__main__":
    main()
