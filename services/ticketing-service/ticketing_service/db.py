"""The ticketing database: every ticket issued (one per ticket sold) and the event outbox.

SQLite (default) or PostgreSQL, chosen by DATABASE_URL.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from festflow_runtime import database, outbox

metadata = sa.MetaData()

tickets = sa.Table(
    "tickets", metadata,
    sa.Column("code", sa.String(40), primary_key=True),
    sa.Column("order_id", sa.String(64), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),  # 1..N within the order: issuing twice hits the key below
    sa.Column("ticket_id", sa.String(64), nullable=False, index=True),  # the ticket type
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("username", sa.String(64), nullable=False, index=True),
    sa.Column("email", sa.String(200), nullable=False),
    sa.Column("holder", sa.String(120), nullable=False, server_default=""),
    sa.Column("status", sa.String(8), nullable=False),  # valid | used | void
    sa.Column("qr", sa.String(300), nullable=False),
    sa.Column("festival", sa.JSON),  # what the ticket is for, as it was at the sale
    sa.Column("issued_at", sa.String(40), nullable=False),
    sa.Column("used_at", sa.String(40)),
    sa.Column("gate", sa.String(60)),
    sa.UniqueConstraint("order_id", "position", name="one_ticket_per_place"),
)

event_outbox = outbox.outbox_table(metadata)


def make_engine(url: str) -> AsyncEngine:
    return database.make_engine(url)


async def create_schema(engine: AsyncEngine) -> None:
    await database.create_schema(engine, metadata)
