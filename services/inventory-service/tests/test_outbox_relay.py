"""The inventory's outbox relay with a fake Kafka producer (the stack tests use the real broker):
rows go out in order, keyed, and are marked published so nothing is sent twice."""
import asyncio
import uuid

import sqlalchemy as sa

from festflow_contracts import events
from inventory_service import db
from inventory_service.outbox_relay import OutboxRelay
from inventory_service.reservation import parse_command, place_order


class FakeProducer:
    def __init__(self):
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.failing = False

    async def send(self, topic, value, key):
        if self.failing:
            raise ConnectionError("Kafka is away")
        self.sent.append((topic, value, key))
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def command():
    return parse_command({"type": events.PLACE_ORDER, "data": {
        "order_id": str(uuid.uuid4()), "username": "guest", "email": "g@x",
        "items": [{"ticket_id": "camping-pass", "quantity": 1}]}})


async def unpublished(engine):
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(sa.func.count()).select_from(db.outbox)
                                   .where(db.outbox.c.published == sa.false()))).scalar()


async def test_rows_are_sent_in_order_keyed_by_order_and_marked(engine):
    orders = [command() for _ in range(3)]
    for c in orders:
        await place_order(engine, c)
    producer = FakeProducer()
    relay = OutboxRelay(engine, producer)
    assert await relay.publish_pending() == 3
    assert [key.decode() for _, _, key in producer.sent] == [c.order_id for c in orders]
    assert await unpublished(engine) == 0
    assert await relay.publish_pending() == 0 and len(producer.sent) == 3  # nothing twice


async def test_rows_wait_while_kafka_is_away(engine):
    await place_order(engine, command())
    producer = FakeProducer()
    producer.failing = True
    relay = OutboxRelay(engine, producer)
    try:
        await relay.publish_pending()
    except ConnectionError:
        pass
    assert await unpublished(engine) == 1
    producer.failing = False
    assert await relay.publish_pending() == 1 and await unpublished(engine) == 0
