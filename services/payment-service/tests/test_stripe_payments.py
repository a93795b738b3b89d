"""Card payments against Stripe's own test server, stripe-mock (built by scripts/install.sh with go install):
an intent with manual capture, captured, cancelled and refunded, each call with its idempotency key.
stripe-mock checks every request against Stripe's API specification (a parameter Stripe does not take is a
400) and answers with Stripe's own shapes, but keeps no state: these tests check what FestFlow asks of
Stripe and reads back, not Stripe's bookkeeping."""
import socket
import subprocess
import time
from pathlib import Path

import pytest

from payment_service.stripe_payments import Intent, StripePayments

pytestmark = pytest.mark.stack  # a real server, started here (not by `make unit`)
STRIPE_MOCK = Path(__file__).resolve().parents[3] / ".cache" / "go-bin" / "stripe-mock"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def stripe_mock():
    assert STRIPE_MOCK.is_file(), "stripe-mock is missing: run scripts/install.sh (make test does)"
    port = _free_port()
    process = subprocess.Popen([str(STRIPE_MOCK), "-http-addr", f"127.0.0.1:{port}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        raise AssertionError("stripe-mock did not start")
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


async def test_an_intent_is_made_for_manual_capture_then_captured_cancelled_or_refunded(stripe_mock):
    stripe = StripePayments("sk_test_festflow", api_base=stripe_mock, max_network_retries=0)
    intent = await stripe.prepare("0f0e0d0c-1111-2222-3333-444455556666", 17800, "EUR", "RF221W70T30H24H2")
    assert isinstance(intent, Intent) and intent.id.startswith("pi_")
    assert intent.amount_cents == 17800 and intent.currency == "EUR"  # stripe-mock echoes what was asked
    captured = await stripe.capture(intent.id, "0f0e0d0c-1111-2222-3333-444455556666")
    assert captured.id == intent.id
    assert (await stripe.cancel(intent.id, "0f0e0d0c-1111-2222-3333-444455556666")).id == intent.id
    refund = await stripe.refund(intent.id, "0f0e0d0c-1111-2222-3333-444455556666", amount_cents=8900, step="t1")
    assert refund.startswith("re_")


async def test_a_parameter_stripe_does_not_take_is_refused_by_stripes_own_server(stripe_mock):
    import stripe as stripe_library
    stripe = StripePayments("sk_test_festflow", api_base=stripe_mock, max_network_retries=0)
    with pytest.raises(stripe_library.InvalidRequestError):
        await stripe.client.v1.payment_intents.create_async({"amount": 100, "currency": "eur",
                                                             "capture_method": "later"})


async def test_each_call_carries_an_idempotency_key_of_the_order_and_its_step(stripe_mock, monkeypatch):
    """What a retry relies on: the same order and step, the same key (Stripe answers a repeated key with the
    first answer); another step, another key."""
    stripe = StripePayments("sk_test_festflow", api_base=stripe_mock, max_network_retries=0)
    sent = []
    requestor = stripe.client._requestor
    original = requestor.request_async

    async def recording(method, url, params=None, options=None, **kwargs):
        sent.append((method, url.split("?")[0], (options or {}).get("idempotency_key")))
        return await original(method, url, params=params, options=options, **kwargs)
    monkeypatch.setattr(requestor, "request_async", recording)
    order = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
    intent = await stripe.prepare(order, 8900, "EUR", "RF00TEST")
    await stripe.prepare(order, 8900, "EUR", "RF00TEST")  # a retry
    await stripe.capture(intent.id, order)
    await stripe.refund(intent.id, order, 100, step="ticket-1")
    await stripe.refund(intent.id, order, 100, step="ticket-2")
    keys = [key for _, _, key in sent]
    assert keys == [f"festflow-{order}-prepare", f"festflow-{order}-prepare", f"festflow-{order}-capture",
                    f"festflow-{order}-refund-ticket-1", f"festflow-{order}-refund-ticket-2"]
