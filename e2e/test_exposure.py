"""What the stack shows of itself to a stranger: no internal documents or server names, bounded messages
and bodies, the Erlang ports on loopback only, and HSTS with Secure cookies when the public side is HTTPS."""
import asyncio
import socket
import time

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from e2e_helpers import open_socket, run_async

pytestmark = pytest.mark.stack
INTERNAL = ("inventory", "email", "notify", "ticketing", "shell", "catalog", "cart", "admin", "gate", "mail_http")


@pytest.mark.parametrize("port_name", INTERNAL)
def test_internal_apps_serve_no_documents_of_their_routes_and_name_no_server(profile, port_name):
    for path in ("/openapi.json", "/docs", "/redoc"):
        assert httpx.get(profile.url(port_name, path), timeout=5).status_code == 404, (port_name, path)
    health = httpx.get(profile.url(port_name, "/healthz"), timeout=5)
    assert "server" not in health.headers, (port_name, health.headers.get("server"))


def test_the_order_api_names_no_server_and_the_gateway_no_version(profile, api):
    assert "server" not in httpx.get(profile.url("order", "/healthz"), timeout=5).headers
    assert api.get("/api/tickets").headers["server"] == "nginx"


def test_a_message_over_the_hubs_limit_closes_the_socket(gateway, guest_token):
    async def send_big():
        async with open_socket(gateway, "/ws/notifications", guest_token, max_size=None) as ws:
            assert "hello" in await asyncio.wait_for(ws.recv(), 5)
            await ws.send("x" * (10 * 1024 * 1024))
            await asyncio.wait_for(ws.recv(), 10)
            await asyncio.wait_for(ws.recv(), 10)

    started = time.monotonic()
    with pytest.raises(ConnectionClosed) as closed:  # (a socket that took it would time out waiting instead)
        run_async(send_big())
    # "message too big", or cut off mid-message without a closing frame
    assert closed.value.rcvd is None or closed.value.rcvd.code == 1009, closed.value
    assert time.monotonic() - started < 10


def test_a_request_whose_body_never_comes_is_let_go(profile):
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", profile.ports["gateway"]), timeout=30) as conn:
        conn.sendall(b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{")
        answer = conn.recv(4096)  # the gateway answers 408 or closes once its body timeout passes
    assert time.monotonic() - started < 20 and (answer == b"" or b" 408 " in answer.split(b"\r\n")[0]), answer


def _listening(port: int) -> set[str]:
    """The local addresses (hex, as /proc/net/tcp writes them) that listen on `port`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in open(table).read().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


def test_the_erlang_port_mapper_and_rabbitmqs_distribution_port_listen_on_loopback_only(profile):
    for port in (4369, profile.ports["rabbit_dist"]):
        addresses = _listening(port)
        assert addresses and addresses <= {"0100007F", "00000000000000000000000001000000"}, (port, addresses)


def test_over_https_the_gateway_says_so_and_the_session_cookie_is_secure(gateway):
    behind_tls = {"X-Forwarded-Proto": "https"}  # as a TLS proxy on this host says
    guest = {"username": "guest", "password": "festflow"}
    with httpx.Client(base_url=gateway, timeout=10) as client:
        page = client.get("/login", headers=behind_tls)
        assert page.headers["strict-transport-security"] == "max-age=31536000"
        logged_in = client.post("/api/auth/login", headers=behind_tls, json=guest)
        assert "secure" in logged_in.headers["set-cookie"].lower()
        assert "strict-transport-security" not in client.get("/login").headers  # plain HTTP: no HSTS
    stranger = httpx.HTTPTransport(local_address="127.0.0.95")  # not the trusted proxy: its word counts for nothing
    with httpx.Client(base_url=gateway, timeout=10, transport=stranger) as client:
        assert "strict-transport-security" not in client.get("/login", headers=behind_tls).headers
        token = client.post("/api/auth/login", headers=behind_tls, json=guest)
        assert "secure" not in token.headers["set-cookie"].lower()
