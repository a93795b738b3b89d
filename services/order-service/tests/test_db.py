"""The order service's tables and status projection, on SQLite and on a real PostgreSQL server."""
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from festflow_contracts import events
from festflow_contracts.fixtures import sample
from order_service import db
from order_service.bootstrap import status_projection
from order_service.ordering import Limits
from order_service.security import check_password, seed_demo_users


def _order(order_id, key="k1"):
    return {"order_id": order_id, "username": "guest", "idempotency_key": key, "request_hash": "h",
            "status": "PENDING", "items": [{"ticket_id": "vip", "quantity": 2}],
            "created_at": "2026-07-01T12:00:00Z", "updated_at": "2026-07-01T12:00:00Z"}


async def test_demo_users_are_seeded_once_with_hashed_passwords(engine):
    await seed_demo_users(engine)
    await seed_demo_users(engine)
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(db.users))).mappings().all()
    assert sorted((r["username"], r["role"]) for r in rows) == [("admin", "admin"), ("guest", "client")]
    guest = next(r for r in rows if r["username"] == "guest")
    assert guest["password_hash"] != "festflow" and check_password("festflow", guest["password_hash"])


async def test_one_order_per_idempotency_key(engine):
    async with engine.begin() as conn:
        await conn.execute(db.orders.insert().values(**_order("o1")))
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(db.orders.insert().values(**_order("o2")))


@pytest.mark.parametrize("confirmed", [events.ORDER_CONFIRMED, "festflow.ticket.sold.v1"])  # new and old name
async def test_status_projection_confirms_and_rejects(engine, confirmed):
    async with engine.begin() as conn:
        await conn.execute(db.orders.insert().values(**_order("o1", "k1")))
        await conn.execute(db.orders.insert().values(**_order("o2", "k2")))
    projection = status_projection(engine, Limits())
    items = [{"ticket_id": "vip", "name": "VIP", "quantity": 2, "unit_price_cents": 100}]
    sold = sample(confirmed, order_id="o1", items=items, total_cents=200)
    await projection.apply(sold)
    await projection.apply(sample(events.ORDER_REJECTED, order_id="o2", reason="sold out"))
    async with engine.connect() as conn:
        rows = {r["order_id"]: r for r in (await conn.execute(sa.select(db.orders))).mappings()}
    assert (rows["o1"]["status"], rows["o1"]["total_cents"]) == ("CONFIRMED", 200)
    assert rows["o1"]["items"] == [{**item, "vat_rate_bp": 0} for item in items]
    assert (rows["o2"]["status"], rows["o2"]["reason"]) == ("REJECTED", "sold out")


async def test_a_batch_of_events_is_applied_in_one_transaction_as_one_by_one_would(engine):
    async with engine.begin() as conn:
        for n in range(4):
            await conn.execute(db.orders.insert().values(**_order(f"o{n}", f"k{n}")))
    items = [{"ticket_id": "vip", "name": "VIP", "quantity": 2, "unit_price_cents": 100}]
    batch = [sample(events.ORDER_CONFIRMED, order_id="o0", items=items, total_cents=200),
             sample(events.ORDER_REJECTED, order_id="o1", reason="sold out"),
             sample(events.ORDER_CONFIRMED, order_id="o2", items=items, total_cents=200),
             sample(events.ORDER_REJECTED, order_id="o2", reason="late"),  # o2 was settled a moment before
             sample(events.ORDER_CANCELLED, order_id="o0", reason="the buyer asked for it")]
    await status_projection(engine, Limits()).apply_many(batch)
    await status_projection(engine, Limits()).apply_many(batch)  # the batch again (at-least-once) changes nothing
    async with engine.connect() as conn:
        rows = {r["order_id"]: r for r in (await conn.execute(sa.select(db.orders))).mappings()}
    assert {o: (r["status"], r["reason"]) for o, r in rows.items()} == {
        "o0": ("CANCELLED", "the buyer asked for it"), "o1": ("REJECTED", "sold out"),
        "o2": ("CONFIRMED", None), "o3": ("PENDING", None)}


async def _one_by_one_and_in_a_batch(engine, events_for, count, times=1):
    """Orders a1..a<count> get `events_for("a")` one at a time, b1..b<count> get `events_for("b")` in one
    batch (`times` times: delivered again); each side's rows, by order number."""
    async with engine.begin() as conn:
        for p in "ab":
            for n in range(1, count + 1):
                await conn.execute(db.orders.insert().values(**_order(f"{p}{n}", f"{p}k{n}")))
    projection = status_projection(engine, Limits())
    for event in events_for("a"):
        await projection.apply(event)
    for _ in range(times):
        await projection.apply_many(events_for("b"))
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(db.orders))).mappings().all()
    return {p: {r["order_id"][1:]: r for r in rows if r["order_id"][0] == p} for p in "ab"}


