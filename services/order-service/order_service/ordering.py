"""Placing an order: the one use case behind `POST /api/orders` and the cart's checkout (`Checkout`).

The order row and its command are written in one transaction (the command into the outbox); the
command relay sends it to RabbitMQ afterwards. So once `Checkout.place` returns, the order is durable and
its command will reach the inventory whatever the broker is doing at this moment, and the buyer can
always see the order. Errors are domain errors; the routes map them to HTTP.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from festflow_contracts import events, messages, sale_window
from festflow_contracts.tokens import Identity
from festflow_runtime.batching import Batcher
from order_service.db import cart_lines, carts, command_outbox, orders, unverified_accounts

SOURCE = "/festflow/order-service"


class OrderRefused(Exception):
    """The order cannot be placed as asked; `status` is the HTTP status that says so."""
    status = 422


class InvalidOrder(OrderRefused):
    status = 422


class KeyReused(OrderRefused):
    status = 409


class BuyerNotVerified(OrderRefused):
    status = 403

    def __init__(self) -> None:
        super().__init__("verify your email first: open the link in the mail we sent you "
                         "(or ask for a new one on My orders)")


class PassUsed(OrderRefused):
    """A waiting-room pass places one order."""
    status = 403

    def __init__(self) -> None:
        super().__init__("this waiting-room pass has placed an order already")


class Gate(Protocol):
    def admit(self, buyer: Identity, token: str | None, ticket_ids: Sequence[str] = ()) -> str | None:
        """The id of the waiting-room pass this checkout of these ticket types spends (None: none needed), or
        raises OrderRefused."""


class Catalog(Protocol):
    async def on_sale(self, ticket_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The tickets among these that are on sale, by id (raises InventoryUnavailable)."""


@dataclass(frozen=True)
class Limits:
    max_quantity_per_item: int = 10
    max_items_per_order: int = 10


@dataclass(frozen=True)
class OrderLine:
    ticket_id: str
    quantity: int


@dataclass(frozen=True)
class Placed:
    order: dict[str, Any]
    created: bool  # False: an earlier order with the same key, returned as it is


def check_limits(lines: Sequence[OrderLine], limits: Limits) -> None:
    if not lines:
        raise InvalidOrder("an order needs at least 1 item")
    if len(lines) > limits.max_items_per_order:
        raise InvalidOrder(f"at most {limits.max_items_per_order} ticket types per order")
    ids = [line.ticket_id for line in lines]
    if len(set(ids)) != len(ids):
        raise InvalidOrder("each ticket may appear only once in an order; use quantity")
    for line in lines:
        if line.quantity < 1:
            raise InvalidOrder(f"quantity must be at least 1 ({line.ticket_id})")
        if line.quantity > limits.max_quantity_per_item:
            raise InvalidOrder(f"at most {limits.max_quantity_per_item} of one ticket per order ({line.ticket_id})")


def request_hash(lines: Sequence[OrderLine]) -> str:
    canonical = json.dumps({"items": [{"quantity": line.quantity, "ticket_id": line.ticket_id} for line in lines]},
                           sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def find_by_key(engine: AsyncEngine, username: str, key: str) -> dict[str, Any] | None:
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(orders).where(
            orders.c.username == username, orders.c.idempotency_key == key))).mappings().first()
    return dict(row) if row else None


