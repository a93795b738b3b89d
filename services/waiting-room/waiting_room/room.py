"""The waiting room's use cases: the organiser sets it up, buyers join and ask where they are, and each tick
draws the pre-queue's places at the start and admits buyers (admission.py) with a signed pass.

One room, `festival` (FestFlow sells one festival). Every change is one transaction; on PostgreSQL the room's
row is locked by the tick and by a join after the draw (which takes the next FIFO place from it), so several
instances never draw twice, admit twice or give one place to two buyers.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from festflow_contracts import events, messages, waiting_pass
from festflow_contracts.channels import CATALOG_EVENTS_TOPIC
from festflow_contracts.messages import WaitingRoomChanged
from festflow_runtime import outbox
from festflow_runtime.batching import Batcher
from waiting_room import admission, fair_order
from waiting_room.db import event_outbox, places, rooms

ROOM = "festival"
TICKET_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
SOURCE = "/festflow/waiting-room"


class RoomError(Exception):
    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status, self.detail = status, detail


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class RoomSetup(BaseModel):
    """The organiser's waiting room. `reset` starts a new round (a new seed, every place given up); without
    it a change keeps the places and the seed (whose commitment is public)."""
    model_config = ConfigDict(extra="forbid")
    enabled: bool
    prequeue_opens_at: str
    sale_starts_at: str
    pass_minutes: int = Field(default=10, ge=1, le=60)
    admit_per_minute: int | None = Field(default=None, ge=1, le=1_000_000)  # None: automatic (the sale's capacity)
    ticket_ids: list[str] = Field(default_factory=list, max_length=100)  # [] every ticket type on sale
    reset: bool = False

    @field_validator("ticket_ids")
    @classmethod
    def _ids(cls, v: list[str]) -> list[str]:
        if any(not TICKET_ID.fullmatch(ticket_id) for ticket_id in v):
            raise ValueError("ticket_ids: ticket type ids (letters, digits, - and _)")
        return list(dict.fromkeys(v))

    @field_validator("prequeue_opens_at", "sale_starts_at")
    @classmethod
    def _utc(cls, v: str) -> str:
        try:
            moment = _moment(v.strip())
        except ValueError:
            raise ValueError("a moment like 2027-03-01T10:00:00Z") from None
        if moment.tzinfo is None:
            raise ValueError("a moment with its time zone, like 2027-03-01T10:00:00Z")
        return events.iso(moment.astimezone(UTC))


def public_view(room: Any, now: datetime | None = None) -> dict[str, Any]:
    """What anyone may see: when it opens and starts, the commitment, and after the draw the seed."""
    if room is None:
        return {"enabled": False}
    drawn = room["drawn_at"] is not None
    return {"enabled": room["enabled"], "prequeue_opens_at": room["opens_at"], "sale_starts_at": room["starts_at"],
            "pass_minutes": room["pass_minutes"], "admit_per_minute": room["per_minute"],
            "commitment": room["commitment"], "seed": room["seed"] if drawn else None, "drawn_at": room["drawn_at"],
            "ticket_ids": ticket_ids(room),
            "derivation": fair_order.DERIVATION, "room": room["room_id"],
            "admitted_through": room["admitted_through"], "sold_out": room["sold_out_at"] is not None,
            "version": room["version"]}


def ticket_ids(room: Any) -> list[str]:
    """The ticket types whose stock admission follows ([] every type on sale)."""
    return [ticket_id for ticket_id in (room["ticket_ids"] or "").split(",") if ticket_id]


async def _room(conn: AsyncConnection, lock: bool = False) -> Any:
    query = sa.select(rooms).where(rooms.c.room_id == ROOM)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return (await conn.execute(query)).mappings().first()


async def load(engine: AsyncEngine) -> Any:
    async with engine.connect() as conn:
        return await _room(conn)


async def configure(engine: AsyncEngine, setup: RoomSetup, now: datetime | None = None) -> dict[str, Any]:
    """Sets the room up (a new round the first time, or with `reset`) and announces it (WAITING_ROOM_CHANGED)."""
    if setup.sale_starts_at < setup.prequeue_opens_at:
        raise RoomError(422, "sale_starts_at: the sale cannot start before the waiting room opens")
    stamp = events.iso(now or datetime.now(UTC))
    values = {"enabled": setup.enabled, "opens_at": setup.prequeue_opens_at, "starts_at": setup.sale_starts_at,
              "pass_minutes": setup.pass_minutes, "per_minute": setup.admit_per_minute,
              "ticket_ids": ",".join(setup.ticket_ids), "updated_at": stamp}
    async with engine.begin() as conn:
        room = await _room(conn, lock=True)
        if room is None or setup.reset:
            seed = fair_order.new_seed()
            fresh = {**values, "seed": seed, "commitment": fair_order.commitment(seed), "drawn_at": None,
                     "next_place": 1, "admitted_through": 0, "carried": 0.0, "sold_out_at": None,
                     "tickets_left": None, "repeat_joins": 0, "refused_unverified": 0}
            await conn.execute(places.delete().where(places.c.room_id == ROOM))
            if room is None:
                await conn.execute(rooms.insert().values(room_id=ROOM, version=1, **fresh))
            else:
                await conn.execute(rooms.update().where(rooms.c.room_id == ROOM)
                                   .values(version=rooms.c.version + 1, **fresh))
        else:
            if room["drawn_at"] is not None and setup.sale_starts_at != room["starts_at"]:
                raise RoomError(409, "sale_starts_at: the places were drawn already; reset the room for a new round")
            await conn.execute(rooms.update().where(rooms.c.room_id == ROOM)
                               .values(version=rooms.c.version + 1, **values))
        room = await _room(conn)
        event = messages.envelope(WaitingRoomChanged(
            enabled=room["enabled"], opens_at=room["opens_at"], starts_at=room["starts_at"],
            pass_minutes=room["pass_minutes"], commitment=room["commitment"], ticket_ids=tuple(ticket_ids(room)),
            version=room["version"]),
            SOURCE, subject="waiting-room")
        await outbox.emit(conn, event_outbox, CATALOG_EVENTS_TOPIC, "waiting-room", event)
    return public_view(room)


async def join(engine: AsyncEngine, username: str, now: datetime | None = None) -> None:
    """The buyer takes a place: random among those who join before the start, first come first served after
    it. Joining again keeps the place (a buyer whose pass ran out unused queues again at the end)."""
    await join_many(engine, [username], now)


async def join_many(engine: AsyncEngine, usernames: Sequence[str], now: datetime | None = None) -> None:
    """Several buyers join in one transaction (JoinQueue gathers a drop's joins so), each as `join` would, in
    their order; RoomError for all when the room is closed or not open yet."""
    moment = now or datetime.now(UTC)
    stamp = events.iso(moment)
    wanted = list(dict.fromkeys(usernames))
    async with engine.begin() as conn:
        room = await _room(conn)  # not locked: joins go on side by side (a join under way at the draw: tick)
        if room is None or not room["enabled"]:
            raise RoomError(404, "there is no waiting room for this sale")
        if stamp < room["opens_at"]:
            raise RoomError(409, f"the waiting room opens at {room['opens_at']}")
        if room["drawn_at"] is not None and stamp < room["drawn_at"]:
            stamp = room["drawn_at"]  # came in while the draw ran: a late arrival, queued after those drawn
        known = {row["username"]: row for row in (await conn.execute(sa.select(places).where(
            places.c.room_id == ROOM, places.c.username.in_(wanted)))).mappings()}
        again = [name for name, row in known.items() if _pass_ran_out(row, moment)]
        if again:  # admitted, but the pass ran out unused: to the end of the queue
            await conn.execute(places.delete().where(places.c.room_id == ROOM, places.c.username.in_(again)))
        fresh = [name for name in wanted if name not in known or name in again]
        repeats = len(usernames) - len(fresh)  # joined again (or twice at once): the place stays as it was
        if repeats:
            await conn.execute(rooms.update().where(rooms.c.room_id == ROOM)
                               .values(repeat_joins=rooms.c.repeat_joins + repeats))
        if not fresh:
            return
        insert = (postgresql.insert(places) if conn.dialect.name == "postgresql" else sqlite.insert(places))
        taken = set((await conn.scalars(insert.values([
            {"room_id": ROOM, "username": name, "joined_at": stamp, "join_id": fair_order.join_id(ROOM, name)}
            for name in fresh]).on_conflict_do_nothing().returning(places.c.username))).all())
        if room["drawn_at"] is not None:  # (one that joined at the same moment elsewhere keeps that place)
            await _queue_at_end(conn, [name for name in fresh if name in taken])


async def count_unverified(engine: AsyncEngine) -> None:
    """An account whose address is not confirmed was refused a place (the fairness report counts them)."""
    async with engine.begin() as conn:
        await conn.execute(rooms.update().where(rooms.c.room_id == ROOM)
                           .values(refused_unverified=rooms.c.refused_unverified + 1))


class JoinQueue:
    """Joins gathered into one transaction each (festflow_runtime.batching): in a drop's last minute before the
    start thousands come a second, and a transaction each would be their limit."""

    def __init__(self, engine: AsyncEngine, clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.engine, self.clock = engine, clock
        self.batcher: Batcher[str, None] = Batcher(self._batch, self._one, max_size=500)

    async def join(self, username: str) -> None:
        await self.batcher.submit(username)

    async def _batch(self, usernames: Sequence[str]) -> list[None]:
        await join_many(self.engine, usernames, self.clock())
        return [None] * len(usernames)

    async def _one(self, username: str) -> None:
        await join_many(self.engine, [username], self.clock())


def _pass_ran_out(place: Any, moment: datetime) -> bool:
    return (place["admitted_at"] is not None and place["bought_at"] is None
            and (place["pass_expires"] or 0) <= moment.timestamp())


async def _queue_at_end(conn: AsyncConnection, usernames: list[str]) -> None:
    """The next FIFO places (the room's row locked: no two buyers get one place)."""
    room = await _room(conn, lock=True)
    first = room["next_place"]
    await conn.execute(rooms.update().where(rooms.c.room_id == ROOM)
                       .values(next_place=rooms.c.next_place + len(usernames)))
    await conn.execute(places.update().where(places.c.room_id == ROOM, places.c.username == sa.bindparam("b_user"))
                       .values(place=sa.bindparam("b_place")),
                       [{"b_user": user, "b_place": first + i} for i, user in enumerate(usernames)])


@dataclass(frozen=True)
class Standing:
    """Where a buyer is: `state` is closed, not_joined, prequeue (joined before the start: no place yet),
    waiting, admitted, bought, expired (the pass ran out unused) or sold_out; `position` in the queue, how many
    are `ahead`, and `eta_seconds` until their turn."""
    state: str
    sale_starts_at: str | None = None
    position: int | None = None
    ahead: int | None = None
    eta_seconds: int | None = None
    pass_token: str | None = None
    pass_expires: int | None = None


async def standing(engine: AsyncEngine, username: str, secret: str, capacity_per_second: float,
                   now: datetime | None = None) -> Standing:
    async with engine.connect() as conn:
        room = await _room(conn)
        mine = None if room is None else await _place(conn, username)
    return standing_of(room, mine, username, secret, capacity_per_second, now)


async def place_of(engine: AsyncEngine, username: str) -> Any:
    """The buyer's row in the room (None: not joined)."""
    async with engine.connect() as conn:
        return await _place(conn, username)


async def places_of(engine: AsyncEngine, usernames: Sequence[str]) -> list[Any]:
    """The rows of several buyers in one query, in their order (None: not joined)."""
    async with engine.connect() as conn:
        found = {row["username"]: row for row in (await conn.execute(sa.select(places).where(
            places.c.room_id == ROOM, places.c.username.in_(list(set(usernames)))))).mappings()}
    return [found.get(name) for name in usernames]


async def _place(conn: AsyncConnection, username: str) -> Any:
    return (await conn.execute(sa.select(places).where(places.c.room_id == ROOM, places.c.username == username))
            ).mappings().first()


def standing_of(room: Any, mine: Any, username: str, secret: str, capacity_per_second: float,
                now: datetime | None = None) -> Standing:
    """Where a buyer is, from the room's row and theirs (None: not joined): what `standing` and the live stream
    (live.py, from a snapshot of the room each tick) both say."""
    moment = now or datetime.now(UTC)
    if room is None or not room["enabled"]:
        return Standing("closed")
    if mine is None:
        return Standing("not_joined", room["starts_at"])
    if mine["bought_at"] is not None:
        return Standing("bought", room["starts_at"], mine["place"])
    if mine["admitted_at"] is not None:
        if _pass_ran_out(mine, moment):
            return Standing("expired", room["starts_at"], mine["place"])
        token = waiting_pass.sign(waiting_pass.Pass(username, ROOM, mine["pass_id"], mine["pass_expires"]), secret)
        return Standing("admitted", room["starts_at"], mine["place"], 0, 0, token, mine["pass_expires"])
    if mine["place"] is None:
        return Standing("prequeue", room["starts_at"])
    if room["sold_out_at"] is not None:
        return Standing("sold_out", room["starts_at"], mine["place"])
    ahead = max(0, mine["place"] - room["admitted_through"] - 1)
    rate = admission.rate_per_second(room["per_minute"], capacity_per_second)
    # the buyers ahead and this one, less the part of a buyer the rate has earned towards the next admission
    estimate = max(1, math.ceil((ahead + 1 - min(room["carried"] or 0.0, 1.0)) / rate))
    return Standing("waiting", room["starts_at"], mine["place"], ahead, estimate)


async def fairness(engine: AsyncEngine) -> dict[str, Any] | None:
    """What anyone checks the draw with (None without a room): the commitment and how places follow from the
    seed; from the draw on also the seed and every drawn place with its join id and key."""
    async with engine.connect() as conn:
        room = await _room(conn)
        if room is None:
            return None
        answer: dict[str, Any] = {"commitment": room["commitment"], "derivation": fair_order.DERIVATION,
                                  "sale_starts_at": room["starts_at"]}
        if room["drawn_at"] is None:
            return answer
        rows = (await conn.execute(sa.select(places.c.place, places.c.join_id).where(
            places.c.room_id == ROOM, places.c.joined_at < room["starts_at"]).order_by(places.c.place))).all()
    return answer | {"seed": room["seed"], "drawn_at": room["drawn_at"], "places": [
        {"place": place, "join_id": joined, "key": fair_order.draw_key(room["seed"], joined)}
        for place, joined in rows]}


@dataclass(frozen=True)
class Tick:
    drawn: int = 0  # places drawn now (the start)
    admitted: int = 0
    sold_out: bool = False


async def tick(engine: AsyncEngine, tickets_left: int | None, capacity_per_second: float,
               now: datetime | None = None, seconds: float = 1.0) -> Tick:
    """One step of the room: the draw when the start has come, then admission by the stock (`tickets_left`,
    None when it could not be read: nobody is admitted then) and the rate; the sold-out mark set or cleared."""
    moment = now or datetime.now(UTC)
    stamp = events.iso(moment)
    async with engine.begin() as conn:
        room = await _room(conn, lock=True)
        if room is None or not room["enabled"] or stamp < room["starts_at"]:
            return Tick()
        drawn = 0
        if room["drawn_at"] is None:
            drawn = await _draw(conn, room, stamp)
            room = await _room(conn)
        else:
            await _place_stragglers(conn, room)
        sold_out = tickets_left is not None and tickets_left <= 0
        changes: dict[str, Any] = {"tickets_left": tickets_left}
        if sold_out and room["sold_out_at"] is None:
            changes["sold_out_at"] = stamp
        elif not sold_out and tickets_left is not None:
            changes["sold_out_at"] = None
        admitted = 0
        if tickets_left is not None and not sold_out:
            queue = await _queue(conn, room, moment, tickets_left)
            admitted, carried = admission.to_admit(queue, room["per_minute"], capacity_per_second, seconds,
                                                   room["carried"])
            changes["carried"] = carried
            if admitted:
                await _admit(conn, room, admitted, moment)
                changes["admitted_through"] = room["admitted_through"] + admitted
        await conn.execute(rooms.update().where(rooms.c.room_id == ROOM).values(**changes))
    return Tick(drawn, admitted, sold_out)


async def _place_stragglers(conn: AsyncConnection, room: Any) -> None:
    """Joins whose transaction was under way while the draw ran (they read the room before it, and wrote
    after it): late arrivals, stamped with the draw's moment and queued after everyone placed, in the order
    they came. The published draw (joined before the start) stays what the seed gives."""
    stragglers = list((await conn.scalars(sa.select(places.c.username).where(
        places.c.room_id == ROOM, places.c.place.is_(None)).order_by(places.c.joined_at, places.c.username))).all())
    if stragglers:
        await conn.execute(places.update().where(places.c.room_id == ROOM, places.c.username.in_(stragglers))
                           .values(joined_at=room["drawn_at"]))
        await _queue_at_end(conn, stragglers)


async def _draw(conn: AsyncConnection, room: Any, stamp: str) -> int:
    """The places of everyone who joined before the start, drawn with the seed; those who joined since the
    start (before this draw) after them, in the order they came."""
    early = dict((await conn.execute(sa.select(places.c.join_id, places.c.username).where(
        places.c.room_id == ROOM, places.c.joined_at < room["starts_at"]))).all())
    order = [early[joined] for joined in fair_order.draw(room["seed"], early)]
    late = list((await conn.scalars(sa.select(places.c.username).where(
        places.c.room_id == ROOM, places.c.joined_at >= room["starts_at"])
        .order_by(places.c.joined_at, places.c.username))).all())
    everyone = order + late
    if everyone:
        await conn.execute(places.update().where(places.c.room_id == ROOM,
                                                 places.c.username == sa.bindparam("b_user"))
                           .values(place=sa.bindparam("b_place")),
                           [{"b_user": user, "b_place": i + 1} for i, user in enumerate(everyone)])
    await conn.execute(rooms.update().where(rooms.c.room_id == ROOM)
                       .values(drawn_at=stamp, next_place=len(everyone) + 1))
    return len(order)


async def _queue(conn: AsyncConnection, room: Any, moment: datetime, tickets_left: int) -> admission.Queue:
    waiting = await conn.scalar(sa.select(sa.func.count()).select_from(places).where(
        places.c.room_id == ROOM, places.c.place > room["admitted_through"], places.c.admitted_at.is_(None)))
    live = await conn.scalar(sa.select(sa.func.count()).select_from(places).where(
        places.c.room_id == ROOM, places.c.admitted_at.is_not(None), places.c.bought_at.is_(None),
        places.c.pass_expires > int(moment.timestamp())))
    return admission.Queue(int(waiting or 0), int(live or 0), tickets_left)


async def _admit(conn: AsyncConnection, room: Any, count: int, moment: datetime) -> None:
    """The next `count` places get their pass: its replay id (place and moment) and its expiry."""
    through = room["admitted_through"] + count
    expires = int((moment + timedelta(minutes=room["pass_minutes"])).timestamp())
    stamp = events.iso(moment)
    await conn.execute(places.update().where(
        places.c.room_id == ROOM, places.c.place > room["admitted_through"], places.c.place <= through,
        places.c.admitted_at.is_(None))
        .values(admitted_at=stamp, pass_expires=expires,
                pass_id=sa.cast(places.c.place, sa.String) + f".{int(moment.timestamp() * 1000)}"))


async def mark_bought(engine: AsyncEngine, bought: list[tuple[str, str]]) -> None:
    """These accounts placed an order (username, when: ISO 8601 UTC) after their turn came: their pass is spent
    and no longer counts against the stock. An order from before their turn changes nothing."""
    if not bought:
        return
    latest: dict[str, str] = {}
    for username, moment in bought:
        latest[username] = max(moment, latest.get(username, moment))
    async with engine.begin() as conn:
        await conn.execute(places.update().where(
            places.c.room_id == ROOM, places.c.username == sa.bindparam("b_user"),
            places.c.admitted_at.is_not(None), places.c.admitted_at <= sa.bindparam("b_time"),
            places.c.bought_at.is_(None)).values(bought_at=sa.bindparam("b_time")),
            [{"b_user": username, "b_time": moment} for username, moment in sorted(latest.items())])


async def report(engine: AsyncEngine, now: datetime | None = None) -> dict[str, Any] | None:
    """The drop as the organiser follows it, and afterwards its fairness report: how many joined (before the
    start: drawn; after it: in the order they came), were admitted, bought, let their turn pass, still wait,
    joined again (keeping their place) or were refused for an unconfirmed address;
    tickets left as last seen, when it sold out and how long after the start; the commitment and, from the
    draw, the seed. None without a room."""
    moment = int((now or datetime.now(UTC)).timestamp())
    async with engine.connect() as conn:
        room = await _room(conn)
        if room is None:
            return None
        mine = places.c.room_id == ROOM
        early = places.c.joined_at < room["starts_at"]
        admitted = places.c.admitted_at.is_not(None)
        bought = places.c.bought_at.is_not(None)
        row = (await conn.execute(sa.select(
            sa.func.count().label("joined"),
            sa.func.count().filter(early).label("drawn"),
            sa.func.count().filter(admitted).label("admitted"),
            sa.func.count().filter(bought).label("bought"),
            sa.func.count().filter(admitted, ~bought, places.c.pass_expires <= moment).label("turn_passed"),
            sa.func.count().filter(admitted, ~bought, places.c.pass_expires > moment).label("buying_now"),
            sa.func.count().filter(~admitted).label("waiting"),
        ).where(mine))).mappings().one()
    sold_out_after = None
    if room["sold_out_at"] and room["drawn_at"]:
        sold_out_after = round((datetime.fromisoformat(room["sold_out_at"].replace("Z", "+00:00"))
                                - datetime.fromisoformat(room["starts_at"].replace("Z", "+00:00"))).total_seconds(), 1)
    return {**public_view(room), **dict(row), "late": row["joined"] - row["drawn"],
            "tickets_left": room["tickets_left"], "sold_out_at": room["sold_out_at"],
            "sold_out_after_seconds": sold_out_after, "repeat_joins": room["repeat_joins"],
            "refused_unverified": room["refused_unverified"]}
