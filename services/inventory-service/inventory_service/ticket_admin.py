"""Organisers' changes to the catalog: create, edit (name, price, stock) and retire ticket types.

Each change is one transaction that also writes a TICKET_CHANGED event to the outbox, so every open
catalog hears of it.

Stale forms: a stock edit that carries `stock_seen` (the stock the organiser's form showed) is applied
as the change the organiser made, `stock + (new - seen)`, in one conditional UPDATE. Tickets sold
meanwhile stay sold; the answer says what the stock is now. Only when that change would take the stock
below zero is it refused ("stock changed, reload"). Without `stock_seen` the stock is set as given.
"""
from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from festflow_contracts import events, messages
from festflow_contracts.channels import CATALOG_EVENTS_TOPIC
from festflow_contracts.messages import TicketChanged
from festflow_contracts.money import cents_to_str
from festflow_runtime.text import plain_text
from inventory_service.db import outbox, tickets

SOURCE = "/festflow/inventory-service"
MAX_STOCK = 1_000_000
MAX_PRICE_CENTS = 100_000_000


class TicketError(Exception):
    def __init__(self, status: int, detail: str):
        self.status, self.detail = status, detail


def parse_price_cents(value: Any) -> int:
    """A price in euros (string or number) with at most two decimals, >= 0, as integer cents."""
    if isinstance(value, bool) or value is None:
        raise ValueError("price must be a number, like 89 or 89.50")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError("price must be a number, like 89 or 89.50") from None
    if not amount.is_finite():
        raise ValueError("price must be a number, like 89 or 89.50")
    if amount < 0:
        raise ValueError("price must be 0 or more")
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError("price may have at most two decimals")
    cents = int(amount * 100)
    if cents > MAX_PRICE_CENTS:
        raise ValueError("price is too high")
    return cents


def _check_stock(value: Any, field: str = "stock") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        else:
            raise ValueError(f"{field} must be a whole number, 0 or more")
    if value < 0:
        raise ValueError(f"{field} must be a whole number, 0 or more")
    if value > MAX_STOCK:
        raise ValueError(f"{field} is too high (at most {MAX_STOCK})")
    return value


def _check_name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("name must not be empty")
    try:
        plain_text(value)
    except ValueError:
        raise ValueError("name must be plain text (it contains an invalid character)") from None
    if len(value.strip()) > 120:
        raise ValueError("name is too long (at most 120 characters)")
    return value.strip()


def _check_description(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("description must be text")
    try:
        plain_text(value, multiline=True)
    except ValueError:
        raise ValueError("description must be plain text (it contains an invalid character)") from None
    if len(value.strip()) > 1000:
        raise ValueError("description is too long (at most 1000 characters)")
    return value.strip()


def parse_vat_rate_bp(value: Any) -> int:
    """A VAT rate in percent ("19", "7.7", 0-100, at most two decimals) as basis points (1900)."""
    problem = "vat_rate must be a percentage from 0 to 100, like 19 or 7.7"
    if isinstance(value, bool) or value is None:
        raise ValueError(problem)
    try:
        rate = Decimal(str(value).strip().removesuffix("%").strip())
    except InvalidOperation:
        raise ValueError(problem) from None
    if not rate.is_finite() or not 0 <= rate <= 100 or rate != rate.quantize(Decimal("0.01")):
        raise ValueError(problem)
    return int(rate * 100)


def _check_moment(value: Any, field: str) -> str:
    """An ISO 8601 date and time ("2027-03-01T10:00", UTC unless it names a zone) as UTC, or "" (none)."""
    if not isinstance(value, str):
        raise ValueError(f"{field} must be a date and time like 2027-03-01T10:00")
    if not value.strip():
        return ""
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{field} must be a date and time like 2027-03-01T10:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="minutes").replace("+00:00", "Z")


class Presentation(BaseModel):
    """What buyers read about a ticket type, and when it is on sale; "" clears a sale bound (on sale
    now, or until sold out)."""
    description: Any = None
    per_buyer_limit: Any = None  # 1-1000 per buyer across their orders; "" or 0 clears it
    sale_starts_at: Any = None
    sale_ends_at: Any = None
    vat_rate: Any = None  # the VAT the price includes, in percent (invoices show it)

    @field_validator("vat_rate")
    @classmethod
    def _vat(cls, v):
        return None if v is None else parse_vat_rate_bp(v)

    @field_validator("sale_starts_at")
    @classmethod
    def _starts(cls, v):
        return None if v is None else _check_moment(v, "sale_starts_at")

    @field_validator("sale_ends_at")
    @classmethod
    def _ends(cls, v):
        return None if v is None else _check_moment(v, "sale_ends_at")

    @field_validator("per_buyer_limit")
    @classmethod
    def _limit(cls, v):
        if v is None:
            return None
        if v in ("", 0, "0"):
            return 0  # no limit
        if isinstance(v, bool) or not (isinstance(v, int) or (isinstance(v, str) and v.strip().isdigit())):
            raise ValueError("per_buyer_limit must be a whole number from 1 to 1000, or empty for none")
        v = int(v)
        if not 1 <= v <= 1000:
            raise ValueError("per_buyer_limit must be a whole number from 1 to 1000, or empty for none")
        return v

    @field_validator("description")
    @classmethod
    def _description(cls, v):
        return None if v is None else _check_description(v)


def _check_window(starts: str | None, ends: str | None) -> None:
    if starts and ends and ends <= starts:
        raise TicketError(422, "sale_ends_at: sales must end after they start")


