"""The order-command queue, declared identically by its producer and its consumer.

Durable, with a dead-letter queue for commands that can never succeed. Messages are persistent.
"""
from __future__ import annotations

from typing import Any

from festflow_contracts.channels import ORDER_COMMANDS_DLQ, ORDER_COMMANDS_QUEUE

ORDER_COMMANDS_ARGS = {
    "x-dead-letter-exchange": "",
    "x-dead-letter-routing-key": ORDER_COMMANDS_DLQ,
}


async def declare_order_commands(channel: Any):
    """Declares the dead-letter queue and the command queue on an aio-pika channel; returns the latter."""
    await channel.declare_queue(ORDER_COMMANDS_DLQ, durable=True)
    return await channel.declare_queue(ORDER_COMMANDS_QUEUE, durable=True, arguments=ORDER_COMMANDS_ARGS)
