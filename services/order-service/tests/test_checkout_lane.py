"""The checkout lane answers `POST /api/orders` exactly as FastAPI's route does, and hands FastAPI everything
it does not take on. The same requests go to the service with the lane and without it (each its own SQLite
file, a fake catalog); their answers must be the same."""
import json
import time

import httpx
import pytest
import sqlalchemy as sa

from festflow_contracts.tokens import COOKIE_NAME, generate_keypair
from order_service import bootstrap, db
from order_service.checkout_lane import CheckoutLane
from order_service.main import busy, create_api
from order_service.security import TokenIssuer
from order_service.settings import Settings

from .conftest import FakeCatalog, FakePublisher

PRIVATE, PUBLIC = generate_keypair()
GUEST = TokenIssuer(PRIVATE, 600).issue("guest", "client", "guest@festflow.local")
EXPIRED = TokenIssuer(PRIVATE, -1).issue("guest", "client", "guest@festflow.local")
JSON = {"content-type": "application/json"}


class Relay:
    def __init__(self):
        self.woken = 0

    def notify(self):
        self.woken += 1


class CountingApp:
    """The FastAPI app, counting the requests that reach it."""

    def __init__(self, app):
        self.app, self.calls = app, 0

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            self.calls += 1
        await self.app(scope, receive, send)


async def service(tmp_path, name, fast: bool):
    """The order service as bootstrap.py wires it, on its own SQLite file, with a fake catalog and publisher."""
    settings = Settings(jwt_public_key=PUBLIC, jwt_private_key=PRIVATE, fast_checkout=fast,
                        max_items_per_order=3, database_url=f"sqlite+aiosqlite:///{tmp_path / name}")
    services = bootstrap.build(settings, catalog=FakeCatalog(), publisher=FakePublisher())
    services.commands = Relay()  # counts its wake-ups
    await db.create_schema(services.engine)
    counting = CountingApp(create_api(services))
    return CheckoutLane(counting, services, busy), counting, services.engine


@pytest.fixture
async def lane_and_route(tmp_path):
    lane, lane_api, lane_engine = await service(tmp_path, "lane.db", fast=True)
    route, route_api, route_engine = await service(tmp_path, "route.db", fast=False)
    yield (lane, lane_api), (route, route_api)
    await lane_engine.dispose()
    await route_engine.dispose()


async def post(app, body, headers):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://festflow.test") as client:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return await client.post("/api/orders", content=content, headers=headers)


def comparable(response: httpx.Response) -> tuple:
    body = response.json()
    if isinstance(body, dict):  # a new order's id and times differ between the two services
        body = {k: v for k, v in body.items() if k not in ("order_id", "created_at", "updated_at")}
    headers = {k: v for k, v in response.headers.items()
               if k in ("content-type", "retry-after", "www-authenticate")}
    return response.status_code, body, headers, "location" in response.headers


def auth(token=GUEST, key="k-1", **extra):
    return {**JSON, "authorization": f"Bearer {token}", **({"idempotency-key": key} if key else {}), **extra}


ORDER = {"items": [{"ticket_id": "vip", "quantity": 2}]}

TAKEN_BY_THE_LANE = {
    "a new order": (ORDER, auth()),
    "a cookie from our own page": (ORDER, {**JSON, "idempotency-key": "k-2", "cookie": f"{COOKIE_NAME}={GUEST}",
                                           "sec-fetch-site": "same-origin"}),
    "an unknown ticket": ({"items": [{"ticket_id": "nope", "quantity": 1}]}, auth(key="k-3")),
    "over the per-order limit": ({"items": [{"ticket_id": "vip", "quantity": 11}]}, auth(key="k-4")),
    "a ticket twice": ({"items": [{"ticket_id": "vip", "quantity": 1}] * 2}, auth(key="k-5")),
    "a json content type with a charset": (ORDER, auth(key="k-6",
                                                       **{"content-type": "application/json; charset=utf-8"})),
}

HANDED_TO_FASTAPI = {
    "no token": (ORDER, {**JSON, "idempotency-key": "k"}),
    "an expired token": (ORDER, auth(EXPIRED)),
    "no key": (ORDER, auth(key=None)),
    "a blank key": (ORDER, auth(key="  ")),
    "a key too long": (ORDER, auth(key="k" * 201)),
    "not JSON": (b"{nope", auth()),
    "no items": ({"items": []}, auth()),
    "a quantity as text": ({"items": [{"ticket_id": "vip", "quantity": "2"}]}, auth()),
    "an unknown field": ({"items": [{"ticket_id": "vip", "quantity": 1}], "coupon": "x"}, auth()),
    "a ticket id with a slash": ({"items": [{"ticket_id": "a/b", "quantity": 1}]}, auth()),
    "a form instead of JSON": (b"items=1", auth(**{"content-type": "application/x-www-form-urlencoded"})),
    "a cookie from another site": (ORDER, {**JSON, "idempotency-key": "k", "cookie": f"{COOKIE_NAME}={GUEST}",
                                           "sec-fetch-site": "cross-site"}),
    "a body too big": ({"items": [{"ticket_id": "vip", "quantity": 1}], "x": "y" * 70_000}, auth()),
}


