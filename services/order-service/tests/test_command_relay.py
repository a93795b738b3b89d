"""The command relay: outbox rows reach the broker, are marked sent once confirmed, and wait while the
broker is away (a fake publisher stands in for RabbitMQ; the stack tests use the real one)."""
import asyncio

import pytest
import sqlalchemy as sa

from festflow_contracts.tokens import Identity
from order_service import db
from order_service.command_relay import CommandRelay
from order_service.ordering import Limits, OrderLine, place_order
from order_service.publisher import BrokerUnavailable

GUEST = Identity("guest", "client", "guest@festflow.local")


async def place(engine, catalog, key):
    return (await place_order(engine, catalog, Limits(), GUEST, key, [OrderLine("vip", 1)])).order["order_id"]


async def unsent(engine):
    async with engine.connect() as conn:
        return set((await conn.execute(sa.select(db.command_outbox.c.message_id)
                                       .where(db.command_outbox.c.sent_at.is_(None)))).scalars())


async def sent_flags(engine):
    """Whether each order's command is marked sent in the outbox, by order id."""
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(db.command_outbox.c.message_id, db.command_outbox.c.sent_at))).all()
    return {message_id: sent_at is not None for message_id, sent_at in rows}


async def test_pending_commands_are_published_then_marked_sent(engine, catalog, publisher):
    ids = {await place(engine, catalog, f"k{i}") for i in range(3)}
    relay = CommandRelay(engine, publisher)
    assert await relay.relay_pending() == 3
    assert {message_id for _, message_id, _ in publisher.published} == ids
    assert await unsent(engine) == set()
    assert all((await sent_flags(engine)).values())
    assert await relay.relay_pending() == 0 and len(publisher.published) == 3  # nothing twice


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
        await CommandRelay(engine, publisher).relay_pending()
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
        await CommandRelay(engine, Unconfirming(), confirm_seconds=0.05).relay_pending()
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
            self.published.append(message_id)

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
