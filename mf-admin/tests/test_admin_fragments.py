"""mf-admin at unit level: the chart, error reasons, access control, with the order API faked."""
import json
import time

import httpx
import pytest
from fastapi.testclient import TestClient
from jose import jwt

from festflow_contracts import events
from festflow_contracts.fixtures import sample
from festflow_contracts.tokens import AUDIENCE, ISSUER, generate_keypair
from festflow_runtime.fragment_app import OfflineEvents
from mf_admin.dashboard import dashboard_update
from mf_admin.main import create_app
from mf_admin.sales_chart import grid_step, render
from mf_admin.settings import Settings

CHECKED_IN = [{"ticket_id": "vip", "name": "VIP", "issued": 7, "checked_in": 2}]
STATS = {"tickets_sold": 7, "revenue": "500.00", "revenue_cents": 50000, "orders_confirmed": 3, "orders_rejected": 1,
         "stock": [{"id": "vip", "name": "VIP", "stock": 43, "active": True}],
         "series": {"bucket_seconds": 5, "points": [{"t": "2026-07-01T12:00:00Z", "tickets": 2},
                                                    {"t": "2026-07-01T12:00:05Z", "tickets": 7}]}}


@pytest.mark.parametrize("value,step", [(1, 1), (4, 1), (5, 2), (7, 2), (9, 5), (100, 25), (101, 50), (1999, 500)])
def test_grid_steps_are_round_and_cover_the_value(value, step):
    assert grid_step(value) == step and grid_step(value) * 4 >= value


def test_chart_has_axes_labels_and_the_latest_total():
    svg = render(STATS["series"]["points"], 5)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "Tickets sold" in svg and "Time (UTC, 5 s steps)" in svg
    assert ">12:00:00<" in svg and ">12:00:05<" in svg
    assert 'data-role="chart-total">7<' in svg and "admin_chart-area" in svg


def test_empty_chart_says_so():
    assert "No sales yet" in render([], 5)


def test_dashboard_hears_sales_and_changes_only():
    sold = sample(events.ORDER_CONFIRMED, stock=[{"ticket_id": "vip", "stock": 3}])  # the inventory's own sample
    assert dashboard_update(sold) == {"kind": "sold", "tickets": [{"ticket_id": "vip", "stock": 3}]}
    changed = sample(events.TICKET_TYPE_CHANGED, id="vip", stock=9)
    assert dashboard_update(changed)["tickets"] == [{"ticket_id": "vip", "stock": 9}]
    assert dashboard_update(sample(events.ORDER_REJECTED)) == {"kind": "rejected", "tickets": []}
    held = dashboard_update(sample(events.ORDER_HELD, stock=[{"ticket_id": "vip", "stock": 2}]))
    assert held == {"kind": "held", "tickets": [{"ticket_id": "vip", "stock": 2}]}
    expired = dashboard_update(sample(events.ORDER_EXPIRED, stock=[{"ticket_id": "vip", "stock": 4}]))
    assert expired == {"kind": "expired", "tickets": [{"ticket_id": "vip", "stock": 4}]}
    assert dashboard_update(events.new_event(events.LOG_RECORD, "/t", {})) is None


@pytest.fixture(scope="module")
def keys():
    private, public = generate_keypair()
    return private, public


