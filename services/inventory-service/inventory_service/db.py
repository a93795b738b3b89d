"""The inventory database: tickets (with stock), processed orders, and the event outbox.

SQLite (default) or PostgreSQL, chosen by DATABASE_URL. On SQLite every transaction starts with
BEGIN IMMEDIATE, so concurrent writers queue up instead of failing on a lock upgrade.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

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
    if url.startswith("sqlite"):
        # One connection per process: transactions queue fairly in the pool instead of racing for SQLite's
        # write lock and sleeping in its busy handler (which made each commit cost milliseconds under load).
        engine = create_async_engine(url, connect_args={"timeout": 30}, pool_size=1, max_overflow=0,
                                     pool_timeout=60)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_connect(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10)


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
