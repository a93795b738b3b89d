"""The command consumer's verdicts, with a fake message (the stack tests use the real queue): ack after
commit, dead-letter what can never succeed, return what failed for now, and ack a real duplicate only."""
import asyncio
import json
import uuid

import pytest
import sqlalchemy as sa

from festflow_contracts import events
from inventory_service import db
from inventory_service.command_consumer import CommandConsumer


class FakeChannel:
    """Deliveries settled as the broker settles them: an ack with multiple=True settles every delivery up
    to its tag not settled yet; a nack or reject settles its own."""

    def __init__(self):
        self.deliveries: list[FakeMessage] = []
        self.ack_frames = 0


CHANNEL = FakeChannel()


@pytest.fixture(autouse=True)
def fresh_channel():
    global CHANNEL
    CHANNEL = FakeChannel()


class FakeMessage:
    def __init__(self, body: bytes, delivered_before: int = 0):
        self.body = body
        self.message_id = "m"
        self.headers = {"x-delivery-count": delivered_before} if delivered_before else {}
        self.verdict: tuple | None = None
        self.channel = CHANNEL
        CHANNEL.deliveries.append(self)
        self.delivery_tag = len(CHANNEL.deliveries)

    async def ack(self, multiple: bool = False):
        self.channel.ack_frames += 1
        for message in self.channel.deliveries[:self.delivery_tag] if multiple else [self]:
            if message.verdict is None:
                message.verdict = ("ack",)

    async def nack(self, multiple: bool = False, requeue: bool = True):
        self.verdict = ("nack", requeue)

    async def reject(self, requeue: bool = False):
        self.verdict = ("reject", requeue)


def command_body(order_id=None, quantity=1, ticket_id="vip-weekend"):
    return events.encode(events.new_event(events.PLACE_ORDER, "/t", {
        "order_id": order_id or str(uuid.uuid4()), "username": "guest", "email": "g@x",
        "items": [{"ticket_id": ticket_id, "quantity": quantity}]}))


@pytest.fixture
def consumer(engine):
    outcomes = []
    consumer = CommandConsumer(engine, "amqp://unused", 1, outcomes.append, retry_pause=0)
    consumer.outcomes = outcomes
    return consumer


async def handle(consumer, body, delivered_before=0):
    message = FakeMessage(body, delivered_before)
    await consumer.handle(message)
    await consumer.acks.drain()
    return message.verdict


async def test_a_placed_order_is_acked_and_reported(consumer):
    assert await handle(consumer, command_body()) == ("ack",)
    assert [o.status for o in consumer.outcomes] == ["CONFIRMED"]


@pytest.mark.parametrize("body", [b"{not json", b"[]", json.dumps({"type": "other"}).encode(),
                                  command_body(quantity=2**63), command_body(quantity=0),
                                  command_body(quantity="2")])
async def test_what_can_never_succeed_is_dead_lettered_not_requeued(consumer, body):
    assert await handle(consumer, body) == ("reject", False)
    # an order the command names is told it was rejected, so it does not stay PENDING
    assert [o.status for o in consumer.outcomes] in ([], ["REJECTED"])


async def test_a_malformed_command_that_names_its_order_rejects_that_order(consumer, engine):
    order_id = str(uuid.uuid4())
    assert await handle(consumer, command_body(order_id, quantity=2**63)) == ("reject", False)
    [outcome] = consumer.outcomes
    assert (outcome.order_id, outcome.status) == (order_id, "REJECTED") and "could not be processed" in outcome.reason
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(db.orders).where(db.orders.c.order_id == order_id))).mappings().one()
        payloads = (await conn.execute(sa.select(db.outbox.c.payload))).scalars().all()
    assert row["status"] == "REJECTED"
    assert [events.decode(p)["type"] for p in payloads] == [events.ORDER_REJECTED]


async def test_a_redelivered_command_is_acked_as_a_duplicate_and_changes_nothing(consumer):
    order_id = str(uuid.uuid4())
    await handle(consumer, command_body(order_id))
    assert await handle(consumer, command_body(order_id)) == ("ack",)
    assert [o.status for o in consumer.outcomes] == ["CONFIRMED", "DUPLICATE"]


async def test_an_integrity_error_that_is_not_a_duplicate_goes_back_to_the_queue(consumer, monkeypatch):
    from sqlalchemy.exc import IntegrityError

    async def broken(engine, command):
        raise IntegrityError("INSERT ...", {}, Exception("CHECK constraint failed"))

    monkeypatch.setattr("inventory_service.command_consumer.place_orders", broken)
    monkeypatch.setattr("inventory_service.command_consumer.place_order", broken)
    assert await handle(consumer, command_body()) == ("nack", True)  # never acked as a "duplicate"
    assert consumer.outcomes == []


