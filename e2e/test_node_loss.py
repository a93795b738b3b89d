"""A drop on the cluster profile that loses a node of each kind while it runs.

The stack is `FESTFLOW_CLUSTER=1`'s layout on ports of its own: three RabbitMQ nodes, three Kafka brokers, a
PostgreSQL primary with a synchronous standby, two instances of every app. Checkouts arrive through the
gateway at a steady rate; during the drop, each as a crash would (kill -9):

1. the RabbitMQ node that leads the order commands' quorum queue,
2. the Kafka broker that leads the most partitions of the order events,
3. the PostgreSQL primary, after which the standby is promoted (as an operator or a failover manager would).

Nothing comes back during the drop. At the end: sold == stock exactly, every 202 settled with an outcome
that its buyer's My orders shows, no order left pending, one mail per order. What a buyer saw during each
failure (how many checkouts were refused and for how long) is written to the run folder's node-loss.json.
"""
from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass

import pytest

from drop_scenario import Drop, DropPlan, DropResult, Target
from e2e_helpers import run_async
from festflow_devstack import infra, postgres, status
from festflow_devstack.profiles import Layout, get_profile
from festflow_devstack.stack import Stack, postgres_ports

PLAN = DropPlan(rate=40, orders=1400, stock=900, buyers=300, max_tickets=2, bells=20)
# seconds into the drop
LOSE_RABBITMQ, LOSE_KAFKA, LOSE_POSTGRES = 6.0, 13.0, 20.0


@pytest.fixture(scope="module")
def cluster_stack():
    stack = Stack(get_profile("cluster"), quiet=True, layout=Layout.clustered())
    stack.start()
    yield stack
    stack.stop()


@dataclass
class Loss:
    name: str  # what was killed
    at: float  # seconds into the drop
    took: float = 0.0  # seconds the kill (and the promotion) took


async def lose_nodes(stack: Stack, drop: Drop, losses: list[Loss]) -> None:
    """Kills one node of each kind at its time in the drop."""
    profile, nodes = stack.profile, stack.layout.nodes
    while not drop.result.start_perf:
        await asyncio.sleep(0.01)
    start = drop.result.start_perf

    async def at(seconds: float) -> None:
        await asyncio.sleep(max(0.0, start + seconds - time.perf_counter()))

    await at(LOSE_RABBITMQ)
    leader = status.command_queue_leader(profile, nodes) or 1
    t0 = time.perf_counter()
    stack.supervisor.kill(infra.rabbit_component_name(leader, nodes))
    losses.append(Loss(f"rabbitmq-{leader} (led the command queue)", LOSE_RABBITMQ, time.perf_counter() - t0))

    await at(LOSE_KAFKA)
    leaders = await status.partition_leaders(infra.kafka_bootstrap(profile, nodes))
    broker = max(leaders, key=lambda b: leaders[b])
    t0 = time.perf_counter()
    stack.supervisor.kill(infra.kafka_component_name(broker, nodes))
    losses.append(Loss(f"kafka-{broker} (led {leaders[broker]} of the order events' partitions)", LOSE_KAFKA,
                       time.perf_counter() - t0))

    await at(LOSE_POSTGRES)
    t0 = time.perf_counter()
    stack.supervisor.kill("postgres-1")
    await asyncio.to_thread(postgres.promote, postgres_ports(profile)[1])
    losses.append(Loss("postgres-1 (the primary; postgres-2 promoted)", LOSE_POSTGRES, time.perf_counter() - t0))


def what_buyers_saw(result: DropResult, losses: list[Loss]) -> list[dict]:
    """For each loss, the checkouts sent until the next one: how many were refused (by status), over how
    many seconds, and the slowest 202."""
    seen = []
    bounds = [loss.at for loss in losses] + [float("inf")]
    for loss, end in zip(losses, bounds[1:], strict=True):
        answers = [(sent, status, ms) for sent, status, ms in result.answers if loss.at <= sent < end]
        refused = [(sent, status) for sent, status, _ in answers if status != 202]
        by_status: dict[str, int] = {}
        for _, code in refused:
            by_status[str(code)] = by_status.get(str(code), 0) + 1
        seen.append({
            "lost": loss.name, "at_second": loss.at, "kill_took_seconds": round(loss.took, 2),
            "checkouts": len(answers), "refused": by_status,
            "refused_from_second": round(min((s for s, _ in refused), default=0), 2),
            "refused_until_second": round(max((s for s, _ in refused), default=0), 2),
            "slowest_202_ms": round(max((ms for _, code, ms in answers if code == 202), default=0)),
        })
    return seen


def test_a_drop_that_loses_a_rabbitmq_node_a_kafka_broker_and_the_postgres_primary_sells_exactly_the_stock(
        cluster_stack):
    stack = cluster_stack
    profile = stack.profile
    assert status.command_queue(profile, 3).get("members") and len(status.command_queue(profile, 3)["members"]) == 3
    target = Target("127.0.0.1", profile.ports["gateway"], infra.kafka_bootstrap(profile, 3),
                    f"ws://127.0.0.1:{profile.ports['gateway']}/ws/notifications", profile.ports["mail_http"])
    drop = Drop(target, PLAN)
    losses: list[Loss] = []

    async def scenario() -> DropResult:
        await drop.prepare()
        result, _ = await asyncio.gather(drop.run(prepared=True), lose_nodes(stack, drop, losses))
        return result

    result = run_async(scenario())
    seen = what_buyers_saw(result, losses)
    report = {"plan": PLAN.__dict__, "statuses": result.statuses, "refusals": result.refusals,
              "accepted": len(result.accepted), "sold": result.sold_on_kafka, "stock_left": result.stock_left,
              "settled_seconds": result.settled_seconds, "mails": result.mails,
              "orders_with_two_outcomes": sum(len(ids) > 1 for ids in result.outcome_events.values()), "losses": seen}
    (profile.run_dir / "node-loss.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))

    assert len(losses) == 3, losses
    assert set(result.statuses) <= {202, 503, 0}, result.refusals  # refused while a node was lost, never a 500
    assert len(result.accepted) > PLAN.orders * 0.8, result.statuses
    demanded = sum(tickets for _, tickets, _ in result.accepted.values())
    assert demanded > PLAN.stock
    # nothing acknowledged was lost: every 202 has its outcome, and the stock sold is exactly the stock
    assert len(result.outcomes_of_accepted()) == len(result.accepted), "an accepted order has no outcome"
    twice = {o: ids for o, ids in result.outcome_events.items() if o in result.accepted and len(ids) != 1}
    assert not twice, f"orders with more than one outcome: {list(twice.items())[:3]}"  # one outcome an order
    assert result.stock_left == 0 and result.sold_on_kafka == PLAN.stock, (result.sold_on_kafka, result.stock_left)
    assert result.my_orders_wrong == [], result.my_orders_wrong[:5]
    assert result.settled_seconds is not None, "an order stayed pending"
    assert result.mails == len(result.accepted), (result.mails, len(result.accepted))  # one mail per order
