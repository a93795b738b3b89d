"""The payment service's database: the payments it expects (one per order awaiting a bank transfer), every
statement line it has read, every provider's webhook event, and the outbox of the events it emits.
SQLite (default) or PostgreSQL, chosen by DATABASE_URL."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from festflow_runtime import database, outbox

metadata = sa.MetaData()

expected_payments = sa.Table(
    "expected_payments", metadata,
    sa.Column("reference", sa.String(30), primary_key=True),  # the creditor reference (references.py)
    sa.Column("order_id", sa.String(64), nullable=False, unique=True),
    sa.Column("amount_cents", sa.Integer, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("received_cents", sa.Integer, nullable=False, server_default="0"),
    sa.Column("status", sa.String(12), nullable=False),  # awaiting | paid | review | refund
    sa.Column("due_at", sa.String(40), nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("paid_at", sa.String(40)),
    sa.Column("note", sa.String(300)),  # why it is owed back, for a payment the order could not take (refund)
    sa.Column("username", sa.String(64)),  # the buyer, who alone may pay it by card
    # the organiser's account it is paid into (the order's, when it was held): a refund is sent from there
    sa.Column("account_iban", sa.String(34)),
    sa.Column("account_bic", sa.String(11)),
    sa.Column("account_name", sa.String(70)),
    # who paid, from which account (as the statement says): where a refund goes
    sa.Column("payer_name", sa.String(140)),
    sa.Column("payer_iban", sa.String(34)),
    sa.Column("refunded_at", sa.String(40)),  # when its refund went into a SEPA file for the bank
)

# An order paid by card: its Stripe PaymentIntent (manual capture) and where it stands. `action` is what must
# still be asked of Stripe (capture after the sale, cancel when the order cannot take the money; refunds are in
# `refunds`); the
# payment worker asks it, again after a failure or a restart, each call with its idempotency key.
card_payments = sa.Table(
    "card_payments", metadata,
    sa.Column("order_id", sa.String(64), primary_key=True),
    sa.Column("intent_id", sa.String(120), nullable=False, unique=True),
    sa.Column("amount_cents", sa.Integer, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    # prepared | authorised | captured | cancelled | refunded | failed
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("action", sa.String(10)),  # capture | cancel, until Stripe has done it
    sa.Column("note", sa.String(300)),
    sa.Column("updated_at", sa.String(40), nullable=False),
)

# Money owed back, each once (`refund_id`: what it gives back: an order cancelled whole, some of its tickets, a
# payment the order could not take): a bank transfer's goes into a SEPA file for the organiser's bank (sent), a
# card's is asked of Stripe by the payment worker (done)
refunds = sa.Table(
    "refunds", metadata,
    sa.Column("refund_id", sa.String(160), primary_key=True),
    sa.Column("order_id", sa.String(64), nullable=False, index=True),
    sa.Column("method", sa.String(20), nullable=False),  # bank_transfer | card
    sa.Column("amount_cents", sa.Integer, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("reason", sa.String(300), nullable=False),
    sa.Column("status", sa.String(8), nullable=False),  # due | sent | done
    sa.Column("note", sa.String(300)),  # what Stripe said, when it refused
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("done_at", sa.String(40)),
)

# the events this service emits (a payment received), written in the transaction that records the payment and
# relayed to Kafka afterwards
event_outbox = outbox.outbox_table(metadata)

statement_lines = sa.Table(
    "statement_lines", metadata,
    sa.Column("entry_id", sa.String(120), primary_key=True),  # a line read twice is the same line
    sa.Column("format", sa.String(10), nullable=False),
    sa.Column("booked_on", sa.String(10), nullable=False),
    sa.Column("amount_cents", sa.Integer, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("text", sa.String(500), nullable=False),
    sa.Column("payer", sa.String(140), nullable=False),
    sa.Column("payer_iban", sa.String(34)),
    sa.Column("reference", sa.String(30)),  # the expected payment it was matched to, if any
    sa.Column("outcome", sa.String(10), nullable=False),  # matched | review | unmatched
    sa.Column("reason", sa.String(200)),  # why a person must look at it
    sa.Column("imported_at", sa.String(40), nullable=False),
)

# every event a payment provider sent, once, by its id (a provider sends an event again until it is
# answered 2xx, and in no particular order): what is done with it is done from here
webhook_inbox = sa.Table(
    "webhook_inbox", metadata,
    sa.Column("event_id", sa.String(120), primary_key=True),
    sa.Column("provider", sa.String(20), nullable=False),
    sa.Column("type", sa.String(120), nullable=False),
    sa.Column("created", sa.Integer, nullable=False),  # when the provider made it (unix seconds): the order of events
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("received_at", sa.String(40), nullable=False),
    sa.Column("times_received", sa.Integer, nullable=False, server_default="1"),
    sa.Column("processed_at", sa.String(40)),
)


def make_engine(url: str) -> AsyncEngine:
    return database.make_engine(url)


async def create_schema(engine: AsyncEngine) -> None:
    await database.create_schema(engine, metadata)
