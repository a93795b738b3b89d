"""The waiting room on the real stack: a pre-queue of a few hundred buyers is drawn at the start in an order that
the published seed recomputes (and whose hash was published before), the places are all distinct and do not
follow the order of joining; admission then gives passes while there are tickets to sell. While the room is on,
the order service refuses a checkout without a valid pass, and takes one order a pass."""
import hashlib
import hmac
import random
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import bcrypt
import httpx
import pytest

from e2e_helpers import bearer, eventually, new_ticket_type, place_order, wait_status
from festflow_contracts import waiting_pass

pytestmark = pytest.mark.stack
BUYERS = 300
PASSWORD = "waiting-room-e2e"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def room(api, admin_token):
    """A fresh round of the waiting room, opened a minute ago and starting in an hour; closed after the test."""
    now = datetime.now(UTC)
    setup = {"enabled": True, "prequeue_opens_at": iso(now - timedelta(minutes=1)),
             "sale_starts_at": iso(now + timedelta(hours=1)), "reset": True}
    resp = api.put("/api/admin/waiting-room", headers=bearer(admin_token), json=setup)
    assert resp.status_code == 200, resp.text
    yield setup | resp.json()
    closed = {**setup, "enabled": False, "reset": True}
    assert api.put("/api/admin/waiting-room", headers=bearer(admin_token), json=closed).status_code == 200
    # the order service hears of it on the catalog events: until then, checkouts would still want a pass
    eventually(lambda: api.get("/api/festival").json()["waiting_room"] is None, timeout=20,
               what="the order service to take checkouts without a pass again")


@pytest.fixture(scope="module")
def buyers(gateway, _api_client, admin_token) -> dict[str, str]:
    """BUYERS accounts (imported in bulk, as a drop's buyers would have signed up), each logged in."""
    run = random.randrange(16**6)
    names = [f"wait-{run:06x}-{n:03d}" for n in range(BUYERS)]
    password_hash = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    resp = _api_client.post("/api/admin/users", headers=bearer(admin_token), json={"users": [
        {"username": name, "email": f"{name}@buyers.festflow.test", "password_hash": password_hash}
        for name in names]})
    assert resp.status_code == 201, resp.text

    def log_in(name: str) -> str:
        # from one of 50 loopback addresses: the gateway lets an address log in 10 times a second
        address = f"127.0.0.{2 + names.index(name) % 50}"
        with httpx.Client(base_url=gateway, timeout=10, transport=httpx.HTTPTransport(local_address=address)) as client:
            answer = client.post("/api/auth/login", json={"username": name, "password": PASSWORD})
            assert answer.status_code == 200, answer.text
            return answer.json()["access_token"]
    with ThreadPoolExecutor(8) as pool:
        return dict(zip(names, pool.map(log_in, names), strict=True))


def join_all(gateway: str, tokens: dict[str, str]) -> list[str]:
    """Every buyer joins, one after another (the order they joined in)."""
    order = list(tokens)
    with httpx.Client(base_url=gateway, timeout=10) as client:
        for name in order:
            resp = client.post("/api/queue/join", headers=bearer(tokens[name]))
            assert resp.status_code == 200 and resp.json()["state"] == "prequeue", resp.text
    return order


