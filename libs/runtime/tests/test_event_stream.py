"""The Kafka consuming loop against a fake consumer (the stack tests use the real broker): commit after
the handler, retry a failing record from its offset, park it after a bounded number of attempts."""
from dataclasses import dataclass

import pytest
from aiokafka import TopicPartition

from festflow_contracts import events
from festflow_runtime.event_stream import consume_events

TP = TopicPartition("festflow.order-events", 0)


@dataclass
class Record:
    offset: int
    value: bytes
    topic: str = TP.topic
    partition: int = 0
    key: bytes = b"k"


class Drained(Exception):
    pass


class FakeConsumer:
    def __init__(self, values):
        self.records = [Record(i, v) for i, v in enumerate(values)]
        self.position = 0
        self.committed: dict = {}

    async def getmany(self, timeout_ms, max_records):
        if self.position >= len(self.records):
            raise Drained
        batch = self.records[self.position:]
        self.position = len(self.records)
        return {TP: batch}

    def seek(self, tp, offset):
        self.position = offset

    async def commit(self, offsets):
        self.committed.update(offsets)


def event(n):
    return events.encode(events.new_event(events.ORDER_CONFIRMED, "/t", {"n": n}))


async def run(consumer, handler, **kwargs):
    parked = []

    async def park(record, reason):
        parked.append((record.offset, reason))

    with pytest.raises(Drained):
        await consume_events(consumer, handler, park, retry_pause=0, **kwargs)
    return parked


async def test_each_event_is_handled_once_and_committed_after():
    seen = []

    async def handler(e):
        seen.append(e["data"]["n"])

    consumer = FakeConsumer([event(1), event(2)])
    assert await run(consumer, handler) == []
    assert seen == [1, 2] and consumer.committed == {TP: 2}


async def test_a_failing_record_is_retried_then_parked_and_the_partition_moves_on():
    seen = []

    async def handler(e):
        seen.append(e["data"]["n"])
        if e["data"]["n"] == 1:
            raise RuntimeError("the mail server says no")

    consumer = FakeConsumer([event(1), event(2)])
    parked = await run(consumer, handler, max_attempts=3)
    assert seen == [1, 1, 1, 2]  # three attempts, then the next record
    assert [offset for offset, _ in parked] == [0] and "failed 3 times" in parked[0][1]
    assert consumer.committed == {TP: 2}


async def test_a_record_that_fails_once_is_not_parked():
    calls = []

    async def handler(e):
        calls.append(e["id"])
        if len(calls) == 1:
            raise RuntimeError("for now")

    consumer = FakeConsumer([event(1)])
    assert await run(consumer, handler) == [] and len(calls) == 2


async def test_an_undecodable_record_is_parked_at_once():
    async def handler(e):
        raise AssertionError("never called")

    consumer = FakeConsumer([b"{not json"])
    parked = await run(consumer, handler)
    assert parked[0][0] == 0 and "undecodable" in parked[0][1] and consumer.committed == {TP: 1}


async def test_fan_out_consumers_commit_nothing():
    async def handler(e):
        pass

    consumer = FakeConsumer([event(1)])
    await run(consumer, handler, commit=False)
    assert consumer.committed == {}


async def test_a_stream_of_events_is_committed_at_most_once_per_interval_and_when_quiet():
    class Trickle(FakeConsumer):
        """One record per fetch, then one empty fetch (a quiet moment), then the end."""

        def __init__(self, values):
            super().__init__(values)
            self.commits = 0
            self.quiet_given = False

        async def getmany(self, timeout_ms, max_records):
            if self.position < len(self.records):
                self.position += 1
                return {TP: [self.records[self.position - 1]]}
            if not self.quiet_given:
                self.quiet_given = True
                return {}
            raise Drained

        async def commit(self, offsets):
            self.commits += 1
            await super().commit(offsets)

    async def handler(e):
        pass

    consumer = Trickle([event(n) for n in range(50)])
    await run(consumer, handler, linger=0)  # as fast as records come
    assert consumer.committed == {TP: 50}  # all of it, once quiet
    assert consumer.commits <= 3  # the first batch, perhaps one on the interval, and the quiet moment


async def test_after_a_batch_the_loop_lingers_so_the_next_fetch_brings_a_batch(monkeypatch):
    pauses = []

    async def sleep(seconds):
        pauses.append(seconds)

    class Quiet(FakeConsumer):  # one batch, then two empty polls
        calls = 0

        async def getmany(self, timeout_ms, max_records):
            self.calls += 1
            if self.calls == 1:
                return await super().getmany(timeout_ms, max_records)
            if self.calls <= 3:
                return {}
            raise Drained

    async def handler(e):
        pass

    monkeypatch.setattr("festflow_runtime.event_stream.asyncio.sleep", sleep)
    await run(Quiet([event(1), event(2)]), handler, linger=0.025)
    assert pauses == [0.025]  # after the batch only: a quiet consumer polls on without waiting


async def test_a_batch_handler_takes_the_records_that_came_together_at_once():
    batches, one_by_one = [], []

    async def batch_handler(batch):
        batches.append([e["data"]["n"] for e in batch])

    async def handler(e):
        one_by_one.append(e["data"]["n"])

    consumer = FakeConsumer([event(1), event(2), event(3)])
    assert await run(consumer, handler, batch_handler=batch_handler, linger=0) == []
    assert batches == [[1, 2, 3]] and one_by_one == []
    assert consumer.committed == {TP: 3}


async def test_a_failing_batch_is_handled_one_by_one_and_a_bad_record_parked():
    one_by_one = []

    async def batch_handler(batch):
        raise RuntimeError("one of them breaks the transaction")

    async def handler(e):
        one_by_one.append(e["data"]["n"])

    consumer = FakeConsumer([event(1), event(2)])
    assert await run(consumer, handler, batch_handler=batch_handler, linger=0) == []
    assert one_by_one == [1, 2] and consumer.committed == {TP: 2}

    one_by_one.clear()
    consumer = FakeConsumer([event(1), b"not an event", event(3)])  # the batch handler never sees it
    parked = await run(consumer, handler, batch_handler=lambda batch: pytest.fail("undecodable in a batch"),
                       linger=0)
    assert one_by_one == [1, 3] and [offset for offset, _ in parked] == [1]
    assert consumer.committed == {TP: 3}
