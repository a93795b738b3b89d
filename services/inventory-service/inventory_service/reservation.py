"""Placing orders against stock, one or a batch of them in one database transaction; for each order:

1. take every item's quantity with a conditional UPDATE (`stock >= quantity`), all or none;
2. record the order id (primary key: a redelivered command fails there, and the whole transaction,
   stock included, rolls back: placed alone, it is a DUPLICATE that changes nothing);
3. write the outcome event (TICKET_SOLD or ORDER_REJECTED) to the outbox.

An order with something to pay, at a festival that takes payment, is held instead of sold: the stock is
taken just the same, the order is AWAITING_PAYMENT until a deadline and the event is ORDER_HELD; holds.py
turns it into a sale when it is paid, or releases it when the deadline passes.

The caller acknowledges the RabbitMQ messages only after this commits.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from festflow_contracts import events, messages, sale_window
from festflow_contracts.channels import ORDER_EVENTS_TOPIC
from festflow_contracts.messages import (
    FestivalSummary,
    OrderHeld,
    OrderRejected,
    OrderStatus,
    PaymentMethod,
    PayTo,
    PlaceOrder,
    RejectedItem,
    SoldLine,
    StockLevel,
    TicketSold,
)
from festflow_contracts.payment_reference import creditor_reference
from inventory_service import festival, invoices
from inventory_service.db import buyer_counts, order_items, orders, outbox, tickets

SOURCE = "/festflow/inventory-service"


class InvalidCommand(ValueError):
    """The command can never succeed (malformed); it goes to the dead-letter queue."""


def parse_command(body: Any) -> PlaceOrder:
    """The place-order command of a message body, or InvalidCommand with the reason (dead-lettered)."""
    if not isinstance(body, dict):
        raise InvalidCommand("not a place-order command")
    try:
        command = messages.parse(body, PlaceOrder)
    except messages.InvalidMessage as exc:
        raise InvalidCommand(f"malformed command: {exc}") from None
    if len({i.ticket_id for i in command.items}) != len(command.items):
        raise InvalidCommand("an order lists a ticket twice")
    return command

MAILBOX = "mailbox:"


@dataclass(frozen=True)
class Outcome:
    order_id: str
    status: str  # CONFIRMED | AWAITING_PAYMENT | REJECTED | DUPLICATE (and holds.py's outcomes)
    reason: str | None = None
    event: dict[str, Any] | None = None


class _Rejected(Exception):
    def __init__(self, reason: str):
        self.reason = reason


async def place_order(engine: AsyncEngine, command: PlaceOrder, processed_at: str | None = None) -> Outcome:
    """CONFIRMED or REJECTED with the outcome event in the outbox, or DUPLICATE for a command placed before
    (a redelivery), which changes nothing."""
    try:
        [outcome] = await place_orders(engine, [command], processed_at)
    except IntegrityError:
        if await already_processed(engine, command.order_id):
            return Outcome(command.order_id, "DUPLICATE")
        raise
    return outcome


async def place_orders(engine: AsyncEngine, commands: Sequence[PlaceOrder],
                       processed_at: str | None = None) -> list[Outcome]:
    """A batch of commands placed in one transaction, in their order, each as `place_order` would: one
    conditional UPDATE per line that can be had, the orders, their lines and their events written with one
    statement each. A drop delivers hundreds a second; one commit, one read of the ticket types and of the
    festival serve them all.

    A command recorded before (a redelivery, or the same order twice in the batch) makes the insert fail
    with IntegrityError and the whole batch, stock included, roll back: the caller places each alone then
    (`place_order` tells the duplicate apart)."""
    processed_at = processed_at or events.now_iso()
    now = sale_window.moment(processed_at)
    async with engine.begin() as conn:
        batch = _Batch(conn, await _ticket_rows(conn, {i.ticket_id for c in commands for i in c.items}), processed_at)
        outcomes = [await batch.place(command, now) for command in commands]
        await batch.write()
    return outcomes


class _Batch:
    """One transaction's placements: the ticket rows read once (their stock kept current as it is taken),
    and the rows to write at the end."""

    def __init__(self, conn: AsyncConnection, tickets_by_id: dict[str, dict[str, Any]], processed_at: str):
        self.conn, self.tickets, self.processed_at = conn, tickets_by_id, processed_at
        self.orders: list[dict[str, Any]] = []
        self.items: list[dict[str, Any]] = []
        self.outbox: list[dict[str, Any]] = []
        self._terms: tuple[FestivalSummary | None, festival.PaymentTerms] | None = None

    async def place(self, command: PlaceOrder, now: datetime) -> Outcome:
        lines = _price_lines(command, self.tickets, now)
        if isinstance(lines, str):
            return self._rejected(command, lines)
        # a savepoint only where a refusal must undo something already taken: a second line, or an allowance
        undo = None if len(lines) == 1 and lines[0]["per_buyer_limit"] is None else await self.conn.begin_nested()
        taken: list[tuple[dict[str, Any], int]] = []  # (ticket row, stock before) to restore on a refusal
        try:
            remaining = []
            for line in lines:
                limit = line.pop("per_buyer_limit")
                row = self.tickets[line["ticket_id"]]
                if limit is not None:
                    for buyer in buyer_keys(command.username, command.email):  # the account, and its mailbox
                        refused = await _take_allowance(self.conn, buyer, line, limit)
                        if refused:
                            raise _Rejected(refused)
                left = None if row["stock"] < line["quantity"] else await _take_stock(
                    self.conn, line["ticket_id"], line["quantity"])
                if left is None:
                    raise _Rejected(await _shortage_reason(self.conn, line, row))
                taken.append((row, row["stock"]))
                row["stock"] = left
                remaining.append({"ticket_id": line["ticket_id"], "stock": left})
            if undo is not None:
                await undo.commit()
        except _Rejected as rejected:
            if undo is not None:
                await undo.rollback()
            for row, before in taken:
                row["stock"] = before
            return self._rejected(command, rejected.reason)
        total = sum(line["quantity"] * line["unit_price_cents"] for line in lines)
        summary, terms = await self.terms()
        if total > 0 and terms.takes_payment:  # held until paid: minutes for a card, days for a transfer
            method = PaymentMethod.CARD if terms.card else PaymentMethod.BANK_TRANSFER
            due = events.iso(now + (timedelta(minutes=terms.hold_minutes) if terms.card
                                    else timedelta(days=terms.transfer_days)))
            event = held_event(command.order_id, command.username, command.email, lines, total, remaining, summary,
                               terms.pay_to, method, due)
            self.record(command.order_id, command.username, OrderStatus.AWAITING_PAYMENT, None, total, lines, event,
                        email=command.email, hold_until=due, method=method)
            return Outcome(command.order_id, OrderStatus.AWAITING_PAYMENT, None, event)
        event = sold_event(command.order_id, command.username, command.email, lines, total, remaining, summary)
        self.record(command.order_id, command.username, "CONFIRMED", None, total, lines, event, email=command.email)
        return Outcome(command.order_id, "CONFIRMED", None, event)

    async def terms(self) -> tuple[FestivalSummary | None, festival.PaymentTerms]:
        """The festival a sold ticket is for and how orders are paid, read once a batch (and only if
        something sells)."""
        if self._terms is None:
            self._terms = await festival.sale_terms(self.conn)
        return self._terms

    def _rejected(self, command: PlaceOrder, reason: str) -> Outcome:
        event = _rejected_event(command, reason)
        self.record(command.order_id, command.username, "REJECTED", reason, 0, [], event, email=command.email)
        return Outcome(command.order_id, "REJECTED", reason, event)

    def record(self, order_id: str, username: str, status: str, reason: str | None, total: int,
               lines: list[dict[str, Any]], event: dict[str, Any], *, email: str = "", hold_until: str | None = None,
               method: str | None = None) -> None:
        self.orders.append({"order_id": order_id, "username": username, "status": status, "reason": reason,
                            "total_cents": total, "processed_at": self.processed_at, "email": email,
                            "hold_until": hold_until, "method": method})
        self.items.extend({"order_id": order_id, **line} for line in lines)
        self.outbox.append(event)

    async def write(self) -> None:
        """The orders first (a redelivered order fails here on its key), then their lines and events, the sales
        with something to pay numbered (invoices.py)."""
        if self.orders:
            await self.conn.execute(orders.insert(), self.orders)
        if self.items:
            await self.conn.execute(order_items.insert(), self.items)
        await invoices.number_sales(self.conn, self.outbox)
        if self.outbox:
            await self.conn.execute(outbox.insert(), [
                {"event_id": event["id"], "topic": ORDER_EVENTS_TOPIC, "key": event["subject"],
                 "payload": events.encode(event).decode()} for event in self.outbox])


def sender_of(body: Any) -> tuple[str, str, str] | None:
    """(order id, username, email) of a command too broken to place, if it says at least that much."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        return None
    order_id, username = data.get("order_id"), data.get("username")
    if not (isinstance(order_id, str) and isinstance(username, str) and order_id and username):
        return None
    email = data.get("email")
    return order_id, username, email if isinstance(email, str) else ""


