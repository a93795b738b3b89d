import json

import pytest

from festflow_contracts import command_bundle, events, messages
from festflow_contracts.messages import InvalidMessage, OrderItem, PlaceOrder


def place(order_id: str) -> str:
    command = PlaceOrder(order_id=order_id, username="guest", email="g@x",
                         items=(OrderItem(ticket_id="vip", quantity=2),))
    return events.encode(messages.envelope(command, "order-service", subject=order_id)).decode()


def test_a_bundle_is_an_envelope_whose_commands_are_the_outbox_texts_unchanged():
    payloads = [place("o1"), place("o2")]
    bundle = events.decode(command_bundle.pack(payloads, "order-service"))  # a valid envelope
    assert bundle["type"] == events.PLACE_ORDERS and bundle["source"] == "order-service"
    inside = command_bundle.commands(bundle)
    assert inside == [json.loads(p) for p in payloads]
    assert [messages.parse(c, PlaceOrder).order_id for c in inside] == ["o1", "o2"]


@pytest.mark.parametrize("data", [{}, {"commands": []}, {"commands": "o1"}])
def test_a_bundle_without_a_list_of_commands_is_invalid(data):
    with pytest.raises(InvalidMessage, match="data.commands"):
        command_bundle.commands({"type": events.PLACE_ORDERS, "data": data})
