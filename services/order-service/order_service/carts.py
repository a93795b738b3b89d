"""Carts, kept server-side: the use cases behind `/api/cart`.

A buyer's cart belongs to their account (`u:<username>`); an anonymous visitor's to a random token
(`a:<uuid>`), and it merges into the account's cart when the visitor logs in (the anonymous cart is
then gone, so the next person on that browser starts empty).

Every change raises the cart's `version`. A checkout names the version the buyer saw; the order's
Idempotency-Key is made from it, and the transaction that writes the order empties the cart, so a retry
of the same checkout finds the same order and nothing can bring an ordered line back. A rejected order
puts its lines back into the cart with the reason.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from festflow_contracts import events
from festflow_contracts.tokens import Identity
from order_service import ordering
from order_service.db import cart_lines, carts, orders
from order_service.ordering import CartChanged, Catalog, Limits, OrderLine, OrderRefused

ANONYMOUS_CART_DAYS = 7


class CartRefused(OrderRefused):
    status = 422


@dataclass(frozen=True)
class Line:
    ticket_id: str
    name: str
    quantity: int


@dataclass
class CartView:
    cart_id: str
    version: int = 0
    lines: list[Line] = field(default_factory=list)
    notice: str | None = None
    last_order: dict[str, Any] | None = None


def user_cart(username: str) -> str:
    return f"u:{username}"


def anonymous_cart(token: str) -> str:
    """The cart of an anonymous token; raises CartRefused for anything but a UUID."""
    try:
        return f"a:{uuid.UUID(token)}"
    except (ValueError, AttributeError, TypeError) as exc:
        raise CartRefused("a cart token is a UUID") from exc


def checkout_key(version: int) -> str:
    return f"cart-checkout-v{version}"


async def load(conn: AsyncConnection, cart_id: str) -> CartView:
    row = (await conn.execute(sa.select(carts).where(carts.c.cart_id == cart_id))).mappings().first()
    if row is None:
        return CartView(cart_id)
    lines = (await conn.execute(sa.select(cart_lines).where(cart_lines.c.cart_id == cart_id)
                                .order_by(cart_lines.c.position))).mappings().all()
    last_order = None
    if row["last_order_id"]:
        order = (await conn.execute(sa.select(orders.c.order_id, orders.c.status, orders.c.reason)
                                    .where(orders.c.order_id == row["last_order_id"]))).mappings().first()
        last_order = dict(order) if order else None
    return CartView(cart_id, row["version"], [Line(r["ticket_id"], r["name"], r["quantity"]) for r in lines],
                    row["notice"], last_order)


async def view(engine: AsyncEngine, cart_id: str) -> CartView:
    async with engine.connect() as conn:
        return await load(conn, cart_id)


async def _lock(conn: AsyncConnection, cart_id: str) -> CartView:
    """The cart, created if new, locked for this transaction (a no-op on SQLite, whose writers queue)."""
    exists = await conn.scalar(sa.select(carts.c.version).where(carts.c.cart_id == cart_id).with_for_update())
    if exists is None:
        now = events.now_iso()
        await conn.execute(carts.insert().values(cart_id=cart_id, version=0, updated_at=now))
        if cart_id.startswith("a:"):
            expired = (datetime.now(UTC) - timedelta(days=ANONYMOUS_CART_DAYS)).isoformat()
            await conn.execute(carts.delete().where(carts.c.cart_id.like("a:%"), carts.c.updated_at < expired))
    return await load(conn, cart_id)


async def _bump(conn: AsyncConnection, cart_id: str, **values: Any) -> None:
    await conn.execute(carts.update().where(carts.c.cart_id == cart_id)
                       .values(version=carts.c.version + 1, updated_at=events.now_iso(), **values))


async def _set_line(conn: AsyncConnection, cart: CartView, line: Line) -> None:
    if any(existing.ticket_id == line.ticket_id for existing in cart.lines):
        await conn.execute(cart_lines.update().where(cart_lines.c.cart_id == cart.cart_id,
                                                     cart_lines.c.ticket_id == line.ticket_id)
                           .values(quantity=line.quantity, name=line.name))
    else:
        position = await conn.scalar(sa.select(sa.func.coalesce(sa.func.max(cart_lines.c.position), -1) + 1)
                                     .where(cart_lines.c.cart_id == cart.cart_id))
        await conn.execute(cart_lines.insert().values(cart_id=cart.cart_id, ticket_id=line.ticket_id,
                                                      name=line.name, quantity=line.quantity, position=position))


async def _write(engine: AsyncEngine, cart_id: str, change) -> CartView:
    """Runs change(conn, cart) in a transaction on the locked cart; returns the cart after it. Two first
    writes to a new cart can race on its insert: the loser tries once more."""
    for attempt in (1, 2):
        try:
            async with engine.begin() as conn:
                cart = await _lock(conn, cart_id)
                await change(conn, cart)
                return await load(conn, cart_id)
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _check_quantity(quantity: int, limits: Limits) -> None:
    if quantity < 1 or quantity > limits.max_quantity_per_item:
        raise CartRefused(f"Quantity must be between 1 and {limits.max_quantity_per_item}.")


async def _ticket_on_sale(catalog: Catalog, ticket_id: str) -> dict[str, Any]:
    ticket = (await catalog.on_sale([ticket_id])).get(ticket_id)
    if ticket is None:
        raise CartRefused("That ticket is not on sale.")
    return ticket


async def add(engine: AsyncEngine, catalog: Catalog, limits: Limits, cart_id: str, ticket_id: str,
              quantity: int) -> CartView:
    if quantity < 1:
        raise CartRefused("Quantity must be at least 1.")
    ticket = await _ticket_on_sale(catalog, ticket_id)

    async def change(conn: AsyncConnection, cart: CartView) -> None:
        current = next((line.quantity for line in cart.lines if line.ticket_id == ticket_id), 0)
        if current == 0 and len(cart.lines) >= limits.max_items_per_order:
            raise CartRefused(f"A cart holds at most {limits.max_items_per_order} kinds of ticket.")
        if current + quantity > limits.max_quantity_per_item:
            raise CartRefused(f"At most {limits.max_quantity_per_item} of one ticket per order"
                              + (f"; {current} already in your cart." if current else "."))
        await _set_line(conn, cart, Line(ticket_id, ticket["name"], current + quantity))
        await _bump(conn, cart.cart_id, notice=None)

    return await _write(engine, cart_id, change)


async def set_quantity(engine: AsyncEngine, limits: Limits, cart_id: str, ticket_id: str,
                       quantity: int) -> CartView:
    """0 removes the line; any other quantity outside the limits is refused and changes nothing."""
    if quantity == 0:
        return await remove(engine, cart_id, ticket_id)
    _check_quantity(quantity, limits)

    async def change(conn: AsyncConnection, cart: CartView) -> None:
        line = next((line for line in cart.lines if line.ticket_id == ticket_id), None)
        if line is None:
            raise CartRefused("That ticket is not in your cart.")
        await _set_line(conn, cart, Line(ticket_id, line.name, quantity))
        await _bump(conn, cart.cart_id, notice=None)

    return await _write(engine, cart_id, change)


async def remove(engine: AsyncEngine, cart_id: str, ticket_id: str) -> CartView:
    async def change(conn: AsyncConnection, cart: CartView) -> None:
        await conn.execute(cart_lines.delete().where(cart_lines.c.cart_id == cart_id,
                                                     cart_lines.c.ticket_id == ticket_id))
        await _bump(conn, cart_id, notice=None)

    return await _write(engine, cart_id, change)


async def merge(engine: AsyncEngine, limits: Limits, anonymous_id: str, account_id: str) -> CartView:
    """Moves an anonymous cart's lines into the account's cart and deletes the anonymous cart, in one
    transaction (so merging twice merges once). Quantities add up to the per-ticket limit."""
    async with engine.connect() as conn:
        if await conn.scalar(sa.select(carts.c.version).where(carts.c.cart_id == anonymous_id)) is None:
            return await load(conn, account_id)

    async def change(conn: AsyncConnection, cart: CartView) -> None:
        anonymous = await load(conn, anonymous_id)
        if not anonymous.lines:
            await conn.execute(carts.delete().where(carts.c.cart_id == anonymous_id))
            return
        await _add_lines(conn, cart, anonymous.lines, limits)
        await conn.execute(cart_lines.delete().where(cart_lines.c.cart_id == anonymous_id))
        await conn.execute(carts.delete().where(carts.c.cart_id == anonymous_id))
        await _bump(conn, cart.cart_id)

    return await _write(engine, account_id, change)


async def _add_lines(conn: AsyncConnection, cart: CartView, lines: list[Line], limits: Limits) -> None:
    for line in lines:
        current = await load(conn, cart.cart_id)
        have = next((existing.quantity for existing in current.lines if existing.ticket_id == line.ticket_id), 0)
        if have == 0 and len(current.lines) >= limits.max_items_per_order:
            continue
        await _set_line(conn, current, Line(line.ticket_id, line.name,
                                            min(have + line.quantity, limits.max_quantity_per_item)))


async def checkout(engine: AsyncEngine, placing: ordering.Checkout, buyer: Identity, version: int,
                   pass_token: str | None = None) -> ordering.Placed:
    """Places the order for the cart as the buyer saw it (at `version`), through the same checkout as
    `POST /api/orders`; the order's transaction empties the cart. Checking out the same version again
    answers with that order."""
    cart_id = user_cart(buyer.username)
    key = checkout_key(version)
    cart = await view(engine, cart_id)
    if cart.version != version:
        existing = await ordering.find_by_key(engine, buyer.username, key)
        if existing is not None:
            return ordering.Placed(existing, created=False)
        raise CartChanged("Your cart changed since this page showed it; check it and try again.")
    if not cart.lines:
        raise CartRefused("Your cart is empty.")
    lines = [OrderLine(line.ticket_id, line.quantity) for line in cart.lines]
    return await placing.place(buyer, key, lines, from_cart=ordering.FromCart(cart_id, version),
                               pass_token=pass_token)


class GiveLinesBack:
    """A reaction to a rejected order (read_model.OrderStatusProjection runs it in the transaction that
    marks the order REJECTED): the cart it came from gets its lines back, with a notice of what was short."""

    def __init__(self, limits: Limits):
        self.limits = limits

    async def concerned(self, conn: AsyncConnection, order_ids: list[str]) -> set[str]:
        """The orders among these that came from a cart."""
        return set((await conn.scalars(sa.select(carts.c.last_order_id).where(
            carts.c.last_order_id.in_(order_ids)))).all())

    async def __call__(self, conn: AsyncConnection, order_id: str, reason: str) -> None:
        cart_id = await conn.scalar(sa.select(carts.c.cart_id).where(carts.c.last_order_id == order_id))
        if cart_id is None:
            return
        items = await conn.scalar(sa.select(orders.c["items"]).where(orders.c.order_id == order_id))
        cart = await load(conn, cart_id)
        lines = [Line(i["ticket_id"], i.get("name") or i["ticket_id"], int(i["quantity"])) for i in items or []]
        await _add_lines(conn, cart, lines, self.limits)
        await _bump(conn, cart_id, notice=f"Your order could not be completed: {reason}. "
                                          "Its tickets are back in your cart.")
