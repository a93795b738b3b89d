"""An order through every real part: gateway -> order API -> RabbitMQ -> inventory worker -> Kafka ->
order status, email function (SMTP sink) and notification hub (WebSocket through the gateway)."""
import asyncio
import json
import time
import uuid

import aio_pika
import pytest
from aiokafka import AIOKafkaConsumer

from e2e_helpers import bearer, eventually, mails_for, open_socket, place_order, run_async, stock_of, wait_status
from festflow_contracts import events
from festflow_contracts.amqp import DELIVERY_LIMIT, ORDER_COMMANDS_ARGS
from festflow_contracts.channels import ORDER_COMMANDS_DLQ, ORDER_COMMANDS_QUEUE, ORDER_EVENTS_TOPIC

pytestmark = pytest.mark.stack


async def note_for(ws, order_id: str, timeout: float = 15) -> dict:
    """The notification about this order (an earlier test's order may still be arriving before it)."""
    async with asyncio.timeout(timeout):
        while True:
            note = json.loads(await ws.recv())
            if note.get("order_id") == order_id:
                return note


async def notes_within(ws, seconds: float) -> list[dict]:
    """Every notification that arrives within the window (earlier tests' orders may still arrive too)."""
    notes = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        try:
            notes.append(json.loads(await asyncio.wait_for(ws.recv(), left)))
        except TimeoutError:
            break
    return notes


def test_order_is_confirmed_mailed_and_pushed(api, profile, gateway, guest_token):
    before = stock_of(api, "camping-pass")
    async def run():
        async with open_socket(gateway, "/ws/notifications", guest_token) as ws:
            assert json.loads(await ws.recv())["kind"] == "hello"
            resp = await asyncio.to_thread(place_order, api, guest_token, [("camping-pass", 2)])
            assert resp.status_code == 202, resp.text
            order = resp.json()
            assert order["status"] == "PENDING"
            return order, await note_for(ws, order["order_id"])

    order, note = run_async(run())
    assert note["kind"] == "order.confirmed" and note["order_id"] == order["order_id"]
    confirmed = wait_status(api, guest_token, order["order_id"], "CONFIRMED")
    assert confirmed["total"] == "90.00"
    assert stock_of(api, "camping-pass") == before - 2
    [mail] = eventually(lambda: mails_for(profile, order["order_id"]), what="the confirmation mail")
    assert mail["to"] == "guest@festflow.local" and "confirmed" in mail["subject"]


def test_event_reaches_kafka_in_the_cloudevents_envelope(api, profile, guest_token):
    async def run():
        consumer = AIOKafkaConsumer(ORDER_EVENTS_TOPIC, bootstrap_servers=profile.kafka_bootstrap,
                                    group_id=None, auto_offset_reset="latest")
        await consumer.start()
        try:
            while not consumer.assignment():
                await asyncio.sleep(0.05)
            for tp in consumer.assignment():  # pin positions before the order is placed
                await consumer.position(tp)
            resp = await asyncio.to_thread(place_order, api, guest_token, [("general-admission", 1)])
            order_id = resp.json()["order_id"]
            async with asyncio.timeout(15):
                async for record in consumer:
                    event = events.decode(record.value)
                    if event["data"]["order_id"] == order_id:
                        return record, event
        finally:
            await consumer.stop()

    record, event = run_async(run())
    assert record.key.decode() == event["data"]["order_id"]
    assert event["type"] == "festflow.order.confirmed.v2" and event["specversion"] == "1.0"
    assert event["source"] == "/festflow/inventory-service"


