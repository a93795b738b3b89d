"""1,500 checkouts at once through the gateway for 200 tickets, on the real stack: every answer is a 202,
or a clear 429/503 with Retry-After (nothing taken, or retry with the same key to learn), never a 5xx
that hides an order, and the retries settle to exactly the stock sold."""
import asyncio
import time
import uuid
from collections import Counter

import httpx
import pytest

from e2e_helpers import ClientPool, bearer, eventually, new_ticket_type, run_async

pytestmark = pytest.mark.stack
CHECKOUTS = 1500
STOCK = 200


def test_a_burst_of_checkouts_gets_only_truthful_answers(api, admin_token, gateway, guest_token):
    ticket = new_ticket_type(api, admin_token, price="30.00", stock=STOCK)
    keys = [str(uuid.uuid4()) for _ in range(CHECKOUTS)]
    body = {"items": [{"ticket_id": ticket["id"], "quantity": 1}]}

    async def send(pool, key):
        try:
            resp = await pool.next().post("/api/orders", json=body,
                                          headers={**bearer(guest_token), "Idempotency-Key": key})
        except httpx.HTTPError as exc:
            return key, type(exc).__name__, None, None
        return key, resp.status_code, resp.headers.get("Retry-After"), resp.json()

    async def burst():
        async with ClientPool(gateway, clients=150, connections=4) as http:
            t0 = time.monotonic()
            first = await asyncio.gather(*(send(http, key) for key in keys))
            print(f"burst answered in {time.monotonic() - t0:.1f} s")
            # every client that was told to come back does, with its key, until it has its order
            answered = {key: answer for key, code, _, answer in first if code == 202}
            deadline = time.monotonic() + 120
            while len(answered) < CHECKOUTS and time.monotonic() < deadline:
                await asyncio.sleep(1)
                again = await asyncio.gather(*(send(http, key) for key in keys if key not in answered))
                print(f"retry round at {time.monotonic() - t0:.1f} s: {Counter(c for _, c, _, _ in again)}")
                answered.update({key: answer for key, code, _, answer in again if code == 202})
            return first, answered

    first, answered = run_async(burst())
    started = time.monotonic()
    codes = Counter(code for _, code, _, _ in first)
    assert set(codes) <= {202, 429, 503}, codes
    assert all(retry_after for _, code, retry_after, _ in first if code in (429, 503)), codes
    assert len(answered) == CHECKOUTS and len({a["order_id"] for a in answered.values()}) == CHECKOUTS

    wanted = {a["order_id"] for a in answered.values()}

    def settled():
        mine = {}
        for offset in range(0, 100_000, 500):
            page = api.get("/api/orders", params={"limit": 500, "offset": offset}, headers=bearer(guest_token)).json()
            mine.update({o["order_id"]: o["status"] for o in page if o["order_id"] in wanted})
            if len(page) < 500 or len(mine) == len(wanted):
                break
        return mine if len(mine) == len(wanted) and all(s in ("CONFIRMED", "REJECTED") for s in mine.values()) \
            else None
    statuses = eventually(settled, timeout=120, interval=2, what="every order to be settled")
    assert Counter(statuses.values())["CONFIRMED"] == STOCK
    print(f"first answers: {dict(codes)}; settled {time.monotonic() - started:.1f} s after the burst")
