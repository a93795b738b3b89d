"""Cancelling a confirmed order (service layer and the consumer's verdicts, real SQLite/PostgreSQL): the
stock comes back once, whatever is redelivered."""
import json
import uuid

import sqlalchemy as sa

from festflow_contracts import events, fixtures, messages
from festflow_contracts.messages import CancelOrder
from inventory_service import db
from inventory_service.cancellation import cancel_order
from inventory_service.command_consumer import CommandConsumer


class Delivery:
    """One delivery of a command on its own channel, and the consumer's verdict on it."""

    def __init__(self, body: bytes):
        self.body, self.message_id, self.headers, self.verdict = body, "m", {}, None
        self.channel, self.delivery_tag = object(), 1

    async def ack(self, multiple: bool = False):
        self.verdict = ("ack",)

    async def nack(self, multiple: bool = False, requeue: bool = True):
        self.verdict = ("nack", requeue)

    async def reject(self, requeue: bool = False):
        self.verdict = ("reject", requeue)


async def handled(consumer, delivery: Delivery) -> Delivery:
    await consumer.handle(delivery)
    await consumer.acks.drain()
    return delivery


def place_body(order_id, quantity):
    return events.encode(events.new_event(events.PLACE_ORDER, "/t", {
        "order_id": order_id, "username": "guest", "email": "g@x",
        "items": [{"ticket_id": "vip-weekend", "quantity": quantity}]}))


async def stock(engine, ticket_id="vip-weekend"):
    async with engine.connect() as conn:
        return await conn.scalar(sa.select(db.tickets.c.stock).where(db.tickets.c.id == ticket_id))


def cancel_body(order_id, **data):
    return events.encode(messages.envelope(CancelOrder(order_id=order_id, username="guest", email="g@x",
                                                       reason="cancelled by the organiser", **data), "/t"))


async def test_a_confirmed_order_is_cancelled_once_and_its_stock_comes_back(engine):
    outcomes = []
    consumer = CommandConsumer(engine, "amqp://unused", 1, outcomes.append, retry_pause=0)
    order_id = str(uuid.uuid4())
    placed = await handled(consumer, Delivery(place_body(order_id, 3)))
    assert placed.verdict == ("ack",) and await stock(engine) == 47
    for _ in range(2):  # the command again (a redelivery, or the organiser clicking twice)
        message = await handled(consumer, Delivery(cancel_body(order_id)))
        assert message.verdict == ("ack",)
    assert await stock(engine) == 50
    cancelled = [o for o in outcomes if o.status == "CANCELLED"]
    assert len(cancelled) == 1
    event = cancelled[0].event
    assert event["type"] == events.ORDER_CANCELLED and event["data"]["stock"] == [
        {"ticket_id": "vip-weekend", "stock": 50}]
    assert event["data"]["items"][0]["quantity"] == 3 and event["data"]["email"] == "g@x"
    fixtures.record(event)  # the sample the ticketing service, the order service and the mails handle
    async with engine.connect() as conn:
        status = await conn.scalar(sa.select(db.orders.c.status).where(db.orders.c.order_id == order_id))
    assert status == "CANCELLED"


async def test_an_unknown_or_rejected_order_is_not_cancelled_and_a_malformed_command_is_dead_lettered(engine):
    assert (await cancel_order(engine, CancelOrder(order_id="nope", username="u", reason="r"))).status == "DUPLICATE"
    consumer = CommandConsumer(engine, "amqp://unused", 1, lambda _o: None, retry_pause=0)
    rejected_id = str(uuid.uuid4())
    await consumer.handle(Delivery(place_body(rejected_id, 51)))  # more than the stock: rejected
    message = await handled(consumer, Delivery(cancel_body(rejected_id)))
    assert message.verdict == ("ack",) and await stock(engine) == 50
    malformed_body = json.dumps({"type": events.CANCEL_ORDER, "data": {"order_id": "x"}}).encode()
    malformed = await handled(consumer, Delivery(malformed_body))
    assert malformed.verdict == ("reject", False)
