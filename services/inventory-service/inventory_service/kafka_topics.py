"""Creates the topics this service produces to, if they do not exist yet."""
from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from festflow_contracts.channels import CATALOG_EVENTS_TOPIC, ORDER_EVENTS_TOPIC


async def ensure_topics(bootstrap: str, partitions: int = 3) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [NewTopic(name, num_partitions=partitions, replication_factor=1)
                  for name in (ORDER_EVENTS_TOPIC, CATALOG_EVENTS_TOPIC) if name not in existing]
        if wanted:
            try:
                await admin.create_topics(wanted)
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()
