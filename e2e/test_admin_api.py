"""The organisers' API and access control, against the real stack."""
import asyncio
import json

import pytest
from websockets.exceptions import ConnectionClosed

from e2e_helpers import bearer, eventually, new_ticket_type, open_socket, place_order, run_async, wait_status

pytestmark = pytest.mark.stack

ADMIN_ROUTES = [("GET", "/api/admin/tickets", None), ("POST", "/api/admin/tickets", {"name": "x", "price": "1",
                                                                                    "stock": 1}),
                ("PATCH", "/api/admin/tickets/camping-pass", {"price": "1"}), ("GET", "/api/admin/stats", None)]


@pytest.mark.parametrize("method,path,body", ADMIN_ROUTES)
def test_admin_routes_refuse_buyers_and_anonymous_callers(api, guest_token, method, path, body):
    assert api.request(method, path, json=body).status_code == 401
    refused = api.request(method, path, json=body, headers=bearer(guest_token))
    assert refused.status_code == 403 and refused.json()["detail"] == "admin role required"


@pytest.mark.parametrize("path", ["/admin/", "/admin/tickets"])
def test_admin_pages_refuse_buyers_and_send_anonymous_visitors_to_login(api, guest_token, path):
    anonymous = api.get(path, follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == f"/login?next={path}"
    page = api.get(path, headers={"Cookie": f"festflow_token={guest_token}"})
    assert "Not allowed" in page.text and 'data-reason="role"' in page.text
    assert "admin_kpis" not in page.text and "SAVE CHANGES" not in page.text


def test_admin_fragments_and_updates_refuse_buyers_through_the_gateway(api, guest_token):
    cookie = {"Cookie": f"festflow_token={guest_token}"}
    assert api.get("/admin/fragments/v1/dashboard", headers=cookie).status_code == 403
    assert api.post("/admin/tickets/camping-pass", data={"price": "1"}, headers=cookie).status_code == 403
    assert api.get("/admin/sse/updates", headers=cookie).status_code == 403


def test_create_edit_and_retire_a_ticket_type(api, admin_token, guest_token):
    ticket = new_ticket_type(api, admin_token, price="20.00", stock=30)
    assert ticket["price"] == "20.00" and ticket["active"] is True
    assert ticket["id"] in {t["id"] for t in api.get("/api/tickets").json()}

    changed = api.patch(f"/api/admin/tickets/{ticket['id']}", headers=bearer(admin_token),
                        json={"price": "25.50", "stock": 40, "name": ticket["name"] + " (new)"}).json()
    assert (changed["price"], changed["stock"]) == ("25.50", 40)
    order_id = place_order(api, guest_token, [(ticket["id"], 2)]).json()["order_id"]
    assert wait_status(api, guest_token, order_id, "CONFIRMED")["total"] == "51.00"  # the new price

    retired = api.patch(f"/api/admin/tickets/{ticket['id']}", headers=bearer(admin_token), json={"active": False})
    assert retired.json()["active"] is False
    assert ticket["id"] not in {t["id"] for t in api.get("/api/tickets").json()}
    assert place_order(api, guest_token, [(ticket["id"], 1)]).status_code == 422
    # existing orders keep it
    order = api.get(f"/api/orders/{order_id}", headers=bearer(guest_token)).json()
    assert order["items"][0]["ticket_id"] == ticket["id"]
    assert ticket["id"] in {t["id"] for t in api.get("/api/admin/tickets", headers=bearer(admin_token)).json()}


@pytest.mark.parametrize("body,reason", [
    ({"price": "-1"}, "price must be 0 or more"),
    ({"price": "9.999"}, "at most two decimals"),
    ({"price": "cheap"}, "price must be a number"),
    ({"stock": -5}, "stock must be a whole number, 0 or more"),
    ({"stock": 2.5}, "stock must be a whole number"),
    ({"name": "  "}, "name must not be empty"),
    ({"name": "\ud800"}, "name must be plain text"),
    ({}, "nothing to change"),
])
def test_invalid_edits_give_the_reason_and_change_nothing(api, admin_token, body, reason):
    before = {t["id"]: t for t in api.get("/api/admin/tickets", headers=bearer(admin_token)).json()}["camping-pass"]
    resp = api.patch("/api/admin/tickets/camping-pass", content=json.dumps(body).encode(),  # escapes a lone surrogate
                     headers={**bearer(admin_token), "Content-Type": "application/json"})
    assert resp.status_code == 422 and reason in json.dumps(resp.json())
    after = {t["id"]: t for t in api.get("/api/admin/tickets", headers=bearer(admin_token)).json()}["camping-pass"]
    assert (after["price"], after["name"], after["version"]) == (before["price"], before["name"], before["version"])


def test_a_stale_stock_edit_keeps_sales_and_an_impossible_one_is_refused(api, admin_token, guest_token):
    ticket = new_ticket_type(api, admin_token, stock=10)
    # the organiser's form shows 10; a buyer takes 3 meanwhile
    wait_status(api, guest_token, place_order(api, guest_token, [(ticket["id"], 3)]).json()["order_id"], "CONFIRMED")
    kept = api.patch(f"/api/admin/tickets/{ticket['id']}", headers=bearer(admin_token),
                     json={"stock": 15, "stock_seen": 10}).json()
    assert kept["stock"] == 12 and kept["sold_meanwhile"] == 3
    refused = api.patch(f"/api/admin/tickets/{ticket['id']}", headers=bearer(admin_token),
                        json={"stock": 0, "stock_seen": 15})
    assert refused.status_code == 409 and refused.json()["detail"].startswith("stock changed, reload")
    assert {t["id"]: t["stock"] for t in api.get("/api/tickets").json()}[ticket["id"]] == 12


def test_duplicate_ticket_type_is_409(api, admin_token):
    ticket = new_ticket_type(api, admin_token)
    resp = api.post("/api/admin/tickets", headers=bearer(admin_token),
                    json={"name": ticket["name"], "price": "1", "stock": 1})
    assert resp.status_code == 409 and ticket["id"] in resp.json()["detail"], resp.text
    listed = api.get("/api/admin/tickets", headers=bearer(admin_token)).json()
    same_id = [(t["price"], t["stock"]) for t in listed if t["id"] == ticket["id"]]
    assert same_id == [(ticket["price"], ticket["stock"])]  # one type of that id, the first, untouched


def test_stats_count_sales(api, admin_token, guest_token):
    before = api.get("/api/admin/stats", headers=bearer(admin_token)).json()
    wait_status(api, guest_token, place_order(api, guest_token, [("general-admission", 2)]).json()["order_id"],
                "CONFIRMED")
    after = api.get("/api/admin/stats", headers=bearer(admin_token)).json()
    assert after["tickets_sold"] == before["tickets_sold"] + 2
    assert after["revenue_cents"] == before["revenue_cents"] + 2 * 8900
    assert after["orders_confirmed"] == before["orders_confirmed"] + 1
    assert after["series"]["points"][-1]["tickets"] == after["tickets_sold"]


def test_log_feed_is_for_admins_only(gateway, guest_token):
    async def run():
        async with open_socket(gateway, "/ws/logs", guest_token) as ws:
            await asyncio.wait_for(ws.recv(), 5)

    with pytest.raises(ConnectionClosed) as closed:
        run_async(run())
    assert closed.value.rcvd.code == 4403


def test_log_feed_has_every_service_and_survives_a_restart(api, gateway, stack, admin_token, guest_token):
    place_order(api, guest_token, [("camping-pass", 1)])

    def services_in_history():
        async def run():
            async with open_socket(gateway, "/ws/logs", admin_token) as ws:
                return json.loads(await asyncio.wait_for(ws.recv(), 5))
        history = run_async(run())
        assert history["kind"] == "history"
        return {r["service"] for r in history["records"]}

    everyone = {"order-service", "inventory-service", "email-function", "notification-hub"}
    eventually(lambda: everyone <= services_in_history(), timeout=20, what="log records from every service")

    async def watch_restart():
        async with open_socket(gateway, "/ws/logs", admin_token) as ws:
            await ws.recv()  # history
            await asyncio.to_thread(stack.supervisor.restart, "email-function")
            async with asyncio.timeout(30):
                while True:
                    message = json.loads(await ws.recv())
                    record = message["record"]
                    if record["service"] == "email-function" and "startup complete" in record["message"]:
                        return record

    record = run_async(watch_restart())
    assert record["level"] == "INFO" and record["time"].endswith("Z")
