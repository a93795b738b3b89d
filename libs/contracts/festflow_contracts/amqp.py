"""The order-command queue, declared identically by its producer and its consumer.

A durable quorum queue (on a cluster, a copy on every node: it outlives the loss of one), and so is its
dead-letter queue. A command that can never succeed is dead-lettered at once by its consumer; one
that keeps failing (a poison message) is dead-lettered by RabbitMQ after DELIVERY_LIMIT deliveries,
so nothing loops forever. Dead-lettering is at-least-once: nothing is dropped on the way.
Messages are persistent.
"""
from __future__ import annotations

from typing import Any

from festflow_contracts.channels import ORDER_COMMANDS_DLQ, ORDER_COMMANDS_QUEUE

DELIVERY_LIMIT = 5

ORDER_COMMANDS_ARGS = {
    "x-queue-type": "quorum",
    "x-delivery-limit": DELIVERY_LIMIT,
    "x-dead-letter-exchange": "",
    "x-dead-letter-routing-key": ORDER_COMMANDS_DLQ,
    "x-dead-letter-strategy": "at-least-once",
    "x-overflow": "reject-publish",
}

DEAD_LETTER_ARGS = {"x-queue-type": "quorum"}  # replicated like the command queue


async def declare_order_commands(channel: Any) -> Any:
    """Declares the dead-letter queue and the command queue on an aio-pika channel; returns the latter."""
    await channel.declare_queue(ORDER_COMMANDS_DLQ, durable=True, arguments=DEAD_LETTER_ARGS)
    return await channel.declare_queue(ORDER_COMMANDS_QUEUE, durable=True, arguments=ORDER_COMMANDS_ARGS)
