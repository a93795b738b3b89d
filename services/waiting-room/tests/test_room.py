"""The waiting room's rules (service layer, real SQLite and PostgreSQL): a pre-queue drawn at the start in an
order anyone can recompute from the revealed seed, one place an account, FIFO after the start, admission that
never gives more live passes than tickets are left, sold out said to those waiting and taken back when stock
returns, and a pass that names its account and runs out."""
import hashlib
import json
import random
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from festflow_contracts import events, fixtures, waiting_pass
from festflow_contracts.waiting_pass import InvalidPass
from waiting_room import admission, db, fair_order, room

OPENS = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
STARTS = datetime(2027, 3, 1, 10, 0, tzinfo=UTC)
SECRET = "test-secret"
FAST = 1000.0  # buyers a second: admission limited by the stock alone


async def open_room(engine, **changes):
    setup = {"enabled": True, "prequeue_opens_at": "2027-03-01T09:00:00Z",
             "sale_starts_at": "2027-03-01T10:00:00Z"} | changes
    return await room.configure(engine, room.RoomSetup(**setup), now=OPENS)


async def where(engine, username, now):
    return await room.standing(engine, username, SECRET, FAST, now=now)


def seconds(n):
    return STARTS + timedelta(seconds=n)


async def test_the_pre_queue_is_drawn_at_the_start_in_an_order_anyone_can_recompute(engine):
    view = await open_room(engine)
    assert view["seed"] is None and len(view["commitment"]) == 64
    buyers = [f"buyer{i:03d}" for i in range(300)]
    for i, name in enumerate(buyers):  # joined one after another in the hour before the start
        await room.join(engine, name, now=OPENS + timedelta(seconds=10 * i))
    await room.join(engine, "buyer000", now=OPENS + timedelta(minutes=59))  # again: keeps the first place
    assert (await where(engine, "buyer000", OPENS + timedelta(minutes=59))).state == "prequeue"
    assert await room.fairness(engine) == {"commitment": view["commitment"], "derivation": fair_order.DERIVATION,
                                           "sale_starts_at": "2027-03-01T10:00:00.000Z"}
    assert (await room.tick(engine, 5000, FAST, now=STARTS - timedelta(seconds=1))).drawn == 0
    await room.join(engine, "late1", now=seconds(0.5))  # after the start, before the draw: after the drawn ones
    done = await room.tick(engine, 5000, FAST, now=seconds(1))
    assert done.drawn == 300
    await room.join(engine, "late2", now=seconds(2))
    revealed = room.public_view(await room.load(engine))
    assert hashlib.sha256(bytes.fromhex(revealed["seed"])).hexdigest() == view["commitment"]
    published = await room.fairness(engine)
    assert published["seed"] == revealed["seed"] and published["commitment"] == view["commitment"]
    drawn = published["places"]
    assert [d["place"] for d in drawn] == list(range(1, 301))
    # anyone recomputes the order from the seed and the join ids alone
    ids = [d["join_id"] for d in drawn]
    assert fair_order.draw(revealed["seed"], random.sample(ids, len(ids))) == ids
    assert all(d["key"] == fair_order.draw_key(revealed["seed"], d["join_id"]) for d in drawn)
    # and each buyer finds their own join id in it
    places = {name: (await where(engine, name, seconds(2))).position for name in buyers + ["late1", "late2"]}
    assert places["late1"] == 301 and places["late2"] == 302 and sorted(places.values()) == list(range(1, 303))
    assert all(drawn[places[name] - 1]["join_id"] == fair_order.join_id("festival", name) for name in buyers)
    # the places do not follow the order of joining
    joined_order = list(range(300))
    drawn_places = [places[name] for name in buyers]
    assert abs(correlation(joined_order, drawn_places)) < 0.2


def correlation(xs, ys):
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return cov / ((sum((x - mx) ** 2 for x in xs) * sum((y - my) ** 2 for y in ys)) ** 0.5)