async def reject_unprocessable(engine: AsyncEngine, order_id: str, username: str, email: str,
                               reason: str) -> Outcome:
    """An order whose command cannot be placed (malformed, or failing at every delivery) is told so:
    REJECTED with the reason, so it never stays PENDING. A no-op for an order already processed."""
    async with engine.begin() as conn:
        if await conn.scalar(sa.select(orders.c.status).where(orders.c.order_id == order_id)) is not None:
            return Outcome(order_id, "DUPLICATE")
        event = messages.envelope(OrderRejected(order_id=order_id, username=username, email=email, reason=reason),
                                  SOURCE, subject=order_id)
        batch = _Batch(conn, {}, events.now_iso())
        batch.record(order_id, username, "REJECTED", reason, 0, [], event, email=email)
        await batch.write()
    return Outcome(order_id, "REJECTED", reason, event)


async def already_processed(engine: AsyncEngine, order_id: str) -> bool:
    async with engine.connect() as conn:
        return await conn.scalar(sa.select(orders.c.status).where(orders.c.order_id == order_id)) is not None


async def _ticket_rows(conn: AsyncConnection, ids: set[str]) -> dict[str, dict[str, Any]]:
    rows = (await conn.execute(
        sa.select(tickets.c.id, tickets.c.name, tickets.c.price_cents, tickets.c.active, tickets.c.sale_starts_at,
                  tickets.c.sale_ends_at, tickets.c.per_buyer_limit, tickets.c.stock, tickets.c.vat_rate_bp)
        .where(tickets.c.id.in_(sorted(ids)))
    )).mappings().all()
    return {row["id"]: dict(row) for row in rows}


