import httpx
from fastapi.testclient import TestClient

from festflow_contracts.channels import ORDER_EVENTS_TOPIC
from festflow_contracts.tokens import generate_keypair
from festflow_runtime.fragment_app import OfflineEvents
from mf_catalog.main import create_app
from mf_catalog.settings import Settings


def _client(transport: httpx.AsyncBaseTransport | None = None) -> TestClient:
    # without a transport the order API's address is a closed port
    settings = Settings(jwt_public_key=generate_keypair()[1], order_api_url="http://127.0.0.1:9")
    return TestClient(create_app(settings, order_api_transport=transport, subscribe=OfflineEvents()))


def test_tickets_are_listed_with_price_stock_and_sold_out_state():
    tickets = [{"id": "a", "name": "Day <Pass>", "price": "10.00", "price_cents": 1000, "stock": 3},
               {"id": "b", "name": "VIP", "price": "99.00", "price_cents": 9900, "stock": 0}]
    with _client(httpx.MockTransport(lambda r: httpx.Response(200, json=tickets))) as c:
        html = c.get("/catalog/fragments/v1/ticket-list").text
    assert 'data-fragment="mf-catalog:ticket-list"' in html
    assert "Day &lt;Pass&gt;" in html  # escaped
    assert 'data-role="stock">3<' in html and "Sold out" in html
    assert html.count("disabled") == 1


def test_api_down_shows_a_message_and_retries():
    with _client() as c:
        html = c.get("/catalog/fragments/v1/ticket-list").text
    assert "Tickets cannot be loaded right now" in html and "every 5s" in html


def test_an_open_catalog_hears_stock_after_a_sale_and_changes_of_a_type():
    from festflow_contracts import events
    from festflow_contracts.fixtures import sample
    from mf_catalog.stock_feed import stock_update
    sold = sample(events.ORDER_CONFIRMED, stock=[{"ticket_id": "vip", "stock": 3}])  # the inventory's own sample
    assert stock_update(sold) == {"tickets": [{"ticket_id": "vip", "stock": 3}]}
    changed = stock_update(sample(events.TICKET_TYPE_CHANGED, id="vip", stock=9, price="12.00", active=False))
    assert changed == {"tickets": [{"ticket_id": "vip", "stock": 9, "price": "12.00", "active": False}],
                       "reload": True}
    assert stock_update(sample(events.ORDER_REJECTED)) is None
    assert stock_update(sample(events.FESTIVAL_CHANGED)) == {"tickets": [], "festival": True}
    back = stock_update(sample(events.ORDER_CANCELLED, stock=[{"ticket_id": "vip", "stock": 12}]))
    assert back == {"tickets": [{"ticket_id": "vip", "stock": 12}]}  # a cancelled order's stock is on sale again
    held = stock_update(sample(events.ORDER_HELD, stock=[{"ticket_id": "vip", "stock": 2}]))
    assert held == {"tickets": [{"ticket_id": "vip", "stock": 2}]}  # held for a buyer who pays: not on sale
    expired = stock_update(sample(events.ORDER_EXPIRED, stock=[{"ticket_id": "vip", "stock": 5}]))
    assert expired == {"tickets": [{"ticket_id": "vip", "stock": 5}]}  # released: on sale again


def test_the_festival_is_shown_with_its_dates_place_and_banner():
    details = {"name": "Riverfest <2027>", "starts_on": "2027-07-16", "ends_on": "2027-07-18",
               "venue": "Riverside Park", "address": "Riverside Park, 1 Festival Way", "description": "Music.\nFood.",
               "banner_url": "/api/festival/banner?v=2", "version": 5}
    with _client(httpx.MockTransport(lambda r: httpx.Response(200, json=details))) as c:
        html = c.get("/catalog/fragments/v1/festival").text
    assert 'data-fragment="mf-catalog:festival"' in html
    assert "<h1 class=\"catalog_festival-name\">Riverfest &lt;2027&gt;</h1>" in html
    assert "Fri 16 - Sun 18 July 2027" in html and "Riverside Park, 1 Festival Way" in html
    assert html.count('class="catalog_festival-about"') == 2
    assert 'src="/api/festival/banner?v=2"' in html
    assert "waiting room" not in html
    details["waiting_room"] = {"opens_at": "2027-03-01T09:00:00.000Z", "starts_at": "2027-03-01T10:00:00.000Z",
                               "ticket_ids": []}
    with _client(httpx.MockTransport(lambda r: httpx.Response(200, json=details))) as c:
        html = c.get("/catalog/fragments/v1/festival").text
    assert "This sale has a waiting room." in html and 'href="/cart/waiting-room"' in html


def test_an_unreachable_festival_leaves_its_section_empty():
    with _client() as c:
        html = c.get("/catalog/fragments/v1/festival").text
    assert 'data-fragment="mf-catalog:festival"' in html and "<h1" not in html


def test_a_ticket_shows_what_it_includes_and_when_it_is_on_sale():
    tickets = [{"id": "early", "name": "Early Bird", "price": "39.00", "price_cents": 3900, "stock": 5,
                "description": "All days.", "sale_starts_at": "2099-03-01T10:00Z", "sale_ends_at": None,
                "sale_state": "upcoming"},
               {"id": "late", "name": "Late", "price": "49.00", "price_cents": 4900, "stock": 5,
                "description": "", "sale_starts_at": None, "sale_ends_at": "2020-01-01T00:00Z", "sale_state": "ended"},
               {"id": "now", "name": "Now", "price": "59.00", "price_cents": 5900, "stock": 5,
                "description": "", "sale_starts_at": None, "sale_ends_at": "2099-01-01T00:00Z", "sale_state": "open"}]
    with _client(httpx.MockTransport(lambda r: httpx.Response(200, json=tickets))) as c:
        html = c.get("/catalog/fragments/v1/ticket-list").text
    assert "All days." in html
    assert 'data-sale-opens="2099-03-01T10:00Z"' in html and "01 Mar 2099, 10:00 UTC" in html
    assert "Not on sale yet</button>" in html and "Sales ended</button>" in html
    assert 'data-sale-ends="2099-01-01T00:00Z"' in html
    assert html.count("disabled") == 2  # the open one can be added


def test_an_open_catalog_follows_the_stock_live():
    """The live view end to end without a broker: an event handed to the app's subscription reaches an open
    page's stream."""
    from festflow_contracts import events
    from festflow_contracts.fixtures import sample
    offline = OfflineEvents()
    settings = Settings(jwt_public_key=generate_keypair()[1])
    with TestClient(create_app(settings, subscribe=offline)) as c:
        feed = c.app.state.parts.feeds["/catalog/sse/stock"]
        stream = feed.sse_events("stock")

        async def first_two():
            ready = await anext(stream)
            await offline.deliver(ORDER_EVENTS_TOPIC,
                                  sample(events.ORDER_CONFIRMED, stock=[{"ticket_id": "vip", "stock": 3}]))
            return ready, await anext(stream)
        ready, update = c.portal.call(first_two)
    assert ready["event"] == "ready"
    assert update == {"event": "stock", "data": '{"tickets": [{"ticket_id": "vip", "stock": 3}]}'}
