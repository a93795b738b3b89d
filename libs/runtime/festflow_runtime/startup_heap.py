"""Keeps the objects an app made while starting out of the garbage collector's full passes.

An app's modules, classes, functions, compiled statements and clients are made at start and live as long
as the process. CPython's full collection (generation 2) walks every tracked object, those included: in the
order service 116,000 of them after its imports alone, 74 ms a pass, and under a drop's load the loop stood
still for 90-160 ms at each of the several full passes a 20 s drop set off (measured with a loop-lag probe),
every checkout in flight waiting behind it.

`freeze_startup_heap()` (called by every app when its start is done) collects once and then moves what is
left to the permanent generation (`gc.freeze`), which no collection walks. Reference counting still frees
these objects as usual; only a reference cycle among them would stay until the process ends, and what an
app builds at start lives that long anyway. Objects made later are collected as before.
"""
from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any


def freeze_startup_heap() -> int:
    """Collects what is already garbage, then freezes the rest; returns how many objects are frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def lifespan_running(running: Callable[[Any], AbstractAsyncContextManager[None]]) -> Callable[[Any], Any]:
    """A service's lifespan: its `bootstrap.running(services)` (the services FastAPI's `app.state.services`
    holds), with the heap frozen once everything has started."""
    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        async with running(app.state.services):
            freeze_startup_heap()
            yield
    return lifespan
