"""The command queue as both sides declare it: a quorum queue with a delivery limit, and its dead letters in
a quorum queue too, so that on a cluster losing one node loses neither queue nor their declaration."""
from festflow_contracts.amqp import DELIVERY_LIMIT, declare_order_commands
from festflow_contracts.channels import ORDER_COMMANDS_DLQ, ORDER_COMMANDS_QUEUE


class RecordingChannel:
    def __init__(self):
        self.declared: list[tuple[str, bool, dict]] = []

    async def declare_queue(self, name, durable=False, arguments=None):
        self.declared.append((name, durable, dict(arguments or {})))
        return name


async def test_the_command_queue_and_its_dead_letters_are_durable_quorum_queues():
    channel = RecordingChannel()
    assert await declare_order_commands(channel) == ORDER_COMMANDS_QUEUE
    declared = {name: (durable, args) for name, durable, args in channel.declared}
    assert set(declared) == {ORDER_COMMANDS_QUEUE, ORDER_COMMANDS_DLQ}
    for durable, args in declared.values():
        assert durable and args["x-queue-type"] == "quorum"
    command_args = declared[ORDER_COMMANDS_QUEUE][1]
    assert command_args["x-delivery-limit"] == DELIVERY_LIMIT
    assert command_args["x-dead-letter-routing-key"] == ORDER_COMMANDS_DLQ
    assert [name for name, _, _ in channel.declared] == [ORDER_COMMANDS_DLQ, ORDER_COMMANDS_QUEUE]