async def test_a_failure_for_now_returns_the_command_to_the_queue(consumer, engine):
    await engine.dispose()
    consumer.engine = db.make_engine("sqlite+aiosqlite:////nonexistent-dir/inventory.db")
    assert await handle(consumer, command_body()) == ("nack", True)


async def test_a_command_failing_at_its_last_delivery_rejects_its_order(consumer, monkeypatch):
    from festflow_contracts.amqp import DELIVERY_LIMIT

    async def broken(engine, command):
        raise RuntimeError("always")

    monkeypatch.setattr("inventory_service.command_consumer.place_orders", broken)
    monkeypatch.setattr("inventory_service.command_consumer.place_order", broken)
    order_id = str(uuid.uuid4())
    assert await handle(consumer, command_body(order_id), delivered_before=DELIVERY_LIMIT - 2) == ("nack", True)
    assert await handle(consumer, command_body(order_id), delivered_before=DELIVERY_LIMIT - 1) == ("reject", False)
    assert [(o.order_id, o.status) for o in consumer.outcomes] == [(order_id, "REJECTED")]


async def test_commands_delivered_together_are_placed_in_one_transaction_each_acked(engine):
    outcomes = []
    consumer = CommandConsumer(engine, "amqp://unused", 64, outcomes.append, retry_pause=0)
    messages = [FakeMessage(command_body(quantity=1)) for _ in range(55)]  # 50 VIP Weekend on sale
    await asyncio.gather(*(consumer.handle(m) for m in messages))
    await consumer.acks.drain()
    assert consumer.placements.batches == 1
    assert [m.verdict for m in messages] == [("ack",)] * 55
    assert CHANNEL.ack_frames == 1  # settled together, acknowledged with one frame
    assert sorted(o.status for o in outcomes) == ["CONFIRMED"] * 50 + ["REJECTED"] * 5
    async with engine.connect() as conn:
        assert await conn.scalar(sa.select(db.tickets.c.stock).where(db.tickets.c.id == "vip-weekend")) == 0
        assert await conn.scalar(sa.select(sa.func.count()).select_from(db.outbox)) == 55


async def test_a_redelivered_command_in_a_batch_is_a_duplicate_and_the_others_are_placed(engine):
    outcomes = []
    consumer = CommandConsumer(engine, "amqp://unused", 64, outcomes.append, retry_pause=0)
    again = str(uuid.uuid4())
    await consumer.handle(FakeMessage(command_body(again, quantity=2)))
    batch = [FakeMessage(command_body(again, quantity=2, ), delivered_before=1)] + [
        FakeMessage(command_body(quantity=1)) for _ in range(4)]
    await asyncio.gather(*(consumer.handle(m) for m in batch))
    await consumer.acks.drain()
    assert [m.verdict for m in batch] == [("ack",)] * 5
    assert [o.status for o in outcomes[1:]].count("DUPLICATE") == 1
    assert [o.status for o in outcomes[1:]].count("CONFIRMED") == 4
    async with engine.connect() as conn:  # the redelivery took nothing a second time
        assert await conn.scalar(sa.select(db.tickets.c.stock).where(db.tickets.c.id == "vip-weekend")) == 50 - 2 - 4


async def test_consuming_is_tried_again_when_the_broker_refuses_at_start(engine, monkeypatch):
    """Two instances starting together on a fresh broker: one may ask to consume before the quorum queue the
    other declared has started, and RabbitMQ closes its connection (INTERNAL_ERROR)."""
    import aiormq

    monkeypatch.setattr("festflow_runtime.backoff.random.uniform", lambda a, b: 0, raising=False)
    consumer = CommandConsumer(engine, "amqp://unused", 1, lambda _o: None, retry_pause=0)
    tries = []

    async def refused_twice():
        tries.append(1)
        if len(tries) < 3:
            raise aiormq.exceptions.ConnectionInternalError("INTERNAL_ERROR")
        consumer.consuming = True

    consumer._consume = refused_twice
    await consumer.start()
    assert consumer.consuming and len(tries) == 3
    tries.clear()
    consumer.consuming = False
    with pytest.raises(aiormq.exceptions.ConnectionInternalError):  # a broker that keeps refusing: it says so
        await consumer.start(attempts=2)
    assert len(tries) == 2 and not consumer.consuming


def bundle_body(*commands: bytes) -> bytes:
    """A bundle as the order service's relay sends it: the recorded sample, with these commands in it."""
    from festflow_contracts.fixtures import sample

    bundle = sample(events.PLACE_ORDERS)
    bundle["data"]["commands"] = [json.loads(command) for command in commands]
    return json.dumps(bundle).encode()