async def test_admission_gives_no_more_live_passes_than_tickets_left_and_a_pass_names_its_account(engine):
    await open_room(engine, pass_minutes=10)
    for i in range(20):
        await room.join(engine, f"b{i:02d}", now=OPENS + timedelta(seconds=i))
    first = await room.tick(engine, 5, FAST, now=seconds(1))
    assert first.drawn == 20 and first.admitted == 5
    assert (await room.tick(engine, 5, FAST, now=seconds(2))).admitted == 0  # five passes live, five tickets
    standings = {f"b{i:02d}": await where(engine, f"b{i:02d}", seconds(2)) for i in range(20)}
    admitted = [name for name, s in standings.items() if s.state == "admitted"]
    assert len(admitted) == 5 and {standings[n].position for n in admitted} == {1, 2, 3, 4, 5}
    sixth = next(s for s in standings.values() if s.position == 6)
    assert sixth.state == "waiting" and sixth.ahead == 0
    last = next(s for s in standings.values() if s.position == 20)
    assert last.ahead == 14 and last.eta_seconds >= 1
    one = standings[admitted[0]]
    checked = waiting_pass.verify(one.pass_token, SECRET, admitted[0], now=seconds(3).timestamp())
    assert checked.expires == int((seconds(1) + timedelta(minutes=10)).timestamp()) and checked.room == "festival"
    with pytest.raises(InvalidPass, match="another account's"):
        waiting_pass.verify(one.pass_token, SECRET, admitted[1], now=seconds(3).timestamp())
    with pytest.raises(InvalidPass, match="not genuine"):
        waiting_pass.verify(one.pass_token, "another-secret", admitted[0], now=seconds(3).timestamp())
    with pytest.raises(InvalidPass, match="expired"):
        waiting_pass.verify(one.pass_token, SECRET, admitted[0], now=seconds(601).timestamp())
    # two bought one ticket each: three tickets, three live passes, nobody more
    await room.mark_bought(engine, [(admitted[2], events.iso(seconds(0)))])  # an order from before their turn
    assert (await where(engine, admitted[2], seconds(3))).state == "admitted"
    await room.mark_bought(engine, [(name, events.iso(seconds(2))) for name in admitted[:2]])
    assert (await room.tick(engine, 3, FAST, now=seconds(3))).admitted == 0
    assert (await where(engine, admitted[0], seconds(3))).state == "bought"
    # the three passes run out unused: three more are admitted; one of them queues again at the end
    after = seconds(1 + 601)
    assert (await room.tick(engine, 3, FAST, now=after)).admitted == 3
    assert (await where(engine, admitted[2], after)).state == "expired"
    await room.join(engine, admitted[2], now=after)
    assert (await where(engine, admitted[2], after)).position == 21


async def test_sold_out_is_said_to_everyone_waiting_and_taken_back_when_stock_returns(engine):
    await open_room(engine)
    for i in range(4):
        await room.join(engine, f"b{i}", now=OPENS + timedelta(seconds=i))
    await room.tick(engine, 1, FAST, now=seconds(1))
    gone = await room.tick(engine, 0, FAST, now=seconds(2))
    assert gone.sold_out and gone.admitted == 0
    states = sorted([(await where(engine, f"b{i}", seconds(2))).state for i in range(4)])
    assert states == ["admitted", "sold_out", "sold_out", "sold_out"]
    assert room.public_view(await room.load(engine))["sold_out"] is True
    back = await room.tick(engine, 2, FAST, now=seconds(3))  # a hold expired: two tickets on sale again
    assert not back.sold_out and back.admitted == 1  # one pass still live, two tickets
    states = sorted([(await where(engine, f"b{i}", seconds(3))).state for i in range(4)])
    assert states == ["admitted", "admitted", "waiting", "waiting"]


async def test_a_fixed_rate_admits_so_many_a_minute_and_an_unknown_stock_admits_nobody(engine):
    await open_room(engine, admit_per_minute=30)
    for i in range(10):
        await room.join(engine, f"b{i}", now=OPENS + timedelta(seconds=i))
    assert (await room.tick(engine, 100, FAST, now=seconds(1), seconds=1.0)).admitted == 0  # half a buyer
    estimates = {s.position: s.eta_seconds for s in [await where(engine, f"b{i}", seconds(1)) for i in range(10)]}
    assert estimates[1] == 1 and estimates[3] == 5  # half a buyer earned already, one every two seconds
    assert (await room.tick(engine, 100, FAST, now=seconds(2), seconds=1.0)).admitted == 1
    assert (await room.tick(engine, None, FAST, now=seconds(3), seconds=5.0)).admitted == 0
    assert (await room.tick(engine, 100, FAST, now=seconds(9), seconds=6.0)).admitted == 3


