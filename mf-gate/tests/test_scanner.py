"""mf-gate at unit level: who gets the scanner, and what it is made of."""
import time

import pytest
from fastapi.testclient import TestClient
from jose import jwt

from festflow_contracts.tokens import AUDIENCE, ISSUER, generate_keypair
from festflow_runtime.fragment_app import OfflineEvents
from mf_gate.main import create_app
from mf_gate.settings import Settings


@pytest.fixture(scope="module")
def keys():
    return generate_keypair()


@pytest.fixture
def client(keys):
    app = create_app(Settings(jwt_public_key=keys[1]), subscribe=OfflineEvents())  # no Kafka consumer
    with TestClient(app) as c:
        yield c


def _cookie(keys, role):
    token = jwt.encode({"sub": f"a-{role}", "role": role, "iss": ISSUER, "aud": AUDIENCE,
                        "exp": int(time.time()) + 60}, keys[0], algorithm="RS256")
    return {"Cookie": f"festflow_token={token}"}


@pytest.mark.parametrize("role", ["staff", "admin"])
def test_gate_staff_and_organisers_get_the_scanner(client, keys, role):
    resp = client.get("/gate/fragments/v1/scanner?gate=North%20<1>", headers=_cookie(keys, role))
    assert resp.status_code == 200
    html = resp.text
    assert 'data-fragment="mf-gate:scanner"' in html and 'id="gate-video"' in html and 'id="gate-code"' in html
    assert "North &lt;1&gt;" in html  # the gate's name, escaped


def test_buyers_and_visitors_do_not(client, keys):
    buyer = client.get("/gate/fragments/v1/scanner", headers=_cookie(keys, "client"))
    assert buyer.status_code == 403 and "Only gate staff" in buyer.text and "gate-video" not in buyer.text
    visitor = client.get("/gate/fragments/v1/scanner")
    assert visitor.status_code == 401 and "/login?next=/gate" in visitor.text


def test_the_qr_decoder_is_served_with_its_licence(client):
    decoder = client.get("/gate/static/vendor/jsqr-1.4.0/jsQR.js")
    assert decoder.status_code == 200 and 'exports["jsQR"]' in decoder.text[:1000]
    assert "Apache License" in client.get("/gate/static/vendor/jsqr-1.4.0/LICENSE").text