async def test_a_bundle_of_commands_is_placed_in_one_transaction_and_acked_once_all_are_settled(engine):
    outcomes = []
    consumer = CommandConsumer(engine, "amqp://unused", 64, outcomes.append, retry_pause=0)
    ids = [str(uuid.uuid4()) for _ in range(52)]  # 50 VIP Weekend on sale
    message = FakeMessage(bundle_body(*(command_body(order_id) for order_id in ids)))
    await consumer.handle(message)
    await consumer.acks.drain()
    assert message.verdict == ("ack",) and consumer.placements.batches == 1
    assert [o.order_id for o in outcomes] == ids
    assert [o.status for o in outcomes] == ["CONFIRMED"] * 50 + ["REJECTED"] * 2
    async with engine.connect() as conn:
        assert await conn.scalar(sa.select(db.tickets.c.stock).where(db.tickets.c.id == "vip-weekend")) == 0
        assert await conn.scalar(sa.select(sa.func.count()).select_from(db.outbox)) == 52


async def test_a_redelivered_bundle_takes_nothing_twice(consumer, engine):
    ids = [str(uuid.uuid4()) for _ in range(3)]
    body = bundle_body(*(command_body(order_id, quantity=2) for order_id in ids))
    assert await handle(consumer, body) == ("ack",)
    assert await handle(consumer, body, delivered_before=1) == ("ack",)
    assert [o.status for o in consumer.outcomes] == ["CONFIRMED"] * 3 + ["DUPLICATE"] * 3
    async with engine.connect() as conn:
        assert await conn.scalar(sa.select(db.tickets.c.stock).where(db.tickets.c.id == "vip-weekend")) == 50 - 6


async def test_a_malformed_command_in_a_bundle_rejects_its_order_and_the_others_are_placed(consumer):
    good, bad = str(uuid.uuid4()), str(uuid.uuid4())
    assert await handle(consumer, bundle_body(command_body(good), command_body(bad, quantity=0))) == ("ack",)
    assert sorted((o.order_id, o.status) for o in consumer.outcomes) == sorted(
        [(good, "CONFIRMED"), (bad, "REJECTED")])
    assert "could not be processed" in next(o.reason for o in consumer.outcomes if o.order_id == bad)


@pytest.mark.parametrize("data", [{}, {"commands": []}, {"commands": "x"}])
async def test_a_bundle_without_commands_is_dead_lettered(consumer, data):
    body = json.dumps({**json.loads(bundle_body(command_body())), "data": data}).encode()
    assert await handle(consumer, body) == ("reject", False)


async def test_a_bundle_with_a_failing_command_returns_to_the_queue_then_rejects_that_order_at_the_last_delivery(
        consumer, monkeypatch):
    from festflow_contracts.amqp import DELIVERY_LIMIT
    from inventory_service import command_consumer

    failing = str(uuid.uuid4())
    real_one, real_many = command_consumer.place_order, command_consumer.place_orders

    async def one(engine, command):
        if command.order_id == failing:
            raise RuntimeError("always")
        return await real_one(engine, command)

    async def many(engine, commands):
        if any(command.order_id == failing for command in commands):
            raise RuntimeError("always")
        return await real_many(engine, commands)

    monkeypatch.setattr(command_consumer, "place_orders", many)
    monkeypatch.setattr(command_consumer, "place_order", one)
    placed = str(uuid.uuid4())
    body = bundle_body(command_body(placed), command_body(failing))
    assert await handle(consumer, body) == ("nack", True)  # back to the queue; the first order is placed
    assert await handle(consumer, body, delivered_before=DELIVERY_LIMIT - 1) == ("reject", False)
    assert [(o.order_id, o.status) for o in consumer.outcomes] == [
        (placed, "CONFIRMED"), (placed, "DUPLICATE"), (failing, "REJECTED")]


async def test_a_bundles_commands_keep_their_place_before_commands_delivered_after_it(engine):
    """The queue's order is the order of sale: the last ticket goes to the command that came first."""
    outcomes = []
    consumer = CommandConsumer(engine, "amqp://unused", 64, outcomes.append, retry_pause=0)
    first = [str(uuid.uuid4()) for _ in range(50)]  # 50 VIP Weekend on sale
    later = str(uuid.uuid4())
    await asyncio.gather(consumer.handle(FakeMessage(bundle_body(*(command_body(i) for i in first)))),
                         consumer.handle(FakeMessage(command_body(later))))
    await consumer.acks.drain()
    assert {o.order_id for o in outcomes if o.status == "CONFIRMED"} == set(first)
    assert [o.status for o in outcomes if o.order_id == later] == ["REJECTED"]
