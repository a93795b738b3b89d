"""The runtime helpers: forged-request rule and always-encodable validation errors."""
import pytest
from fastapi import FastAPI, WebSocket
from fastapi.testclient import TestClient
from pydantic import BaseModel, StrictInt

from festflow_runtime.http_errors import install_error_handlers
from festflow_runtime.same_origin import SameOriginMiddleware, forged_reason

HOST = {"host": "shop.example:3000"}


@pytest.mark.parametrize("headers,refused", [
    ({}, False),  # a script, not a browser
    ({"sec-fetch-site": "same-origin", "origin": "http://shop.example:3000"}, False),
    ({"sec-fetch-site": "none"}, False),
    ({"sec-fetch-site": "same-site", "origin": "http://shop.example:4000"}, True),  # another port
    ({"sec-fetch-site": "cross-site"}, True),
    ({"origin": "http://evil.example"}, True),  # a browser without Fetch Metadata
    ({"origin": "null"}, True),
    ({"origin": "http://shop.example:3000"}, False),
])
def test_writes_from_another_origin_are_refused(headers, refused):
    assert (forged_reason("POST", {**HOST, **headers}) is not None) is refused


def test_reads_and_bearer_requests_pass_but_websockets_are_checked():
    evil = {**HOST, "sec-fetch-site": "cross-site", "origin": "http://evil.example"}
    assert forged_reason("GET", evil) is None
    assert forged_reason("POST", {**evil, "authorization": "Bearer x"}) is None
    assert "cross-origin" in forged_reason("GET", evil, stream=True)


def test_the_middleware_answers_403_with_a_reason_and_closes_forged_websockets():
    app = FastAPI()
    app.add_middleware(SameOriginMiddleware)

    @app.post("/change")
    async def change():
        return {"changed": True}

    @app.websocket("/ws")
    async def ws(socket: WebSocket):
        await socket.accept()
        await socket.send_text("hello")
        await socket.close()

    client = TestClient(app)
    assert client.post("/change").json() == {"changed": True}
    resp = client.post("/change", headers={"Origin": "http://evil.example"})
    assert resp.status_code == 403 and "cross-origin" in resp.json()["detail"]
    with client.websocket_connect("/ws") as socket:
        assert socket.receive_text() == "hello"
    from starlette.websockets import WebSocketDisconnect
    with pytest.raises(WebSocketDisconnect) as closed:
        with client.websocket_connect("/ws", headers={"Origin": "http://evil.example"}) as socket:
            socket.receive_text()
    assert closed.value.code == 4403


def test_validation_errors_with_unencodable_input_are_still_422():
    app = FastAPI()
    install_error_handlers(app)

    class Body(BaseModel):
        quantity: StrictInt
        name: str

    @app.post("/x")
    async def x(body: Body):
        return {}

    client = TestClient(app)
    resp = client.post("/x", content=b'{"quantity": NaN, "name": "\\ud800"}',
                       headers={"content-type": "application/json"})
    assert resp.status_code == 422 and resp.json()["detail"][0]["loc"] == ["body", "quantity"]


def test_broker_client_logs_are_let_through_once_a_minute_with_a_count():
    import logging

    from festflow_runtime.broker_logs import RepeatLimit

    now = [0.0]
    limit = RepeatLimit(window=60, clock=lambda: now[0])

    def record(name, msg):
        return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, (), None)

    first = record("aiokafka.conn", "Unable connect to node with id %s")
    assert limit.filter(first)
    assert not any(limit.filter(record("aiokafka.conn", "Unable connect to node with id %s")) for _ in range(999))
    assert limit.filter(record("order_service", "an app's own line"))  # never limited
    now[0] = 61
    later = record("aiokafka.conn", "Unable connect to node with id %s")
    assert limit.filter(later) and "999 more like it" in later.msg


def test_the_client_address_is_believed_only_from_a_trusted_proxy():
    import pytest

    from festflow_runtime.client_address import client_address, trusted_networks
    trusted = trusted_networks("127.0.0.0/8, ::1, 10.0.0.0/8")
    assert client_address("127.0.0.1", "203.0.113.7", trusted) == "203.0.113.7"  # the gateway says who
    assert client_address("10.1.2.3", " 2001:db8::1 ", trusted) == "2001:db8::1"
    assert client_address("198.51.100.9", "203.0.113.7", trusted) == "198.51.100.9"  # anyone else: the peer
    assert client_address("127.0.0.1", "not an address", trusted) == "127.0.0.1"
    assert client_address("127.0.0.1", None, trusted) == "127.0.0.1"
    assert client_address(None, "203.0.113.7", trusted) == ""
    with pytest.raises(ValueError, match="'nonsense'"):
        trusted_networks("127.0.0.1,nonsense")
