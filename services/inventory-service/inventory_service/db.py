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
    sa.Column("description", sa.Text),  # what the ticket type includes, shown to buyers
    sa.Column("sale_starts_at", sa.String(40)),  # ISO 8601 (UTC); none: on sale now
    sa.Column("sale_ends_at", sa.String(40)),  # none: until sold out
    sa.Column("per_buyer_limit", sa.Integer),  # at most this many per buyer, across all their orders
    sa.Column("vat_rate_bp", sa.Integer, nullable=False, server_default="0"),  # VAT in the price (1900: 19 %)
    sa.CheckConstraint("stock >= 0", name="stock_never_negative"),
    sa.CheckConstraint("price_cents >= 0", name="price_not_negative"),
)

# The festival itself: one row (id 1), edited by the organiser, shown to buyers and on their tickets.
festival = sa.Table(
    "festival", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("starts_on", sa.String(10), nullable=False, server_default=""),
    sa.Column("ends_on", sa.String(10), nullable=False, server_default=""),
    sa.Column("venue", sa.String(120), nullable=False, server_default=""),
    sa.Column("address", sa.String(200), nullable=False, server_default=""),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("banner", sa.LargeBinary),
    sa.Column("banner_type", sa.String(40)),
    sa.Column("banner_version", sa.Integer, nullable=False, server_default="0"),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    # payments, and the seller invoices name (festival.py, FestivalPatch)
    sa.Column("payment_hold_minutes", sa.Integer, nullable=False, server_default="15"),
    # buyers may pay by card (Stripe): their orders are held payment_hold_minutes, unless they choose a transfer
    sa.Column("card_payments", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("bank_transfer_days", sa.Integer, nullable=False, server_default="5"),
    # a payment this many days after its order expired still reinstates it (while the tickets are free)
    sa.Column("late_payment_days", sa.Integer, nullable=False, server_default="14"),
    sa.Column("iban", sa.String(34), nullable=False, server_default=""),
    sa.Column("bic", sa.String(11), nullable=False, server_default=""),
    sa.Column("beneficiary", sa.String(70), nullable=False, server_default=""),
    sa.Column("vat_id", sa.String(20), nullable=False, server_default=""),
    sa.Column("seller_address", sa.String(200), nullable=False, server_default=""),
)

# How many of a ticket type each buyer holds (confirmed orders, cancellations taken off): what the
# per-buyer limit is checked against, in the transaction that takes the stock.
buyer_counts = sa.Table(
    "buyer_counts", metadata,
    sa.Column("ticket_id", sa.String(64), primary_key=True),
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("quantity", sa.Integer, nullable=False),
)

orders = sa.Table(
    "orders", metadata,
    sa.Column("order_id", sa.String(64), primary_key=True),  # a redelivered command hits this key
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(300)),
    sa.Column("total_cents", sa.Integer, nullable=False),
    sa.Column("processed_at", sa.String(40), nullable=False),
    sa.Column("email", sa.String(200), nullable=False, server_default=""),  # whose allowance it counts against
    # an order that must be paid holds its stock until then (AWAITING_PAYMENT), see holds.py
    sa.Column("hold_until", sa.String(40)),  # ISO 8601 UTC, as processed_at: compared as text
    sa.Column("method", sa.String(20)),  # how it is paid (PaymentMethod), for an order that was held
)
sa.Index("orders_holds", orders.c.status, orders.c.hold_until)

# Every payment the inventory was told of, once (the payment service may send one again): what it did
payments_applied = sa.Table(
    "payments_applied", metadata,
    sa.Column("payment_id", sa.String(160), primary_key=True),
    sa.Column("order_id", sa.String(64), nullable=False),
    sa.Column("outcome", sa.String(20), nullable=False),  # CONFIRMED | REINSTATED | REFUND_DUE
    sa.Column("applied_at", sa.String(40), nullable=False),
)

order_items = sa.Table(
    "order_items", metadata,
    sa.Column("order_id", sa.String(64), sa.ForeignKey("orders.order_id"), primary_key=True),
    sa.Column("ticket_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("unit_price_cents", sa.Integer, nullable=False),
    sa.Column("vat_rate_bp", sa.Integer, nullable=False, server_default="0"),
)

# Tickets of a confirmed order cancelled one by one (the order stays confirmed with the others): each once
cancelled_tickets = sa.Table(
    "cancelled_tickets", metadata,
    sa.Column("code", sa.String(64), primary_key=True),
    sa.Column("order_id", sa.String(64), nullable=False),
    sa.Column("ticket_id", sa.String(64), nullable=False),
    sa.Column("cancelled_at", sa.String(40), nullable=False),
)

# The last number given of each series (1: invoices, 2: credit notes): each sale with something to pay, and
# each cancellation of something paid, takes the next one in its own transaction, so the numbers have no gaps
invoice_counter = sa.Table(
    "invoice_counter", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("last", sa.Integer, nullable=False),
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
    await database.create_schema(engine, metadata)


SEED_TICKETS = [
    {"id": "general-admission", "name": "General Admission", "price_cents": 8900, "stock": 500,
     "description": "Entry to all stages on all three days."},
    {"id": "vip-weekend", "name": "VIP Weekend", "price_cents": 24900, "stock": 50,
     "description": "All three days, the VIP area with its own bar and toilets, and a fast-lane entrance."},
    {"id": "camping-pass", "name": "Camping Pass", "price_cents": 4500, "stock": 200,
     "description": "A pitch in the campsite from Thursday noon to Monday noon (a festival ticket is needed too)."},
]
SEED_FESTIVAL = {"id": 1, "name": "FestFlow Summer Festival", "starts_on": "2027-07-16", "ends_on": "2027-07-18",
                 "venue": "Riverside Park", "address": "Riverside Park, 1 Festival Way, Springfield",
                 "description": "Three days of music on four stages by the river."}


async def seed(engine: AsyncEngine, bank_account: dict[str, str] | None = None) -> None:
    async with engine.begin() as conn:
        await database.startup_lock(conn)
        count = (await conn.execute(sa.select(sa.func.count()).select_from(tickets))).scalar_one()
        if count == 0:
            await conn.execute(tickets.insert(), SEED_TICKETS)
        for series in (1, 2):  # invoices, credit notes (invoices.py)
            if await conn.scalar(sa.select(invoice_counter.c.last).where(invoice_counter.c.id == series)) is None:
                await conn.execute(invoice_counter.insert().values(id=series, last=0))
        if await conn.scalar(sa.select(festival.c.id)) is None:
            await conn.execute(festival.insert().values(**SEED_FESTIVAL, **(bank_account or {})))
