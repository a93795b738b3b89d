"""Fair limits on the real stack: an organiser sets a per-buyer limit; one buyer's parallel orders never
get past it, whatever order they arrive in, and a refused order says why."""
import asyncio
import uuid

import httpx
import pytest

from e2e_helpers import bearer, eventually, login, new_buyer, new_ticket_type, run_async

pytestmark = pytest.mark.stack


def settled(api, token, order_id) -> dict:
    def probe():
        order = api.get(f"/api/orders/{order_id}", headers=bearer(token)).json()
        return order if order["status"] != "PENDING" else None
    return eventually(probe, timeout=30, what=f"order {order_id} settled")


def test_parallel_orders_of_one_buyer_stay_within_the_limit(api, admin_token):
    ticket = new_ticket_type(api, admin_token, stock=100)
    limited = api.patch(f"/api/admin/tickets/{ticket['id']}", headers=bearer(admin_token),
                        json={"per_buyer_limit": 4})
    assert limited.status_code == 200 and limited.json()["per_buyer_limit"] == 4
    token = login(api, *new_buyer(api, admin_token))
    too_many = api.post("/api/orders", headers={**bearer(token), "Idempotency-Key": "x"},
                        json={"items": [{"ticket_id": ticket["id"], "quantity": 5}]})
    assert too_many.status_code == 422 and "at most 4" in too_many.text  # refused at once, in one order

    async def orders():
        async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as client:
            return await asyncio.gather(*(client.post(
                "/api/orders", headers={**bearer(token), "Idempotency-Key": str(uuid.uuid4())},
                json={"items": [{"ticket_id": ticket["id"], "quantity": 1}]}) for _ in range(10)))
    placed = run_async(orders())
    assert all(r.status_code == 202 for r in placed)
    outcomes = [settled(api, token, r.json()["order_id"]) for r in placed]
    assert sorted(o["status"] for o in outcomes) == ["CONFIRMED"] * 4 + ["REJECTED"] * 6
    assert all("at most 4" in o["reason"] for o in outcomes if o["status"] == "REJECTED")
    assert {t["id"]: t["stock"] for t in api.get("/api/tickets").json()}[ticket["id"]] == 96
