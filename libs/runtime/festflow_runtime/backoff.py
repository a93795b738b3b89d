"""Waiting out a broker or neighbour that is away: exponential backoff with jitter, and the outage said
once when it starts and once when it ends (not once per retry)."""
from __future__ import annotations

import asyncio
import logging
import random


class Backoff:
    def __init__(self, log: logging.Logger, what: str, start: float = 0.2, maximum: float = 10.0):
        self.log, self.what = log, what
        self.start, self.maximum = start, maximum
        self.delay = start
        self.outage = False

    async def failed(self, exc: BaseException | None) -> None:
        """After a failed try: say so if this starts an outage, then wait before the next try."""
        if not self.outage:
            self.log.warning("%s failed (%r); retrying with backoff", self.what, exc)
            self.outage = True
        await asyncio.sleep(self.delay * random.uniform(0.5, 1.0))
        self.delay = min(self.delay * 2, self.maximum)

    def succeeded(self) -> None:
        """After a try that worked: say the outage is over, if there was one."""
        if self.outage:
            self.log.info("%s works again", self.what)
            self.outage = False
        self.delay = self.start
