"""A ticket drop as it happens: many distinct buyers, logged in before the sale opens, check out at once.

1. Before the sale: BUYERS accounts are imported in bulk (with one bcrypt hash made here at bcrypt's lowest
   cost, so neither the import nor the logins spend the drop's CPU on bcrypt), each logs in through the
   gateway, and a sample of them (BELLS) open their bell (the notification hub's WebSocket).
2. The drop: ORDERS checkouts of 1 to MAX_TICKETS tickets each, by buyers picked at random, arrive at a
   fixed RATE through the gateway (an open model: each is sent at its scheduled time whether or not earlier
   ones have answered, and its latency counts from then, so queueing is never hidden) for one ticket type
   with STOCK tickets. Buyers send from many loopback addresses, as they arrive from many addresses.
3. After it: when each outcome was on Kafka and in the buyer's bell, when the last ticket was sold, when
   the order service's read model (My orders) had no order left PENDING, when the last mail was in the
   mailbox; then every buyer's My orders is read back and checked against Kafka: sold == stock, exactly.
"""
from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import bcrypt
import websockets
from aiokafka import AIOKafkaConsumer

from festflow_contracts import events
from festflow_contracts.channels import ORDER_EVENTS_TOPIC
from festflow_devstack.profiles import Profile
from festflow_runtime.kafka_clients import METADATA_MAX_AGE_MS
from lean_http import Pool, loopback_address

BUYER_PASSWORD = "drop-buyer-password"
OUTCOMES = (events.ORDER_CONFIRMED, events.ORDER_HELD, events.ORDER_REJECTED)  # what the inventory decides


@dataclass(frozen=True)
class DropPlan:
    rate: float
    orders: int
    stock: int
    buyers: int
    max_tickets: int = 1
    bells: int = 200
    seed: int = 7
    addresses: int = 64  # loopback addresses the buyers send from
    holds: bool = False  # the festival takes bank transfers: each checkout holds its tickets until paid


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    kafka: str
    ws_url: str  # the bell, through the gateway
    mail_sink_port: int | None  # the local mail sink's HTTP port (on `host`), when there is one

    @classmethod
    def of(cls, profile: Profile) -> Target:
        """A stack the local runner started on this machine (profile `dev`, `bench`, ...)."""
        return cls("127.0.0.1", profile.ports["gateway"], profile.kafka_bootstrap,
                   f"ws://127.0.0.1:{profile.ports['gateway']}/ws/notifications", profile.ports["mail_http"])


@dataclass
class DropResult:
    plan: DropPlan
    ticket_id: str = ""
    statuses: dict[int, int] = field(default_factory=dict)
    offered_seconds: float = 0.0  # from the first checkout sent to the last one (and its share of the rate)
    answered_seconds: float = 0.0  # from the first checkout sent until the last one was answered
    accept_ms: list[float] = field(default_factory=list)  # of the 202s, from the scheduled time
    answers: list[tuple[float, int, float]] = field(default_factory=list)  # (sent after start, status, ms)
    late_ms: list[float] = field(default_factory=list)  # how late the generator sent each checkout
    accepted: dict[str, tuple[str, int, float]] = field(default_factory=dict)  # order -> (buyer, tickets, sent)
    outcomes: dict[str, tuple[str, float]] = field(default_factory=dict)  # order -> (event type, seen on Kafka)
    outcome_events: dict[str, set[str]] = field(default_factory=dict)  # order -> ids of its outcome events
    bells: dict[str, float] = field(default_factory=dict)  # order -> in the buyer's bell
    bell_buyers: set[str] = field(default_factory=set)
    sold_out_seconds: float | None = None
    outcomes_seconds: float | None = None
    settled_seconds: float | None = None
    mailed_seconds: float | None = None
    mails: int = 0
    stock_left: int | None = None
    sold_on_kafka: int = 0
    my_orders_checked: int = 0
    my_orders_wrong: list[str] = field(default_factory=list)
    setup_seconds: dict[str, float] = field(default_factory=dict)
    refusals: dict[str, int] = field(default_factory=dict)  # answers other than 202, by status and reason
    start_perf: float = 0.0  # perf_counter() when the drop started

    def outcome_ms(self) -> list[float]:
        return [(self.outcomes[o][1] - sent) * 1000 for o, (_, _, sent) in self.accepted.items() if o in self.outcomes]

    def bell_ms(self) -> list[float]:
        return [(self.bells[o] - sent) * 1000 for o, (_, _, sent) in self.accepted.items() if o in self.bells]

    def seconds(self) -> list[dict[str, float]]:
        """The drop second by second (by when each checkout was sent): checkouts, 202s, 503s, the
        202's p99 and the outcome's p50."""
        rows: dict[int, dict[str, list[float]]] = {}
        for sent, status, ms in self.answers:
            row = rows.setdefault(int(sent), {"all": [], "202": [], "503": []})
            row["all"].append(ms)
            if status in (202, 503):
                row[str(status)].append(ms)
        outcome: dict[int, list[float]] = {}
        for order_id, (_, _, sent) in self.accepted.items():
            if order_id in self.outcomes:
                outcome.setdefault(int(sent - self.start_perf), []).append((self.outcomes[order_id][1] - sent) * 1000)
        return [{"second": second, "sent": len(row["all"]), "202": len(row["202"]), "503": len(row["503"]),
                 "p99 202 ms": pct(row["202"], 99), "outcome p50 ms": pct(outcome.get(second, []), 50)}
                for second, row in sorted(rows.items())]

    @property
    def accepted_per_second(self) -> float:
        """Checkouts answered 202 a second of the drop (the time they were offered in). Never more than the
        offered rate; a checkout kept waiting shows in the latencies, and past 2 s it is answered 503."""
        return len(self.accepted) / self.offered_seconds if self.offered_seconds else 0.0

    @property
    def exact(self) -> bool:
        demanded = sum(tickets for _, tickets, _ in self.accepted.values())
        return (self.sold_on_kafka == min(self.plan.stock, demanded) or self.stock_left == 0) and \
            self.stock_left == self.plan.stock - self.sold_on_kafka and not self.my_orders_wrong and \
            len(self.outcomes_of_accepted()) == len(self.accepted)

    def outcomes_of_accepted(self) -> list[str]:
        return [o for o in self.accepted if o in self.outcomes]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


