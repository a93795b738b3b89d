"""FestFlow ticket-drop benchmark, against the real stack (its own `bench` profile and ports).

1. The drop (see drop_scenario.py): BUYERS distinct buyers, imported and logged in before the sale, send
   ORDERS checkouts of 1 to MAX_TICKETS tickets at a fixed RATE (open model) through the Nginx gateway for
   a ticket type with STOCK tickets. It prints the accepted checkouts a second, the 202's latency, the
   time to the outcome on Kafka and in the buyer's bell, to the sell-out, until every order is settled in
   My orders and every mail sent; the CPU per order and the memory of every process of the stack (each
   with what runs under it); and checks that exactly the stock was sold and every buyer was told.
2. Memory: SOCKETS idle WebSockets held open on the notification hub; its resident memory per socket.

Its last line sums the drop up: `drop: <accepted>/s accepted, p99 <ms> ms, sold <n>/<stock>, settled in <s> s`.

Run: `make bench`, or `python bench/checkout_bench.py --rate 40 --orders 1200 --stock 500 --buyers 1000`.
`--attach` measures a stack that is already running (`make run`: profile dev) instead of starting one.
`--compare` runs the same drop on SQLite, on PostgreSQL with one instance of each service and with two (each
on a fresh stack, one after the other) and prints their figures side by side, each part's CPU per order
among them: where the time goes.
"""
from __future__ import annotations

import argparse
import asyncio
import time

import uvloop
import websockets

from drop_scenario import Drop, DropPlan, DropResult, Target, pct
from festflow_contracts import events
from festflow_devstack.profiles import Layout, Profile, get_profile
from festflow_devstack.stack import Stack, recorded_pids
from lean_http import Pool
from process_usage import Usage, own_cpu_seconds, usage

IDLE_SECONDS = 5.0  # the quiet stack is measured this long before the drop
# the processes a sale passes through, from the checkout to its outcome on Kafka (accept + reserve + outcome
# event), and PostgreSQL when the services use it; they do other work too (Kafka serves every consumer,
# the order service its read model)
SALE_PATH = ("gateway-nginx", "order-service", "rabbitmq", "inventory-service", "kafka", "postgres")

TARGETS = {  # the drop's targets on the 2-core machine, everything on it (docs/benchmarks.md)
    "accepted checkouts/s (sustained)": (">=", 1000.0),
    "p99 of 202 at the gateway (ms)": ("<=", 100.0),
    "sold out after the first order (s)": ("<=", 5.0),
    "every order settled, in My orders (s)": ("<=", 30.0),
    "p99 checkout to the buyer's bell (ms)": ("<=", 250.0),
    "CPU per order, all processes (ms)": ("<=", 2.0),  # above what the stack burns idle
    "CPU per order, the sale's own path (ms)": ("<=", 2.0),  # accept + reserve + outcome event
    "hub memory per idle WebSocket (KiB)": ("<=", 50.0),
}


def parts(profile: Profile, stack: Stack | None) -> dict[str, int]:
    """Each running part of the stack by name: the pid the runner started."""
    if stack is not None:
        return {c.name: c.process.pid for c in stack.supervisor.started if c.process.poll() is None}
    return recorded_pids(profile)


async def hub_memory(profile: Profile, hub_pid: int, sockets: int) -> dict:
    pool = Pool("127.0.0.1", profile.ports["gateway"])
    token = (await pool.request("POST", "/api/auth/login", {"username": "guest", "password": "festflow"})).json()
    pool.close()
    url = f"ws://127.0.0.1:{profile.ports['notify']}/ws/notifications"
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    await asyncio.sleep(1)
    before = usage({"hub": hub_pid})["hub"].rss_kib
    opened = []
    for batch in range(0, sockets, 100):
        count = min(100, sockets - batch)
        conns = await asyncio.gather(*(websockets.connect(url, compression=None, additional_headers=auth)
                                       for _ in range(count)))
        for ws in conns:
            await ws.recv()  # hello: the server side is fully set up
        opened.extend(conns)
    await asyncio.sleep(1)
    after = usage({"hub": hub_pid})["hub"].rss_kib
    await asyncio.gather(*(ws.close() for ws in opened))
    return {"sockets": len(opened), "rss before (MiB)": before / 1024, "rss after (MiB)": after / 1024,
            "per socket (KiB)": (after - before) / max(1, len(opened))}


