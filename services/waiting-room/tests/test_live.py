"""The live stream of a buyer's standing (real SQLite and PostgreSQL): the first event at once, a new one when a
tick changes the buyer's place (the draw, the queue moving, their turn), and one at least every few seconds."""
import asyncio
import json
from datetime import UTC, datetime, timedelta

from waiting_room import live, room

from .test_room import FAST, OPENS, SECRET, open_room, seconds


async def next_event(stream):
    text = await asyncio.wait_for(anext(stream), 10)
    kind, data = text.strip().split("\n")
    assert kind == "event: standing"
    return json.loads(data.removeprefix("data: "))


async def test_a_buyers_stream_follows_the_draw_the_queue_and_their_turn(engine):
    await open_room(engine)
    for i in range(3):
        await room.join(engine, f"b{i}", now=OPENS + timedelta(seconds=i))
    clock = live.RoomClock()
    reader = live.PlaceReader(engine)
    streams = {name: live.standings(engine, clock, reader, name, SECRET, FAST, heartbeat=0.5)
               for name in ("b0", "b1", "b2", "nobody")}
    firsts = {name: await next_event(stream) for name, stream in streams.items()}
    assert firsts["b0"]["state"] == "prequeue" and firsts["nobody"]["state"] == "not_joined"
    assert "pass" not in json.dumps(firsts["b0"]).replace("pass_expires", "")  # the pass itself is never streamed
    await room.tick(engine, 1, FAST, now=seconds(1))  # the draw; one ticket: one admitted
    clock.publish(await room.load(engine))
    now = {name: await next_event(streams[name]) for name in ("b0", "b1", "b2")}
    assert sorted(s["state"] for s in now.values()) == ["admitted", "waiting", "waiting"]
    assert sorted(s["position"] for s in now.values()) == [1, 2, 3]
    second = next(name for name, s in now.items() if s["position"] == 2)
    assert now[second]["ahead"] == 0
    await room.tick(engine, 0, FAST, now=seconds(2))  # sold out
    clock.publish(await room.load(engine))
    assert (await next_event(streams[second]))["state"] == "sold_out"
    # nothing changes: the same standing again within a few seconds, as a heartbeat
    started = datetime.now(UTC)
    assert (await next_event(streams[second]))["state"] == "sold_out"
    assert datetime.now(UTC) - started <= timedelta(seconds=1.5)
    for stream in streams.values():
        await stream.aclose()


async def test_many_streams_read_their_rows_together_not_one_query_each(engine):
    import asyncio
    await open_room(engine)
    names = [f"b{i}" for i in range(60)]
    for i, name in enumerate(names):
        await room.join(engine, name, now=OPENS + timedelta(seconds=i))
    clock, reader = live.RoomClock(), live.PlaceReader(engine)
    streams = [live.standings(engine, clock, reader, name, SECRET, FAST, heartbeat=0.5) for name in names]
    firsts = await asyncio.gather(*(next_event(stream) for stream in streams))
    assert {first["state"] for first in firsts} == {"prequeue"}
    opened = reader.batcher.batches
    assert opened <= 10  # sixty buyers' rows, in a few queries (how few depends on how the loop interleaves)
    await room.tick(engine, 10, FAST, now=seconds(1))  # the draw: every stream reads its row again
    clock.publish(await room.load(engine))
    after = await asyncio.gather(*(next_event(stream) for stream in streams))
    assert sorted(s["position"] for s in after) == list(range(1, 61))
    assert reader.batcher.batches - opened <= 10
    for stream in streams:
        await stream.aclose()


def test_a_snapshot_that_changes_nothing_a_buyer_is_told_wakes_no_stream():
    clock = live.RoomClock()
    room_row = {"enabled": True, "starts_at": "s", "drawn_at": None, "admitted_through": 0, "sold_out_at": None,
                "per_minute": None, "version": 1, "carried": 0.0, "tickets_left": 10}
    clock.publish(room_row)
    assert clock.ticks == 1
    clock.publish(room_row | {"carried": 0.5, "tickets_left": 9})  # nothing a buyer is told changed
    assert clock.ticks == 1 and clock.room["tickets_left"] == 9  # the newest snapshot, but no wake-up
    clock.publish(room_row | {"admitted_through": 5})
    assert clock.ticks == 2
