"""The order service's accept path in one process, without the stack: what a checkout costs it in CPU.

`python bench/checkout_path_bench.py [--orders N]` builds the order service's ASGI app over a fresh SQLite
file (a catalog in memory, no broker: the command waits in the outbox as it would for the relay), then
sends N well-formed checkouts straight to the ASGI callable (no sockets, no HTTP parsing: what is left is
the app's own work) with the checkout lane on and off, and prints the CPU per checkout of each. Every
answer must be a 202 with the order in the database. The drop benchmark (checkout_bench.py) measures the
whole stack; this one isolates the part the lane changes.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from festflow_contracts.tokens import TokenVerifier, generate_keypair
from order_service import db
from order_service.main import busy, create_api
from order_service.checkout_lane import CheckoutLane
from order_service.ordering import Limits, VerifiedBuyers
from order_service.security import TokenIssuer
from order_service.settings import Settings


class Catalog:
    async def on_sale(self, ticket_ids: list[str]) -> dict[str, dict[str, Any]]:
        return {t: {"id": t, "name": "General Admission", "price_cents": 8900} for t in ticket_ids if t == "ga"}


class Relay:
    def notify(self) -> None:
        pass


async def build(folder: Path, fast: bool) -> tuple[CheckoutLane, sa.ext.asyncio.AsyncEngine, str]:
    private, public = generate_keypair()
    api = create_api(Settings(jwt_public_key=public, jwt_private_key=private, fast_checkout=fast))
    engine = db.make_engine(f"sqlite+aiosqlite:///{folder / ('lane.db' if fast else 'route.db')}")
    await db.create_schema(engine)
    state = api.state
    state.engine, state.catalog, state.limits = engine, Catalog(), Limits()
    state.verified_buyers, state.verifier, state.relay = VerifiedBuyers(), TokenVerifier(public), Relay()
    return CheckoutLane(api, busy), engine, TokenIssuer(private, 3600).issue("buyer", "client", "b@x")


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


async def measure(fast: bool, orders: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        app, engine, token = await build(Path(folder), fast)
        for _ in range(50):  # warm up: statement caches, the verified-buyer cache
            await checkout(app, token)
        started = time.process_time()
        statuses = [await checkout(app, token) for _ in range(orders)]
        spent = time.process_time() - started
        async with engine.connect() as conn:
            stored = await conn.scalar(sa.select(sa.func.count()).select_from(db.orders))
        await engine.dispose()
    if statuses.count(202) != orders or stored != orders + 50:
        raise SystemExit(f"not every checkout was accepted and stored: {set(statuses)}, {stored} stored")
    return 1000 * spent / orders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000)
    args = parser.parse_args()
    for fast in (False, True, False, True):  # alternated: the machine's speed drifts
        per_order = asyncio.run(measure(fast, args.orders))
        print(f"{'checkout lane' if fast else 'FastAPI route'}: {per_order:.2f} ms CPU per checkout "
              f"({args.orders} checkouts)")


if __name__ == "__main__":
    main()
