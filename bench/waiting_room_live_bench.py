"""The waiting room with a drop's crowd on one machine (20,000 buyers is the target), against the real stack of the
`bench` profile (PostgreSQL, its own ports):

BUYERS accounts (imported in bulk; their tokens signed with the stack's own key, as a login would) join
through the gateway in the last WINDOW seconds before the sale starts, each from one of many loopback
addresses, and each then holds a live connection to its place (server-sent events, GET
/api/queue/me/events, through the gateway). With everyone waiting, the resident memory of the gateway and
of the waiting room (every process of theirs) is measured again: its growth per waiting buyer is the
figure. At the start every buyer must hear their place (waiting or admitted, with a position), and while
they wait an update at least every 5 s. The buyers are shared between several load-generator processes
(a process may hold 20,000 files here).

Run: `python bench/waiting_room_live_bench.py --buyers 20000 --window 60` (defaults: 5,000 in 30 s).
The last line sums it up: `waiting room: <buyers> waiting, <KiB>/buyer, every place at the start: yes|NO`.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import time
from datetime import UTC, datetime, timedelta

import bcrypt
import uvloop

from festflow_devstack.profiles import Layout, get_profile
from festflow_devstack.stack import Stack
from lean_http import Pool, loopback_address
from process_usage import usage

TARGET_KIB_PER_BUYER = 20.0
TARGET_GAP_SECONDS = 5.0
ADDRESSES_PER_WORKER = 40  # loopback addresses each load generator joins from (the gateway limits each)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def _stream(port: int, address: str, token: str, record: dict, stop_at: float,
                  on_admitted=None) -> None:
    """One buyer's live place: reads the events until `stop_at`, noting when each came and what it said;
    `on_admitted()` is started (once) when the stream says it is the buyer's turn."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(address, 0), limit=1 << 16)
    writer.write((f"GET /api/queue/me/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                  f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n").encode())
    head = await reader.readuntil(b"\r\n\r\n")
    record["status"] = int(head.split(b" ", 2)[1])
    if record["status"] != 200:
        writer.close()
        return
    events = record["events"]
    try:
        while time.time() < stop_at:
            line = await asyncio.wait_for(reader.readline(), timeout=max(0.1, stop_at - time.time()))
            if not line:
                record["closed"] = time.time()
                break
            if line.startswith(b"data: "):
                data = json.loads(line[6:])
                events.append((time.time(), data["state"], data.get("position")))
                if data["state"] == "admitted" and on_admitted is not None and "checkout" not in record:
                    record["checkout"] = asyncio.create_task(on_admitted())
    except TimeoutError:
        pass
    finally:
        writer.close()


async def _check_out(pool: Pool, token: str, ticket_id: str, record: dict) -> None:
    """An admitted buyer's purchase, as the cart page makes it: the pass (GET /api/queue/me), then the checkout
    with it; a 429 or 503 is retried with the same key (each one counted: the target is none)."""
    auth = {"Authorization": f"Bearer {token}"}
    me = await pool.request("GET", "/api/queue/me", None, auth)
    record["pass_status"] = me.status
    pass_token = me.json().get("pass") if me.status == 200 else None
    if not pass_token:
        return
    headers = {**auth, "X-Waiting-Room-Pass": pass_token, "Idempotency-Key": f"room-{token[-24:]}"}
    record["checkouts"] = []
    for _ in range(5):
        answer = await pool.request("POST", "/api/orders", {"items": [{"ticket_id": ticket_id, "quantity": 1}]},
                                    headers)
        record["checkouts"].append((time.time(), answer.status))
        if answer.status not in (429, 503):
            return
        await asyncio.sleep(float(answer.headers.get("retry-after", "1") or 1))


