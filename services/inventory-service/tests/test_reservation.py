"""The stock rules, on a real SQLite database file."""
import asyncio
import json
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from festflow_contracts import events, fixtures
from inventory_service import db
from inventory_service.reservation import InvalidCommand, parse_command, place_order, place_orders


def command(*items, order_id=None):
    return parse_command({"type": events.PLACE_ORDER, "data": {
        "order_id": order_id or str(uuid.uuid4()), "username": "guest", "email": "g@x",
        "items": [{"ticket_id": t, "quantity": q} for t, q in items]}})


async def stock(engine, ticket_id):
    async with engine.connect() as conn:
        return await conn.scalar(sa.select(db.tickets.c.stock).where(db.tickets.c.id == ticket_id))


async def outbox_events(engine):
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(db.outbox.c.payload).order_by(db.outbox.c.seq))).scalars().all()
    return [json.loads(r) for r in rows]


async def test_confirmed_order_takes_stock_and_writes_ticket_sold(engine):
    outcome = await place_order(engine, command(("vip-weekend", 2), ("camping-pass", 3)))
    assert outcome.status == "CONFIRMED"
    assert await stock(engine, "vip-weekend") == 48
    assert await stock(engine, "camping-pass") == 197
    [event] = await outbox_events(engine)
    assert event["type"] == events.ORDER_CONFIRMED
    assert event["data"]["total_cents"] == 2 * 24900 + 3 * 4500
    assert {s["ticket_id"]: s["stock"] for s in event["data"]["stock"]} == {"vip-weekend": 48, "camping-pass": 197}
    fixtures.record(event)  # the sample every consumer's tests handle


async def test_short_stock_rejects_the_whole_order_and_changes_nothing(engine):
    outcome = await place_order(engine, command(("camping-pass", 3), ("vip-weekend", 51)))
    assert outcome.status == "REJECTED"
    assert "only 50 VIP Weekend left" in outcome.reason
    assert await stock(engine, "camping-pass") == 200  # the first item was rolled back too
    assert await stock(engine, "vip-weekend") == 50
    [event] = await outbox_events(engine)
    assert event["type"] == events.ORDER_REJECTED and event["data"]["reason"] == outcome.reason
    fixtures.record(event)  # the sample every consumer's tests handle


async def test_sold_out_reason(engine):
    assert (await place_order(engine, command(("vip-weekend", 50)))).status == "CONFIRMED"
    outcome = await place_order(engine, command(("vip-weekend", 1)))
    assert (outcome.status, outcome.reason) == ("REJECTED", "VIP Weekend is sold out")


async def test_unknown_ticket_is_rejected(engine):
    outcome = await place_order(engine, command(("no-such-ticket", 1)))
    assert outcome.status == "REJECTED" and "not on sale" in outcome.reason


async def test_redelivered_command_changes_nothing(engine):
    cmd = command(("vip-weekend", 2))
    assert (await place_order(engine, cmd)).status == "CONFIRMED"
    assert (await place_order(engine, cmd)).status == "DUPLICATE"
    assert await stock(engine, "vip-weekend") == 48
    assert len(await outbox_events(engine)) == 1


async def test_concurrent_orders_never_oversell(engine):
    outcomes = await asyncio.gather(*(place_order(engine, command(("vip-weekend", 3))) for _ in range(30)))
    confirmed = [o for o in outcomes if o.status == "CONFIRMED"]
    assert len(confirmed) == 16  # 16 * 3 = 48 <= 50 < 17 * 3
    assert await stock(engine, "vip-weekend") == 2
    assert len(await outbox_events(engine)) == 30


async def test_a_batch_sells_exactly_the_stock_in_order_and_says_why_the_rest_is_refused(engine):
    batch = [command(("vip-weekend", 20)), command(("vip-weekend", 20)), command(("vip-weekend", 20)),
             command(("vip-weekend", 10)), command(("vip-weekend", 1))]
    outcomes = await place_orders(engine, batch)
    assert [(o.order_id, o.status) for o in outcomes] == list(zip(
        [c.order_id for c in batch], ["CONFIRMED", "CONFIRMED", "REJECTED", "CONFIRMED", "REJECTED"], strict=True))
    assert outcomes[2].reason == "only 10 VIP Weekend left, 20 requested"
    assert outcomes[4].reason == "VIP Weekend is sold out"
    assert await stock(engine, "vip-weekend") == 0
    sold = await outbox_events(engine)
    assert [e["data"]["order_id"] for e in sold] == [c.order_id for c in batch]  # the events in the batch's order
    assert [e["data"].get("stock") for e in sold if e["type"] == events.ORDER_CONFIRMED] == [
        [{"ticket_id": "vip-weekend", "stock": left}] for left in (30, 10, 0)]


async def test_an_order_refused_in_a_batch_gives_back_what_its_first_line_took(engine):
    outcomes = await place_orders(engine, [command(("camping-pass", 150), ("vip-weekend", 51)),
                                           command(("camping-pass", 200))])
    assert [o.status for o in outcomes] == ["REJECTED", "CONFIRMED"]
    assert await stock(engine, "camping-pass") == 0 and await stock(engine, "vip-weekend") == 50


async def test_a_batch_holding_an_order_placed_before_fails_whole_and_changes_nothing(engine):
    placed = command(("vip-weekend", 2))
    await place_order(engine, placed)
    with pytest.raises(IntegrityError):  # the consumer then places each alone
        await place_orders(engine, [command(("vip-weekend", 5)), placed])
    assert await stock(engine, "vip-weekend") == 48
    assert len(await outbox_events(engine)) == 1


@pytest.mark.parametrize("body", [
    {"type": "something.else", "data": {}},
    {"type": events.PLACE_ORDER, "data": {"order_id": "o", "username": "u", "items": []}},
    {"type": events.PLACE_ORDER, "data": {"order_id": "o", "username": "u",
                                          "items": [{"ticket_id": "a", "quantity": 0}]}},
    {"type": events.PLACE_ORDER, "data": {"order_id": "o", "username": "u",
                                          "items": [{"ticket_id": "a", "quantity": 1}] * 2}},
    {"type": events.PLACE_ORDER, "data": {"username": "u"}},
    {"type": events.PLACE_ORDER, "data": {"order_id": "o", "username": "u", "items": [{"quantity": "x"}]}},
])
def test_malformed_commands_are_invalid(body):
    with pytest.raises(InvalidCommand):
        parse_command(body)


def test_the_order_services_command_sample_is_understood_field_by_field():
    from festflow_contracts.fixtures import sample
    body = sample(events.PLACE_ORDER)
    sent = body["data"]
    command = parse_command(body)
    assert (command.order_id, command.username, command.email) == (sent["order_id"], sent["username"], sent["email"])
    items = [(i.ticket_id, i.quantity) for i in command.items]
    assert items == [(i["ticket_id"], i["quantity"]) for i in sent["items"]]
