"""A flash sale through the gateway while parts of the system are killed and brokers restarted, on the
real stack. Whatever happens, every buyer learns the truth about every order they sent, exactly once."""
from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections import Counter, defaultdict

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from e2e_helpers import bearer, eventually, login, new_ticket_type, open_socket, run_async, stock_of
from festflow_contracts import events
from festflow_contracts.channels import ORDER_EVENTS_TOPIC
from festflow_devstack.supervisor import _probe

pytestmark = pytest.mark.stack

BUYERS = 8
ORDERS = 1000
STOCK = 300
RATE = 25  # orders started a second
PASSWORD = "chaos-pass-123"
FINAL = ("CONFIRMED", "REJECTED")


def make_buyers(api, admin_token) -> dict[str, str]:
    tag = uuid.uuid4().hex[:6]
    names = [f"chaos-{tag}-{i}" for i in range(BUYERS)]
    resp = api.post("/api/admin/users", headers=bearer(admin_token), json={"users": [
        {"username": n, "email": f"{n}@festflow.test", "password": PASSWORD} for n in names]})
    assert resp.status_code == 201 and resp.json()["created"] == names, resp.text
    tokens = {n: login(api, n, PASSWORD) for n in names}
    api.cookies.clear()
    return tokens


async def place_until_answered(http: httpx.AsyncClient, token: str, ticket_id: str, deadline: float) -> dict:
    """One buyer's checkout as a careful client does it: the same key until a definite answer."""
    key = str(uuid.uuid4())
    answers = []
    while time.monotonic() < deadline:
        try:
            resp = await http.post("/api/orders", headers={**bearer(token), "Idempotency-Key": key},
                                   json={"items": [{"ticket_id": ticket_id, "quantity": 1}]})
        except httpx.HTTPError as exc:
            answers.append(type(exc).__name__)
            await asyncio.sleep(1)
            continue
        answers.append(resp.status_code)
        if resp.status_code == 202:
            return {"key": key, "order_id": resp.json()["order_id"], "answers": answers}
        if resp.status_code in (429, 502, 503, 504):
            assert resp.status_code in (429, 503) and "Retry-After" in resp.headers, (resp.status_code, resp.text)
            await asyncio.sleep(float(resp.headers["Retry-After"]) * random.uniform(1, 2))
            continue
        raise AssertionError(f"unexpected answer {resp.status_code}: {resp.text}")
    raise AssertionError(f"no definite answer for key {key}: {answers}")


class Bell:
    """A buyer's page: a socket to the hub that reconnects after every loss and asks for what it missed;
    like the shell's bell.js it shows a notification once however often it arrives (by its id)."""

    def __init__(self, gateway: str, token: str):
        self.gateway, self.token = gateway, token
        self.notes: list[dict] = []
        self.ids: set[str] = set()
        self.reconnects = 0

    def show(self, note: dict) -> None:
        if note.get("id") and note["id"] not in self.ids:
            self.ids.add(note["id"])
            self.notes.append(note)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                async with open_socket(self.gateway, "/ws/notifications", self.token, open_timeout=5) as ws:
                    await ws.recv()  # hello
                    newest = max(self.notes, key=lambda n: n["time"]) if self.notes else {}
                    await ws.send(json.dumps({"kind": "resume", "last_event_id": newest.get("id"),
                                              "last_event_time": newest.get("time")}))
                    while not stop.is_set():
                        try:
                            self.show(json.loads(await asyncio.wait_for(ws.recv(), 0.5)))
                        except TimeoutError:
                            continue
            except Exception:
                self.reconnects += 1
                await asyncio.sleep(0.5)


def chaos(stack, say) -> None:
    """One part after another: kill -9 the apps (the watchdog brings them back), restart the brokers."""
    for name in ("inventory-service", "order-service", "email-function", "notification-hub"):
        time.sleep(5)
        say(f"kill -9 {name}")
        stack.supervisor.kill(name)
    time.sleep(4)
    say("restart rabbitmq")
    stack.supervisor.restart("rabbitmq")
    time.sleep(3)
    say("restart kafka")
    stack.supervisor.restart("kafka")


def outcome_events(profile, order_ids: set[str]) -> dict[str, set[str]]:
    """Every outcome event on the topic for these orders: order id -> distinct event ids."""
    async def read():
        consumer = AIOKafkaConsumer(ORDER_EVENTS_TOPIC, bootstrap_servers=profile.kafka_bootstrap,
                                    auto_offset_reset="earliest", enable_auto_commit=False)
        await consumer.start()
        found: dict[str, set[str]] = defaultdict(set)
        try:
            quiet = 0
            while quiet < 3:
                batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
                quiet = 0 if batch else quiet + 1
                for records in batch.values():
                    for record in records:
                        event = events.decode(record.value)
                        if event["data"].get("order_id") in order_ids:
                            found[event["data"]["order_id"]].add(event["id"])
        finally:
            await consumer.stop()
        return found
    return run_async(read())


