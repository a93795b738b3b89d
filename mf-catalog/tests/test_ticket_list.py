import httpx
from fastapi.testclient import TestClient

from festflow_contracts.tokens import generate_keypair
from mf_catalog.main import create_app
from mf_catalog.settings import Settings


def _client(transport: httpx.AsyncBaseTransport | None = None) -> TestClient:
    # without a transport the order API's address is a closed port
    settings = Settings(jwt_public_key=generate_keypair()[1], order_api_url="http://127.0.0.1:9",
                        kafka_bootstrap_servers="127.0.0.1:9")
    return TestClient(create_app(settings, order_api_transport=transport))


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
    sold = sample(events.TICKET_SOLD, stock=[{"ticket_id": "vip", "stock": 3}])  # the inventory's own sample
    assert stock_update(sold) == {"tickets": [{"ticket_id": "vip", "stock": 3}]}
    changed = stock_update(sample(events.TICKET_CHANGED, id="vip", stock=9, price="12.00", active=False))
    assert changed == {"tickets": [{"ticket_id": "vip", "stock": 9, "price": "12.00", "active": False}],
                       "reload": True}
    assert stock_update(sample(events.ORDER_REJECTED)) is None