def test_redelivered_command_is_applied_once(api, profile, guest_token):
    """The same command published twice to the real queue (as a redelivery would) sells once."""
    before = stock_of(api, "vip-weekend")
    order_id = str(uuid.uuid4())
    command = events.new_event(events.PLACE_ORDER, "/test", {
        "order_id": order_id, "username": "guest", "email": "guest@festflow.local",
        "items": [{"ticket_id": "vip-weekend", "quantity": 1}]})

    async def publish_twice():
        connection = await aio_pika.connect(profile.amqp_url)
        async with connection:
            channel = await connection.channel()
            for _ in range(2):
                await channel.default_exchange.publish(
                    aio_pika.Message(events.encode(command), message_id=order_id,
                                     delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                    routing_key=ORDER_COMMANDS_QUEUE)

    run_async(publish_twice())
    eventually(lambda: mails_for(profile, order_id), what="the confirmation mail")
    assert stock_of(api, "vip-weekend") == before - 1
    time.sleep(1)  # the second delivery has long been consumed by now
    assert stock_of(api, "vip-weekend") == before - 1
    assert len(mails_for(profile, order_id)) == 1


POISON = events.encode(events.new_event(events.PLACE_ORDER, "/test", {
    "order_id": str(uuid.uuid4()), "username": "guest", "email": "g@x",
    "items": [{"ticket_id": "vip-weekend", "quantity": 2**63}]}))


@pytest.mark.parametrize("body", [b"{not json", POISON])
def test_malformed_command_goes_to_the_dead_letter_queue(profile, body):
    async def run():
        connection = await aio_pika.connect(profile.amqp_url)
        async with connection:
            channel = await connection.channel()
            message = aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
            await channel.default_exchange.publish(message, routing_key=ORDER_COMMANDS_QUEUE)
            dlq = await channel.get_queue(ORDER_COMMANDS_DLQ, ensure=False)
            async with asyncio.timeout(10):
                while True:
                    message = await dlq.get(fail=False)
                    if message is not None:
                        await message.ack()
                        if message.body == body:
                            return message.body
                    await asyncio.sleep(0.1)

    assert run_async(run()) == body


def test_the_command_queue_dead_letters_a_command_that_keeps_failing(profile):
    """The queue's own arguments on the real broker: a consumer that keeps returning a command sees it at
    most DELIVERY_LIMIT + 1 times, then it is in the dead-letter queue (no endless loop)."""
    name = f"festflow.test-poison.{uuid.uuid4().hex[:8]}"

    async def run():
        connection = await aio_pika.connect(profile.amqp_url)
        async with connection:
            channel = await connection.channel()
            dead = await channel.declare_queue(name + ".dead", durable=True)
            queue = await channel.declare_queue(name, durable=True, arguments={
                **ORDER_COMMANDS_ARGS, "x-dead-letter-routing-key": name + ".dead"})
            await channel.default_exchange.publish(
                aio_pika.Message(b"poison", delivery_mode=aio_pika.DeliveryMode.PERSISTENT), routing_key=name)
            deliveries = 0
            try:
                async with asyncio.timeout(20):
                    while True:
                        message = await queue.get(fail=False)
                        if message is not None:
                            deliveries += 1
                            await message.nack(requeue=True)
                            continue
                        parked = await dead.get(fail=False)
                        if parked is not None:
                            await parked.ack()
                            return deliveries, parked.body
                        await asyncio.sleep(0.05)
            finally:
                await queue.delete(if_unused=False, if_empty=False)
                await dead.delete(if_unused=False, if_empty=False)

    deliveries, body = run_async(run())
    assert body == b"poison" and DELIVERY_LIMIT <= deliveries <= DELIVERY_LIMIT + 1


def test_my_orders_lists_own_orders_newest_first(api, guest_token):
    first = place_order(api, guest_token, [("camping-pass", 1)]).json()["order_id"]
    second = place_order(api, guest_token, [("camping-pass", 1)]).json()["order_id"]
    ids = [o["order_id"] for o in api.get("/api/orders", headers=bearer(guest_token)).json()]
    assert ids.index(second) < ids.index(first)


def test_each_buyer_is_told_only_of_their_own_orders(api, gateway, guest_token, admin_token):
    async def run():
        async with open_socket(gateway, "/ws/notifications", guest_token) as guest_ws, \
                open_socket(gateway, "/ws/notifications", admin_token) as admin_ws:
            for ws in (guest_ws, admin_ws):
                assert json.loads(await ws.recv())["kind"] == "hello"
            theirs = await asyncio.to_thread(place_order, api, admin_token, [("camping-pass", 1)])
            mine = await asyncio.to_thread(place_order, api, guest_token, [("camping-pass", 1)])
            guest_notes, admin_notes = await asyncio.gather(notes_within(guest_ws, 4), notes_within(admin_ws, 4))
            return mine.json()["order_id"], theirs.json()["order_id"], guest_notes, admin_notes

    guest_order, admin_order, guest_notes, admin_notes = run_async(run())
    guest_seen = {n["order_id"] for n in guest_notes}
    admin_seen = {n["order_id"] for n in admin_notes}
    assert guest_order in guest_seen and admin_order in admin_seen
    assert admin_order not in guest_seen and guest_order not in admin_seen
    guest_ids = {o["order_id"] for o in api.get("/api/orders", headers=bearer(guest_token)).json()}
    assert guest_seen <= guest_ids  # everything the guest was told about is the guest's own


def test_rejection_reaches_the_bell_with_its_reason(api, gateway, guest_token, admin_token):
    # sell VIP down below 10 (admin buys), then the guest asks for 10
    left = stock_of(api, "vip-weekend")
    while left >= 10:
        wait_status(api, admin_token, place_order(api, admin_token, [("vip-weekend", 10)]).json()["order_id"],
                    "CONFIRMED")
        left -= 10
    async def run():
        async with open_socket(gateway, "/ws/notifications", guest_token) as ws:
            await ws.recv()
            resp = await asyncio.to_thread(place_order, api, guest_token, [("vip-weekend", 10)])
            order_id = resp.json()["order_id"]
            return order_id, await note_for(ws, order_id)

    order_id, note = run_async(run())
    assert note["kind"] == "order.rejected" and note["order_id"] == order_id
    assert "VIP Weekend" in note["message"]


def test_a_bell_that_reconnects_gets_what_it_missed_exactly_once(api, stack, gateway, guest_token):
    async def first():
        async with open_socket(gateway, "/ws/notifications", guest_token) as ws:
            await ws.recv()  # hello
            order_id = (await asyncio.to_thread(place_order, api, guest_token, [("camping-pass", 1)])).json()
            return await note_for(ws, order_id["order_id"])

    seen = run_async(first())
    stack.supervisor.stop_one("notification-hub")
    try:
        missed = [place_order(api, guest_token, [("camping-pass", 1)]).json()["order_id"] for _ in range(3)]
        for order_id in missed:
            wait_status(api, guest_token, order_id, "CONFIRMED")
    finally:
        stack.supervisor.restart("notification-hub")

    async def second():
        """A page that reconnects: it asks for what it missed and keeps what arrives (a hub that has just
        started replays its topic first, so that can take a while), showing each notification once."""
        shown: dict[str, dict] = {}
        async with open_socket(gateway, "/ws/notifications", guest_token) as ws:
            await ws.recv()  # hello
            await ws.send(json.dumps({"kind": "resume", "last_event_id": seen["id"], "last_event_time": seen["time"]}))
            async with asyncio.timeout(60):
                while not set(missed) <= {n["order_id"] for n in shown.values()}:
                    note = json.loads(await ws.recv())
                    shown.setdefault(note["id"], note)
        return list(shown.values())

    notes = run_async(second())
    got = [n["order_id"] for n in notes]
    assert all(got.count(order_id) == 1 for order_id in missed), got  # the page drops what it showed already


def test_an_event_delivered_twice_rings_the_bell_once(api, profile, gateway, guest_token):
    order_id = place_order(api, guest_token, [("camping-pass", 1)]).json()["order_id"]
    wait_status(api, guest_token, order_id, "CONFIRMED")
    again = events.new_event(events.ORDER_CONFIRMED, "/test", {
        "order_id": order_id, "username": "guest", "email": "guest@festflow.local",
        "items": [{"ticket_id": "camping-pass", "name": "Camping Pass", "quantity": 1, "unit_price_cents": 4500}],
        "total_cents": 4500, "stock": []})

    async def run():
        from aiokafka import AIOKafkaProducer
        async with open_socket(gateway, "/ws/notifications", guest_token) as ws:
            await ws.recv()
            producer = AIOKafkaProducer(bootstrap_servers=profile.kafka_bootstrap)
            await producer.start()
            try:
                for _ in range(2):  # as a relay that crashed between send and mark would
                    await producer.send_and_wait(ORDER_EVENTS_TOPIC, events.encode(again), key=order_id.encode())
            finally:
                await producer.stop()
            return await notes_within(ws, 4)

    notes = run_async(run())
    assert [n["id"] for n in notes].count(again["id"]) == 1
    time.sleep(1)  # the email function has had the copies by now
    assert len(mails_for(profile, order_id)) == 1  # one mail per order outcome, however many events say it