async def _buyers(port: int, worker: int, tokens: list[str], join_from: float, join_until: float,
                  stop_at: float, ticket_id: str | None = None) -> list[dict]:
    pools = [Pool("127.0.0.1", port, loopback_address(worker * ADDRESSES_PER_WORKER + n), max_connections=16)
             for n in range(ADDRESSES_PER_WORKER)]
    records = [{"events": [], "status": None, "join": None} for _ in tokens]
    spacing = (join_until - join_from) / max(1, len(tokens))

    async def one(i: int, token: str) -> None:
        await asyncio.sleep(max(0.0, join_from + i * spacing - time.time()))
        pool = pools[i % len(pools)]
        sent = time.time()
        joined = await pool.request("POST", "/api/queue/join", None, {"Authorization": f"Bearer {token}"})
        records[i]["join"], records[i]["join_sent"], records[i]["join_ms"] = joined.status, sent, (
            time.time() - sent) * 1000
        if joined.status != 200:
            records[i]["join_body"] = joined.body[:200].decode(errors="replace")
            return
        buy = None if ticket_id is None else (lambda: _check_out(pool, token, ticket_id, records[i]))
        try:
            await _stream(port, pool.local_ip, token, records[i], stop_at, buy)
            if "checkout" in records[i]:
                await records[i].pop("checkout")
        except (OSError, asyncio.IncompleteReadError) as failed:
            records[i]["error"] = repr(failed)

    await asyncio.gather(*(one(i, token) for i, token in enumerate(tokens)))
    for pool in pools:
        pool.close()
    return records


def _worker(port: int, worker: int, tokens: list[str], join_from: float, join_until: float, stop_at: float,
            out, ticket_id: str | None = None) -> None:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        out.send(runner.run(_buyers(port, worker, tokens, join_from, join_until, stop_at, ticket_id)))
    out.close()


def _memory(pids: dict[str, int], names: list[str]) -> tuple[float, dict[str, float]]:
    used = usage({name: pids[name] for name in names})
    per = {name: used[name].rss_kib for name in names}
    return float(sum(per.values())), per


