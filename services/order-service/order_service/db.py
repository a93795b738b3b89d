"""The order service's database: users, orders (its read model of order status), the command outbox
and the buyers' carts.

SQLite (default) or PostgreSQL, chosen by DATABASE_URL.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from festflow_runtime import database, outbox

metadata = sa.MetaData()

users = sa.Table(
    "users", metadata,
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("password_hash", sa.String(100), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("email", sa.String(200), nullable=False),
)

orders = sa.Table(
    "orders", metadata,
    sa.Column("order_id", sa.String(64), primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, index=True),
    sa.Column("idempotency_key", sa.String(200), nullable=False),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(300)),
    sa.Column("items", sa.JSON, nullable=False),
    sa.Column("total_cents", sa.Integer),
    sa.Column("tickets", sa.JSON),  # issued by the ticketing service once the order is confirmed
    sa.Column("payment", sa.JSON),  # what an order held for payment must pay, by when and to whom (ORDER_HELD)
    sa.Column("invoice_number", sa.String(20)),  # the inventory's, at the sale (TicketSold.invoice_number)
    sa.Column("seller", sa.JSON),  # the festival and who sold, as they were at the sale (for the invoice)
    sa.Column("pass_id", sa.String(64)),  # the waiting-room pass it was placed with (one order a pass)
    # a credit note for each cancellation of something paid: [{number, amount_cents, items, codes, reason, at}]
    sa.Column("credit_notes", sa.JSON),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("updated_at", sa.String(40), nullable=False),
    sa.UniqueConstraint("username", "idempotency_key", name="one_order_per_key"),
)
sa.Index("one_order_per_pass", orders.c.pass_id, unique=True)

# Failed logins per account (known or not) and client address, and per address for any account
# (username "*"): slow-down and lockout, see login.py
login_failures = sa.Table(
    "login_failures_by_address", metadata,
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("address", sa.String(64), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("locked_until", sa.String(40)),
    sa.Column("updated_at", sa.String(40), nullable=False),
)

# A self-registered account whose email address is not confirmed yet: it may log in and fill its cart,
# but not check out. Accounts made by the organiser (and the demo accounts) have no row here.
unverified_accounts = sa.Table(
    "unverified_accounts", metadata,
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("created_at", sa.String(40), nullable=False),
)

# One-time links sent by mail (`purpose`: verify | reset). Only a hash of the secret is kept.
account_tokens = sa.Table(
    "account_tokens", metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, index=True),
    sa.Column("purpose", sa.String(16), nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("expires_at", sa.String(40), nullable=False),
    sa.Column("used_at", sa.String(40)),
)

# Events this service emits to Kafka (the account mails), written in the transaction of what they
# tell and relayed afterwards (see event_relay.py), like the commands below.
event_outbox = outbox.outbox_table(metadata)

# The transactional outbox: an order's command is written in the same transaction as the order row and
# relayed to RabbitMQ afterwards, so a 202 never depends on the broker being up at that moment.
command_outbox = sa.Table(
    "command_outbox", metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.String(64), nullable=False),
    sa.Column("type", sa.String(80), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("sent_at", sa.String(40), index=True),
)

# A buyer's cart: `u:<username>` for an account, `a:<uuid>` for an anonymous visitor. `version` grows
# with every change; a checkout names the version it saw, which also makes its Idempotency-Key.
carts = sa.Table(
    "carts", metadata,
    sa.Column("cart_id", sa.String(80), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("notice", sa.String(400)),
    sa.Column("last_order_id", sa.String(64), index=True),
    sa.Column("updated_at", sa.String(40), nullable=False),
)

cart_lines = sa.Table(
    "cart_lines", metadata,
    sa.Column("cart_id", sa.String(80), sa.ForeignKey("carts.cart_id", ondelete="CASCADE"), primary_key=True),
    sa.Column("ticket_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(120), nullable=False),  # as it was when added: a retired type keeps its name
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
)


# The timeout budget, innermost first: a request waits at most this long for the database, the cart
# micro-frontend waits 4 s for this service, the gateway 5 s for the cart and 15 s for /api/. So this
# service answers (503 with Retry-After) before anything in front of it gives up.
DB_WAIT_SECONDS = 3.0


def make_engine(url: str) -> AsyncEngine:
    return database.make_engine(url, wait_seconds=DB_WAIT_SECONDS)


async def create_schema(engine: AsyncEngine) -> None:
    await database.create_schema(engine, metadata)
