"""The inventory database: tickets (with stock), processed orders, and the event outbox.

SQLite (default) or PostgreSQL, chosen by DATABASE_URL. On SQLite every transaction starts with
BEGIN IMMEDIATE, so concurrent writers queue up instead of failing on a lock upgrade.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from festflow_runtime import database

metadata = sa.MetaData()

tickets = sa.Table(
    "tickets", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("price_cents", sa.Integer, nullable=False),
    sa.Column("stock", sa.Integer, nullable=False),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.CheckConstraint("stock >= 0", name="stock_never_negative"),
    sa.CheckConstraint("price_cents >= 0", name="price_not_negative"),
)

orders = sa.Table(
    "orders", metadata,
    sa.Column("order_id", sa.String(64), primary_key=True),  # a redelivered command hits this key
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(300)),
    sa.Column("total_cents", sa.Integer, nullable=False),
    sa.Column("processed_at", sa.String(40), nullable=False),
)

order_items = sa.Table(
    "order_items", metadata,
    sa.Column("order_id", sa.String(64), sa.ForeignKey("orders.order_id"), primary_key=True),
    sa.Column("ticket_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("unit_price_cents", sa.Integer, nullable=False),
)

outbox = sa.Table(
    "outbox", metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(64), nullable=False, unique=True),
    sa.Column("topic", sa.String(120), nullable=False),
    sa.Column("key", sa.String(120), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("published", sa.Boolean, nullable=False, server_default=sa.false()),
)
sa.Index("outbox_unpublished", outbox.c.published, outbox.c.seq)


def make_engine(url: str) -> AsyncEngine:
    return database.make_engine(url, foreign_keys=True)


async def create_schema(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)


SEED_TICKETS = [
    {"id": "general-admission", "name": "General Admission", "price_cents": 8900, "stock": 500},
    {"id": "vip-weekend", "name": "VIP Weekend", "price_cents": 24900, "stock": 50},
    {"id": "camping-pass", "name": "Camping Pass", "price_cents": 4500, "stock": 200},
]


async def seed(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        count = (await conn.execute(sa.select(sa.func.count()).select_from(tickets))).scalar_one()
        if count == 0:
            await conn.execute(tickets.insert(), SEED_TICKETS)