@pytest.mark.parametrize("case", TAKEN_BY_THE_LANE)
async def test_the_lane_answers_a_checkout_as_the_route_does_without_fastapi(lane_and_route, case):
    (lane, lane_api), (route, route_api) = lane_and_route
    body, headers = TAKEN_BY_THE_LANE[case]
    fast, slow = await post(lane, body, headers), await post(route, body, headers)
    assert comparable(fast) == comparable(slow)
    assert (lane_api.calls, route_api.calls) == (0, 1)


@pytest.mark.parametrize("case", HANDED_TO_FASTAPI)
async def test_what_the_lane_does_not_take_on_gets_fastapis_own_answer(lane_and_route, case):
    (lane, lane_api), (route, _) = lane_and_route
    body, headers = HANDED_TO_FASTAPI[case]
    fast, slow = await post(lane, body, headers), await post(route, body, headers)
    assert fast.status_code >= 400
    assert comparable(fast) == comparable(slow)
    assert lane_api.calls == 1


async def test_a_retry_and_a_reused_key_are_answered_alike(lane_and_route):
    (lane, lane_api), (route, _) = lane_and_route
    for app in (lane, route):
        first = await post(app, ORDER, auth(key="same"))
        again = await post(app, ORDER, auth(key="same"))
        assert (first.status_code, again.status_code) == (202, 202)
        assert again.json()["order_id"] == first.json()["order_id"]
        other = await post(app, {"items": [{"ticket_id": "vip", "quantity": 3}]}, auth(key="same"))
        assert other.status_code == 409 and "different order" in other.json()["detail"]
    assert lane.services.commands.woken == 1 and lane_api.calls == 0  # a retry wakes no relay


async def test_an_unavailable_catalog_is_a_503_with_retry_after(lane_and_route):
    (lane, _), (route, _) = lane_and_route
    for app in (lane, route):
        app.services.catalog.down = True
    fast, slow = await post(lane, ORDER, auth()), await post(route, ORDER, auth())
    assert comparable(fast) == comparable(slow)
    assert fast.status_code == 503 and fast.headers["retry-after"] == "2"


@pytest.mark.parametrize("lost", [
    sa.exc.OperationalError("INSERT", {}, ConnectionResetError("the primary went away")),
    sa.exc.InterfaceError("INSERT", {}, Exception("connection is closed")),
    ConnectionRefusedError("no server takes writes yet"),  # while a standby is being promoted
])
async def test_a_database_that_cannot_be_reached_is_a_503_with_retry_after_not_a_500(lane_and_route, lost):
    (lane, lane_api), (route, _) = lane_and_route

    async def unreachable(pending):
        raise lost

    for app in (lane, route):
        app.services.checkout.writer.write = unreachable
    fast, slow = await post(lane, ORDER, auth()), await post(route, ORDER, auth())
    assert comparable(fast) == comparable(slow)
    assert fast.status_code == 503 and fast.headers["retry-after"] == "2"
    assert "not reachable" in fast.json()["detail"] and lane_api.calls == 0


async def test_other_routes_go_to_fastapi(lane_and_route):
    (lane, lane_api), _ = lane_and_route
    transport = httpx.ASGITransport(app=lane)
    async with httpx.AsyncClient(transport=transport, base_url="http://festflow.test") as client:
        assert (await client.get("/api/orders", headers=auth())).status_code == 200
    assert lane_api.calls == 1


async def test_a_checkout_that_waited_too_long_is_turned_away_at_once_and_places_nothing(lane_and_route):
    (lane, lane_api), _ = lane_and_route
    stale = await post(lane, ORDER, auth(key="late", **{"x-request-start": f"t={time.time() - 5:.3f}"}))
    assert stale.status_code == 503 and stale.headers["retry-after"] == "1"
    assert "retry in a moment with the same Idempotency-Key" in stale.json()["detail"]
    assert lane.services.commands.woken == 0 and lane_api.calls == 0
    async with lane.services.engine.connect() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(db.orders)) == 0
    # the same checkout sent again in time is placed
    fresh = await post(lane, ORDER, auth(key="late", **{"x-request-start": f"t={time.time():.3f}"}))
    assert fresh.status_code == 202
    # a stamp it cannot read is no reason to refuse
    assert (await post(lane, ORDER, auth(key="odd", **{"x-request-start": "t=soon"}))).status_code == 202


async def test_while_a_waiting_room_is_on_the_lane_and_the_route_want_the_same_pass(lane_and_route):
    from festflow_contracts import waiting_pass

    from .test_waiting_gate import room
    (lane, lane_api), (route, _) = lane_and_route
    settings = lane.services.settings
    token = waiting_pass.sign(waiting_pass.Pass("guest", "festival", "1.2", int(time.time()) + 600),
                              settings.waiting_room_secret)
    for app in (lane, route):
        app.services.gate.apply(room())
        refused = await post(app, ORDER, auth(key="w-1"))
        assert refused.status_code == 403 and "waiting room" in refused.json()["detail"]
        placed = await post(app, ORDER, auth(key="w-1", **{"x-waiting-room-pass": token}))
        assert placed.status_code == 202
        used = await post(app, ORDER, auth(key="w-2", **{"x-waiting-room-pass": token}))
        assert used.status_code == 403 and "placed an order already" in used.json()["detail"]
    assert lane_api.calls == 0
