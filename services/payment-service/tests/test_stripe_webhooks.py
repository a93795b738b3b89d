"""Stripe's webhooks (real SQLite and PostgreSQL): a signed event is kept once by its id, whatever order and
however often it comes; a forged, altered or stale one is refused and leaves nothing."""
import time

import pytest

from payment_service.stripe_webhooks import BadWebhook, inbox, receive

from .stripe_signing import signature, stripe_event

SECRET = "whsec_festflow_test"


async def test_a_signed_event_is_kept_once_however_often_and_in_whatever_order_it_comes(engine):
    first = stripe_event(created=1_800_000_000, event_id="evt_first")
    second = stripe_event("payment_intent.succeeded", created=1_800_000_005, event_id="evt_second")
    assert not (await receive(engine, second, signature(second, SECRET), SECRET)).duplicate  # the later one first
    for _ in range(3):
        await receive(engine, first, signature(first, SECRET), SECRET)
    kept = await inbox(engine)
    assert [(e["event_id"], e["type"], e["times_received"]) for e in kept] == [
        ("evt_first", "payment_intent.amount_capturable_updated", 3), ("evt_second", "payment_intent.succeeded", 1)]


@pytest.mark.parametrize("forgery", ["another secret", "altered body", "no signature", "stale", "not json"])
async def test_a_forged_altered_or_stale_event_is_refused_and_leaves_nothing(engine, forgery):
    payload = stripe_event()
    header = signature(payload, SECRET)
    if forgery == "another secret":
        header = signature(payload, "whsec_someone_else")
    elif forgery == "altered body":
        payload = payload.replace(b'"livemode": false', b'"livemode": true')
    elif forgery == "no signature":
        header = None
    elif forgery == "stale":  # a replay of an event signed ten minutes ago
        header = signature(payload, SECRET, at=int(time.time()) - 600)
    else:
        payload = b"{nope"
        header = signature(payload, SECRET)
    with pytest.raises(BadWebhook):
        await receive(engine, payload, header, SECRET, tolerance=300)
    assert await inbox(engine) == []
