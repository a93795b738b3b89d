"""Short ticket drops that check correctness, not speed (bench/ measures speed): many distinct buyers,
logged in before the sale, check out at once for less stock than they want.

- On the test stack (SQLite, one instance of each service).
- On a stack of its own with two order-service instances behind the gateway and two inventory workers on
  the one command queue, all on PostgreSQL.

Either way: exactly the stock is sold, no order is lost or doubled, every 202 is settled with an outcome
on Kafka that the buyer's My orders shows, every buyer with an open bell hears of each order, and every
order gets its mail.
"""
from __future__ import annotations

import pytest

from drop_scenario import Drop, DropPlan, DropResult, Target
from e2e_helpers import run_async
from festflow_devstack.profiles import Layout, get_profile
from festflow_devstack.stack import Stack
from process_usage import usage


def assert_every_buyer_told(result: DropResult, plan: DropPlan) -> None:
    assert set(result.statuses) == {202}, result.statuses  # a short drop: nothing turned away
    assert len(result.accepted) == plan.orders
    assert len(result.outcomes_of_accepted()) == len(result.accepted), "an accepted order has no outcome"
    demanded = sum(tickets for _, tickets, _ in result.accepted.values())
    assert demanded > plan.stock
    assert result.stock_left == 0 and result.sold_on_kafka == plan.stock, (result.sold_on_kafka, result.stock_left)
    assert result.my_orders_wrong == [] and result.my_orders_checked == len({b for b, _, _ in
                                                                               result.accepted.values()})
    assert result.settled_seconds is not None
    assert result.mails == len(result.accepted) and result.mailed_seconds is not None
    rung = [o for o, (buyer, _, _) in result.accepted.items() if buyer in result.bell_buyers]
    assert rung and all(o in result.bells for o in rung), "a buyer's open bell missed an outcome"


def test_a_short_drop_sells_exactly_the_stock_and_tells_every_buyer(profile):
    plan = DropPlan(rate=60, orders=300, stock=200, buyers=300, max_tickets=3, bells=40)
    result = run_async(Drop(Target.of(profile), plan).run())
    assert_every_buyer_told(result, plan)


@pytest.fixture(scope="module")
def scaled_stack():
    stack = Stack(get_profile("scale"), quiet=True, layout=Layout("postgres", 2))
    stack.start()
    yield stack
    stack.stop()


def test_two_instances_of_each_service_on_postgresql_sell_exactly_the_stock(scaled_stack):
    profile = scaled_stack.profile
    parts = {c.name: c.process.pid for c in scaled_stack.supervisor.started}
    scaled = ["order-service", "order-service-2", "inventory-service", "inventory-service-2"]
    before = usage({name: parts[name] for name in scaled})
    plan = DropPlan(rate=60, orders=400, stock=250, buyers=300, max_tickets=3, bells=40)
    result = run_async(Drop(Target.of(profile), plan).run())
    assert_every_buyer_told(result, plan)
    after = usage({name: parts[name] for name in scaled})
    worked = {name: after[name].cpu_seconds - before[name].cpu_seconds for name in scaled}
    # each instance took its share: the gateway balances checkouts, the queue hands commands to both workers
    assert all(seconds > 0.3 for seconds in worked.values()), worked
    for name in ("inventory-service", "inventory-service-2"):
        log = (profile.run_dir / "logs" / f"{name}.log").read_text()
        assert " orders: " in log, f"{name} placed no order"
