"""Work handed in concurrently, done a batch at a time: while one batch runs, the next one gathers.

A drop delivers hundreds of commands a second; doing each in its own transaction costs a commit, a
festival read and the statements' set-up per command. `Batcher.submit` waits for its item's result
while the items submitted around the same time run together through `run_batch`. Nothing waits for a
batch to fill: a lone item runs at once, and a batch is what arrived while the one before it ran.

If a batch fails as a whole, each of its items is run again alone through `run_one`, so one bad item
fails only itself (and its caller decides, as it would without batching, whether to retry it).
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class Batcher(Generic[Item, Result]):
    def __init__(self, run_batch: Callable[[Sequence[Item]], Awaitable[Sequence[Result]]],
                 run_one: Callable[[Item], Awaitable[Result]], max_size: int = 200):
        self.run_batch = run_batch
        self.run_one = run_one
        self.max_size = max_size
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._worker: asyncio.Task[None] | None = None
        self.batches = 0  # how many batches ran (tests read it)

    async def submit(self, item: Item) -> Result:
        return await self.enqueue(item)

    def enqueue(self, item: Item) -> asyncio.Future[Result]:
        """Queues `item` at once, behind everything queued before it (items run in the order they were
        queued); its result, or its failure, comes in the future returned. Several items queued without an
        await between them keep their order against items other tasks queue meanwhile."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain(), name="batcher")
        return future

    async def _drain(self) -> None:
        while self._waiting:
            await asyncio.sleep(0)  # items delivered in the same turn of the loop join this batch
            batch, self._waiting = self._waiting[:self.max_size], self._waiting[self.max_size:]
            await self._run(batch)

    async def _run(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        self.batches += 1
        try:
            results = await self.run_batch([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"a batch of {len(batch)} gave {len(results)} results")
        except Exception:
            for item, future in batch:  # each alone: only a bad item fails
                try:
                    result = await self.run_one(item)
                except Exception as exc:
                    if not future.done():  # done: its caller was cancelled meanwhile
                        future.set_exception(exc)
                else:
                    if not future.done():
                        future.set_result(result)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
