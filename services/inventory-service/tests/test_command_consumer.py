"""The command consumer's verdicts, with a fake message (the stack tests use the real queue): ack after
commit, dead-letter what can never succeed, return what failed for now, and ack a real duplicate only."""
import json
import uuid

import pytest

from festflow_contracts import events
from inventory_service import db
from inventory_service.command_consumer import CommandConsumer


class FakeMessage:
    def __init__(self, body: bytes):
        self.body = body
        self.message_id = "m"
        self.verdict: tuple | None = None

    async def ack(self):
        self.verdict = ("ack",)

    async def nack(self, requeue: bool):
        self.verdict = ("nack", requeue)

    async def reject(self, requeue: bool):
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


async def handle(consumer, body):
    message = FakeMessage(body)
    await consumer.handle(message)
    return message.verdict


async def test_a_placed_order_is_acked_and_reported(consumer):
    assert await handle(consumer, command_body()) == ("ack",)
    assert [o.status for o in consumer.outcomes] == ["CONFIRMED"]


@pytest.mark.parametrize("body", [b"{not json", b"[]", json.dumps({"type": "other"}).encode(),
                                  command_body(quantity=2**63), command_body(quantity=0),
                                  command_body(quantity="2")])
async def test_what_can_never_succeed_is_dead_lettered_not_requeued(consumer, body):
    assert await handle(consumer, body) == ("reject", False)
    assert consumer.outcomes == []


async def test_a_redelivered_command_is_acked_as_a_duplicate_and_changes_nothing(consumer):
    order_id = str(uuid.uuid4())
    await handle(consumer, command_body(order_id))
    assert await handle(consumer, command_body(order_id)) == ("ack",)
    assert [o.status for o in consumer.outcomes] == ["CONFIRMED", "DUPLICATE"]


async def test_an_integrity_error_that_is_not_a_duplicate_goes_back_to_the_queue(consumer, monkeypatch):
    from sqlalchemy.exc import IntegrityError

    async def broken(engine, command):
        raise IntegrityError("INSERT ...", {}, Exception("CHECK constraint failed"))

    monkeypatch.setattr("inventory_service.command_consumer.place_order", broken)
    assert await handle(consumer, command_body()) == ("nack", True)  # never acked as a "duplicate"
    assert consumer.outcomes == []


async def test_a_failure_for_now_returns_the_command_to_the_queue(consumer, engine):
    await engine.dispose()
    consumer.engine = db.make_engine("sqlite+aiosqlite:////nonexistent-dir/inventory.db")
    assert await handle(consumer, command_body()) == ("nack", True)
