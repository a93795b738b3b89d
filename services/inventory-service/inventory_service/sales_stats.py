"""Sales figures for the organisers' dashboard: KPIs and tickets sold over time."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from inventory_service.db import order_items, orders, tickets

BUCKETS = 30
MIN_BUCKET_SECONDS = 5


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


async def sales_stats(engine: AsyncEngine, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    async with engine.connect() as conn:
        counts: dict[str, int] = dict((await conn.execute(
            sa.select(orders.c.status, sa.func.count()).group_by(orders.c.status))).all())
        revenue = await conn.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(orders.c.total_cents), 0)).where(orders.c.status == "CONFIRMED"))
        sales = (await conn.execute(
            sa.select(orders.c.processed_at, sa.func.sum(order_items.c.quantity))
            .join(order_items, order_items.c.order_id == orders.c.order_id)
            .where(orders.c.status == "CONFIRMED")
            .group_by(orders.c.order_id, orders.c.processed_at)
            .order_by(orders.c.processed_at))).all()
        stock = (await conn.execute(
            sa.select(tickets.c.id, tickets.c.name, tickets.c.stock, tickets.c.active)
            .order_by(tickets.c.price_cents))).mappings().all()
    return {
        "tickets_sold": sum(q for _, q in sales),
        "revenue_cents": int(revenue or 0),
        "orders_confirmed": counts.get("CONFIRMED", 0),
        "orders_rejected": counts.get("REJECTED", 0),
        "stock": [dict(row) for row in stock],
        "series": cumulative_series([(_parse(ts), int(q)) for ts, q in sales], now),
    }


def cumulative_series(sales: list[tuple[datetime, int]], now: datetime) -> dict[str, Any]:
    """Tickets sold so far at the end of each of BUCKETS equal steps from the first sale to now."""
    if not sales:
        return {"bucket_seconds": MIN_BUCKET_SECONDS, "points": []}
    start = sales[0][0]
    span = max((now - start).total_seconds(), 1.0)
    bucket = max(MIN_BUCKET_SECONDS, int(span // BUCKETS) + 1)
    steps = int(span // bucket) + 1
    points, total, i = [], 0, 0
    for step in range(steps + 1):
        edge = start + timedelta(seconds=step * bucket)
        while i < len(sales) and sales[i][0] <= edge:
            total += sales[i][1]
            i += 1
        points.append({"t": edge.isoformat(timespec="seconds").replace("+00:00", "Z"), "tickets": total})
    return {"bucket_seconds": bucket, "points": points}
