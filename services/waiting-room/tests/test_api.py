"""The waiting room's API as bootstrap.py wires it (a test database, no broker): anyone sees the room and its
commitment, only an account joins, only an organiser sets it up, and a refusal says why."""
import time
from contextlib import asynccontextmanager

from fastapi.testclient import TestClient
from jose import jwt

from festflow_contracts.tokens import AUDIENCE, ISSUER, generate_keypair
from waiting_room import bootstrap, db
from waiting_room.accounts import AccountsUnavailable
from waiting_room.main import create_app
from waiting_room.settings import Settings

KEYS = generate_keypair()


def bearer(name, role="client"):
    now = int(time.time())
    claims = {"sub": name, "role": role, "email": f"{name}@x.org", "iss": ISSUER, "aud": AUDIENCE, "iat": now,
              "exp": now + 60, "jti": name}
    return {"Authorization": f"Bearer {jwt.encode(claims, KEYS[0], algorithm='RS256')}"}


class FakeAccounts:
    """The order service's accounts: nina has not confirmed her address; while `down`, nobody can be asked."""

    def __init__(self):
        self.down = False

    async def verified(self, authorization):
        if self.down:
            raise AccountsUnavailable("the accounts cannot be asked right now")
        return jwt.get_unverified_claims(authorization.removeprefix("Bearer "))["sub"] != "nina"


def test_the_room_through_its_api(tmp_path):
    accounts = FakeAccounts()
    services = bootstrap.build(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'room.db'}",
                                        jwt_public_key=KEYS[1]), accounts=accounts)
    app = create_app(services=services)

    @asynccontextmanager
    async def database(_app):  # instead of bootstrap.running: no Kafka, no admission loop
        await db.create_schema(services.engine)
        yield
        await services.engine.dispose()
    app.router.lifespan_context = database
    now = time.time()
    setup = {"enabled": True, "opens_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 60)),
             "starts_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 3600))}
    with TestClient(app) as c:
        assert c.get("/api/waiting-room").json() == {"enabled": False}
        assert c.post("/api/waiting-room/join", headers=bearer("anna")).status_code == 404
        assert c.put("/api/admin/waiting-room", json=setup, headers=bearer("anna")).status_code == 403
        assert c.put("/api/admin/waiting-room", json=setup).status_code == 401
        bad = c.put("/api/admin/waiting-room", json={**setup, "starts_at": "tomorrow"}, headers=bearer("boss", "admin"))
        assert bad.status_code == 422 and "starts_at" in bad.text
        made = c.put("/api/admin/waiting-room", json=setup, headers=bearer("boss", "admin")).json()
        assert made["enabled"] and made["seed"] is None and len(made["commitment"]) == 64
        assert c.post("/api/waiting-room/join").status_code == 401
        joined = c.post("/api/waiting-room/join", headers=bearer("anna"))
        assert joined.status_code == 200 and joined.json()["state"] == "before_start" and joined.json()["pass"] is None
        assert c.get("/api/waiting-room/me", headers=bearer("ben")).json()["state"] == "not_joined"
        unverified = c.post("/api/waiting-room/join", headers=bearer("nina"))
        assert unverified.status_code == 403 and "confirm your email" in unverified.json()["detail"]
        assert c.get("/api/admin/waiting-room/report", headers=bearer("boss", "admin")).json()[
            "refused_unverified"] == 1
        accounts.down = True
        unknown = c.post("/api/waiting-room/join", headers=bearer("ben"))
        assert unknown.status_code == 503 and unknown.headers["retry-after"] == "2"
        assert c.get("/api/waiting-room/draw").status_code == 404
        assert c.get("/api/waiting-room").json()["commitment"] == made["commitment"]


async def test_a_verified_account_is_asked_about_once():
    import httpx

    from waiting_room.accounts import OrderServiceAccounts
    asked = []

    def order_service(request):
        asked.append(request.headers["authorization"])
        return httpx.Response(200, json={"email_verified": request.headers["authorization"] == "Bearer ok"})
    async with httpx.AsyncClient(transport=httpx.MockTransport(order_service), base_url="http://orders") as client:
        accounts = OrderServiceAccounts(client)
        assert await accounts.verified("Bearer ok") and await accounts.verified("Bearer ok")
        assert not await accounts.verified("Bearer new") and not await accounts.verified("Bearer new")
    assert asked == ["Bearer ok", "Bearer new", "Bearer new"]  # not yet verified: asked again each time
