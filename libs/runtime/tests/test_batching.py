"""The batcher: what is submitted together runs together; a failed batch is retried item by item."""
import asyncio

import pytest

from festflow_runtime.batching import Batcher


async def test_items_submitted_together_run_as_one_batch_and_each_gets_its_own_result():
    batches = []

    async def run_batch(items):
        batches.append(list(items))
        return [item * 10 for item in items]

    async def run_one(item):
        raise AssertionError("no batch failed")

    batcher = Batcher(run_batch, run_one, max_size=3)
    results = await asyncio.gather(*(batcher.submit(i) for i in range(7)))
    assert results == [i * 10 for i in range(7)]
    assert batches == [[0, 1, 2], [3, 4, 5], [6]]  # at most max_size at a time, in order


async def test_a_lone_item_runs_at_once_and_a_later_one_in_a_new_batch():
    batcher = Batcher(lambda items: asyncio.sleep(0, [i + 1 for i in items]), lambda i: asyncio.sleep(0, i))
    assert await batcher.submit(1) == 2
    assert await batcher.submit(5) == 6
    assert batcher.batches == 2


async def test_a_failed_batch_is_run_item_by_item_and_only_the_bad_item_fails():
    async def run_batch(items):
        raise ValueError("one of them is bad")

    async def run_one(item):
        if item == "bad":
            raise ValueError("bad item")
        return item.upper()

    batcher = Batcher(run_batch, run_one)
    results = await asyncio.gather(*(batcher.submit(i) for i in ["a", "bad", "c"]), return_exceptions=True)
    assert results[0] == "A" and results[2] == "C"
    assert isinstance(results[1], ValueError) and str(results[1]) == "bad item"


async def test_a_batch_giving_the_wrong_number_of_results_is_not_trusted():
    batcher = Batcher(lambda items: asyncio.sleep(0, [1]), lambda i: asyncio.sleep(0, i * 2))
    assert await asyncio.gather(batcher.submit(1), batcher.submit(2)) == [2, 4]


@pytest.mark.parametrize("size", [1, 50])
async def test_items_arriving_while_a_batch_runs_form_the_next_batch(size):
    started, release = asyncio.Event(), asyncio.Event()
    batches = []

    async def run_batch(items):
        batches.append(list(items))
        started.set()
        await release.wait()
        return list(items)

    batcher = Batcher(run_batch, lambda i: asyncio.sleep(0, i), max_size=size)
    first = asyncio.create_task(batcher.submit(0))
    await started.wait()
    later = [asyncio.create_task(batcher.submit(i)) for i in (1, 2)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(first, *later) == [0, 1, 2]
    assert batches == ([[0], [1, 2]] if size == 50 else [[0], [1], [2]])


async def test_items_enqueued_without_an_await_between_keep_their_place_before_items_submitted_after():
    ran: list[str] = []

    async def run_batch(items):
        ran.extend(items)
        return items

    batcher = Batcher(run_batch, lambda item: run_batch([item]), max_size=10)
    later = asyncio.ensure_future(batcher.submit("later"))  # a task that submits once it gets its turn
    queued = [batcher.enqueue(item) for item in ("a", "b", "c")]
    assert await asyncio.gather(*queued, later) == ["a", "b", "c", "later"]
    assert ran == ["a", "b", "c", "later"]