def _price_lines(command: PlaceOrder, tickets_by_id: dict[str, dict[str, Any]],
                 now: datetime) -> list[dict[str, Any]] | str:
    """The command's lines, priced, or why it cannot be sold (a ticket unknown, inactive or out of its sale
    window)."""
    lines = []
    for item in command.items:
        row = tickets_by_id.get(item.ticket_id)
        if row is None or not row["active"]:
            return f"ticket {item.ticket_id!r} is not on sale"
        problem = sale_window.problem(row["name"], row["sale_starts_at"], row["sale_ends_at"], now)
        if problem:
            return problem
        lines.append({"ticket_id": item.ticket_id, "name": row["name"], "quantity": item.quantity,
                      "unit_price_cents": row["price_cents"], "vat_rate_bp": row["vat_rate_bp"],
                      "per_buyer_limit": row["per_buyer_limit"]})
    return lines


def buyer_keys(username: str, email: str) -> list[str]:
    """Whom a per-buyer limit counts: the account, and its mailbox (so that several accounts of one email
    address share one allowance). A mailbox is kept as `mailbox:` and a hash of its address, compared
    without case, in the same column as the usernames (which cannot contain a colon)."""
    address = email.strip().lower()
    return [username, MAILBOX + hashlib.sha256(address.encode()).hexdigest()[:40]] if address else [username]


