"""Every service's log records, as events on the SYSTEM_LOGS_TOPIC, for the organisers' live logs.

`LogFeed(service, bootstrap, loggers).start()` attaches a handler to the named loggers; records are
queued without blocking the code that logs and sent by a background task that (re)connects to Kafka
on its own. When Kafka is away records are dropped, never the service.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer

from festflow_contracts import events
from festflow_contracts.channels import SYSTEM_LOGS_TOPIC
from festflow_runtime.event_stream import cancel_and_wait, stop_within
from festflow_runtime.kafka_clients import CLIENT_OPTIONS
from festflow_runtime.topics import ensure_topics

QUEUE_SIZE = 1000


# uvicorn reports every WebSocket opening and closing; the organisers' feed is for what the service does
def _not_chatter(record: logging.LogRecord) -> bool:
    if not record.name.startswith("uvicorn"):
        return True
    message = record.getMessage()
    return message not in ("connection open", "connection closed") and '"WebSocket ' not in message


class _QueueHandler(logging.Handler):
    def __init__(self, service: str, queue: asyncio.Queue, loop: asyncio.AbstractEventLoop):
        super().__init__(level=logging.INFO)
        self.service, self.queue, self.loop = service, queue, loop
        self.addFilter(_not_chatter)

    def emit(self, record: logging.LogRecord) -> None:
        when = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        entry = {
            "time": when.replace("+00:00", "Z"),
            "service": self.service, "level": record.levelname, "logger": record.name,
            "message": record.getMessage() + (f" ({record.exc_info[1]!r})" if record.exc_info else ""),
        }
        try:
            self.loop.call_soon_threadsafe(self._put, entry)
        except RuntimeError:  # the loop is closed: the service is stopping
            pass

    def _put(self, entry: dict) -> None:
        try:
            self.queue.put_nowait(entry)
        except asyncio.QueueFull:
            pass


class LogFeed:
    def __init__(self, service: str, bootstrap: str, loggers: tuple[str, ...]):
        self.service, self.bootstrap, self.loggers = service, bootstrap, loggers
        self.queue: asyncio.Queue = asyncio.Queue(maxsize=QUEUE_SIZE)
        self.handler: _QueueHandler | None = None
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self.handler = _QueueHandler(self.service, self.queue, asyncio.get_running_loop())
        for name in self.loggers:
            logging.getLogger(name).addHandler(self.handler)
        self._task = asyncio.create_task(self._send_forever(), name="log-feed")

    async def _send_forever(self) -> None:
        while True:
            producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=50, **CLIENT_OPTIONS)
            try:
                await ensure_topics(self.bootstrap, (SYSTEM_LOGS_TOPIC,))
                await producer.start()
                while True:
                    entry = await self.queue.get()
                    event = events.new_event(events.LOG_RECORD, f"/festflow/{self.service}", entry)
                    await producer.send(SYSTEM_LOGS_TOPIC, events.encode(event), key=self.service.encode())
            except asyncio.CancelledError:
                raise
            except Exception:
                await asyncio.sleep(2)
            finally:
                await stop_within(producer.stop())

    async def stop(self) -> None:
        if self.handler:
            for name in self.loggers:
                logging.getLogger(name).removeHandler(self.handler)
        await cancel_and_wait(self._task)