def test_a_pre_queue_is_drawn_at_the_start_in_an_order_the_revealed_seed_recomputes(api, gateway, admin_token,
                                                                                      buyers, room):
    commitment = room["commitment"]
    assert room["seed"] is None and len(commitment) == 64
    joined = join_all(gateway, buyers)
    again = api.post("/api/queue/join", headers=bearer(buyers[joined[0]]))  # joining twice: the same place
    assert again.status_code == 200 and again.json()["state"] == "prequeue"
    assert api.get("/api/queue/fairness").json() == {  # before the start: the commitment, not the seed
        "commitment": commitment, "derivation": room["derivation"], "sale_starts_at": room["sale_starts_at"]}
    # the organiser brings the start forward: the seed and the places stay
    start = {**room, "sale_starts_at": iso(datetime.now(UTC) + timedelta(seconds=2)), "reset": False}
    start = {key: start[key] for key in ("enabled", "prequeue_opens_at", "sale_starts_at", "reset")}
    moved = api.put("/api/admin/waiting-room", headers=bearer(admin_token), json=start).json()
    assert moved["commitment"] == commitment
    fairness = eventually(lambda: (found := api.get("/api/queue/fairness").json()).get("seed") and found,
                          timeout=20, what="the draw at the start, and the seed revealed")
    seed = fairness["seed"]
    assert hashlib.sha256(bytes.fromhex(seed)).hexdigest() == commitment == fairness["commitment"]
    drawn = fairness["places"]
    assert [d["place"] for d in drawn] == list(range(1, BUYERS + 1))
    # anyone recomputes the order from the seed and the join ids
    keys = [hmac.new(bytes.fromhex(seed), d["join_id"].encode(), hashlib.sha256).hexdigest() for d in drawn]
    assert keys == sorted(keys) and keys == [d["key"] for d in drawn]
    place_of = {d["join_id"]: d["place"] for d in drawn}
    places = [place_of[hashlib.sha256(f"festival:{name}".encode()).hexdigest()] for name in joined]
    assert len(set(places)) == BUYERS
    assert abs(correlation(list(range(BUYERS)), places)) < 0.3  # not the order they joined in
    # each buyer sees their place; with tickets to sell, the first are admitted with a pass
    first = next(name for name, place in zip(joined, places, strict=True) if place == 1)
    mine = eventually(lambda: (me := api.get("/api/queue/me", headers=bearer(buyers[first])).json())
                      ["state"] == "admitted" and me, timeout=15, what="the first place to be admitted")
    assert mine["position"] == 1 and mine["pass"] and mine["pass_expires"] > datetime.now(UTC).timestamp() + 500
    assert mine["ahead"] == 0 and mine["eta_seconds"] == 0
    # the admitted answer also sets the pass as the pages' cookie
    answer = api.get("/api/queue/me", headers=bearer(buyers[first]))
    assert answer.cookies.get(waiting_pass.COOKIE) == mine["pass"]
    api.cookies.delete(waiting_pass.COOKIE)  # (the shared client keeps no buyer's pass)
    # a buyer who joins now queues after everyone drawn
    latecomer = api.post("/api/queue/join", headers=bearer(admin_token)).json()
    assert latecomer["state"] == "waiting" and latecomer["position"] == BUYERS + 1 and latecomer["eta_seconds"] >= 1


def correlation(xs: list[int], ys: list[int]) -> float:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return cov / ((sum((x - mx) ** 2 for x in xs) * sum((y - my) ** 2 for y in ys)) ** 0.5)


