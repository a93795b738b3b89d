"""The command relay: outbox rows reach the broker, are marked sent once confirmed, and wait while the
broker is away (a fake publisher stands in for RabbitMQ; the stack tests use the real one)."""
import asyncio
import json

import pytest
import sqlalchemy as sa

from festflow_contracts import command_bundle, events, fixtures
from festflow_contracts.tokens import Identity
from order_service import db
from order_service.command_relay import CommandRelay
from order_service.ordering import Limits, OrderLine
from order_service.publisher import BrokerUnavailable

from .conftest import checkout_of

GUEST = Identity("guest", "client", "guest@festflow.local")


async def place(engine, catalog, key):
    return (await checkout_of(engine, catalog, Limits()).place(GUEST, key, [OrderLine("vip", 1)])).order["order_id"]


async def unsent(engine):
    async with engine.connect() as conn:
        return set((await conn.execute(sa.select(db.command_outbox.c.message_id)
                                       .where(db.command_outbox.c.sent_at.is_(None)))).scalars())


def order_ids(bodies):
    """The order ids of the commands in the messages published, in their order (a bundle's one by one)."""
    ids = []
    for body in bodies:
        event = json.loads(body)
        inside = command_bundle.commands(event) if event["type"] == events.PLACE_ORDERS else [event]
        ids += [command["data"]["order_id"] for command in inside]
    return ids


async def sent_flags(engine):
    """Whether each order's command is marked sent in the outbox, by order id."""
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(db.command_outbox.c.message_id, db.command_outbox.c.sent_at))).all()
    return {message_id: sent_at is not None for message_id, sent_at in rows}


async def test_pending_commands_are_published_then_marked_sent(engine, catalog, publisher):
    ids = {await place(engine, catalog, f"k{i}") for i in range(3)}
    relay = CommandRelay(engine, publisher)
    assert await relay.relay_pending() == 3
    assert set(order_ids(body for body, _, _ in publisher.published)) == ids
    assert await unsent(engine) == set()
    assert all((await sent_flags(engine)).values())
    assert await relay.relay_pending() == 0 and len(order_ids(b for b, _, _ in publisher.published)) == 3


async def test_a_broker_outage_keeps_commands_in_the_outbox_until_it_is_back(engine, catalog, publisher):
    order_id = await place(engine, catalog, "k1")
    publisher.failing = True
    relay = CommandRelay(engine, publisher)
    with pytest.raises(BrokerUnavailable):
        await relay.relay_pending()
    assert await unsent(engine) == {order_id}
    publisher.failing = False
    assert await relay.relay_pending() == 1 and await unsent(engine) == set()


async def test_confirmed_commands_are_marked_even_when_others_of_the_batch_fail(engine, catalog, publisher):
    a, b = await place(engine, catalog, "k1"), await place(engine, catalog, "k2")
    publisher.failing = {b}
    with pytest.raises(BrokerUnavailable):
        await CommandRelay(engine, publisher, commands_per_message=1).relay_pending()
    assert await unsent(engine) == {b}
    assert (await sent_flags(engine)) == {a: True, b: False}


async def test_commands_the_broker_does_not_confirm_in_time_stay_in_the_outbox_and_the_rest_are_marked(
        engine, catalog, publisher):
    a, b = await place(engine, catalog, "k1"), await place(engine, catalog, "k2")

    class Unconfirming:
        """Confirms `a` at once; never confirms `b` (a broker under a resource alarm)."""
        published: list[str] = []

        async def publish(self, body, message_id, type_):
            if message_id == b:
                await asyncio.Event().wait()
            self.published.append(message_id)

    with pytest.raises(BrokerUnavailable, match="did not confirm 1 commands within 0.05 s"):
        await CommandRelay(engine, Unconfirming(), confirm_seconds=0.05, commands_per_message=1).relay_pending()
    assert await unsent(engine) == {b}
    assert (await sent_flags(engine)) == {a: True, b: False}


async def test_the_running_relay_sends_a_new_command_when_notified_and_survives_an_outage(engine, catalog,
                                                                                         publisher):
    relay = CommandRelay(engine, publisher, backoff_start=0.01, backoff_max=0.05)
    task = asyncio.create_task(relay.run())
    try:
        publisher.failing = True
        first = await place(engine, catalog, "k1")
        relay.notify()
        await asyncio.sleep(0.2)
        assert publisher.published == []
        publisher.failing = False
        for _ in range(100):
            if not await unsent(engine):
                break
            await asyncio.sleep(0.02)
        assert [message_id for _, message_id, _ in publisher.published] == [first]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.mark.postgres
async def test_two_instances_relaying_side_by_side_send_each_command_once(postgres_url, catalog):
    """Two order-service instances share one database: each claims its own rows (SKIP LOCKED)."""
    engine = db.make_engine(postgres_url)
    await db.create_schema(engine)

    class SlowPublisher:
        def __init__(self, published):
            self.published = published

        async def publish(self, body, message_id, type_):
            await asyncio.sleep(0.01)  # the broker's confirm: the other instance reads meanwhile
            self.published += order_ids([body])

    published: list[str] = []
    try:
        ids = {await place(engine, catalog, f"k{i}") for i in range(40)}
        relays = [CommandRelay(engine, SlowPublisher(published), batch=5) for _ in range(2)]

        async def drain(relay):
            while await relay.relay_pending():
                pass
        await asyncio.gather(*(drain(relay) for relay in relays))
        assert sorted(published) == sorted(ids)  # every command once, none twice
    finally:
        await engine.dispose()


async def test_place_order_commands_that_follow_each_other_travel_in_bundles_and_a_cancellation_alone(
        engine, catalog, publisher):
    first = [await place(engine, catalog, f"k{i}") for i in range(3)]
    cancel = {"message_id": f"cancel:{first[0]}", "type": events.CANCEL_ORDER, "created_at": events.now_iso(),
              "payload": json.dumps({"type": events.CANCEL_ORDER, "data": {"order_id": first[0]}})}
    async with engine.begin() as conn:
        await conn.execute(db.command_outbox.insert().values(**cancel))
    later = [await place(engine, catalog, f"k{i}") for i in range(3, 5)]
    assert await CommandRelay(engine, publisher, commands_per_message=2).relay_pending() == 6
    types = [type_ for _, _, type_ in publisher.published]
    assert types == [events.PLACE_ORDERS, events.PLACE_ORDER, events.CANCEL_ORDER, events.PLACE_ORDERS]
    assert order_ids(body for body, _, type_ in publisher.published if type_ != events.CANCEL_ORDER) == first + later
    async with engine.connect() as conn:
        outbox = dict((await conn.execute(sa.select(db.command_outbox.c.message_id,
                                                    db.command_outbox.c.payload))).all())
    bundle = json.loads(publisher.published[0][0])
    assert command_bundle.commands(bundle) == [json.loads(outbox[i]) for i in first[:2]]  # the outbox's own text
    fixtures.record(bundle)  # the inventory's tests read this sample
    assert await unsent(engine) == set()


async def test_a_bundle_the_broker_refuses_leaves_every_command_in_it_unsent(engine, catalog, publisher):
    ids = [await place(engine, catalog, f"k{i}") for i in range(5)]
    publisher.failing = {f"{ids[3]}+1"}  # the second bundle: the fourth and fifth commands
    with pytest.raises(BrokerUnavailable):
        await CommandRelay(engine, publisher, commands_per_message=3).relay_pending()
    assert await unsent(engine) == set(ids[3:])
    publisher.failing = False
    assert await CommandRelay(engine, publisher, commands_per_message=3).relay_pending() == 2