async def test_a_batch_in_any_order_ends_as_the_same_events_one_by_one(engine):
    """apply_many writes the outcomes a statement for all; whatever order the events come in, the orders
    end as they would have one event at a time (the first outcome of an order wins, a cancellation applies
    only to what was confirmed before it)."""
    items = [{"ticket_id": "vip", "name": "VIP", "quantity": 2, "unit_price_cents": 100}]

    def events_for(p):
        return [sample(events.ORDER_REJECTED, order_id=f"{p}1", reason="sold out"),
                sample(events.ORDER_CONFIRMED, order_id=f"{p}1", items=items, total_cents=200),  # too late
                sample(events.ORDER_CANCELLED, order_id=f"{p}2", reason="before its sale"),  # not confirmed yet
                sample(events.ORDER_CONFIRMED, order_id=f"{p}2", items=items, total_cents=200),
                sample(events.ORDER_CONFIRMED, order_id=f"{p}3", items=items, total_cents=200),
                sample(events.ORDER_CANCELLED, order_id=f"{p}3", reason="the buyer asked for it"),
                sample(events.ORDER_REJECTED, order_id=f"{p}4", reason="at most 4 per buyer"),
                sample(events.ORDER_REJECTED, order_id=f"{p}4", reason="sold out")]  # a second outcome: no

    rows = await _one_by_one_and_in_a_batch(engine, events_for, 5)
    seen = {p: {n: (r["status"], r["reason"], r["total_cents"], r["items"]) for n, r in rows[p].items()} for p in "ab"}
    one_by_one, batched = seen["a"], seen["b"]
    assert batched == one_by_one
    assert {n: s[:2] for n, s in batched.items()} == {
        "1": ("REJECTED", "sold out"), "2": ("CONFIRMED", None), "3": ("CANCELLED", "the buyer asked for it"),
        "4": ("REJECTED", "at most 4 per buyer"), "5": ("PENDING", None)}


async def test_the_life_of_orders_that_must_be_paid_is_the_same_in_a_batch_as_one_by_one(engine):
    """Held -> paid; held -> expired -> paid late (reinstated); held -> expired -> owed back; held ->
    abandoned; each conditional on where it comes from, in a batch as one at a time, delivered twice."""
    items = [{"ticket_id": "vip", "name": "VIP", "quantity": 2, "unit_price_cents": 100}]

    def held(order_id):
        return sample(events.ORDER_HELD, order_id=order_id, items=items, total_cents=200,
                      due_at="2027-03-06T10:00:00.000Z", reference="RF18ABCDEFGHJKMN")

    def events_for(p):
        return [held(f"{p}1"), sample(events.ORDER_CONFIRMED, order_id=f"{p}1", items=items, total_cents=200),
                held(f"{p}2"), sample(events.ORDER_EXPIRED, order_id=f"{p}2", reason="not paid by its deadline"),
                sample(events.ORDER_CONFIRMED, order_id=f"{p}2", items=items, total_cents=200),
                held(f"{p}3"), sample(events.ORDER_EXPIRED, order_id=f"{p}3", reason="not paid by its deadline"),
                sample(events.ORDER_REFUND_DUE, order_id=f"{p}3", amount_cents=200, reason="sold out: refunded"),
                held(f"{p}4"), sample(events.ORDER_CANCELLED, order_id=f"{p}4", reason="abandoned", unpaid=True),
                held(f"{p}5")]

    rows = await _one_by_one_and_in_a_batch(engine, events_for, 5, times=2)
    seen = {p: {n: (r["status"], r["reason"], r["total_cents"], r["payment"]) for n, r in rows[p].items()}
            for p in "ab"}
    assert seen["a"] == seen["b"]
    assert {n: s[:2] for n, s in seen["b"].items()} == {
        "1": ("CONFIRMED", None), "2": ("CONFIRMED", None), "3": ("EXPIRED", "not paid by its deadline"),
        "4": ("CANCELLED", "abandoned"), "5": ("AWAITING_PAYMENT", None)}
    payment = seen["b"]["5"][3]
    assert payment["due_at"] == "2027-03-06T10:00:00.000Z" and payment["amount_cents"] == 200
    assert payment["reference"] == "RF18ABCDEFGHJKMN" and payment["method"] == "bank_transfer" and payment["iban"]
    assert seen["b"]["3"][3]["refund_due"] == "sold out: refunded" and "refund_due" not in payment


def _tickets(*codes):
    return [{"code": code, "ticket_id": "vip", "name": "VIP", "holder": "", "status": "valid",
             "qr": f"FF1.{code}.signed"} for code in codes]


async def test_an_orders_first_tickets_are_kept_and_later_changes_apply_one_by_one_or_in_a_batch(engine):
    """The tickets of a batch are written a statement for all: an order keeps the first tickets issued to
    it (a re-sent event, or tickets sent again, change nothing), and a ticket's change after them applies
    to them, whether the events come one by one or in one batch."""
    def events_for(p):
        return [sample(events.TICKETS_ISSUED, order_id=f"{p}1", tickets=_tickets("A1CODE000", "A2CODE000")),
                sample(events.TICKETS_ISSUED, order_id=f"{p}2", tickets=_tickets("B1CODE000")),
                sample(events.TICKETS_ISSUED, order_id=f"{p}1", tickets=_tickets("X1CODE000")),  # not again
                sample(events.TICKET_UPDATED, order_id=f"{p}1", code="A2CODE000", ticket_id="vip", status="valid",
                       holder="Ada", change="holder", used_at=None, gate=None),
                sample(events.TICKETS_RESENT, order_id=f"{p}2", tickets=_tickets("Y1CODE000")),  # as they were
                sample(events.TICKETS_ISSUED, order_id=f"{p}3", tickets=_tickets("C1CODE000"))]

    rows = await _one_by_one_and_in_a_batch(engine, events_for, 4, times=2)  # the second changes nothing
    seen = {p: {n: [(t["code"], t["holder"], t["page_url"]) for t in (r["tickets"] or [])] for n, r in rows[p].items()}
            for p in "ab"}
    assert seen["a"] == seen["b"] == {
        "1": [("A1CODE000", "", "/cart/tickets/A1CODE000"), ("A2CODE000", "Ada", "/cart/tickets/A2CODE000")],
        "2": [("B1CODE000", "", "/cart/tickets/B1CODE000")], "3": [("C1CODE000", "", "/cart/tickets/C1CODE000")],
        "4": []}
    assert all("qr" not in t for p in "ab" for r in rows[p].values() for t in (r["tickets"] or []))  # the ticketing
    # service serves the QR codes
