"""How the apps talk to clustered brokers and a database that can lose its primary: every RabbitMQ node
tried in turn, topics kept in three copies where there are three brokers, and a lost database answered 503."""
import random

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from yarl import URL

from festflow_runtime import amqp_nodes
from festflow_runtime.http_errors import install_error_handlers
from festflow_runtime.topics import copies_for

NODES = "amqp://u:secret@127.0.0.1:5672/, amqp://u:secret@127.0.0.1:5682/,amqp://u:secret@127.0.0.1:5692/"


def test_amqp_url_lists_every_node_and_an_empty_one_is_refused():
    assert amqp_nodes.node_urls(NODES) == ["amqp://u:secret@127.0.0.1:5672/", "amqp://u:secret@127.0.0.1:5682/",
                                           "amqp://u:secret@127.0.0.1:5692/"]
    assert amqp_nodes.node_urls("amqp://guest:guest@h:5672/") == ["amqp://guest:guest@h:5672/"]
    with pytest.raises(ValueError, match="no RabbitMQ node"):
        amqp_nodes.node_urls(" , ")


async def test_each_connection_attempt_goes_to_the_next_node_and_the_password_is_never_shown():
    nodes = [URL(u) for u in amqp_nodes.node_urls(NODES)]
    connection = amqp_nodes.NodesConnection(nodes, first=1)
    tried = [connection.url.port for _ in range(4)]  # what aio-pika's connect reads, once an attempt
    assert tried == [5682, 5692, 5672, 5682]
    assert connection.current.port == 5682
    assert "secret" not in str(connection) and "5692" in str(connection)


async def test_connecting_tries_every_node_from_a_random_one_and_raises_when_none_answers(monkeypatch):
    tried: list[int] = []

    async def refuse(self, timeout=None):
        tried.append(self.url.port)
        raise ConnectionRefusedError("nobody there")

    monkeypatch.setattr(amqp_nodes.NodesConnection, "connect", refuse)
    with pytest.raises(ConnectionRefusedError):
        await amqp_nodes.connect(NODES, rng=random.Random(3))
    assert sorted(tried) == [5672, 5682, 5692]  # each node once
    first = random.Random(3).randrange(3)
    assert tried[0] == [5672, 5682, 5692][first]


async def test_a_node_that_answers_ends_the_search(monkeypatch):
    tried: list[int] = []

    async def second_answers(self, timeout=None):
        port = self.url.port
        tried.append(port)
        if port == 5672:
            raise ConnectionRefusedError("down")

    monkeypatch.setattr(amqp_nodes.NodesConnection, "connect", second_answers)
    rng = random.Random()
    rng.randrange = lambda n: 0  # type: ignore[method-assign]  # start at the first node, which is down
    connection = await amqp_nodes.connect(NODES, rng=rng)
    assert tried == [5672, 5682] and isinstance(connection, amqp_nodes.NodesConnection)


@pytest.mark.parametrize("brokers,copies,settings", [
    (1, 1, {}), (2, 2, {}), (3, 3, {"min.insync.replicas": "2"}), (5, 3, {"min.insync.replicas": "2"}),
    (0, 1, {})])
def test_topics_keep_three_copies_and_take_a_write_once_two_have_it_where_there_are_three_brokers(
        brokers, copies, settings):
    assert copies_for(brokers) == (copies, settings)


def _app(error: Exception) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/orders")
    async def place():
        raise error

    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize("error", [
    sa.exc.OperationalError("INSERT", {}, ConnectionResetError("primary gone")),
    sa.exc.InterfaceError("SELECT", {}, Exception("connection is closed")),
    sa.exc.DBAPIError("COMMIT", {}, Exception("lost"), connection_invalidated=True),
    ConnectionRefusedError("no server takes writes yet"),
])
def test_a_database_that_cannot_be_reached_is_answered_503_with_retry_after(error):
    resp = _app(error).post("/orders")
    assert resp.status_code == 503 and resp.headers["retry-after"] == "2"
    assert "not reachable" in resp.json()["detail"]


def test_a_refused_statement_is_no_lost_database():
    resp = _app(sa.exc.IntegrityError("INSERT", {}, Exception("duplicate key"))).post("/orders")
    assert resp.status_code == 500
