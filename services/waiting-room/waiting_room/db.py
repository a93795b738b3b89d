"""The waiting room's store: the room as the organiser set it (one row a room), and each account's place.
PostgreSQL in every deployment (places survive a kill -9 of any instance), SQLite for a quick local run."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from festflow_runtime import database, outbox

metadata = sa.MetaData()

rooms = sa.Table(
    "rooms", metadata,
    sa.Column("room_id", sa.String(40), primary_key=True),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("opens_at", sa.String(40), nullable=False),  # ISO 8601 UTC, compared as text
    sa.Column("starts_at", sa.String(40), nullable=False),
    sa.Column("pass_minutes", sa.Integer, nullable=False),
    sa.Column("per_minute", sa.Integer),  # a fixed admission rate; null: the sale's capacity
    # the ticket types whose stock admission follows, comma-separated ("": every type on sale)
    sa.Column("ticket_ids", sa.Text, nullable=False, server_default=""),
    sa.Column("seed", sa.String(64), nullable=False),  # secret until the draw
    sa.Column("commitment", sa.String(64), nullable=False),
    sa.Column("drawn_at", sa.String(40)),  # the pre-queue's places were drawn (the seed is public from then)
    sa.Column("next_place", sa.Integer, nullable=False, server_default="1"),  # the next FIFO place after the draw
    sa.Column("admitted_through", sa.Integer, nullable=False, server_default="0"),  # every place up to it admitted
    sa.Column("carried", sa.Float, nullable=False, server_default="0"),  # a fraction of a buyer, to the next tick
    sa.Column("tickets_left", sa.Integer),  # free stock as last seen (null: not seen yet)
    sa.Column("sold_out_at", sa.String(40)),  # nothing left since then (null while something is)
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("updated_at", sa.String(40), nullable=False),
    # the fairness report's refusals: joins of an account that had its place already, accounts not verified
    sa.Column("repeat_joins", sa.Integer, nullable=False, server_default="0"),
    sa.Column("refused_unverified", sa.Integer, nullable=False, server_default="0"),
)

places = sa.Table(
    "places", metadata,
    sa.Column("room_id", sa.String(40), primary_key=True),
    sa.Column("username", sa.String(64), primary_key=True),  # one place an account: joining again keeps it
    sa.Column("join_id", sa.String(64), nullable=False),  # fair_order.join_id: what the draw is published by
    sa.Column("joined_at", sa.String(40), nullable=False),
    sa.Column("place", sa.Integer),  # null until the draw, for those who joined before the start
    sa.Column("admitted_at", sa.String(40)),
    sa.Column("pass_id", sa.String(40)),  # the pass's replay id
    sa.Column("pass_expires", sa.Integer),  # unix seconds
    sa.Column("bought_at", sa.String(40)),  # the account's order was placed with the pass
)
sa.Index("places_by_place", places.c.room_id, places.c.place)

event_outbox = outbox.outbox_table(metadata)


def make_engine(url: str) -> AsyncEngine:
    return database.make_engine(url)


async def create_schema(engine: AsyncEngine) -> None:
    await database.create_schema(engine, metadata)
