"""The ticketing API as bootstrap.py wires it (on a test database; no broker started): a sale's tickets
reach their buyer and nobody else, and the gate admits a ticket once."""
import time
from contextlib import asynccontextmanager

import sqlalchemy as sa
from fastapi.testclient import TestClient
from jose import jwt

from festflow_contracts import events
from festflow_contracts.fixtures import sample
from festflow_contracts.tokens import AUDIENCE, ISSUER, generate_keypair
from ticketing_service import bootstrap, db
from ticketing_service.main import create_app
from ticketing_service.settings import Settings
from ticketing_service.signing import generate_key_pem

KEYS = generate_keypair()


def bearer(username, role="client"):
    claims = {"sub": username, "role": role, "email": f"{username}@x.org", "iss": ISSUER, "aud": AUDIENCE,
              "iat": int(time.time()), "exp": int(time.time()) + 60, "jti": username}
    return {"Authorization": f"Bearer {jwt.encode(claims, KEYS[0], algorithm='RS256')}"}


def test_a_buyer_sees_their_tickets_another_does_not_and_the_gate_admits_each_once(tmp_path):
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'ticketing.db'}", jwt_public_key=KEYS[1],
                        ticket_signing_key=generate_key_pem())
    services = bootstrap.build(settings)
    app = create_app(services=services)
    sale = sample(events.ORDER_CONFIRMED, order_id="0f0e0d0c-1111-2222-3333-444455556666", username="anna",
                  email="anna@x.org", items=[{"ticket_id": "vip", "name": "VIP", "quantity": 1, "unit_price_cents": 1}])

    @asynccontextmanager
    async def database_and_a_sale(_app):  # instead of bootstrap.running: the sale handed in, no Kafka
        await db.create_schema(services.engine)
        await bootstrap.on_order_events(services)([sale])
        async with services.engine.connect() as conn:
            codes.extend((await conn.scalars(sa.select(db.tickets.c.code))).all())
        yield
        await services.engine.dispose()
    codes: list[str] = []
    app.router.lifespan_context = database_and_a_sale
    with TestClient(app) as c:
        [code] = codes
        assert c.get(f"/api/tickets/{code}", headers=bearer("anna")).json()["qr"].startswith("FF1.")
        assert c.get(f"/api/tickets/{code}", headers=bearer("ben")).status_code == 404
        buyer_at_the_gate = c.post("/api/checkin/scan", json={"code": code, "gate": "North"}, headers=bearer("anna"))
        assert buyer_at_the_gate.status_code == 403
        first = c.post("/api/checkin/scan", json={"code": code, "gate": "North"}, headers=bearer("sam", "staff"))
        again = c.post("/api/checkin/scan", json={"code": code, "gate": "South"}, headers=bearer("sam", "staff"))
    assert first.status_code == 200 and first.json()["result"] == "admitted"
    assert again.status_code == 409 and again.json()["gate"] == "North"