async def _gather_limited(coros: list, limit: int) -> list:
    slots = asyncio.Semaphore(limit)

    async def one(coro):
        async with slots:
            return await coro
    return await asyncio.gather(*(one(c) for c in coros))


class Drop:
    def __init__(self, target: Target, plan: DropPlan, admin: tuple[str, str] = ("admin", "admin123"),
                 on_settled: Callable[[], None] | None = None):
        self.target, self.plan, self.admin, self.on_settled = target, plan, admin, on_settled
        self.pools = [Pool(target.host, target.port, loopback_address(n), max_connections=400)
                      for n in range(plan.addresses)]
        self.mail_sink = None if target.mail_sink_port is None else Pool(target.host, target.mail_sink_port)
        self.rng = random.Random(plan.seed)
        self.result = DropResult(plan)
        self.tokens: dict[str, str] = {}
        self.run_id = uuid.uuid4().hex[:6]

    def pool(self, buyer: int) -> Pool:
        return self.pools[buyer % len(self.pools)]

    async def _admin_token(self) -> str:
        resp = await self.pools[0].request("POST", "/api/auth/login",
                                           {"username": self.admin[0], "password": self.admin[1]})
        assert resp.status == 200, f"admin login: {resp.status} {resp.body[:200]!r}"
        return resp.json()["access_token"]

    # -- before the sale ---------------------------------------------------------------------------
    async def prepare(self) -> None:
        t0 = time.perf_counter()
        admin = {"Authorization": f"Bearer {await self._admin_token()}"}
        self.admin_headers = admin
        password_hash = bcrypt.hashpw(BUYER_PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
        self.buyers = [f"drop-{self.run_id}-{n:05d}" for n in range(self.plan.buyers)]
        self.index = {name: n for n, name in enumerate(self.buyers)}
        for start in range(0, len(self.buyers), 250):  # the gateway takes bodies of at most 64 KiB
            batch = [{"username": name, "email": f"{name}@buyers.festflow.test", "password_hash": password_hash}
                     for name in self.buyers[start:start + 250]]
            resp = await self.pools[0].request("POST", "/api/admin/users", {"users": batch}, admin)
            assert resp.status == 201, f"bulk import: {resp.status} {resp.body[:300]!r}"
        self.result.setup_seconds["import buyers"] = time.perf_counter() - t0
        t0 = time.perf_counter()

        async def log_in(n: int) -> None:
            for _ in range(20):
                resp = await self.pool(n).request("POST", "/api/auth/login",
                                                  {"username": self.buyers[n], "password": BUYER_PASSWORD})
                if resp.status == 200:
                    self.tokens[self.buyers[n]] = resp.json()["access_token"]
                    return
                await asyncio.sleep(float(resp.headers.get("retry-after", "0.5") or 0.5))
            raise AssertionError(f"{self.buyers[n]} could not log in: {resp.status} {resp.body[:200]!r}")

        await _gather_limited([log_in(n) for n in range(len(self.buyers))], 32)
        self.result.setup_seconds["log in buyers"] = time.perf_counter() - t0
        resp = await self.pools[0].request("POST", "/api/admin/tickets", {
            "name": f"Drop {self.run_id}", "price": "50", "stock": self.plan.stock}, admin)
        assert resp.status == 201, f"new ticket type: {resp.status} {resp.body[:200]!r}"
        self.result.ticket_id = resp.json()["id"]
        if self.plan.holds:  # an account to pay into: every order with something to pay is held, not sold
            resp = await self.pools[0].request("PATCH", "/api/admin/festival", {
                "iban": "DE89370400440532013000", "bic": "COBADEFFXXX", "beneficiary": "Drop Festival"}, admin)
            assert resp.status == 200, f"festival account: {resp.status} {resp.body[:200]!r}"
        await self._wait_on_sale()

    async def _wait_on_sale(self) -> None:
        """Until the order service sells the new type (it learns of it from the catalog events)."""
        for _ in range(100):
            resp = await self.pools[0].request("GET", "/api/tickets")
            if any(t["id"] == self.result.ticket_id for t in resp.json()):
                return
            await asyncio.sleep(0.1)
        raise AssertionError("the new ticket type never went on sale")

    # -- listeners -----------------------------------------------------------------------------------
    async def _kafka(self, ready: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(ORDER_EVENTS_TOPIC, bootstrap_servers=self.target.kafka, group_id=None,
                                    metadata_max_age_ms=METADATA_MAX_AGE_MS,
                                    auto_offset_reset="latest")
        await consumer.start()
        try:
            while not consumer.assignment():
                await asyncio.sleep(0.05)
            for tp in consumer.assignment():
                await consumer.position(tp)
            ready.set()
            stock = self.plan.stock
            async for record in consumer:
                event = json.loads(record.value)
                data = event.get("data", {})
                order_id = data.get("order_id")
                if order_id is None:
                    continue
                kind = events.current_type(event["type"])
                if kind in OUTCOMES:  # a record delivered twice has one id; two outcomes of one order, two
                    self.result.outcome_events.setdefault(order_id, set()).add(event.get("id", ""))
                if order_id in self.result.outcomes:
                    continue
                self.result.outcomes[order_id] = (kind, time.perf_counter())
                if kind in (events.ORDER_CONFIRMED, events.ORDER_HELD):  # sold, or held for its buyer
                    self.result.sold_on_kafka += sum(i["quantity"] for i in data["items"]
                                                     if i["ticket_id"] == self.result.ticket_id)
                    if self.result.sold_on_kafka >= stock and self.result.sold_out_seconds is None:
                        self.result.sold_out_seconds = time.perf_counter() - self.start
        finally:
            await consumer.stop()

    async def _bell(self, username: str, opened: asyncio.Event) -> None:
        headers = {"Authorization": f"Bearer {self.tokens[username]}"}
        address = self.pool(self.index[username]).local_ip  # the gateway allows 50 sockets an address
        async with websockets.connect(self.target.ws_url, additional_headers=headers, compression=None,
                                      open_timeout=30, local_addr=(address, 0)) as ws:
            await ws.recv()  # hello
            opened.set()
            async for raw in ws:
                note = json.loads(raw)
                order_id = note.get("order_id")
                if order_id and order_id not in self.result.bells:
                    self.result.bells[order_id] = time.perf_counter()

    # -- the drop --------------------------------------------------------------------------------------
    async def run(self, prepared: bool = False) -> DropResult:
        if not prepared:
            await self.prepare()
        ready = asyncio.Event()
        kafka_task = asyncio.create_task(self._kafka(ready))
        await asyncio.wait_for(ready.wait(), 30)
        bell_buyers = self.rng.sample(self.buyers, min(self.plan.bells, len(self.buyers)))
        self.result.bell_buyers = set(bell_buyers)
        opened = [asyncio.Event() for _ in bell_buyers]
        bell_tasks = [asyncio.create_task(self._bell(name, ev)) for name, ev in zip(bell_buyers, opened, strict=True)]
        await asyncio.wait_for(asyncio.gather(*(ev.wait() for ev in opened)), 60)
        try:
            await self._drop()
            await self._after()
        finally:
            for task in [kafka_task, *bell_tasks]:
                task.cancel()
            await asyncio.gather(kafka_task, *bell_tasks, return_exceptions=True)
            for pool in self.pools:
                pool.close()
            if self.mail_sink is not None:
                self.mail_sink.close()
        return self.result

    async def _drop(self) -> None:
        plan, result = self.plan, self.result
        picks = [(self.rng.randrange(len(self.buyers)), self.rng.randint(1, plan.max_tickets))
                 for _ in range(plan.orders)]
        self.mails_before = await self._mails()
        self.start = time.perf_counter() + 0.5
        result.start_perf = self.start
        last_sent = self.start

        async def one(i: int, buyer: int, tickets: int) -> None:
            nonlocal last_sent
            scheduled = self.start + i / plan.rate
            await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            result.late_ms.append((time.perf_counter() - scheduled) * 1000)  # the generator's own delay
            last_sent = max(last_sent, time.perf_counter())
            name = self.buyers[buyer]
            try:
                resp = await self.pool(buyer).request(
                    "POST", "/api/orders", {"items": [{"ticket_id": result.ticket_id, "quantity": tickets}]},
                    {"Authorization": f"Bearer {self.tokens[name]}", "Idempotency-Key": uuid.uuid4().hex})
                status = resp.status
            except (TimeoutError, OSError, asyncio.IncompleteReadError):
                status = 0  # no answer
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if status not in (0, 202):
                detail = str(resp.json().get("detail", ""))[:60] if resp.body.startswith(b"{") else ""
                result.refusals[f"{status} {detail}"] = result.refusals.get(f"{status} {detail}", 0) + 1
            result.answers.append((scheduled - self.start, status, (time.perf_counter() - scheduled) * 1000))
            if status == 202:
                result.accept_ms.append((time.perf_counter() - scheduled) * 1000)
                result.accepted[resp.json()["order_id"]] = (name, tickets, scheduled)

        await asyncio.gather(*(one(i, b, q) for i, (b, q) in enumerate(picks)))
        result.answered_seconds = time.perf_counter() - self.start
        result.offered_seconds = max(last_sent - self.start + 1 / plan.rate, plan.orders / plan.rate)

    async def _after(self, deadline_seconds: float = 180) -> None:
        result, admin = self.result, self.admin_headers
        deadline = time.perf_counter() + deadline_seconds
        while len(result.outcomes_of_accepted()) < len(result.accepted) and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        if result.accepted:
            result.outcomes_seconds = max(result.outcomes[o][1] for o in result.outcomes_of_accepted()) - self.start
        while time.perf_counter() < deadline:  # the read model behind My orders: nothing PENDING
            resp = await self.pools[0].request("GET", "/api/admin/orders?status=pending&limit=1", headers=admin)
            if resp.status == 200 and resp.json() == []:
                result.settled_seconds = time.perf_counter() - self.start
                break
            await asyncio.sleep(0.05)
        if self.mail_sink is not None:
            while time.perf_counter() < deadline:
                result.mails = await self._mails() - self.mails_before
                if result.mails >= len(result.accepted):
                    result.mailed_seconds = time.perf_counter() - self.start
                    break
                await asyncio.sleep(0.25)
        tickets = (await self.pools[0].request("GET", "/api/tickets")).json()
        result.stock_left = next((t["stock"] for t in tickets if t["id"] == result.ticket_id), 0)
        if self.on_settled is not None:
            self.on_settled()  # before the check below, whose thousands of reads are no part of the drop
        await self._check_my_orders()

    async def _mails(self) -> int:
        """How many mails the mail sink holds (it counts them; listing a folder of a few hundred thousand
        files four times a second cost this process more CPU than the drop itself)."""
        if self.mail_sink is None:
            return 0
        return (await self.mail_sink.request("GET", "/api/count")).json()["messages"]

    async def _check_my_orders(self) -> None:
        """Every buyer who ordered sees each order of theirs settled, as Kafka said it."""
        by_buyer: dict[str, list[str]] = {}
        for order_id, (name, _, _) in self.result.accepted.items():
            by_buyer.setdefault(name, []).append(order_id)
        expected = {events.ORDER_CONFIRMED: "CONFIRMED", events.ORDER_HELD: "AWAITING_PAYMENT",
                    events.ORDER_REJECTED: "REJECTED"}

        async def check(name: str, order_ids: list[str]) -> None:
            resp = await self.pool(self.index[name]).request(
                "GET", "/api/orders?limit=500", headers={"Authorization": f"Bearer {self.tokens[name]}"})
            shown = {o["order_id"]: o["status"] for o in resp.json()} if resp.status == 200 else {}
            for order_id in order_ids:
                kind = self.result.outcomes.get(order_id, ("?", 0))[0]
                if shown.get(order_id) != expected.get(kind):
                    self.result.my_orders_wrong.append(f"{name} {order_id}: {shown.get(order_id)} vs {kind}")

        await _gather_limited([check(n, ids) for n, ids in by_buyer.items()], 32)
        self.result.my_orders_checked = len(by_buyer)
