"""Organisers' catalog changes, on a real SQLite database file."""
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from festflow_contracts import events, fixtures
from inventory_service import db
from inventory_service.reservation import parse_command, place_order
from inventory_service.sales_stats import cumulative_series, sales_stats
from inventory_service.ticket_admin import (
    TicketCreate,
    TicketError,
    TicketPatch,
    create_ticket,
    parse_price_cents,
    update_ticket,
)


async def buy(engine, ticket_id, quantity):
    return await place_order(engine, parse_command({"type": events.PLACE_ORDER, "data": {
        "order_id": str(uuid.uuid4()), "username": "guest",
        "items": [{"ticket_id": ticket_id, "quantity": quantity}]}}))


async def catalog_events(engine):
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(db.outbox.c.topic, db.outbox.c.payload)
                                   .where(db.outbox.c.topic == "festflow.catalog-events"))).all()
    return [json.loads(p) for _, p in rows]


@pytest.mark.parametrize("value,cents", [("89", 8900), ("89.5", 8950), (" 0.99 ", 99), (12.3, 1230), (0, 0)])
def test_prices_in_euros_become_cents(value, cents):
    assert parse_price_cents(value) == cents


@pytest.mark.parametrize("value,message", [
    ("-1", "0 or more"), ("1.234", "at most two decimals"), ("ten", "a number"), (True, "a number"),
    ("NaN", "a number"), ("1e12", "too high"),
])
def test_bad_prices_are_refused_with_a_reason(value, message):
    with pytest.raises(ValueError, match=message):
        parse_price_cents(value)


@pytest.mark.parametrize("patch,message", [
    ({"stock": -1}, "whole number, 0 or more"), ({"stock": 1.5}, "whole number"), ({"stock": "ten"}, "whole number"),
    ({"name": "   "}, "name must not be empty"), ({"price": "1.001"}, "two decimals"), ({"colour": "red"}, "Extra"),
])
def test_bad_patches_are_refused_with_a_reason(patch, message):
    with pytest.raises(ValidationError, match=message):
        TicketPatch(**patch)


async def test_edit_price_name_and_stock_announces_the_change(engine):
    ticket = await update_ticket(engine, "vip-weekend", TicketPatch(price="99.50", stock=70, name="VIP Pass"))
    assert (ticket["price_cents"], ticket["stock"], ticket["name"]) == (9950, 70, "VIP Pass")
    [event] = await catalog_events(engine)
    assert event["type"] == events.TICKET_TYPE_CHANGED
    assert event["data"]["price"] == "99.50" and event["data"]["stock"] == 70
    fixtures.record(event)  # the sample every consumer's tests handle


async def test_new_orders_use_the_new_price(engine):
    await update_ticket(engine, "camping-pass", TicketPatch(price="50"))
    outcome = await buy(engine, "camping-pass", 2)
    assert outcome.event["data"]["total_cents"] == 10000


async def test_a_stale_stock_edit_keeps_the_sales_made_meanwhile(engine):
    # the organiser saw 50 and wants 60; meanwhile 5 were sold
    await buy(engine, "vip-weekend", 5)
    ticket = await update_ticket(engine, "vip-weekend", TicketPatch(stock=60, stock_seen=50))
    assert ticket["stock"] == 55 and ticket["sold_meanwhile"] == 5


async def test_a_stale_edit_that_would_go_below_zero_is_refused(engine):
    await buy(engine, "vip-weekend", 45)  # 5 left; the form still shows 50
    with pytest.raises(TicketError) as refused:
        await update_ticket(engine, "vip-weekend", TicketPatch(stock=40, stock_seen=50))
    assert refused.value.status == 409 and refused.value.detail.startswith("stock changed, reload")
    assert (await update_ticket(engine, "vip-weekend", TicketPatch(stock=5)))["stock"] == 5


async def test_create_and_retire(engine):
    created = await create_ticket(engine, TicketCreate(name="Sunday Only", price="39.90", stock=100))
    assert created["id"] == "sunday-only" and created["price_cents"] == 3990
    with pytest.raises(TicketError) as dup:
        await create_ticket(engine, TicketCreate(name="Sunday only!", price="1", stock=1))
    assert dup.value.status == 409
    await update_ticket(engine, "sunday-only", TicketPatch(active=False))
    outcome = await buy(engine, "sunday-only", 1)
    assert outcome.status == "REJECTED" and "not on sale" in outcome.reason
    assert [e["data"]["change"] for e in await catalog_events(engine)] == ["created", "retired"]


async def test_unknown_ticket_and_empty_patch(engine):
    with pytest.raises(TicketError) as missing:
        await update_ticket(engine, "nope", TicketPatch(price="1"))
    assert missing.value.status == 404
    with pytest.raises(TicketError) as empty:
        await update_ticket(engine, "vip-weekend", TicketPatch())
    assert empty.value.status == 422


async def test_sales_stats(engine):
    await buy(engine, "vip-weekend", 2)
    await buy(engine, "camping-pass", 3)
    await buy(engine, "vip-weekend", 100)  # rejected
    stats = await sales_stats(engine)
    assert stats["tickets_sold"] == 5 and stats["revenue_cents"] == 2 * 24900 + 3 * 4500
    assert (stats["orders_confirmed"], stats["orders_rejected"]) == (2, 1)
    assert {s["id"]: s["stock"] for s in stats["stock"]}["vip-weekend"] == 48
    assert stats["series"]["points"][-1]["tickets"] == 5


def test_cumulative_series_grows_and_ends_at_the_total():
    t0 = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    sales = [(t0, 2), (t0 + timedelta(seconds=30), 3), (t0 + timedelta(seconds=200), 1)]
    series = cumulative_series(sales, now=t0 + timedelta(seconds=300))
    tickets = [p["tickets"] for p in series["points"]]
    assert tickets == sorted(tickets) and tickets[0] == 2 and tickets[-1] == 6
    assert series["bucket_seconds"] >= 5 and len(series["points"]) <= 32
    assert cumulative_series([], t0)["points"] == []


async def test_a_ticket_type_says_which_vat_its_price_includes_and_a_bad_rate_is_refused(engine):
    created = await create_ticket(engine, TicketCreate(name="Day Pass", price="50", stock=10, vat_rate="7"))
    assert created["vat_rate_bp"] == 700 and created["vat_rate"] == "7.00"
    changed = await update_ticket(engine, created["id"], TicketPatch(vat_rate="19%"))
    assert changed["vat_rate_bp"] == 1900
    for bad in ("101", "-1", "7.777", "a lot", True):
        with pytest.raises(ValueError, match="vat_rate must be a percentage from 0 to 100"):
            TicketPatch(vat_rate=bad)
