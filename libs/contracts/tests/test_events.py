import pytest

from festflow_contracts import events


def test_envelope_round_trip():
    event = events.new_event(events.ORDER_CONFIRMED, "/test", {"order_id": "o1"}, subject="o1")
    decoded = events.decode(events.encode(event))
    assert decoded == event
    assert decoded["specversion"] == "1.0" and decoded["type"] == "festflow.order.confirmed.v2"
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


def test_no_producer_sends_a_renamed_type_and_every_consumer_reads_it_as_its_new_one():
    from festflow_contracts import fixtures, messages
    for model in messages.BY_TYPE.values():
        assert model.TYPE not in events.LEGACY_TYPES, model  # what producers build carries the new name
    assert events.LEGACY_TYPES == {"festflow.ticket.sold.v1": "festflow.order.confirmed.v2",
                                   "festflow.ticket.changed.v1": "festflow.ticket-type.changed.v2"}
    for old, new in events.LEGACY_TYPES.items():
        # a record written before the rename, still on the topic, parses as the model of the new type
        legacy, current = fixtures.sample(old), fixtures.sample(new)
        assert legacy["type"] == old and current["type"] == new
        assert type(messages.parse_any(legacy)) is type(messages.parse_any(current)) is messages.BY_TYPE[new]
        assert fixtures.shape(legacy["data"]) == fixtures.shape(current["data"])  # the same fields
        with pytest.raises(messages.InvalidMessage):
            messages.parse({**current, "type": "festflow.something.else.v1"}, messages.BY_TYPE[new])


def test_a_status_a_message_carries_is_one_of_its_enum_or_the_message_is_refused():
    from festflow_contracts import fixtures, messages
    changed = fixtures.sample(events.TICKET_TYPE_CHANGED, change="retired")
    assert messages.parse_any(changed).change is messages.TicketTypeChange.RETIRED
    with pytest.raises(messages.InvalidMessage, match="change"):
        messages.parse_any(fixtures.sample(events.TICKET_TYPE_CHANGED, change="exploded"))
    with pytest.raises(messages.InvalidMessage, match="change"):
        messages.parse_any(fixtures.sample(events.TICKET_UPDATED, change="teleported"))