async def test_the_room_is_announced_and_a_reset_starts_a_new_round(engine):
    first = await open_room(engine, ticket_ids=["drop"])
    assert first["ticket_ids"] == ["drop"]
    await room.join(engine, "anna", now=OPENS)
    again = await open_room(engine, pass_minutes=5)
    assert again["commitment"] == first["commitment"] and (await where(engine, "anna", OPENS)).state == "prequeue"
    fresh = await open_room(engine, reset=True)
    assert fresh["commitment"] != first["commitment"] and (await where(engine, "anna", OPENS)).state == "not_joined"
    async with engine.connect() as conn:
        payloads = (await conn.scalars(sa.select(db.event_outbox.c.payload).order_by(db.event_outbox.c.seq))).all()
    announced = [json.loads(p) for p in payloads]
    assert [e["data"]["version"] for e in announced] == [1, 2, 3]
    assert announced[-1]["type"] == events.WAITING_ROOM_CHANGED and announced[-1]["data"]["commitment"] == fresh[
        "commitment"]
    fixtures.record(announced[-1])


async def test_a_closed_or_unopened_room_refuses_to_seat(engine):
    with pytest.raises(room.RoomError, match="no waiting room"):
        await room.join(engine, "anna", now=OPENS)
    await open_room(engine)
    with pytest.raises(room.RoomError, match="opens at 2027-03-01T09:00:00.000Z"):
        await room.join(engine, "anna", now=OPENS - timedelta(minutes=1))
    with pytest.raises(room.RoomError, match="cannot start before"):
        await open_room(engine, sale_starts_at="2027-03-01T08:00:00Z")
    with pytest.raises(ValueError, match="time zone"):
        room.RoomSetup(enabled=True, prequeue_opens_at="2027-03-01T09:00:00", sale_starts_at="2027-03-01T10:00:00Z")


def test_admission_arithmetic():
    queue = admission.Queue(waiting=100, live_passes=3, tickets_left=10)
    assert admission.to_admit(queue, None, 500, 1.0) == (7, 0.0)  # the stock, not the rate, limits
    assert admission.to_admit(queue, 90, 500, 1.0) == (1, pytest.approx(0.5))
    assert admission.to_admit(admission.Queue(5, 0, 0), None, 500, 1.0) == (0, 0.0)


async def test_admission_follows_the_rooms_ticket_types_as_the_catalog_shows_them():
    import httpx

    from waiting_room.stock import CatalogStock
    catalog = [{"id": "drop", "stock": 2, "sale_state": "upcoming"}, {"id": "vip", "stock": 50, "sale_state": "open"},
               {"id": "early", "stock": 9, "sale_state": "ended"}]
    down = False

    def api(request):
        if down:
            raise httpx.ConnectError("refused")
        return httpx.Response(200, json=catalog)
    async with httpx.AsyncClient(transport=httpx.MockTransport(api), base_url="http://orders") as client:
        stock = CatalogStock(client)
        assert await stock.tickets_left(["drop"]) == 2
        assert await stock.tickets_left() == 52  # every type whose sale has not ended
        down = True
        assert await stock.tickets_left(["drop"]) is None  # unknown: nobody is admitted
    setup = room.RoomSetup(enabled=True, prequeue_opens_at="2027-03-01T09:00:00Z",
                           sale_starts_at="2027-03-01T10:00:00Z", ticket_ids=["drop", "drop", "vip"])
    assert setup.ticket_ids == ["drop", "vip"]
    with pytest.raises(ValueError, match="ticket type ids"):
        room.RoomSetup(enabled=True, prequeue_opens_at="2027-03-01T09:00:00Z", sale_starts_at="2027-03-01T10:00:00Z",
                       ticket_ids=["a/b"])