def test_while_the_room_is_on_a_checkout_needs_a_pass_and_a_pass_places_one_order(api, admin_token, guest_token,
                                                                                     profile, room):
    ticket = new_ticket_type(api, admin_token, price="15.00", stock=5)
    eventually(lambda: (api.get("/api/festival").json()["waiting_room"] or {}).get("sale_starts_at")
               == room["sale_starts_at"],
               timeout=20, what="the order service to hear of the waiting room")
    refused = place_order(api, guest_token, [(ticket["id"], 1)])
    assert refused.status_code == 403 and "/cart/waiting-room" in refused.json()["detail"]
    # the guest queues; the sale starts; with tickets to sell the guest's turn comes
    assert api.post("/api/queue/join", headers=bearer(guest_token)).json()["state"] == "prequeue"
    start = {key: room[key] for key in ("enabled", "prequeue_opens_at")} | {"sale_starts_at": iso(datetime.now(UTC))}
    assert api.put("/api/admin/waiting-room", headers=bearer(admin_token), json=start).status_code == 200
    mine = eventually(lambda: (me := api.get("/api/queue/me", headers=bearer(guest_token)).json())
                      ["state"] == "admitted" and me, timeout=20, what="the guest's turn")
    pass_header = {waiting_pass.HEADER: mine["pass"]}
    forged = mine["pass"][:-4] + ("AAAA" if not mine["pass"].endswith("AAAA") else "BBBB")
    answer = api.post("/api/orders", headers={**bearer(guest_token), "Idempotency-Key": "wr-forged",
                                              waiting_pass.HEADER: forged},
                      json={"items": [{"ticket_id": ticket["id"], "quantity": 1}]})
    assert answer.status_code == 403 and "not genuine" in answer.json()["detail"]
    # a pass signed with the stack's own secret, but run out
    secret = (profile.run_dir / "keys" / "waiting-room-secret").read_text().strip()
    old = waiting_pass.sign(waiting_pass.Pass("guest", "festival", "old.1", int(datetime.now(UTC).timestamp()) - 1),
                            secret)
    answer = api.post("/api/orders", headers={**bearer(guest_token), "Idempotency-Key": "wr-old",
                                              waiting_pass.HEADER: old},
                      json={"items": [{"ticket_id": ticket["id"], "quantity": 1}]})
    assert answer.status_code == 403 and "expired" in answer.json()["detail"]
    placed = api.post("/api/orders", headers={**bearer(guest_token), "Idempotency-Key": "wr-1", **pass_header},
                      json={"items": [{"ticket_id": ticket["id"], "quantity": 1}]})
    assert placed.status_code == 202, placed.text
    wait_status(api, guest_token, placed.json()["order_id"], "CONFIRMED")
    again = api.post("/api/orders", headers={**bearer(guest_token), "Idempotency-Key": "wr-2", **pass_header},
                     json={"items": [{"ticket_id": ticket["id"], "quantity": 1}]})
    assert again.status_code == 403 and "placed an order already" in again.json()["detail"]
    # the waiting room hears that the guest bought: the pass is spent
    eventually(lambda: api.get("/api/queue/me", headers=bearer(guest_token)).json()["state"] == "bought",
               timeout=20, what="the waiting room to hear of the order")


def standing(api, token: str) -> dict:
    return api.get("/api/queue/me", headers=bearer(token)).json()


def test_sold_out_is_told_to_those_waiting_a_cancellation_readmits_and_a_kill_loses_no_place(
        api, gateway, admin_token, buyers, room, stack):
    ticket = new_ticket_type(api, admin_token, price="40.00", stock=2)
    five = list(buyers)[:5]
    setup = {key: room[key] for key in ("enabled", "prequeue_opens_at", "sale_starts_at")} | {
        "ticket_ids": [ticket["id"]]}
    assert api.put("/api/admin/waiting-room", headers=bearer(admin_token), json=setup).status_code == 200
    join_all(gateway, {name: buyers[name] for name in five})
    start = setup | {"sale_starts_at": iso(datetime.now(UTC))}
    assert api.put("/api/admin/waiting-room", headers=bearer(admin_token), json=start).status_code == 200
    # two tickets: two buyers admitted, three waiting
    eventually(lambda: sorted(standing(api, buyers[n])["state"] for n in five) == ["admitted"] * 2 + ["waiting"] * 3,
               timeout=20, what="two admitted and three waiting")
    before = {n: standing(api, buyers[n]) for n in five}
    # kill -9 of the waiting room: it comes back with every place and every pass
    stack.supervisor.kill("waiting-room")
    eventually(lambda: api.get("/api/queue").status_code == 200 and all(
        standing(api, buyers[n]) == before[n] for n in five), timeout=60, what="the waiting room back, as it was")
    admitted = sorted((n for n in five if before[n]["state"] == "admitted"), key=lambda n: before[n]["position"])
    waiting = sorted((n for n in five if before[n]["state"] == "waiting"), key=lambda n: before[n]["position"])
    orders = []
    for name in admitted:
        placed = api.post("/api/orders", headers={**bearer(buyers[name]), "Idempotency-Key": f"wr-{name}",
                                                  waiting_pass.HEADER: before[name]["pass"]},
                          json={"items": [{"ticket_id": ticket["id"], "quantity": 1}]})
        assert placed.status_code == 202, placed.text
        orders.append(wait_status(api, buyers[name], placed.json()["order_id"], "CONFIRMED"))
    sold_at = time.monotonic()
    eventually(lambda: all(standing(api, buyers[n])["state"] == "sold_out" for n in waiting), timeout=5,
               interval=0.2, what="everyone waiting told it is sold out within 5 s")
    told = time.monotonic() - sold_at
    assert told <= 5
    # the organiser cancels an order: its ticket is back, the next buyer is admitted, the others wait again
    cancel = api.post(f"/api/admin/orders/{orders[0]['order_id']}/cancel", headers=bearer(admin_token),
                      json={"reason": "the buyer cannot come"})
    assert cancel.status_code == 202, cancel.text
    eventually(lambda: [standing(api, buyers[n])["state"] for n in waiting] == ["admitted", "waiting", "waiting"],
               timeout=20, what="the next buyer admitted when a ticket came back")


