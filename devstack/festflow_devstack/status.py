"""What `make status` shows: every part of the running stack, each node of a cluster with its role.

- RabbitMQ: each node up or down, and which one leads the order commands' quorum queue (and which hold a
  copy of it).
- Kafka: each broker up or down, and how many partitions of the order events it leads.
- PostgreSQL: each server primary, standby or down.
- The apps: each instance's health endpoint.
"""
from __future__ import annotations

import asyncio
import json
import urllib.request
from base64 import b64encode
from collections.abc import Iterator

from festflow_contracts.channels import ORDER_COMMANDS_QUEUE, ORDER_EVENTS_TOPIC
from festflow_devstack import apps, infra, postgres, probes
from festflow_devstack.profiles import Layout, Profile, instance_port
from festflow_devstack.stack import postgres_ports


def _management_json(port: int, path: str) -> object:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={
        "Authorization": "Basic " + b64encode(b"guest:guest").decode()})
    with urllib.request.urlopen(request, timeout=3) as resp:
        return json.loads(resp.read())


def command_queue(profile: Profile, nodes: int) -> dict:
    """The order commands' queue as RabbitMQ's management API describes it (asked of any node that
    answers; {} if none does): `leader` and `members` name the nodes that lead it and hold copies."""
    for node in range(1, nodes + 1):
        try:
            found = _management_json(profile.rabbit_ports(node)["rabbit_mgmt"],
                                     f"/api/queues/%2F/{ORDER_COMMANDS_QUEUE}")
            return found if isinstance(found, dict) else {}
        except (OSError, ValueError):
            continue
    return {}


def command_queue_leader(profile: Profile, nodes: int) -> int | None:
    """The number of the node that leads the order commands' queue."""
    leader = command_queue(profile, nodes).get("leader")
    return next((node for node in range(1, nodes + 1) if infra.rabbit_node_name(profile, node, nodes) == leader),
                None)


def rabbit_rows(profile: Profile, nodes: int) -> Iterator[tuple[str, str]]:
    queue = command_queue(profile, nodes)
    for node in range(1, nodes + 1):
        name = infra.rabbit_node_name(profile, node, nodes)
        up = probes.tcp_open(profile.rabbit_ports(node)["amqp"])
        role = ""
        if up and nodes > 1:
            role = "leads the order commands" if queue.get("leader") == name else \
                "holds a copy of the order commands" if name in queue.get("members", []) else "no copy of the queue"
        yield infra.rabbit_component_name(node, nodes), "up" + (f", {role}" if role else "") if up else "DOWN"


async def partition_leaders(bootstrap: str) -> dict[int, int]:
    """How many partitions of the order events each broker leads, by broker id."""
    from aiokafka.admin import AIOKafkaAdminClient
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    await asyncio.wait_for(admin.start(), 5)
    try:
        described = await asyncio.wait_for(admin.describe_topics([ORDER_EVENTS_TOPIC]), 5)
    finally:
        await admin.close()
    leaders: dict[int, int] = {}
    for topic in described:
        for partition in topic.get("partitions", []):
            leaders[partition["leader"]] = leaders.get(partition["leader"], 0) + 1
    return leaders


def kafka_rows(profile: Profile, nodes: int) -> Iterator[tuple[str, str]]:
    try:
        leaders = asyncio.run(partition_leaders(infra.kafka_bootstrap(profile, nodes)))
    except Exception:  # noqa: BLE001 - a status line, not a failure
        leaders = {}
    for node in range(1, nodes + 1):
        up = probes.tcp_open(profile.kafka_ports(node)["kafka"])
        detail = f", leads {leaders.get(node, 0)} partition(s) of {ORDER_EVENTS_TOPIC}" if up and leaders else ""
        yield infra.kafka_component_name(node, nodes), ("up" + detail) if up else "DOWN"


def postgres_rows(profile: Profile, layout: Layout) -> Iterator[tuple[str, str]]:
    if layout.cluster:
        for k, port in enumerate(postgres_ports(profile), start=1):
            yield f"postgres-{k}", postgres.role(port)
    elif layout.database == "postgres":
        yield "postgres", postgres.role(profile.ports["postgres"])


def app_rows(profile: Profile, layout: Layout) -> Iterator[tuple[str, str]]:
    for name, (_, port_name, _) in apps.APPS.items():
        for instance in layout.instance_names(name):
            port = instance_port(profile.ports[port_name], instance)
            yield instance, "up" if probes.http_ok(f"http://127.0.0.1:{port}/healthz") else "DOWN"


def rows(profile: Profile, layout: Layout) -> list[tuple[str, str]]:
    gateway = "up" if probes.http_ok(profile.url("gateway", "/gateway/healthz")) else "DOWN"
    return [("gateway", gateway), *rabbit_rows(profile, layout.nodes), *kafka_rows(profile, layout.nodes),
            *postgres_rows(profile, layout), *app_rows(profile, layout)]


def healthy(state: str) -> bool:
    return state.startswith("up") or state in ("primary", "standby")
