import asyncio
import logging

from festflow_runtime.activity import ActivityLog


async def test_many_items_make_one_line_per_period(caplog):
    caplog.set_level(logging.INFO, "activity-test")
    activity = ActivityLog(logging.getLogger("activity-test"), "orders", period=0.05)
    for _ in range(300):
        activity.count("confirmed")
    activity.count("rejected", 2)
    activity.note("vip", "VIP stock 10")
    activity.note("vip", "VIP stock 0")
    await asyncio.sleep(0.15)
    assert [r.getMessage() for r in caplog.records] == [
        "last 0.05 s: 302 orders: 300 confirmed, 2 rejected; VIP stock 0"]
    activity.count("confirmed")
    await asyncio.sleep(0.15)
    assert caplog.records[-1].getMessage() == "last 0.05 s: 1 orders: 1 confirmed"
    assert len(caplog.records) == 2


async def test_a_quiet_service_says_nothing(caplog):
    caplog.set_level(logging.INFO, "activity-test")
    ActivityLog(logging.getLogger("activity-test"), "orders", period=0.01)
    await asyncio.sleep(0.05)
    assert caplog.records == []
