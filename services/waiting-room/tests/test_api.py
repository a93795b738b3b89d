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


def bearer(name, role="client", **more):
    now = int(time.time())
    claims = {"sub": name, "role": role, "email": f"{name}@x.org", "iss": ISSUER, "aud": AUDIENCE, "iat": now,
              "exp": now + 60, "jti": name, **more}
    return {"Authorization": f"Bearer {jwt.encode(claims, KEYS[0], algorithm='RS256')}"}


class FakeAccounts:
    """The order service's accounts: nina has not confirmed her address; while `down`, nobody can be asked."""

    def __init__(self):
        self.down = False
        self.asked = 0

    async def verified(self, authorization):
        self.asked += 1
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
    setup = {"enabled": True, "prequeue_opens_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 60)),
             "sale_starts_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 3600))}
    with TestClient(app) as c:
        assert c.get("/api/queue").json() == {"enabled": False}
        assert c.get("/api/admin/waiting-room", headers=bearer("boss", "admin")).json() == {"enabled": False}
        assert c.get("/api/queue/fairness").status_code == 404
        assert c.post("/api/queue/join", headers=bearer("anna")).status_code == 404
        assert c.put("/api/admin/waiting-room", json=setup, headers=bearer("anna")).status_code == 403
        assert c.put("/api/admin/waiting-room", json=setup).status_code == 401
        bad = c.put("/api/admin/waiting-room", json={**setup, "sale_starts_at": "tomorrow"},
                    headers=bearer("boss", "admin"))
        assert bad.status_code == 422 and "sale_starts_at" in bad.text
        made = c.put("/api/admin/waiting-room", json=setup, headers=bearer("boss", "admin")).json()
        assert made["enabled"] and made["seed"] is None and len(made["commitment"]) == 64
        assert made["admit_per_minute"] is None and made["pass_minutes"] == 10  # automatic, the default pass
        assert c.get("/api/admin/waiting-room", headers=bearer("boss", "admin")).json() == made
        assert c.get("/api/admin/waiting-room", headers=bearer("anna")).status_code == 403
        assert c.post("/api/queue/join").status_code == 401
        joined = c.post("/api/queue/join", headers=bearer("anna"))
        assert joined.status_code == 200 and joined.json()["state"] == "prequeue" and joined.json()["pass"] is None
        assert {"position", "ahead", "eta_seconds"} <= set(joined.json()) and "set-cookie" not in joined.headers
        assert c.get("/api/queue/me", headers=bearer("ben")).json()["state"] == "not_joined"
        unverified = c.post("/api/queue/join", headers=bearer("nina"))
        assert unverified.status_code == 403 and "confirm your email" in unverified.json()["detail"]
        assert c.get("/api/admin/waiting-room/report", headers=bearer("boss", "admin")).json()[
            "refused_unverified"] == 1
        accounts.down = True
        unknown = c.post("/api/queue/join", headers=bearer("ben"))
        assert unknown.status_code == 503 and unknown.headers["retry-after"] == "2"
        asked = accounts.asked  # a token that says the address was confirmed joins without asking anyone
        said = c.post("/api/queue/join", headers=bearer("ben", email_verified=True))
        assert said.status_code == 200 and said.json()["state"] == "prequeue" and accounts.asked == asked
        assert c.get("/api/queue/fairness").json() == {  # before the start: the commitment alone, no seed
            "commitment": made["commitment"], "derivation": made["derivation"],
            "sale_starts_at": made["sale_starts_at"]}
        assert c.get("/api/queue").json()["commitment"] == made["commitment"]


def test_an_admitted_buyers_answer_carries_the_pass_and_sets_it_as_the_pages_cookie():
    from fastapi import Response

    from festflow_contracts import waiting_pass
    from waiting_room.api import _standing_answer
    from waiting_room.room import Standing
    expires = int(time.time()) + 600
    response = Response()
    answer = _standing_answer(Standing("admitted", "2027-03-01T10:00:00Z", 7, 0, 0, "signed.pass", expires),
                              response, cookie_secure=True)
    assert answer["pass"] == "signed.pass" and answer["position"] == 7 and "pass_token" not in answer
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{waiting_pass.COOKIE}=signed.pass;") and "HttpOnly" in cookie and "Secure" in cookie
    assert 595 <= int(cookie.split("Max-Age=")[1].split(";")[0]) <= 600
    waiting = Response()
    _standing_answer(Standing("waiting", "2027-03-01T10:00:00Z", 9, 2, 1), waiting, cookie_secure=False)
    assert "set-cookie" not in waiting.headers


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
