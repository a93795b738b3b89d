"""Helpers for the stack tests: log in, place orders, and poll for asynchronous outcomes with a deadline."""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import httpx

# Debian's Chromium as the tests drive it (never `playwright install`: no downloads here)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def login(api: httpx.Client, username: str, password: str) -> str:
    resp = api.post("/api/auth/login", json={"username": username, "password": password})
    assert resp.status_code == 200, resp.text
    return resp.json()["access_token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def place_order(api: httpx.Client, token: str, items: list[tuple[str, int]], key: str | None = None):
    return api.post("/api/orders", headers={**bearer(token), "Idempotency-Key": key or str(uuid.uuid4())},
                    json={"items": [{"ticket_id": t, "quantity": q} for t, q in items]})


def eventually(probe: Callable[[], object], timeout: float = 15, interval: float = 0.1, what: str = "condition"):
    """Polls until probe() returns something truthy; fails with `what` after the deadline."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def stock_of(api: httpx.Client, ticket_id: str) -> int:
    """The ticket type's stock as the catalog shows it. A test's own burst of reads (checking hundreds of
    orders one by one) can reach the gateway's rate limit: a 429 is waited out, not read as the catalog."""
    def catalog() -> list[dict] | None:
        resp = api.get("/api/tickets")
        if resp.status_code == 429:
            return None
        resp.raise_for_status()
        return resp.json()
    return {t["id"]: t["stock"] for t in eventually(catalog, timeout=30, interval=0.5, what="the catalog")}[ticket_id]


def mails_for(profile, order_id: str) -> list[dict]:
    return httpx.get(profile.url("mail_http", "/api/messages"), params={"order": order_id}, timeout=10).json()


def mails_to(profile, address: str) -> list[dict]:
    return httpx.get(profile.url("mail_http", "/api/messages"), params={"to": address}, timeout=10).json()


def link_in_mail(profile, address: str, path: str, count: int = 1) -> str:
    """The one-time link (`path` is /verify-email or /reset-password) of the `count`-th such mail to `address`."""
    def probe():
        links = [line.strip() for mail in mails_to(profile, address) for line in mail["body"].splitlines()
                 if f"{path}?token=" in line]
        return links[count - 1] if len(links) >= count else None
    return eventually(probe, timeout=30, what=f"mail number {count} with a {path} link to {address}")


def wait_status(api: httpx.Client, token: str, order_id: str, status: str, timeout: float = 15) -> dict:
    def probe():
        order = api.get(f"/api/orders/{order_id}", headers=bearer(token)).json()
        return order if order["status"] == status else None
    return eventually(probe, timeout, what=f"order {order_id} to be {status}")


def open_socket(gateway: str, path: str, token: str | None = None, **kwargs):
    """A WebSocket through the gateway, authenticated by a header (never a token in the URL)."""
    import websockets
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return websockets.connect(gateway.replace("http://", "ws://") + path, additional_headers=headers, **kwargs)


class ClientPool:
    """Many small httpx clients for a burst: one client's connection pool slows down with the square of
    the requests waiting on it (measured: 1,500 requests on one 500-connection client took 175 s)."""

    def __init__(self, base_url: str, clients: int = 100, connections: int = 4, timeout: float = 30):
        self.clients = [httpx.AsyncClient(base_url=base_url, timeout=timeout,
                                          limits=httpx.Limits(max_connections=connections)) for _ in range(clients)]
        self._turn = 0

    def next(self) -> httpx.AsyncClient:
        self._turn += 1
        return self.clients[self._turn % len(self.clients)]

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        for client in self.clients:
            await client.aclose()


def run_async(coro):
    """Runs a coroutine to completion in a thread of its own: Playwright's sync API keeps an event loop
    running in the test thread once a browser is open, where asyncio.run() is refused."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def new_ticket_type(api: httpx.Client, admin_token: str, price: str = "20.00", stock: int = 30) -> dict:
    """A ticket type of the test's own, so that tests changing prices or stock do not disturb others."""
    name = f"Test Pass {uuid.uuid4().hex[:8]}"
    resp = api.post("/api/admin/tickets", headers=bearer(admin_token),
                    json={"name": name, "price": price, "stock": stock})
    assert resp.status_code == 201, resp.text
    return resp.json()


def new_buyer(api: httpx.Client, admin_token: str) -> tuple[str, str]:
    """An account of the test's own (name, password): no other test's orders notify it or refresh its cart."""
    name, password = f"buyer-{uuid.uuid4().hex[:8]}", "buyer-pass-123"
    resp = api.post("/api/admin/users", headers=bearer(admin_token),
                    json={"users": [{"username": name, "email": f"{name}@festflow.test", "password": password}]})
    assert resp.status_code == 201, resp.text
    return name, password


def assert_refused_everywhere(api: httpx.Client, gateway: str, token: str, reason: str) -> None:
    """The token is refused by the order API at once (401 saying `reason`), and soon by the shell's pages
    and the hub's WebSocket, which hear of it over Kafka."""
    import asyncio

    from websockets.exceptions import ConnectionClosed
    refused = api.get("/api/orders", headers=bearer(token))
    assert refused.status_code == 401 and reason in refused.json()["detail"], refused.text

    def page_forgets_the_login():
        return "Log out" not in api.get("/", headers={"Cookie": f"festflow_token={token}"}).text
    eventually(page_forgets_the_login, what="the shell to refuse the token")

    async def socket():
        async with open_socket(gateway, "/ws/notifications", token) as ws:
            await asyncio.wait_for(ws.recv(), 5)
            await asyncio.wait_for(ws.recv(), 5)

    def hub_refuses():
        try:
            run_async(socket())
        except ConnectionClosed as closed:
            return closed.rcvd is not None and closed.rcvd.code == 4401
        except TimeoutError:
            return False
        return False
    eventually(hub_refuses, what="the hub to refuse the token")
