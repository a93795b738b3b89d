import httpx
import pytest
from fastapi.testclient import TestClient

from festflow_contracts.tokens import generate_keypair


@pytest.fixture
def client():
    mp = pytest.MonkeyPatch()
    mp.setenv("JWT_PUBLIC_KEY", generate_keypair()[1])
    mp.setenv("ORDER_API_URL", "http://127.0.0.1:9")
    from mf_catalog.main import app
    with TestClient(app) as c:
        yield c, app
    mp.undo()


def test_tickets_are_listed_with_price_stock_and_sold_out_state(client):
    c, app = client
    tickets = [{"id": "a", "name": "Day <Pass>", "price": "10.00", "price_cents": 1000, "stock": 3},
               {"id": "b", "name": "VIP", "price": "99.00", "price_cents": 9900, "stock": 0}]
    app.state.api = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200, json=tickets)),
                                      base_url="http://api")
    html = c.get("/catalog/fragments/v1/ticket-list").text
    assert 'data-fragment="mf-catalog:ticket-list"' in html
    assert "Day &lt;Pass&gt;" in html  # escaped
    assert 'data-role="stock">3<' in html and "Sold out" in html
    assert html.count("disabled") == 1


def test_api_down_shows_a_message_and_retries(client):
    c, _ = client  # ORDER_API_URL points at a closed port
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