async def _prepare(port: int, buyers: int, stock: int, run: str) -> tuple[dict[str, str], str]:
    pool = Pool("127.0.0.1", port, loopback_address(10_000))
    answer = await pool.request("POST", "/api/auth/login", {"username": "admin", "password": "admin123"})
    admin = {"Authorization": f"Bearer {answer.json()['access_token']}"}
    password_hash = bcrypt.hashpw(b"waiting-bench", bcrypt.gensalt(rounds=4)).decode()
    names = [f"wait-{run}-{n:05d}" for n in range(buyers)]
    for start in range(0, buyers, 250):  # the gateway takes bodies of at most 64 KiB
        batch = [{"username": name, "email": f"{name}@buyers.festflow.test", "password_hash": password_hash}
                 for name in names[start:start + 250]]
        answer = await pool.request("POST", "/api/admin/users", {"users": batch}, admin)
        assert answer.status == 201, f"bulk import: {answer.status} {answer.body[:300]!r}"
    answer = await pool.request("POST", "/api/admin/tickets", {"name": f"Drop {run}", "price": "50", "stock": stock},
                                admin)
    assert answer.status == 201, answer.body[:300]
    pool.close()
    return admin, answer.json()["id"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--buyers", type=int, default=5000, help="buyers who wait (default 5000)")
    parser.add_argument("--window", type=float, default=30.0, help="seconds before the start they join in")
    parser.add_argument("--after", type=float, default=20.0, help="seconds watched after the start")
    parser.add_argument("--stock", type=int, default=2000, help="tickets behind the room (default 2000)")
    parser.add_argument("--workers", type=int, default=0, help="load-generator processes (0: 1 per 7,000)")
    parser.add_argument("--instances", type=int, default=0, help="waiting-room instances (0: 1 per 9,000 "
                        "buyers, at least 1)")
    parser.add_argument("--checkout", action="store_true", help="the whole drop: each admitted buyer buys a "
                        "ticket with their pass; then the checkouts refused, the stock sold and how soon those "
                        "still waiting heard it was sold out")
    args = parser.parse_args()
    instances = args.instances or max(1, min(4, -(-args.buyers // 9000)))
    workers = args.workers or max(1, -(-args.buyers // 7000))
    profile = get_profile("bench")
    stack = Stack(profile, layout=Layout("postgres", waiting_rooms=instances))
    stack.start()
    try:
        return measure(stack, profile, args, workers, instances)
    finally:
        stack.stop()


def measure(stack: Stack, profile, args, workers: int, instances: int) -> int:
    from order_service.security import TokenIssuer
    port = profile.ports["gateway"]
    run = f"{int(time.time()) % 100000:05d}"
    t0 = time.perf_counter()
    admin, ticket_id = asyncio.run(_prepare(port, args.buyers, args.stock, run))
    issuer = TokenIssuer((profile.run_dir / "keys" / "jwt-private.pem").read_text(), 3600)
    tokens = [issuer.issue(f"wait-{run}-{n:05d}", "client", f"wait-{run}-{n:05d}@buyers.festflow.test",
                           email_verified=True) for n in range(args.buyers)]  # as their logins would
    print(f"{args.buyers} buyers imported and signed in {time.perf_counter() - t0:.1f} s; "
          f"{instances} waiting-room instance(s), {workers} load generator(s)")
    now = datetime.now(UTC)
    join_from = time.time() + 5
    starts = join_from + args.window + 5
    setup = {"enabled": True, "prequeue_opens_at": iso(now - timedelta(minutes=1)),
             "sale_starts_at": iso(datetime.fromtimestamp(starts, UTC)), "ticket_ids": [ticket_id], "reset": True}
    answer = asyncio.run(Pool("127.0.0.1", port).request("PUT", "/api/admin/waiting-room", setup, admin))
    assert answer.status == 200, answer.body[:300]
    pids = {c.name: c.process.pid for c in stack.supervisor.started if c.process.poll() is None}
    measured = ["gateway-nginx" if "gateway-nginx" in pids else next(n for n in pids if "nginx" in n)] + [
        name for name in pids if name.startswith("waiting-room")]
    before, before_parts = _memory(pids, measured)
    stop_at = starts + args.after
    pipes, processes = [], []
    ctx = multiprocessing.get_context("spawn")
    for w in range(workers):
        receive, send = ctx.Pipe(duplex=False)
        share = tokens[w::workers]
        process = ctx.Process(target=_worker, args=(port, w, share, join_from, join_from + args.window, stop_at,
                                                    send, ticket_id if args.checkout else None))
        process.start()
        pipes.append(receive)
        processes.append(process)
    # everyone joined and waiting, just before the start: the memory of the waiting crowd
    time.sleep(max(0.0, starts - 2 - time.time()))
    during, during_parts = _memory(pids, measured)
    records = [record for pipe in pipes for record in pipe.recv()]
    for process in processes:
        process.join()
    report(args, records, starts, before, during, before_parts, during_parts)
    if args.checkout:
        tickets = asyncio.run(Pool("127.0.0.1", port).request("GET", "/api/tickets")).json()
        left = next((t["stock"] for t in tickets if t["id"] == ticket_id), 0)
        report_checkouts(args, records, left)
    return 0


def report_checkouts(args, records: list[dict], stock_left: int) -> None:
    """The drop through the room: every admitted buyer's checkout answers, the stock sold, and how long after
    the last accepted checkout each buyer still waiting heard "sold out"."""
    answers: dict[int, int] = {}
    accepted: list[float] = []
    for r in records:
        for moment, status in r.get("checkouts", []):
            answers[status] = answers.get(status, 0) + 1
            if status == 202:
                accepted.append(moment)
    overload = answers.get(429, 0) + answers.get(503, 0)
    last = max(accepted, default=0.0)
    told = sorted(next(t for t, state, _ in r["events"] if state == "sold_out") - last for r in records
                  if "checkouts" not in r and any(state == "sold_out" for _, state, _ in r["events"]))
    waiting = [r for r in records if "checkouts" not in r and r["status"] == 200]
    print(f"\n=== the drop through the room: {args.stock} tickets ===")
    print(f"checkouts by admitted buyers: {dict(sorted(answers.items()))}; refused for overload (429/503): "
          f"{overload}; sold {args.stock - stock_left}/{args.stock}, stock left {stock_left}")
    if told:
        print(f"of the {len(waiting)} never admitted, {len(told)} heard sold out: after the last accepted checkout "
              f"p50 {told[len(told) // 2]:.1f} s, max {told[-1]:.1f} s (target <= {TARGET_GAP_SECONDS:.0f})")
    print(f"drop through the room: {overload} checkouts refused for overload, sold {args.stock - stock_left}/"
          f"{args.stock}, sold out told to {len(told)}/{len(waiting)} waiting, latest "
          f"{told[-1] if told else float('nan'):.1f} s after the last sale")


def report(args, records: list[dict], starts: float, before: float, during: float, before_parts: dict,
           during_parts: dict) -> None:
    joined = [r for r in records if r["join"] == 200]
    streaming = [r for r in joined if r["status"] == 200]
    refused: dict[str, int] = {}
    for r in records:
        if r["join"] != 200 or r["status"] != 200 or "error" in r:
            key = f"join {r['join']} {r.get('join_body', '')[:60]} stream {r['status']} {r.get('error', '')}"[:160]
            refused[key] = refused.get(key, 0) + 1
    told_at_start = [r for r in streaming if any(
        starts <= t <= starts + TARGET_GAP_SECONDS and state in ("waiting", "admitted") and position
        for t, state, position in r["events"])]
    gaps = []
    for r in streaming:
        times = [t for t, _, _ in r["events"] if t >= starts] + [starts + args.after]
        gaps.append(max(b - a for a, b in zip([starts, *times], times, strict=False)))
    states: dict[str, int] = {}
    for r in streaming:
        if r["events"]:
            last = r["events"][-1][1]
            states[last] = states.get(last, 0) + 1
    gaps.sort()
    join_ms = sorted(r["join_ms"] for r in records if r.get("join_ms") is not None)
    lateness = sorted(r["join_sent"] - (records[0]["join_sent"]) for r in records if r.get("join_sent"))
    per_buyer = (during - before) / max(1, len(streaming))
    print(f"\n=== waiting room: {args.buyers} buyers joining in the last {args.window:.0f} s before the start ===")
    print(f"joined {len(joined)}, holding a live connection {len(streaming)}; refused or failed: "
          f"{refused or 'none'}")
    if join_ms:
        print(f"join answered in p50 {join_ms[len(join_ms) // 2]:.0f} ms, "
              f"p99 {join_ms[int(len(join_ms) * 0.99)]:.0f} ms, max {join_ms[-1]:.0f} ms; "
              f"the joins were sent over {lateness[-1]:.1f} s")
    print("resident memory (KiB) before -> with everyone waiting: " + "; ".join(
        f"{name} {before_parts[name]:,} -> {during_parts[name]:,}" for name in before_parts))
    print(f"memory per waiting buyer (gateway and waiting room together): {per_buyer:.1f} KiB "
          f"(target <= {TARGET_KIB_PER_BUYER:.0f})")
    print(f"told their place within {TARGET_GAP_SECONDS:.0f} s of the start: {len(told_at_start)}/{len(streaming)}")
    if gaps:
        print(f"longest wait between updates after the start: p50 {gaps[len(gaps) // 2]:.1f} s, "
              f"max {gaps[-1]:.1f} s (target <= {TARGET_GAP_SECONDS:.0f})")
    print(f"last state heard: {dict(sorted(states.items()))}")
    everyone = len(told_at_start) == len(streaming) == args.buyers
    print(f"waiting room: {len(streaming)} waiting, {per_buyer:.1f} KiB/buyer, every place at the start: "
          f"{'yes' if everyone else 'NO'}, longest gap {gaps[-1] if gaps else 0:.1f} s")


if __name__ == "__main__":
    raise SystemExit(main())