def _line(label: str, values: list[float]) -> str:
    if not values:
        return f"{label:<40} none"
    return (f"{label:<40} p50 {pct(values, 50):8.1f}  p95 {pct(values, 95):8.1f}  p99 {pct(values, 99):8.1f}"
            f"  max {max(values):8.1f}  ({len(values)})")


def _s(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} s"


def report(r: DropResult, cpu_ms: dict[str, float], idle_ms: dict[str, float], memory: dict[str, Usage],
           generator_ms: float, hub: dict | None, setup: str) -> dict[str, float | None]:
    """Prints the drop's figures; returns the ones compared against the targets, and each part's CPU."""
    p = r.plan
    accepted = len(r.accepted)
    tickets = "1 ticket" if p.max_tickets == 1 else f"1-{p.max_tickets} tickets"
    print(f"\n=== ticket drop: {p.orders} checkouts of {tickets} at {p.rate:.0f}/s by {p.buyers} buyers "
          f"for {p.stock} tickets ({setup}) ===")
    print("before the sale: " + ", ".join(f"{k} {v:.1f} s" for k, v in r.setup_seconds.items()))
    print(f"offered in {r.offered_seconds:.1f} s, the last answered after {r.answered_seconds:.2f} s; "
          f"HTTP statuses {dict(sorted(r.statuses.items()))}; accepted {accepted} ({r.accepted_per_second:.0f}/s)")
    for refusal, count in sorted(r.refusals.items(), key=lambda kv: -kv[1]):
        print(f"  {count} answered {refusal}")
    print(_line("202 at the gateway (ms)", r.accept_ms))
    print(_line("of that, the generator's own delay (ms)", r.late_ms))
    print("second by second (by when sent): " + "; ".join(
        f"{row['second']}: {row['202']}/{row['sent']} p99 {row['p99 202 ms']:.0f} out {row['outcome p50 ms']:.0f}"
        for row in r.seconds()))
    print(_line("checkout to the outcome on Kafka (ms)", r.outcome_ms()))
    print(_line(f"checkout to the bell ({len(r.bell_buyers)} buyers) (ms)", r.bell_ms()))
    kinds = [events.current_type(r.outcomes[o][0]) for o in r.outcomes_of_accepted()]
    confirmed, held = kinds.count(events.ORDER_CONFIRMED), kinds.count(events.ORDER_HELD)
    print(f"sold out after {_s(r.sold_out_seconds)}; every outcome on Kafka after {_s(r.outcomes_seconds)}; "
          f"every order settled in My orders after {_s(r.settled_seconds)}; "
          f"every mail sent after {_s(r.mailed_seconds)} ({r.mails} mails)")
    print(f"outcomes: {confirmed} confirmed, " + (f"{held} held for payment, " if held else "")
          + f"{len(kinds) - confirmed - held} rejected, "
          f"{accepted - len(r.outcomes_of_accepted())} missing; sold {r.sold_on_kafka}/{p.stock}, "
          f"stock left {r.stock_left}; My orders of {r.my_orders_checked} buyers read back: "
          f"{len(r.my_orders_wrong)} wrong")
    for wrong in r.my_orders_wrong[:5]:
        print(f"  wrong: {wrong}")
    print(f"exactly the stock sold, nothing twice, every buyer told: {'yes' if r.exact else 'NO'}")
    total, idle = sum(cpu_ms.values()), sum(idle_ms.values())
    print(f"CPU per accepted order, all processes: {total:.2f} ms, of which {idle:.2f} ms the stack burns "
          f"idle in that time, so {total - idle:.2f} ms for the orders; load generator (not counted) "
          f"{generator_ms:.2f} ms")
    path = [name for name in cpu_ms if name.startswith(SALE_PATH)]
    on_path = sum(cpu_ms[name] - idle_ms.get(name, 0) for name in path)
    print(f"CPU per accepted order on the sale's own path ({', '.join(SALE_PATH)}), above idle: "
          f"{on_path:.2f} ms")
    for name, ms in sorted(cpu_ms.items(), key=lambda kv: -kv[1]):
        u = memory.get(name)
        print(f"  {name:<20} {ms:7.2f} ms ({idle_ms.get(name, 0):5.2f} idle)   RSS "
              f"{u.rss_kib / 1024 if u else 0:7.1f} MiB ({u.processes if u else 0} "
              f"process{'es' if u and u.processes != 1 else ''})")
    measured = {
        "accepted checkouts/s (sustained)": r.accepted_per_second,
        "p99 of 202 at the gateway (ms)": pct(r.accept_ms, 99),
        "sold out after the first order (s)": r.sold_out_seconds,
        "every order settled, in My orders (s)": r.settled_seconds,
        "p99 checkout to the buyer's bell (ms)": pct(r.bell_ms(), 99),
        "CPU per order, all processes (ms)": total - idle,
        "CPU per order, the sale's own path (ms)": on_path,
    }
    if hub is not None:
        print(f"\n=== notification hub: {hub['sockets']} idle WebSockets ===")
        print(f"RSS {hub['rss before (MiB)']:.1f} MiB -> {hub['rss after (MiB)']:.1f} MiB: "
              f"{hub['per socket (KiB)']:.1f} KiB per socket")
        measured["hub memory per idle WebSocket (KiB)"] = hub["per socket (KiB)"]
    print("\n=== targets ===")
    for name, (sense, target) in TARGETS.items():
        if name not in measured:
            continue
        value = measured[name]
        met = value is not None and value == value and (value >= target if sense == ">=" else value <= target)
        shown = "never" if value is None else f"{value:9.1f}"
        print(f"{name:<42} {shown:>9} (target {sense} {target:g}): {'met' if met else 'MISSED'}")
    print(f"{'exactly the stock sold, every buyer told':<42} {'met' if r.exact else 'MISSED'}")
    settled = "never" if r.settled_seconds is None else f"{r.settled_seconds:.1f}"
    print(f"drop: {r.accepted_per_second:.0f}/s accepted, p99 {pct(r.accept_ms, 99):.0f} ms, "
          f"sold {r.sold_on_kafka}/{p.stock}, settled in {settled} s")
    parts_ms = {f"CPU per order: {name}": ms - idle_ms.get(name, 0) for name, ms in cpu_ms.items()}
    return measured | {"exactly the stock sold (1 = yes)": float(r.exact)} | parts_ms