class TicketCreate(Presentation):
    model_config = ConfigDict(extra="forbid")
    name: Any
    price: Any
    stock: Any
    id: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")

    @field_validator("name")
    @classmethod
    def _name(cls, v):
        return _check_name(v)

    @field_validator("price")
    @classmethod
    def _price(cls, v):
        return parse_price_cents(v)

    @field_validator("stock")
    @classmethod
    def _stock(cls, v):
        return _check_stock(v)


class TicketPatch(Presentation):
    model_config = ConfigDict(extra="forbid")
    name: Any = None
    price: Any = None
    stock: Any = None
    stock_seen: Any = None
    active: bool | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, v):
        return None if v is None else _check_name(v)

    @field_validator("price")
    @classmethod
    def _price(cls, v):
        return None if v is None else parse_price_cents(v)

    @field_validator("stock")
    @classmethod
    def _stock(cls, v):
        return None if v is None else _check_stock(v)

    @field_validator("stock_seen")
    @classmethod
    def _seen(cls, v):
        return None if v is None else _check_stock(v, "stock_seen")


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:64] or "ticket"


def ticket_view(row) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "price_cents": row["price_cents"], "stock": row["stock"],
            "version": row["version"], "active": row["active"], "description": row["description"] or "",
            "sale_starts_at": row["sale_starts_at"], "sale_ends_at": row["sale_ends_at"],
            "per_buyer_limit": row["per_buyer_limit"], "vat_rate_bp": row["vat_rate_bp"],
            "vat_rate": f"{Decimal(row['vat_rate_bp']) / 100:.2f}"}


async def _load(conn: AsyncConnection, ticket_id: str):
    return (await conn.execute(sa.select(tickets).where(tickets.c.id == ticket_id))).mappings().first()


async def _announce(conn: AsyncConnection, ticket: dict[str, Any], change: str) -> None:
    event = messages.envelope(TicketChanged(**ticket, price=cents_to_str(ticket["price_cents"]), change=change),
                              SOURCE, subject=ticket["id"])
    await conn.execute(outbox.insert().values(event_id=event["id"], topic=CATALOG_EVENTS_TOPIC, key=ticket["id"],
                                              payload=events.encode(event).decode()))


async def create_ticket(engine: AsyncEngine, new: TicketCreate) -> dict[str, Any]:
    ticket_id = new.id or slug(new.name)
    async with engine.begin() as conn:
        if await _load(conn, ticket_id) is not None:
            raise TicketError(409, f"a ticket type with id {ticket_id!r} exists already")
        _check_window(new.sale_starts_at, new.sale_ends_at)
        await conn.execute(tickets.insert().values(id=ticket_id, name=new.name, price_cents=new.price,
                                                   stock=new.stock, version=1, active=True,
                                                   description=new.description or None,
                                                   sale_starts_at=new.sale_starts_at or None,
                                                   sale_ends_at=new.sale_ends_at or None,
                                                   per_buyer_limit=new.per_buyer_limit or None,
                                                   vat_rate_bp=new.vat_rate or 0))
        ticket = ticket_view(await _load(conn, ticket_id))
        await _announce(conn, ticket, "created")
    return ticket


async def update_ticket(engine: AsyncEngine, ticket_id: str, patch: TicketPatch) -> dict[str, Any]:
    """Applies the patch; returns the ticket as it is now, with `sold_meanwhile` for a stale stock edit."""
    if patch.stock_seen is not None and patch.stock is None:
        raise TicketError(422, "stock_seen goes with stock")
    async with engine.begin() as conn:
        before = await _load(conn, ticket_id)
        if before is None:
            raise TicketError(404, f"no ticket type {ticket_id!r}")
        values: dict[str, Any] = {}
        if patch.name is not None:
            values["name"] = patch.name
        if patch.price is not None:
            values["price_cents"] = patch.price
        if patch.active is not None:
            values["active"] = patch.active
        if patch.description is not None:
            values["description"] = patch.description or None
        if patch.per_buyer_limit is not None:
            values["per_buyer_limit"] = patch.per_buyer_limit or None
        if patch.vat_rate is not None:
            values["vat_rate_bp"] = patch.vat_rate
        for bound in ("sale_starts_at", "sale_ends_at"):
            if getattr(patch, bound) is not None:
                values[bound] = getattr(patch, bound) or None
        _check_window(values["sale_starts_at"] if "sale_starts_at" in values else before["sale_starts_at"],
                      values["sale_ends_at"] if "sale_ends_at" in values else before["sale_ends_at"])
        condition = tickets.c.id == ticket_id
        sold_meanwhile = 0
        if patch.stock is not None:
            if patch.stock_seen is None:
                values["stock"] = patch.stock
            else:
                delta = patch.stock - patch.stock_seen
                values["stock"] = tickets.c.stock + delta
                condition = sa.and_(condition, tickets.c.stock + delta >= 0)
                sold_meanwhile = max(0, patch.stock_seen - before["stock"])
        if not values:
            raise TicketError(422, "nothing to change: give name, price, stock, active, description, a sale "
                                   "window or vat_rate")
        result = await conn.execute(sa.update(tickets).where(condition)
                                    .values(**values, version=tickets.c.version + 1))
        if result.rowcount == 0:
            raise TicketError(409, f"stock changed, reload: only {before['stock']} left now, "
                                   f"so taking away {patch.stock_seen - patch.stock} is not possible")
        ticket = ticket_view(await _load(conn, ticket_id))
        change = "retired" if patch.active is False else "restored" if patch.active else "updated"
        await _announce(conn, ticket, change)
    return {**ticket, "sold_meanwhile": sold_meanwhile}