class VerifiedBuyers:
    """Buyers known to have confirmed their address: an address once confirmed stays confirmed, so a
    drop's checkouts skip that query after a buyer's first order. Bounded: when `size` are kept, the
    oldest quarter is forgotten (not all, so the buyers of a drop under way stay known)."""

    def __init__(self, size: int = 100_000):
        self.size = size
        self._names: dict[str, None] = {}  # in the order they were added

    def __contains__(self, username: object) -> bool:
        return username in self._names

    def add(self, username: str) -> None:
        if len(self._names) >= self.size and username not in self._names:
            for oldest in list(itertools.islice(self._names, max(1, self.size // 4))):
                del self._names[oldest]
        self._names[username] = None


@dataclass(frozen=True)
class FromCart:
    """The cart an order is checked out from, at the version the buyer saw: the order's transaction empties
    it (and remembers the order), or the order is refused with CartChanged if the cart changed since."""
    cart_id: str
    version: int


class CartChanged(OrderRefused):
    status = 409


class Checkout:
    """The one way an order is placed: `POST /api/orders` and the cart's checkout both come here, and every
    order is written through the group commit (CheckoutWriter)."""

    def __init__(self, engine: AsyncEngine, catalog: Catalog, limits: Limits, writer: CheckoutWriter,
                 gate: Gate | None = None):
        self.engine = engine
        self.catalog = catalog
        self.limits = limits
        self.writer = writer
        self.gate = gate

    async def place(self, buyer: Identity, key: str, lines: Sequence[OrderLine],
                    from_cart: FromCart | None = None, pass_token: str | None = None) -> Placed:
        """Accepts the order durably, or raises OrderRefused (or InventoryUnavailable from the catalog).

        A retry with the same key gets the first order back, even if that order would not pass now; the
        same key with different lines is KeyReused. A self-registered buyer whose address is not confirmed
        yet is BuyerNotVerified (403). An order from a cart that changed since the buyer saw it is
        CartChanged (409), unless that cart version was checked out already (then that order is the answer).
        While the sale has a waiting room (`gate`), an order needs the buyer's pass (`pass_token`), and a pass
        places one order: refused with the reason (403) otherwise."""
        check_limits(lines, self.limits)
        wanted = request_hash(lines)
        try:
            pass_id = self.gate.admit(buyer, pass_token, [line.ticket_id for line in lines]) if self.gate else None
        except OrderRefused:
            existing = await find_by_key(self.engine, buyer.username, key)
            if existing is None:
                raise
            return _same_order(existing, wanted)
        on_sale = await self.catalog.on_sale([line.ticket_id for line in lines])
        problems = not_for_sale(lines, on_sale, datetime.now(UTC))
        if problems:
            existing = await find_by_key(self.engine, buyer.username, key)
            if existing is None:
                raise InvalidOrder(problems)
            return _same_order(existing, wanted)
        try:
            return await self.writer.write(new_order(buyer, key, lines, on_sale, wanted, from_cart, pass_id))
        except CartChanged:
            existing = await find_by_key(self.engine, buyer.username, key)
            if existing is None:
                raise
            return _same_order(existing, wanted)


def not_for_sale(lines: Sequence[OrderLine], on_sale: dict[str, dict[str, Any]], now: datetime) -> str | None:
    """Why these lines cannot be ordered now (unknown tickets, a closed sale window, more than a buyer may
    have), or None."""
    unknown = [line.ticket_id for line in lines if line.ticket_id not in on_sale]
    if unknown:
        return f"unknown ticket: {', '.join(unknown)}"
    closed = [found for line in lines if (found := sale_window.problem(
        on_sale[line.ticket_id]["name"], on_sale[line.ticket_id].get("sale_starts_at"),
        on_sale[line.ticket_id].get("sale_ends_at"), now))]
    closed += [f"at most {on_sale[line.ticket_id]['per_buyer_limit']} {on_sale[line.ticket_id]['name']} per buyer"
               for line in lines if on_sale[line.ticket_id].get("per_buyer_limit")
               and line.quantity > on_sale[line.ticket_id]["per_buyer_limit"]]
    return "; ".join(closed) or None


def new_order(buyer: Identity, key: str, lines: Sequence[OrderLine], on_sale: dict[str, dict[str, Any]],
              wanted: str, from_cart: FromCart | None, pass_id: str | None = None) -> PendingOrder:
    """The order row and its place-order command, priced as the catalog quotes now (a confirmation brings
    the inventory's own prices: the price charged)."""
    now = events.now_iso()
    order_id = str(uuid.uuid4())
    order: dict[str, Any] = {
        "order_id": order_id, "username": buyer.username, "idempotency_key": key, "request_hash": wanted,
        "status": "PENDING", "reason": None,
        "items": [{"ticket_id": line.ticket_id, "name": on_sale[line.ticket_id]["name"], "quantity": line.quantity,
                   "unit_price_cents": on_sale[line.ticket_id]["price_cents"]} for line in lines],
        "total_cents": sum(line.quantity * on_sale[line.ticket_id]["price_cents"] for line in lines),
        "created_at": now, "updated_at": now, "pass_id": pass_id}
    command = messages.envelope(messages.PlaceOrder(
        order_id=order_id, username=buyer.username, email=buyer.email,
        items=tuple(messages.OrderItem(ticket_id=line.ticket_id, quantity=line.quantity) for line in lines),
    ), SOURCE, subject=order_id)
    return PendingOrder(order, {"message_id": order_id, "type": events.PLACE_ORDER,
                                "payload": events.encode(command).decode(), "created_at": now}, from_cart)


@dataclass(frozen=True)
class PendingOrder:
    """An order that passed every check, and its command, ready to be written."""
    order: dict[str, Any]
    command: dict[str, Any]  # the command outbox's row
    from_cart: FromCart | None = None

    @property
    def username(self) -> str:
        return str(self.order["username"])


class CheckoutWriter:
    """Group commit: the checkouts that arrive while one transaction is being written are written together
    in the next one, each still answered only once its transaction has committed.

    In a drop a transaction per checkout costs its begin and commit, one statement set-up per table and the
    address-confirmed query again for each order; together they are one set-up a batch. If a batch fails
    (a key used before, which only a retry does), each of its orders is written alone, and answers as it
    would have without the batch (its first order back, or KeyReused)."""

    def __init__(self, engine: AsyncEngine, verified: VerifiedBuyers | None = None, max_size: int = 200):
        self.engine = engine
        self.verified = verified
        self.batcher: Batcher[PendingOrder, Placed | OrderRefused] = Batcher(
            self._write_batch, self._write_one, max_size=max_size)

    async def write(self, pending: PendingOrder) -> Placed:
        result = await self.batcher.submit(pending)
        if isinstance(result, OrderRefused):
            raise result
        return result

    async def _write_one(self, pending: PendingOrder) -> Placed | OrderRefused:
        try:
            return (await self._write_batch([pending]))[0]
        except IntegrityError:
            # the key was used before, perhaps by a concurrent retry: answer with that order
            existing = await find_by_key(self.engine, pending.username, pending.order["idempotency_key"])
            if existing is None and pending.order.get("pass_id") is not None:
                return PassUsed()  # the pass placed another order (one order a pass)
            if existing is None:
                raise
            return _same_order(existing, pending.order["request_hash"])

    async def _write_batch(self, batch: Sequence[PendingOrder]) -> list[Placed | OrderRefused]:
        unknown = sorted({p.username for p in batch if self.verified is None or p.username not in self.verified})
        results: list[Placed | OrderRefused] = []
        async with self.engine.begin() as conn:
            unverified = set((await conn.scalars(sa.select(unverified_accounts.c.username).where(
                unverified_accounts.c.username.in_(unknown)))).all()) if unknown else set()
            for pending in batch:
                if pending.username in unverified:
                    results.append(BuyerNotVerified())
                elif pending.from_cart and not await _empty_cart(conn, pending.from_cart, pending.order["order_id"]):
                    results.append(CartChanged("Your cart changed while checking out; check it and try again."))
                else:
                    results.append(Placed(pending.order, created=True))
            taken = [p for p, result in zip(batch, results, strict=True) if isinstance(result, Placed)]
            if taken:
                await conn.execute(orders.insert(), [p.order for p in taken])
                await conn.execute(command_outbox.insert(), [p.command for p in taken])
        if self.verified is not None:
            for username in unknown:
                if username not in unverified:
                    self.verified.add(username)
        return results


async def _empty_cart(conn: AsyncConnection, cart: FromCart, order_id: str) -> bool:
    """Empties the cart if it is still at the version the buyer saw, remembering the order; False if not."""
    result = await conn.execute(
        carts.update().where(carts.c.cart_id == cart.cart_id, carts.c.version == cart.version)
        .values(version=cart.version + 1, last_order_id=order_id, notice=None, updated_at=events.now_iso()))
    if result.rowcount != 1:
        return False
    await conn.execute(cart_lines.delete().where(cart_lines.c.cart_id == cart.cart_id))
    return True


def _same_order(existing: dict[str, Any], wanted_hash: str) -> Placed:
    if existing["request_hash"] != wanted_hash:
        raise KeyReused("this Idempotency-Key was already used for a different order")
    return Placed(existing, created=False)
