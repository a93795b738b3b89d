"""Keeps the broker clients' own logs to a trickle during an outage. aiokafka logs every failed
reconnect (thousands of lines a second across the apps while Kafka is down): each of its messages
is let through once a minute, with a count of the repeats held back."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable

WINDOW_SECONDS = 60.0
CLIENT_LOGGERS = ("aiokafka", "aiormq", "aio_pika")


class RepeatLimit(logging.Filter):
    def __init__(self, window: float = WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.window, self.clock = window, clock
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(CLIENT_LOGGERS):
            return True
        key = (record.name, str(record.msg))
        now = self.clock()
        last = self._seen.get(key)
        if last is not None and now - last[0] < self.window:
            self._seen[key] = (last[0], last[1] + 1)
            return False
        held_back = last[1] if last else 0
        self._seen[key] = (now, 0)
        if held_back:
            record.msg = f"{record.msg} (and {held_back} more like it in the last {self.window:.0f} s)"
        return True


_installed = RepeatLimit()


def limit_broker_client_logs() -> None:
    """Installs the limit on the root logger's handlers, where the clients' records end up (a filter on
    a logger would miss its children's records). Idempotent."""
    for handler in logging.getLogger().handlers:
        if _installed not in handler.filters:
            handler.addFilter(_installed)
