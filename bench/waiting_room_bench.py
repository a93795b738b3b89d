"""The waiting room at the scale of a big drop, on its own code against a real PostgreSQL server (the bench
profile's own cluster, started here):

1. **Joins**: BUYERS accounts join in the minute before the start, `--concurrency` at a time, through the
   app's JoinQueue (as its requests would): joins a second, p50 and p99 of one join.
2. **The draw**: at the start every place is drawn (one transaction): how long it takes, and whether the places
   are exactly 1..BUYERS.
3. **Admission**: ticks with a stock of STOCK tickets and the default capacity: how long a tick takes, how many
   are admitted before nothing is left, and how long after the stock runs out every buyer still waiting is
   told "sold out" (one tick: the standing of each is read from the room's row).

`python bench/waiting_room_bench.py [--buyers 20000] [--stock 2000] [--concurrency 256]` prints the figures.
Target: >= 2,000 joins a second.
"""
from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from bench_postgres import bench_postgres

from festflow_contracts import events
from festflow_devstack.postgres import create_database
from waiting_room import db, room

CAPACITY = 500.0  # buyers a second (the sale's measured checkout capacity, docs/benchmarks.md)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def run(port: int, buyers: int, stock: int, concurrency: int) -> None:
    engine = db.make_engine(create_database(port, f"waiting_{uuid.uuid4().hex[:8]}"))
    await db.create_schema(engine)
    now = datetime.now(UTC)
    opens, starts = now - timedelta(minutes=1), now + timedelta(hours=1)
    await room.configure(engine, room.RoomSetup(enabled=True, prequeue_opens_at=opens.isoformat(),
                                                sale_starts_at=starts.isoformat()))
    names = [f"fan-{n:06d}" for n in range(buyers)]
    queue: asyncio.Queue[str] = asyncio.Queue()
    for name in names:
        queue.put_nowait(name)
    took: list[float] = []
    joins = room.JoinQueue(engine)  # as the app gathers its requests' joins

    async def worker() -> None:
        while not queue.empty():
            name = queue.get_nowait()
            t0 = time.perf_counter()
            await joins.join(name)
            took.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    joining = time.perf_counter() - t0
    print(f"joins: {buyers} in {joining:.2f} s = {buyers / joining:,.0f}/s "
          f"(p50 {pct(took, .5) * 1000:.1f} ms, p99 {pct(took, .99) * 1000:.1f} ms, {concurrency} at a time, "
          f"{joins.batcher.batches} transactions)")

    t0 = time.perf_counter()
    drawn = await room.tick(engine, stock, CAPACITY, now=starts, seconds=1.0)
    print(f"draw: {drawn.drawn} places in {time.perf_counter() - t0:.2f} s (with the first admission: "
          f"{drawn.admitted})")
    places = sorted([d["place"] for d in ((await room.fairness(engine)) or {}).get("places", [])])
    assert places == list(range(1, buyers + 1)), "the places are not exactly 1..buyers"

    ticks: list[float] = []
    moment, admitted = starts, drawn.admitted
    left = stock
    while left > 0:
        moment += timedelta(seconds=1)
        # every admitted buyer buys one ticket at once
        async with engine.connect() as conn:
            buying = (await conn.scalars(sa.select(db.places.c.username).where(
                db.places.c.admitted_at.is_not(None), db.places.c.bought_at.is_(None)))).all()
        await room.mark_bought(engine, [(name, events.iso(moment)) for name in buying])
        left = max(0, stock - admitted)
        t0 = time.perf_counter()
        done = await room.tick(engine, left, CAPACITY, now=moment, seconds=1.0)
        ticks.append(time.perf_counter() - t0)
        admitted += done.admitted
        if done.sold_out:
            break
    t0 = time.perf_counter()
    sample = names[-500:]
    told = [await room.standing(engine, name, "bench", CAPACITY, now=moment) for name in sample]
    reading = (time.perf_counter() - t0) / len(sample)
    states = {state: sum(1 for s in told if s.state == state) for state in {s.state for s in told}}
    assert "waiting" not in states, "a buyer still waiting was not told it is sold out"
    print(f"admission: {admitted} admitted for {stock} tickets in {len(ticks)} ticks "
          f"(a tick p50 {pct(ticks, .5) * 1000:.1f} ms, max {max(ticks) * 1000:.1f} ms); sold out at the tick "
          f"after the last ticket: of {len(sample)} buyers looked at, {states}; a standing reads in "
          f"{reading * 1000:.2f} ms")
    await engine.dispose()


async def main(buyers: int, stock: int, concurrency: int) -> None:
    with bench_postgres() as port:
        await run(port, buyers, stock, concurrency)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--buyers", type=int, default=20_000)
    parser.add_argument("--stock", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=256, help="joins in flight at once")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.buyers, arguments.stock, arguments.concurrency))