def compare(results: dict[str, dict[str, float | None]]) -> None:
    """The figures of several layouts' drops side by side (the parts' CPU: every part of any layout, an
    instance's own figure and the instances' sum for a service that ran several)."""
    setups = list(results)
    names: list[str] = []
    for figures in results.values():
        names += [name for name in figures if name not in names]
    summed: dict[str, dict[str, float]] = {}  # setup -> "<service> (all instances)" -> ms
    for setup, figures in results.items():
        services: dict[str, list[float]] = {}
        for name, value in figures.items():
            if name.startswith("CPU per order: ") and value is not None:
                head, _, tail = name.rpartition("-")
                services.setdefault(head if tail.isdigit() else name, []).append(value)
        summed[setup] = {f"{service} (all instances)": sum(values) for service, values in services.items()
                         if len(values) > 1}
    print("\n=== side by side ===")
    print(f"{'':<48}" + "".join(f"{setup:>26}" for setup in setups))
    for name in names + sorted({n for s in summed.values() for n in s}):
        values = [results[setup].get(name, summed[setup].get(name)) for setup in setups]
        if name.startswith("CPU per order: ") and all(v is None or abs(v) < 0.05 for v in values):
            continue
        print(f"{name[:48]:<48}" + "".join(f"{'-' if v is None else f'{v:.2f}':>26}" for v in values))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=40.0, help="checkouts per second (default 40)")
    parser.add_argument("--orders", type=int, default=1200, help="checkouts in the drop (default 1200)")
    parser.add_argument("--stock", type=int, default=500, help="tickets on sale (default 500)")
    parser.add_argument("--buyers", type=int, default=1000, help="distinct buyers (default 1000)")
    parser.add_argument("--max-tickets", type=int, default=1, help="tickets per checkout: 1 to this (default 1)")
    parser.add_argument("--bells", type=int, default=200, help="buyers whose bell is open (default 200)")
    parser.add_argument("--sockets", type=int, default=1000, help="idle WebSockets for the hub's memory (0: skip)")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite",
                        help="the services' databases (default sqlite; postgres: a project-local server)")
    parser.add_argument("--instances", type=int, default=1, help="order and inventory service instances "
                        "(1-4; more than 1 needs --database postgres)")
    parser.add_argument("--attach", metavar="PROFILE", help="measure the running stack of PROFILE (e.g. dev)")
    parser.add_argument("--holds", action="store_true", help="the festival takes bank transfers: each checkout "
                        "holds its tickets until paid (the outcome on Kafka is the hold)")
    parser.add_argument("--compare", action="store_true", help="the same drop on SQLite, on PostgreSQL with one "
                        "instance of each service and with two, each on a fresh stack, then side by side")
    args = parser.parse_args()
    plan = DropPlan(rate=args.rate, orders=args.orders, stock=args.stock, buyers=args.buyers,
                    max_tickets=args.max_tickets, bells=args.bells, holds=args.holds)
    if args.compare:
        layouts = [Layout("sqlite", 1), Layout("postgres", 1), Layout("postgres", 2)]
        results = {f"{layout.database} x{layout.instances}": measure(plan, layout, None, args.sockets)
                   for layout in layouts}
        compare(results)
        return 0
    measure(plan, Layout(args.database, args.instances), args.attach, args.sockets)
    return 0


