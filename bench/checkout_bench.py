"""FestFlow ticket-drop benchmark, against the real stack (its own `bench` profile and ports).

1. Drop: ORDERS single-ticket orders for a ticket type with STOCK tickets arrive at a fixed RATE per second
   through the Nginx gateway (an open model: each request is sent at its scheduled time whether or not
   earlier ones have answered, and latency is counted from that time, so queueing is not hidden).
   It reports the 202 latency, the time to the order's outcome event on Kafka, and checks the outcome:
   exactly STOCK confirmed, the rest rejected, stock 0, nothing sold twice.
2. Memory: SOCKETS idle WebSockets held open on the notification hub; its resident memory per socket.

Run: `make bench` (or `python bench/checkout_bench.py --rate 40 --orders 1200 --stock 500 --sockets 1000`).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid

import httpx
import websockets
from aiokafka import AIOKafkaConsumer

from festflow_contracts import events
from festflow_contracts.channels import ORDER_EVENTS_TOPIC
from festflow_devstack.profiles import get_profile
from festflow_devstack.stack import Stack

TARGETS = {  # what a ticket drop at the default 40 orders/s on a 2-core machine must meet
    "p99 of 202 at the gateway (ms)": 150.0,
    "p99 until the outcome is on Kafka (ms)": 500.0,
    "hub memory per idle WebSocket (KiB)": 50.0,
}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its reaped children."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def stack_cpu(stack: Stack) -> dict[str, float]:
    return {c.name: cpu_seconds(c.process.pid) for c in stack.supervisor.started if c.process.poll() is None}


def rss_kib(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def drop(gateway: str, kafka: str, rate: float, orders: int, stock: int) -> dict:
    async with httpx.AsyncClient(base_url=gateway, timeout=30,
                                 limits=httpx.Limits(max_connections=200, max_keepalive_connections=200)) as http:
        admin = (await http.post("/api/auth/login", json={"username": "admin", "password": "admin123"})).json()
        guest = (await http.post("/api/auth/login", json={"username": "guest", "password": "festflow"})).json()
        ticket = (await http.post("/api/admin/tickets", headers={"Authorization": f"Bearer {admin['access_token']}"},
                                  json={"name": f"Drop {uuid.uuid4().hex[:6]}", "price": "50", "stock": stock})).json()
        consumer = AIOKafkaConsumer(ORDER_EVENTS_TOPIC, bootstrap_servers=kafka, group_id=None,
                                    auto_offset_reset="latest")
        await consumer.start()
        while not consumer.assignment():
            await asyncio.sleep(0.05)
        for tp in consumer.assignment():
            await consumer.position(tp)
        outcomes: dict[str, tuple[str, float]] = {}

        async def collect():
            async for record in consumer:
                event = events.decode(record.value)
                outcomes[event["data"]["order_id"]] = (event["type"], time.perf_counter())

        collector = asyncio.create_task(collect())
        headers = {"Authorization": f"Bearer {guest['access_token']}"}
        sent: dict[str, float] = {}
        accept_ms: list[float] = []
        statuses: dict[int, int] = {}
        start = time.perf_counter() + 0.5

        async def one(i: int):
            scheduled = start + i / rate
            await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            resp = await http.post("/api/orders", headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
                                   json={"items": [{"ticket_id": ticket["id"], "quantity": 1}]})
            accept_ms.append((time.perf_counter() - scheduled) * 1000)
            statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1
            if resp.status_code == 202:
                sent[resp.json()["order_id"]] = scheduled

        await asyncio.gather(*(one(i) for i in range(orders)))
        offered_s = time.perf_counter() - start
        deadline = time.perf_counter() + 60
        while len([o for o in sent if o in outcomes]) < len(sent) and time.perf_counter() < deadline:
            await asyncio.sleep(0.1)
        settled_s = time.perf_counter() - start
        collector.cancel()
        await consumer.stop()
        outcome_ms = [(outcomes[o][1] - t) * 1000 for o, t in sent.items() if o in outcomes]
        kinds = [outcomes[o][0] for o in sent if o in outcomes]
        left = {t["id"]: t["stock"] for t in (await http.get("/api/tickets")).json()}[ticket["id"]]
        return {
            "offered": orders, "seconds to offer": offered_s, "statuses": statuses,
            "seconds until all settled": settled_s,
            "accept": accept_ms, "outcome": outcome_ms,
            "confirmed": kinds.count(events.TICKET_SOLD), "rejected": kinds.count(events.ORDER_REJECTED),
            "missing outcomes": len(sent) - len(outcome_ms), "stock left": left, "stock": stock,
        }


async def hub_memory(profile, stack: Stack, sockets: int) -> dict:
    async with httpx.AsyncClient(base_url=profile.url("gateway")) as http:
        token = (await http.post("/api/auth/login", json={"username": "guest", "password": "festflow"})).json()
    pid = stack.supervisor.component("notification-hub").process.pid
    url = f"ws://127.0.0.1:{profile.ports['notify']}/ws/notifications"
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    await asyncio.sleep(1)
    before = rss_kib(pid)
    opened = []
    for batch in range(0, sockets, 100):
        count = min(100, sockets - batch)
        conns = await asyncio.gather(*(websockets.connect(url, compression=None, additional_headers=auth)
                                       for _ in range(count)))
        for ws in conns:
            await ws.recv()  # hello: the server side is fully set up
        opened.extend(conns)
    await asyncio.sleep(1)
    after = rss_kib(pid)
    await asyncio.gather(*(ws.close() for ws in opened))
    return {"sockets": len(opened), "rss before (MiB)": before / 1024, "rss after (MiB)": after / 1024,
            "per socket (KiB)": (after - before) / max(1, len(opened))}


def report(result: dict, memory: dict, rate: float) -> None:
    a, o = result["accept"], result["outcome"]
    print(f"\n=== ticket drop: {result['offered']} orders of 1 ticket at {rate:.0f}/s "
          f"for {result['stock']} tickets ===")
    print(f"offered in {result['seconds to offer']:.1f} s; HTTP statuses {result['statuses']}")
    print(f"202 latency at the gateway (ms):   p50 {pct(a, 50):7.1f}  p95 {pct(a, 95):7.1f}  p99 {pct(a, 99):7.1f}"
          f"  max {max(a):7.1f}")
    if o:
        print(f"until the outcome is on Kafka (ms): p50 {pct(o, 50):7.1f}  p95 {pct(o, 95):7.1f}  p99 {pct(o, 99):7.1f}"
              f"  max {max(o):7.1f}  mean {statistics.mean(o):.1f}")
    print(f"all settled after {result['seconds until all settled']:.1f} s; confirmed {result['confirmed']}, "
          f"rejected {result['rejected']}, outcome missing {result['missing outcomes']}, "
          f"stock left {result['stock left']}")
    oversold = result["confirmed"] > result["stock"] or result["stock left"] < 0
    exact = result["confirmed"] == min(result["stock"], result["offered"]) and result["stock left"] == max(
        0, result["stock"] - result["offered"])
    print(f"sold twice / oversold: {'YES' if oversold else 'no'}; every ticket sold exactly once: {exact}")
    cpu = result["cpu ms per order"]
    print(f"CPU per order, all processes: {sum(cpu.values()):.1f} ms; by process: " + ", ".join(
        f"{name} {ms:.1f}" for name, ms in sorted(cpu.items(), key=lambda kv: -kv[1]) if ms >= 0.05))
    print(f"\n=== notification hub: {memory['sockets']} idle WebSockets ===")
    print(f"RSS {memory['rss before (MiB)']:.1f} MiB -> {memory['rss after (MiB)']:.1f} MiB: "
          f"{memory['per socket (KiB)']:.1f} KiB per socket")
    measured = {
        "p99 of 202 at the gateway (ms)": pct(a, 99),
        "p99 until the outcome is on Kafka (ms)": pct(o, 99) if o else float("inf"),
        "hub memory per idle WebSocket (KiB)": memory["per socket (KiB)"],
    }
    print("\n=== targets ===")
    for name, target in TARGETS.items():
        verdict = "met" if measured[name] <= target else "MISSED"
        print(f"{name:<42} {measured[name]:8.1f} (target <= {target:.0f}): {verdict}")
    print(f"{'no ticket sold twice':<42} {'met' if exact and not oversold else 'MISSED'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=40.0, help="orders per second (default 40)")
    parser.add_argument("--orders", type=int, default=1200)
    parser.add_argument("--stock", type=int, default=500)
    parser.add_argument("--sockets", type=int, default=1000)
    args = parser.parse_args()
    profile = get_profile("bench")
    stack = Stack(profile)
    stack.start()
    try:
        cpu_before = stack_cpu(stack)
        result = asyncio.run(drop(profile.url("gateway"), profile.kafka_bootstrap, args.rate, args.orders, args.stock))
        cpu_after = stack_cpu(stack)
        result["cpu ms per order"] = {name: (cpu_after[name] - cpu_before[name]) * 1000 / args.orders
                                      for name in cpu_after if name in cpu_before}
        memory = asyncio.run(hub_memory(profile, stack, args.sockets))
    finally:
        stack.stop()
    report(result, memory, args.rate)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