@pytest.fixture
def client(keys):
    def api(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/checkin/stats":
            return httpx.Response(200, json=CHECKED_IN)
        return httpx.Response(200, json=STATS)
    app = create_app(Settings(jwt_public_key=keys[1]), order_api_transport=httpx.MockTransport(api),
                     subscribe=OfflineEvents())
    with TestClient(app) as c:
        yield c


def _cookie(keys, role):
    token = jwt.encode({"sub": role, "role": role, "iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 60},
                       keys[0], algorithm="RS256")
    return {"Cookie": f"festflow_token={token}"}


@pytest.mark.parametrize("path", ["/admin/fragments/v1/dashboard", "/admin/fragments/v1/sales",
                                  "/admin/fragments/v1/ticket-editor", "/admin/fragments/v1/login-locks"])
def test_only_admins_get_admin_fragments(client, keys, path):
    anonymous = client.get(path)
    assert anonymous.status_code == 401 and "Please log in" in anonymous.text
    buyer = client.get(path, headers=_cookie(keys, "client"))
    assert buyer.status_code == 403 and "Not allowed" in buyer.text
    assert client.get(path, headers=_cookie(keys, "admin")).status_code == 200


def test_admin_actions_and_updates_are_refused_to_buyers(client, keys):
    buyer = _cookie(keys, "client")
    assert client.post("/admin/tickets/vip", data={"price": "1"}, headers=buyer).status_code == 403
    assert client.post("/admin/tickets", data={"name": "x"}, headers=buyer).status_code == 403
    assert client.get("/admin/sse/updates", headers=buyer).status_code == 403


def test_dashboard_shows_kpis_and_chart(client, keys):
    html = client.get("/admin/fragments/v1/dashboard", headers=_cookie(keys, "admin")).text
    assert 'data-kpi="tickets-sold">7<' in html and 'data-kpi="revenue">€500.00<' in html
    assert 'data-kpi="orders-rejected">1<' in html and "<svg" in html and 'id="admin-logs"' in html
    assert 'data-role="checked-in">2 / 7<' in html  # checked in at the gates, of the tickets issued


def test_an_open_dashboard_hears_check_ins_and_issued_tickets():
    assert dashboard_update(sample(events.TICKET_UPDATED, change="checked_in")) == {"kind": "checked_in",
                                                                                   "tickets": []}
    assert dashboard_update(sample(events.TICKET_UPDATED, change="holder")) is None
    assert dashboard_update(sample(events.TICKETS_ISSUED)) == {"kind": "issued", "tickets": []}
    assert dashboard_update(sample(events.ORDER_CANCELLED, stock=[{"ticket_id": "vip", "stock": 3}])) == {
        "kind": "cancelled", "tickets": [{"ticket_id": "vip", "stock": 3}]}


def test_nav_link_only_for_admins(client, keys):
    assert "ADMIN DASHBOARD" in client.get("/admin/fragments/v1/nav", headers=_cookie(keys, "admin")).text
    assert "ADMIN DASHBOARD" not in client.get("/admin/fragments/v1/nav", headers=_cookie(keys, "client")).text


def test_the_organiser_sees_the_login_locks_and_lifts_one(keys):
    locks = [{"username": "admin", "address": "203.0.113.7", "locked_until": "2026-12-04T20:05:00+00:00"}]
    lifted = []

    def api(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"].startswith("Bearer ")  # the organiser's own token
        if request.method == "DELETE":
            lifted.append(dict(request.url.params))
            locks.clear()
            return httpx.Response(200, json={"lifted": 1})
        return httpx.Response(200, json=locks)
    app = create_app(Settings(jwt_public_key=keys[1]), order_api_transport=httpx.MockTransport(api),
                     subscribe=OfflineEvents())
    with TestClient(app) as c:
        page = c.get("/admin/fragments/v1/login-locks", headers=_cookie(keys, "admin")).text
        assert 'data-username="admin" data-address="203.0.113.7"' in page and "20:05:00" in page
        assert c.post("/admin/login-locks/lift", data={"username": "admin", "address": "203.0.113.7"},
                      headers=_cookie(keys, "client")).status_code == 403
        done = c.post("/admin/login-locks/lift", data={"username": "admin", "address": "203.0.113.7"},
                      headers=_cookie(keys, "admin"))
        assert lifted == [{"username": "admin", "address": "203.0.113.7"}]
        assert "Lifted: admin from 203.0.113.7." in done.text and "No login is locked right now." in done.text


def test_the_organiser_sets_how_buyers_pay_and_a_refusal_stands_beside_its_field(keys):
    festival = {"name": "Riverfest", "starts_on": "2027-07-16", "ends_on": "2027-07-18", "venue": "", "address": "",
                "description": "", "banner_url": None, "version": 3, "payment_hold_minutes": 15,
                "bank_transfer_days": 5, "late_payment_days": 14, "iban": "", "bic": "", "beneficiary": "",
                "vat_id": "", "seller_address": ""}
    patches = []

    def api(request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH":
            body = json.loads(request.content)
            patches.append(body)
            if body["iban"] != "DE89370400440532013000":
                return httpx.Response(422, json={"detail": [{"loc": ["body"], "msg": "Value error, iban: not a valid "
                                                             "IBAN (invalid checksum digits)"}]})
            festival.update(body)
        return httpx.Response(200, json=festival)
    app = create_app(Settings(jwt_public_key=keys[1]), order_api_transport=httpx.MockTransport(api),
                     subscribe=OfflineEvents())
    form = {"card_payments": "on", "payment_hold_minutes": "20", "bank_transfer_days": "3", "late_payment_days": "7",
            "beneficiary": "Riverfest GmbH",
            "iban": "DE89 3704 0044 0532 0130 01", "bic": "", "vat_id": "", "seller_address": ""}
    with TestClient(app) as c:
        editor = c.get("/admin/fragments/v1/festival-editor", headers=_cookie(keys, "admin")).text
        assert 'hx-post="/admin/festival/payments"' in editor and 'id="festival-iban"' in editor
        refused = c.post("/admin/festival/payments", data=form, headers=_cookie(keys, "admin")).text
        assert 'id="festival-iban-error"' in refused and "Not a valid IBAN (invalid checksum digits)." in refused
        assert 'value="DE89 3704 0044 0532 0130 01"' in refused and 'value="Riverfest GmbH"' in refused  # kept
        saved = c.post("/admin/festival/payments", data={**form, "iban": "DE89370400440532013000"},
                       headers=_cookie(keys, "admin")).text
        assert "Saved: payments and invoices use these from now on." in saved and 'value="20"' in saved
        assert 'id="festival-card_payments"' in saved and "Buyers may pay by card" in saved
        unticked = {k: v for k, v in form.items() if k != "card_payments"}  # a checkbox left unticked sends nothing
        c.post("/admin/festival/payments", data={**unticked, "iban": "DE89370400440532013000"},
               headers=_cookie(keys, "admin"))
    assert patches[1]["card_payments"] == "on" and patches[2]["card_payments"] == ""
    assert set(patches[0]) == {"card_payments", "payment_hold_minutes", "bank_transfer_days", "late_payment_days",
                               "beneficiary", "iban",
                               "bic", "vat_id", "seller_address"}  # the details' own fields are left alone


def test_the_organiser_imports_a_statement_and_sees_what_it_did_and_what_needs_a_person(keys):
    review = [{"entry_id": "csv:1", "booked_on": "2026-12-07", "amount_cents": 5000, "currency": "EUR",
               "payer": "Ann <b>", "text": "donation", "reason": "no payment reference in the text"}]
    uploads = []
    refunds = [{"order_id": "0f0e0d0c-1111", "amount_cents": 17800, "currency": "EUR", "payer_name": "Anna",
                "payer_iban": "DE02120300000000202051", "reason": "cancelled: the act was cancelled", "by_hand": False},
               {"order_id": "9a8b7c6d-5e4f", "amount_cents": 8900, "currency": "EUR", "payer_name": "Ben",
                "payer_iban": "", "reason": "paid after its deadline", "by_hand": True}]

    def api(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"].startswith("Bearer ")  # the organiser's own token
        if request.url.path == "/api/admin/payments/refunds":
            return httpx.Response(200, json=refunds)
        if request.url.path == "/api/admin/payments/refunds/sepa":
            return httpx.Response(200, content=b"<Document>pain.001</Document>",
                                  headers={"content-type": "application/xml"})
        if request.method == "POST":
            uploads.append(request.content)
            if b"buy milk" in request.content:
                return httpx.Response(422, json={"detail": "notes.txt: this is no bank statement FestFlow reads"})
            return httpx.Response(200, json={"format": "camt.053", "matched": 2, "unmatched": 1, "duplicates": 0,
                                             "review": 1, "paid_orders": ["a", "b"]})
        return httpx.Response(200, json=review)
    app = create_app(Settings(jwt_public_key=keys[1]), order_api_transport=httpx.MockTransport(api),
                     subscribe=OfflineEvents())
    with TestClient(app) as c:
        page = c.get("/admin/fragments/v1/payments", headers=_cookie(keys, "admin")).text
        assert 'hx-post="/admin/payments/bank-statements"' in page and "Ann &lt;b&gt;" in page and "€50.00" in page
        assert c.get("/admin/fragments/v1/payments", headers=_cookie(keys, "client")).status_code == 403
        empty = c.post("/admin/payments/bank-statements", headers=_cookie(keys, "admin"))
        assert empty.status_code == 200 and "Choose the bank statement file first" in empty.text  # HTMX swaps it in
        done = c.post("/admin/payments/bank-statements", headers=_cookie(keys, "admin"),
                      files={"statement": ("statement.xml", b"<Document/>", "application/xml")})
        assert "CAMT.053 imported: 2 paid an order, 1 for review, 1 matched no order" in done.text
        refused = c.post("/admin/payments/bank-statements", headers=_cookie(keys, "admin"),
                         files={"statement": ("notes.txt", b"buy milk", "text/plain")})
        assert "Not imported: notes.txt: this is no bank statement" in refused.text
        assert "DE02120300000000202051" in page and "account unknown: refund by hand" in page
        assert "DOWNLOAD SEPA FILE (1 refund)" in page and "€178.00" in page
        sepa = c.post("/admin/payments/refunds.xml", headers=_cookie(keys, "admin"))
        assert sepa.headers["content-type"] == "application/xml" and sepa.content == b"<Document>pain.001</Document>"
        assert "attachment" in sepa.headers["content-disposition"]
    assert b'filename="statement.xml"' in uploads[0] and b"<Document/>" in uploads[0]


def test_a_cancelled_orders_page_looks_again_until_its_tickets_are_void(keys):
    order = {"order_id": "0f0e0d0c-1111-2222-3333-444455556666", "username": "gus", "email": "gus@x.org",
             "status": "CANCELLED", "reason": "sold by mistake", "items": [], "total": "89.00", "total_cents": 8900,
             "created_at": "2026-12-07T10:00:00.000Z", "updated_at": "2026-12-07T10:01:00.000Z",
             "tickets": [{"code": "A" * 20, "ticket_id": "vip", "name": "VIP", "holder": "", "status": "valid"}]}

    def api(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=order)
    app = create_app(Settings(jwt_public_key=keys[1]), order_api_transport=httpx.MockTransport(api),
                     subscribe=OfflineEvents())
    with TestClient(app) as c:
        voiding = c.get(f"/admin/fragments/v1/order/{order['order_id']}", headers=_cookie(keys, "admin")).text
        assert 'hx-trigger="every 1s"' in voiding  # the ticketing service voids its tickets a moment after
        order["tickets"][0]["status"] = "void"
        done = c.get(f"/admin/fragments/v1/order/{order['order_id']}", headers=_cookie(keys, "admin")).text
        assert 'hx-trigger="every 1s"' not in done and 'data-status="void"' in done


def test_the_organiser_sets_up_the_waiting_room_and_follows_the_drop(keys):
    room = {"enabled": False}
    puts = []
    report = {"joined": 7, "drawn": 6, "late": 1, "waiting": 4, "admitted": 3, "buying_now": 0, "bought": 2,
              "turn_passed": 1, "tickets_left": 0, "repeat_joins": 0, "refused_unverified": 0,
              "admit_per_minute": None, "sold_out_at": "2027-03-01T10:00:04.000Z",
              "sold_out_after_seconds": 4.0, "commitment": "c" * 64, "seed": "5" * 64, "derivation": "sorted keys"}

    def api(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/api/admin/tickets":
            return httpx.Response(200, json=[{"id": "drop", "name": "Drop Pass", "active": True}])
        if path == "/api/admin/waiting-room" and request.method == "GET":
            return httpx.Response(200, json=room)
        if path == "/api/admin/waiting-room" and request.method == "PUT":
            body = json.loads(request.content)
            puts.append(body)
            if not body["sale_starts_at"].startswith("2027"):
                return httpx.Response(422, json={"detail": [{
                    "loc": ["body", "sale_starts_at"], "msg": "Value error, a moment like 2027-03-01T10:00:00Z"}]})
            room.update(body | {"commitment": "c" * 64})
            return httpx.Response(200, json=room)
        if path == "/api/admin/waiting-room/report":
            return httpx.Response(200, json=report)
        return httpx.Response(404, json={"detail": "not found"})
    app = create_app(Settings(jwt_public_key=keys[1]), order_api_transport=httpx.MockTransport(api),
                     subscribe=OfflineEvents())
    form = {"enabled": "on", "prequeue_opens_at": "2027-03-01T09:00", "sale_starts_at": "tomorrow",
            "pass_minutes": "10", "admit_per_minute": "", "ticket_ids": "drop"}
    with TestClient(app) as c:
        editor = c.get("/admin/fragments/v1/waiting-room", headers=_cookie(keys, "admin")).text
        assert 'hx-post="/admin/waiting-room"' in editor and "Drop Pass" in editor
        refused = c.post("/admin/waiting-room", data=form, headers=_cookie(keys, "admin")).text
        assert 'id="room-sale_starts_at-error"' in refused and "A moment like 2027-03-01T10:00:00Z." in refused
        assert 'value="tomorrow"' in refused  # what the organiser typed stays
        saved = c.post("/admin/waiting-room", data={**form, "sale_starts_at": "2027-03-01T10:00"},
                       headers=_cookie(keys, "admin")).text
        assert "Saved: the waiting room is on." in saved
        assert puts[-1] == {"enabled": True, "prequeue_opens_at": "2027-03-01T09:00:00Z",
                            "sale_starts_at": "2027-03-01T10:00:00Z", "pass_minutes": "10", "admit_per_minute": None,
                            "ticket_ids": ["drop"], "reset": False}
        figures = c.get("/admin/fragments/v1/waiting-room-figures", headers=_cookie(keys, "admin")).text
        assert 'data-role="joined">7<' in figures and "sold out" in figures and "5" * 64 in figures
        assert c.get("/admin/fragments/v1/waiting-room", headers=_cookie(keys, "client")).status_code == 403