def test_a_flash_sale_survives_kills_and_broker_restarts(api, admin_token, stack, profile, gateway):
    ticket = new_ticket_type(api, admin_token, price="50.00", stock=STOCK)
    warm = new_ticket_type(api, admin_token, price="1.00", stock=BUYERS)
    tokens = make_buyers(api, admin_token)
    names = list(tokens)
    said: list[str] = []

    async def scenario():
        stop = asyncio.Event()
        bells = {name: Bell(gateway, token) for name, token in tokens.items()}
        watchers = [asyncio.create_task(bell.run(stop)) for bell in bells.values()]
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        async with httpx.AsyncClient(base_url=gateway, timeout=10, limits=limits) as http:
            # each page sees one notification before the sale, so it can ask for what it missed later
            await asyncio.sleep(1)
            for token in tokens.values():
                await place_until_answered(http, token, warm["id"], time.monotonic() + 30)
            await asyncio.sleep(3)
            chaos_task = asyncio.create_task(asyncio.to_thread(chaos, stack, said.append))
            deadline = time.monotonic() + 240

            async def one(i: int):
                await asyncio.sleep(i / RATE)
                name = names[i % BUYERS]
                return name, await place_until_answered(http, tokens[name], ticket["id"], deadline)

            placed = await asyncio.gather(*(one(i) for i in range(ORDERS)))
            await chaos_task
        try:
            await asyncio.to_thread(check_the_truth, placed, bells)
        finally:
            stop.set()
            await asyncio.gather(*watchers)

    def check_the_truth(placed, bells):
        by_buyer: dict[str, list[str]] = defaultdict(list)
        for name, order in placed:
            by_buyer[name].append(order["order_id"])
        assert len({o["order_id"] for _, o in placed}) == ORDERS  # one order per key, none merged

        # the parts came back by themselves
        for comp in stack.supervisor.started:
            eventually(lambda comp=comp: comp.process.poll() is None and _probe(comp), timeout=90,
                       what=f"{comp.name} to be back")

        # every order is visible to its buyer with its final status; none stays PENDING
        def final_status(name, order_id):
            resp = api.get(f"/api/orders/{order_id}", headers=bearer(tokens[name]))
            return resp.json() if resp.status_code == 200 and resp.json()["status"] in FINAL else None

        status: dict[str, dict] = {}
        for name, ids in by_buyer.items():
            for order_id in ids:
                status[order_id] = eventually(lambda n=name, o=order_id: final_status(n, o), timeout=120,
                                              what=f"order {order_id} to be settled")
        confirmed = [o for o in status.values() if o["status"] == "CONFIRMED"]
        assert len(confirmed) == STOCK  # sold == stock, exactly
        assert stock_of(api, ticket["id"]) == 0

        # exactly one mail per order
        def mails():
            messages = httpx.get(profile.url("mail_http", "/api/messages"), timeout=30).json()
            counts = Counter(m["headers"].get("X-FestFlow-Order") for m in messages)
            return counts if all(counts[o] >= 1 for o in status) else None
        counts = eventually(mails, timeout=120, interval=2, what="a mail for every order")
        assert all(counts[o] == 1 for o in status), [o for o in status if counts[o] != 1][:5]

        # exactly one outcome event per order (a re-sent copy keeps its event id)
        outcomes = outcome_events(profile, set(status))
        assert all(len(outcomes[o]) == 1 for o in status), [o for o in status if len(outcomes[o]) != 1][:5]

        # every buyer's bell shows every outcome exactly once, after all its reconnections
        def bells_complete():
            return all({n.get("order_id") for n in bells[name].notes} >= set(ids) for name, ids in by_buyer.items())
        eventually(bells_complete, timeout=60, what="every bell to have every outcome")
        for name, ids in by_buyer.items():
            seen = Counter(n.get("order_id") for n in bells[name].notes)
            assert all(seen[o] == 1 for o in ids), (name, [o for o in ids if seen[o] != 1][:5])
        assert any(bell.reconnects for bell in bells.values())  # the hub really went away under them

    run_async(scenario())
    assert said == ["kill -9 inventory-service", "kill -9 order-service", "kill -9 email-function",
                    "kill -9 notification-hub", "restart rabbitmq", "restart kafka"]