def test_a_buyer_waits_on_a_phone_sees_the_place_go_down_and_checks_out_with_the_pass(
        browser, gateway, api, admin_token, buyers, room):
    from playwright.sync_api import expect
    from test_accessibility import PHONE, serious_violations
    from test_browser import log_in
    from test_cart_browser import add_to_cart
    ticket = new_ticket_type(api, admin_token, price="25.00", stock=20)
    names = list(buyers)
    early, late, others = names[10], names[11], names[12:20]
    setup = {key: room[key] for key in ("enabled", "prequeue_opens_at", "sale_starts_at")} | {
        "ticket_ids": [ticket["id"]], "admit_per_minute": 30}
    assert api.put("/api/admin/waiting-room", headers=bearer(admin_token), json=setup).status_code == 200
    join_all(gateway, {name: buyers[name] for name in others})
    problems: list[str] = []

    def joined_on_a_phone(name: str):
        """A phone's browser where `name` joined on the waiting page (axe is injected into its pages: their own
        CSP is lifted for it)."""
        context = browser.new_context(base_url=gateway, viewport=PHONE, is_mobile=True, has_touch=True,
                                      bypass_csp=True)
        page = context.new_page()
        log_in(page, name, PASSWORD)
        page.goto("/cart/waiting-room")
        page.get_by_role("button", name="Join the waiting room").click()
        return context, page
    context, page = joined_on_a_phone(early)
    try:
        section = page.locator("#waiting-room")
        expect(section).to_have_attribute("data-state", "prequeue")
        expect(section.locator(".cart_countdown")).to_contain_text("min")
        problems += [f"before the start: {v}" for v in serious_violations(page)]
    finally:
        context.close()
    # the sale starts; a buyer who comes now queues behind everyone drawn, one admitted every 2 s
    start = setup | {"sale_starts_at": iso(datetime.now(UTC))}
    assert api.put("/api/admin/waiting-room", headers=bearer(admin_token), json=start).status_code == 200
    eventually(lambda: api.get("/api/queue/fairness").json().get("seed"), timeout=20, what="the draw")
    context, page = joined_on_a_phone(late)
    try:
        section = page.locator("#waiting-room")
        expect(section).to_have_attribute("data-state", "waiting")
        expect(page.locator("body")).to_have_attribute("data-waiting-live", "true")  # heard live through the gateway
        first = int(section.locator(".cart_waiting-big strong").inner_text())
        ahead = section.locator(".cart_waiting-status")
        seen = {ahead.inner_text()}
        problems += [f"waiting: {v}" for v in serious_violations(page)]
        page.reload()  # a reload keeps the place
        expect(page.locator(".cart_waiting-big strong")).to_have_text(str(first))
        # it looks again by itself: the number ahead goes down until it is this buyer's turn
        deadline = time.monotonic() + 60
        while page.locator("#waiting-room").get_attribute("data-state") == "waiting" and time.monotonic() < deadline:
            seen.add(page.locator(".cart_waiting-status").inner_text())
            page.wait_for_timeout(500)
        expect(page.locator("#waiting-room")).to_have_attribute("data-state", "admitted")
        assert len(seen) >= 2, seen  # the page showed the queue moving
        expect(page.locator("#waiting-room")).to_contain_text("your turn")
        problems += [f"your turn: {v}" for v in serious_violations(page)]
        page.get_by_role("button", name="Go to the tickets").click()
        add_to_cart(page, ticket["id"], 2)
        page.get_by_role("button", name="CHECKOUT").click()
        expect(page.locator(".cart_last-order")).to_have_attribute("data-status", "CONFIRMED")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    finally:
        context.close()
    assert problems == []