async def test_joins_gathered_in_one_transaction_keep_one_place_an_account_and_fifo_after_the_draw(engine):
    import asyncio
    await open_room(engine)
    moment = [OPENS + timedelta(minutes=1)]
    joins = room.JoinQueue(engine, clock=lambda: moment[0])
    names = [f"b{i:02d}" for i in range(40)]
    await asyncio.gather(*(joins.join(name) for name in names + names[:10]))  # ten join twice at once
    assert joins.batcher.batches < len(names)  # gathered, not a transaction each
    await room.tick(engine, 1000, FAST, now=seconds(1))
    places = [(await where(engine, name, seconds(1))).position for name in names]
    assert sorted(places) == list(range(1, 41))
    moment[0] = seconds(2)
    late = [f"late{i}" for i in range(5)]
    await asyncio.gather(*(joins.join(name) for name in late))
    assert sorted([(await where(engine, name, seconds(2))).position for name in late]) == list(range(41, 46))
    closed = await room.configure(engine, room.RoomSetup(enabled=False, prequeue_opens_at="2027-03-01T09:00:00Z",
                                                         sale_starts_at="2027-03-01T10:00:00Z"), now=OPENS)
    assert closed["enabled"] is False
    with pytest.raises(room.RoomError, match="no waiting room"):
        await joins.join("anna")


async def test_the_report_counts_the_drop_and_says_when_it_sold_out(engine):
    assert await room.report(engine) is None
    await open_room(engine, pass_minutes=1)
    for i in range(6):
        await room.join(engine, f"b{i}", now=OPENS + timedelta(seconds=i))
    await room.tick(engine, 3, FAST, now=seconds(1))
    await room.join(engine, "late", now=seconds(2))
    await room.join(engine, "late", now=seconds(2))  # again: the place is kept, the repeat counted
    await room.count_unverified(engine)
    admitted = [f"b{i}" for i in range(6) if (await where(engine, f"b{i}", seconds(2))).state == "admitted"]
    await room.mark_bought(engine, [(name, events.iso(seconds(3))) for name in admitted[:2]])
    await room.tick(engine, 0, FAST, now=seconds(4))
    found = await room.report(engine, now=seconds(120))  # the third admitted let the pass run out
    assert {k: found[k] for k in ("joined", "drawn", "late", "admitted", "bought", "turn_passed", "buying_now",
                                  "waiting", "tickets_left")} == {
        "joined": 7, "drawn": 6, "late": 1, "admitted": 3, "bought": 2, "turn_passed": 1, "buying_now": 0,
        "waiting": 4, "tickets_left": 0}
    assert found["sold_out_after_seconds"] == 4.0 and found["seed"] and found["commitment"]
    assert (found["repeat_joins"], found["refused_unverified"]) == (1, 1)


async def test_a_join_that_comes_in_while_the_draw_runs_is_placed_after_the_drawn_ones(engine):
    await open_room(engine)
    for i in range(5):
        await room.join(engine, f"early{i}", now=OPENS + timedelta(seconds=i))
    await room.tick(engine, 100, FAST, now=seconds(1))  # the draw
    # a join stamped before the start, whose transaction reached the room only after the draw
    await room.join(engine, "straggler", now=STARTS - timedelta(milliseconds=5))
    mine = await where(engine, "straggler", seconds(2))
    assert mine.state in ("waiting", "admitted") and mine.position == 6  # placed, behind everyone drawn
    drawn = (await room.fairness(engine))["places"]
    assert [d["place"] for d in drawn] == [1, 2, 3, 4, 5]  # the published draw stays what the seed gives


async def test_a_join_written_after_the_draw_it_did_not_see_is_placed_by_the_next_tick(engine):
    from waiting_room.db import places
    await open_room(engine)
    for i in range(3):
        await room.join(engine, f"early{i}", now=OPENS + timedelta(seconds=i))
    await room.tick(engine, 100, FAST, now=seconds(1))  # the draw
    async with engine.begin() as conn:  # as a join that read the room before the draw and wrote after it
        await conn.execute(places.insert().values(room_id=room.ROOM, username="straggler", joined_at=events.iso(
            STARTS - timedelta(seconds=1)), join_id=fair_order.join_id(room.ROOM, "straggler")))
    assert (await where(engine, "straggler", seconds(2))).state == "prequeue"  # unplaced, for now
    await room.tick(engine, 100, FAST, now=seconds(2))
    mine = await where(engine, "straggler", seconds(3))
    assert mine.state in ("waiting", "admitted") and mine.position == 4
    assert [d["place"] for d in (await room.fairness(engine))["places"]] == [1, 2, 3]