def measure(plan: DropPlan, layout: Layout, attach: str | None, sockets: int) -> dict[str, float | None]:
    """One drop on a stack of `layout` (started for it and stopped after, unless `attach` names a running
    profile): prints its report and returns its figures."""
    profile = get_profile(attach or "bench")
    stack = None if attach else Stack(profile, layout=layout)
    if stack is not None:
        stack.start()
    try:
        target = Target.of(profile)
        # CPU when every order is settled and mailed, and when
        settled: list[tuple[dict[str, Usage], float, float]] = []
        drop = Drop(target, plan, on_settled=lambda: settled.append((usage(parts(profile, stack)),
                                                                     own_cpu_seconds(), time.perf_counter())))

        async def measured() -> tuple[DropResult, dict[str, Usage], dict[str, Usage], float, dict[str, float],
                                      float]:
            await drop.prepare()
            # what the stack burns doing nothing (consumers polling, heartbeats): counted apart
            quiet = usage(parts(profile, stack))
            await asyncio.sleep(IDLE_SECONDS)
            before, own, t_before = usage(parts(profile, stack)), own_cpu_seconds(), time.perf_counter()
            idle = {name: (before[name].cpu_seconds - quiet[name].cpu_seconds) / IDLE_SECONDS
                    for name in before if name in quiet}
            result = await drop.run(prepared=True)
            after, own_after, t_after = settled[0] if settled else (
                usage(parts(profile, stack)), own_cpu_seconds(), time.perf_counter())
            return result, before, after, own_after - own, idle, t_after - t_before

        t0 = time.perf_counter()
        # the load generator shares the machine with the stack: uvloop's transports cost it less CPU per
        # checkout than asyncio's own (0.26-0.27 ms against 0.34-0.35 at 1,000/s, docs/benchmarks.md)
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            result, before, after, generator, idle, window = runner.run(measured())
        accepted = max(1, len(result.accepted))
        cpu_ms = {name: (after[name].cpu_seconds - before[name].cpu_seconds) * 1000 / accepted
                  for name in after if name in before}
        idle_ms = {name: idle.get(name, 0.0) * window * 1000 / accepted for name in cpu_ms}
        hub = None
        roots = parts(profile, stack)
        if sockets and "notification-hub" in roots:
            hub = asyncio.run(hub_memory(profile, roots["notification-hub"], sockets))
        print(f"(measured in {time.perf_counter() - t0:.0f} s)")
    finally:
        if stack is not None:
            stack.stop()
    setup = (f"attached to '{profile.name}'" if attach else
             f"{layout.database}, {layout.instances} order and inventory instance{'s' if layout.instances > 1 else ''}")
    return report(result, cpu_ms, idle_ms, after, generator * 1000 / accepted, hub, setup)

if __name__ == "__main__":
    raise SystemExit(main())