async def _take_allowance(conn: AsyncConnection, username: str, line: dict[str, Any], limit: int) -> str | None:
    """Counts the line against the buyer's (an account's, or a mailbox's) limit for its ticket type, with one
    conditional UPDATE (or the first INSERT); the reason when it would go over. Parallel orders of one buyer
    queue on that row."""
    ticket_id, quantity, name = line["ticket_id"], line["quantity"], line["name"]
    if quantity > limit:
        return f"at most {limit} {name} per buyer"
    counted = await conn.execute(
        buyer_counts.update().where(buyer_counts.c.ticket_id == ticket_id, buyer_counts.c.username == username,
                                    buyer_counts.c.quantity + quantity <= limit)
        .values(quantity=buyer_counts.c.quantity + quantity))
    if counted.rowcount == 1:
        return None
    held = await conn.scalar(sa.select(buyer_counts.c.quantity).where(buyer_counts.c.ticket_id == ticket_id,
                                                                       buyer_counts.c.username == username))
    if held is None:  # a concurrent first order of this buyer inserting too fails on the key and is retried
        await conn.execute(buyer_counts.insert().values(ticket_id=ticket_id, username=username, quantity=quantity))
        return None
    whose = "this email address has" if username.startswith(MAILBOX) else "you have"
    return f"at most {limit} {name} per buyer: {whose} {held} already"


async def _take_stock(conn: AsyncConnection, ticket_id: str, quantity: int) -> int | None:
    """The one conditional UPDATE that makes overselling impossible. Returns the stock left, or None."""
    result = await conn.execute(
        sa.update(tickets)
        .where(tickets.c.id == ticket_id, tickets.c.stock >= quantity, tickets.c.active)
        .values(stock=tickets.c.stock - quantity, version=tickets.c.version + 1)
        .returning(tickets.c.stock)
    )
    row = result.first()
    return None if row is None else row[0]


async def _shortage_reason(conn: AsyncConnection, line: dict[str, Any], row: dict[str, Any]) -> str:
    """Why the stock could not be taken. The stock as this transaction knows it says it when it is short
    (nothing was asked of the database then: stock seen short stays short within the transaction, and on
    PostgreSQL the refusal is true as of that read); otherwise it changed meanwhile (another instance sold
    it) and is read again."""
    if row["stock"] >= line["quantity"]:
        row["stock"] = await conn.scalar(sa.select(tickets.c.stock).where(tickets.c.id == line["ticket_id"]))
    left = row["stock"]
    if not left:
        return f"{line['name']} is sold out"
    return f"only {left} {line['name']} left, {line['quantity']} requested"


def sold_event(order_id: str, username: str, email: str, lines, total: int, remaining,
               festival_summary: FestivalSummary | None) -> dict[str, Any]:
    return messages.envelope(TicketSold(
        order_id=order_id, username=username, email=email,
        items=tuple(SoldLine(**line) for line in lines), total_cents=total,
        stock=tuple(StockLevel(**level) for level in remaining), festival=festival_summary,
    ), SOURCE, subject=order_id)


def held_event(order_id: str, username: str, email: str, lines, total: int, remaining,
               festival_summary: FestivalSummary | None, pay_to: PayTo | None, method: PaymentMethod,
               due: str) -> dict[str, Any]:
    return messages.envelope(OrderHeld(
        order_id=order_id, username=username, email=email, items=tuple(SoldLine(**line) for line in lines),
        total_cents=total, method=method, due_at=due, reference=creditor_reference(order_id), pay_to=pay_to,
        stock=tuple(StockLevel(**level) for level in remaining), festival=festival_summary,
    ), SOURCE, subject=order_id)


def _rejected_event(command: PlaceOrder, reason: str) -> dict[str, Any]:
    return messages.envelope(OrderRejected(
        order_id=command.order_id, username=command.username, email=command.email,
        items=tuple(RejectedItem(ticket_id=i.ticket_id, quantity=i.quantity) for i in command.items), reason=reason,
    ), SOURCE, subject=command.order_id)
