"""The payment API as bootstrap.py wires it (on a test database, no broker): only an organiser imports a
statement; its answer says what happened; a file that is no statement is a 422 with the reason."""
import time
from contextlib import asynccontextmanager

from fastapi.testclient import TestClient
from jose import jwt

from festflow_contracts.tokens import AUDIENCE, ISSUER, generate_keypair
from payment_service import bank_transfers, bootstrap, db
from payment_service.main import create_app
from payment_service.settings import Settings

from .conftest import ANNA, statement

KEYS = generate_keypair()


def bearer(role):
    now = int(time.time())
    claims = {"sub": role, "role": role, "email": f"{role}@x.org", "iss": ISSUER, "aud": AUDIENCE, "iat": now,
              "exp": now + 60, "jti": role}
    return {"Authorization": f"Bearer {jwt.encode(claims, KEYS[0], algorithm='RS256')}"}


def test_an_organiser_imports_a_statement_and_sees_what_needs_a_person(tmp_path):
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'payments.db'}", jwt_public_key=KEYS[1],
                        max_statement_bytes=64 * 1024)
    services = bootstrap.build(settings)
    app = create_app(services=services)

    @asynccontextmanager
    async def database_and_an_order(_app):  # instead of bootstrap.running: no Kafka
        await db.create_schema(services.engine)
        await bank_transfers.expect_payment(services.engine, ANNA, 17800, "EUR", "2026-12-12T23:59:59Z")
        yield
        await services.engine.dispose()
    app.router.lifespan_context = database_and_an_order
    camt = {"file": ("statement.xml", statement("camt053.xml"), "application/xml")}
    with TestClient(app) as c:
        assert c.post("/api/admin/payments/bank-statements", files=camt).status_code == 401
        assert c.post("/api/admin/payments/bank-statements", files=camt, headers=bearer("client")).status_code == 403
        done = c.post("/api/admin/payments/bank-statements", files=camt, headers=bearer("admin"))
        assert done.status_code == 200
        assert done.json() == {"format": "camt.053", "matched": 1, "unmatched": 2, "duplicates": 0, "review": 0,
                               "paid_orders": [ANNA]}
        review = c.get("/api/admin/payments/review", headers=bearer("admin")).json()
        assert sorted(line["amount_cents"] for line in review) == [5000, 8900]  # Ben's order is awaited nowhere
        bad = c.post("/api/admin/payments/bank-statements", headers=bearer("admin"),
                     files={"file": ("notes.txt", b"buy milk", "text/plain")})
        assert bad.status_code == 422 and "notes.txt: this is no bank statement" in bad.json()["detail"]
        big = c.post("/api/admin/payments/bank-statements", headers=bearer("admin"),
                     files={"file": ("big.csv", b"x" * (64 * 1024 + 1), "text/csv")})
        assert big.status_code == 413


def test_stripe_webhooks_are_refused_while_stripe_is_off_and_verified_when_on(tmp_path):
    from .stripe_signing import signature, stripe_event
    for secret in ("", "whsec_api_test"):
        settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / f'p{len(secret)}.db'}",
                            jwt_public_key=KEYS[1], stripe_webhook_secret=secret)
        services = bootstrap.build(settings)
        app = create_app(services=services)

        @asynccontextmanager
        async def database_only(_app, services=services):
            await db.create_schema(services.engine)
            yield
            await services.engine.dispose()
        app.router.lifespan_context = database_only
        event = stripe_event(event_id="evt_api")
        with TestClient(app) as c:
            signed = c.post("/api/payments/stripe/webhook", content=event,
                            headers={"Stripe-Signature": signature(event, secret or "x")})
            forged = c.post("/api/payments/stripe/webhook", content=event,
                            headers={"Stripe-Signature": signature(event, "whsec_forger")})
            again = c.post("/api/payments/stripe/webhook", content=event,
                           headers={"Stripe-Signature": signature(event, secret or "x")})
        if not secret:
            assert signed.status_code == forged.status_code == 404 and "not enabled" in signed.json()["detail"]
            continue
        assert signed.status_code == 200 and signed.json() == {"received": "evt_api", "type":
                                                               "payment_intent.amount_capturable_updated",
                                                               "duplicate": False}
        assert forged.status_code == 400 and "signature" in forged.json()["detail"]
        assert again.status_code == 200 and again.json()["duplicate"] is True


class StripeAway:
    async def prepare(self, order_id, amount_cents, currency, reference):
        import stripe
        raise stripe.APIConnectionError("Stripe cannot be reached")


def test_a_buyer_pays_only_their_own_order_by_card_and_stripe_away_is_a_503_not_a_500(tmp_path):
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'payments.db'}", jwt_public_key=KEYS[1])
    off = create_app(services=bootstrap.build(settings))
    with TestClient(off) as c:  # no STRIPE_SECRET_KEY: no card payments
        assert c.post(f"/api/payments/orders/{ANNA}/card", headers=bearer("client")).status_code == 404
    services = bootstrap.build(settings, cards=StripeAway())
    app = create_app(services=services)

    @asynccontextmanager
    async def database_and_an_order(_app):
        await db.create_schema(services.engine)
        await bank_transfers.expect_payments(services.engine, [bank_transfers.Awaited(
            ANNA, 17800, "EUR", "2099-12-12T23:59:59Z", "client")])
        yield
        await services.engine.dispose()
    app.router.lifespan_context = database_and_an_order
    with TestClient(app) as c:
        assert c.post(f"/api/payments/orders/{ANNA}/card").status_code == 401
        assert c.post(f"/api/payments/orders/{ANNA}/card", headers=bearer("admin")).status_code == 404  # not theirs
        away = c.post(f"/api/payments/orders/{ANNA}/card", headers=bearer("client"))
        assert away.status_code == 503 and "bank transfer" in away.json()["detail"]
