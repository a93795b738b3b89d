"""AckBatcher against a fake channel that settles deliveries as a broker does: basic.ack with multiple=True
settles every unsettled delivery up to its tag; a nack or reject settles that one."""
import asyncio
import logging

from festflow_runtime.acks import AckBatcher


class FakeChannel:
    def __init__(self):
        self.frames = []  # what was sent: ("ack", tag, multiple), ("nack", tag, requeue), ("reject", tag)
        self.settled = {}  # tag -> "ack" | "nack" | "reject"
        self.closed = False
        self.next_tag = 0

    def deliver(self):
        self.next_tag += 1
        return Delivery(self, self.next_tag)

    def settle(self, frame, tag, multiple=False):
        if self.closed:
            raise ConnectionError("channel closed")
        self.frames.append(frame)
        tags = range(1, tag + 1) if multiple else [tag]
        for t in tags:
            self.settled.setdefault(t, frame[0])


class Delivery:
    def __init__(self, channel, tag):
        self.channel, self.delivery_tag = channel, tag

    async def ack(self, multiple=False):
        self.channel.settle(("ack", self.delivery_tag, multiple), self.delivery_tag, multiple)

    async def nack(self, multiple=False, requeue=True):
        self.channel.settle(("nack", self.delivery_tag, requeue), self.delivery_tag)

    async def reject(self, requeue=False):
        self.channel.settle(("reject", self.delivery_tag), self.delivery_tag)


def batcher():
    return AckBatcher(logging.getLogger("test"))


async def test_the_deliveries_done_in_one_loop_turn_are_acknowledged_with_one_frame():
    acks, channel = batcher(), FakeChannel()
    deliveries = [channel.deliver() for _ in range(5)]
    for d in deliveries:
        acks.received(d)
    for d in deliveries:
        acks.ack(d)
    assert channel.frames == []  # not before the end of the loop turn
    await acks.drain()
    assert channel.frames == [("ack", 5, True)]
    assert channel.settled == {t: "ack" for t in range(1, 6)}


async def test_a_delivery_still_worked_on_holds_back_the_acknowledgement_of_those_after_it():
    acks, channel = batcher(), FakeChannel()
    first, second, third = (channel.deliver() for _ in range(3))
    for d in (first, second, third):
        acks.received(d)
    acks.ack(first)
    acks.ack(third)
    await acks.drain()
    assert channel.frames == [("ack", 1, True)] and 2 not in channel.settled and 3 not in channel.settled
    acks.ack(second)
    await asyncio.sleep(0)  # the end of the loop turn sends it
    await acks.drain()
    assert channel.frames[1:] == [("ack", 3, True)] and channel.settled == {1: "ack", 2: "ack", 3: "ack"}


async def test_a_nack_or_reject_goes_at_once_alone_and_no_acknowledgement_covers_it():
    acks, channel = batcher(), FakeChannel()
    deliveries = [channel.deliver() for _ in range(4)]
    for d in deliveries:
        acks.received(d)
    acks.ack(deliveries[0])
    await acks.nack(deliveries[1], requeue=True)  # still before the acknowledgement of the first
    acks.ack(deliveries[3])
    await acks.reject(deliveries[2])
    await acks.drain()
    assert channel.frames == [("nack", 2, True), ("reject", 3), ("ack", 4, True)]
    assert channel.settled == {1: "ack", 2: "nack", 3: "reject", 4: "ack"}  # 2 and 3 were settled first


async def test_deliveries_of_a_replaced_channel_are_forgotten_and_a_failed_acknowledgement_is_not_raised():
    acks, old = batcher(), FakeChannel()
    stale = old.deliver()
    acks.received(stale)
    new = FakeChannel()  # a reconnection: tags start again at 1
    fresh = new.deliver()
    acks.received(fresh)
    acks.ack(stale)  # its channel is gone: the broker delivers it again
    acks.ack(fresh)
    await acks.drain()
    assert old.frames == [] and new.frames == [("ack", 1, True)]
    late = new.deliver()
    acks.received(late)
    new.closed = True
    acks.ack(late)
    await acks.drain()  # logged, not raised
    assert 2 not in new.settled and acks.acks_sent == 1


class ClosedChannelDelivery(Delivery):
    @property
    def channel(self):
        raise ConnectionError("channel closed")  # as aio-pika's IncomingMessage.channel does

    @channel.setter
    def channel(self, _value):
        pass


async def test_a_delivery_whose_channel_closed_meanwhile_is_left_to_the_broker_without_an_error():
    acks, channel = batcher(), FakeChannel()
    first = channel.deliver()
    acks.received(first)
    acks.ack(first)
    closed = ClosedChannelDelivery(channel, 2)
    acks.received(closed)
    acks.ack(closed)  # no error: the broker delivers it again
    await acks.drain()
    assert channel.frames == [("ack", 1, True)]
