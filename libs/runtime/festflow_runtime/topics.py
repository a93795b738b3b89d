"""Creating the Kafka topics with their settings, by whichever side gets there first."""
from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from festflow_contracts.channels import (
    ACCOUNT_EVENTS_TOPIC,
    AUTH_EVENTS_TOPIC,
    CATALOG_EVENTS_TOPIC,
    ORDER_EVENTS_TOPIC,
    PAYMENT_EVENTS_TOPIC,
    SYSTEM_LOGS_TOPIC,
    TICKET_EVENTS_TOPIC,
)

TOPICS: dict[str, dict[str, str]] = {
    ORDER_EVENTS_TOPIC: {},
    CATALOG_EVENTS_TOPIC: {},
    TICKET_EVENTS_TOPIC: {},
    PAYMENT_EVENTS_TOPIC: {},
    # the live log feed is for watching, not for keeping: an hour of history at most
    SYSTEM_LOGS_TOPIC: {"retention.ms": str(3600 * 1000), "segment.ms": str(600 * 1000)},
    # a revocation matters while the token could still be used: a day covers every token's lifetime
    AUTH_EVENTS_TOPIC: {"retention.ms": str(24 * 3600 * 1000), "segment.ms": str(3600 * 1000)},
    # the links in these mails expire within a day: the records need not outlive them
    ACCOUNT_EVENTS_TOPIC: {"retention.ms": str(24 * 3600 * 1000), "segment.ms": str(3600 * 1000)},
}


def copies_for(brokers: int) -> tuple[int, dict[str, str]]:
    """How many copies a topic keeps on a cluster of `brokers`, and the setting that goes with them: three
    where there are three brokers or more, and then a write is taken once two have it (producers send with
    acks=all), so one broker can go away without losing or refusing a write."""
    copies = max(1, min(3, brokers))
    return copies, ({"min.insync.replicas": "2"} if copies == 3 else {})


async def ensure_topics(bootstrap: str, names: tuple[str, ...], partitions: int = 3) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        cluster = await admin.describe_cluster()
        copies, durability = copies_for(len(cluster.get("brokers", [])))
        wanted = [NewTopic(name, num_partitions=partitions, replication_factor=copies,
                           topic_configs=durability | TOPICS[name])
                  for name in names if name not in existing]
        if wanted:
            try:
                await admin.create_topics(wanted)
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()
