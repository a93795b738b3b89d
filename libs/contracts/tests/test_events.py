import pytest

from festflow_contracts import events


def test_envelope_round_trip():
    event = events.new_event(events.TICKET_SOLD, "/test", {"order_id": "o1"}, subject="o1")
    decoded = events.decode(events.encode(event))
    assert decoded == event
    assert decoded["specversion"] == "1.0" and decoded["type"] == "festflow.ticket.sold.v1"
    assert decoded["time"].endswith("Z")


def test_event_ids_are_unique():
    assert events.new_event("t", "/s", {})["id"] != events.new_event("t", "/s", {})["id"]


@pytest.mark.parametrize("raw,why", [
    (b"not json", "not JSON"),
    (b"[1]", "not an object"),
    (b'{"id":"1"}', "lacks"),
    (b'{"id":"1","source":"s","type":"t","specversion":"0.3","time":"x","data":{}}', "specversion"),
    (b'{"id":"1","source":"s","type":"t","specversion":"1.0","time":"x","data":[]}', "data"),
])
def test_invalid_envelopes_are_refused(raw, why):
    with pytest.raises(events.InvalidEvent, match=why):
        events.decode(raw)
