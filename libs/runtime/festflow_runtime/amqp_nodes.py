"""Connecting to RabbitMQ when it runs as a cluster of nodes.

An app is given every node's URL, comma-separated, in AMQP_URL (one URL is a cluster of one). It connects
to one of them, picked at random so that the apps spread over the nodes, and when that node goes away it
reconnects to the next: aio-pika's robust connection restores the channels, queues and consumers as ever,
but each of its attempts goes to the next node in turn instead of knocking at the one that went away.
"""
from __future__ import annotations

import random
from typing import Any

import aio_pika
from aio_pika.abc import AbstractRobustConnection
from yarl import URL

RECONNECT_SECONDS = 1.0  # aio-pika waits 5 s between attempts; another node is usually there at once


def node_urls(amqp_url: str) -> list[str]:
    """The URLs in AMQP_URL (comma-separated); a clear error for an empty one."""
    urls = [url.strip() for url in amqp_url.split(",") if url.strip()]
    if not urls:
        raise ValueError("AMQP_URL names no RabbitMQ node")
    return urls


class NodesConnection(aio_pika.RobustConnection):
    """A robust connection over several nodes: each connection attempt reads `url` once (aio-pika's
    Connection.connect), and every read gives the next node."""

    def __init__(self, nodes: list[URL], first: int = 0, **kwargs: Any):
        self._nodes = nodes
        self._turn = first
        super().__init__(nodes[first], **kwargs)
        self._turn = first  # construction read `url` too

    @property
    def url(self) -> URL:
        node = self._nodes[self._turn % len(self._nodes)]
        self._turn += 1
        return node

    @url.setter
    def url(self, value: URL) -> None:  # aio-pika sets it once, at construction: the nodes are given
        pass

    @property
    def current(self) -> URL:
        """The node the last attempt went to."""
        return self._nodes[(self._turn - 1) % len(self._nodes)]

    def __str__(self) -> str:
        return ",".join(str(node.with_password("******") if node.password else node) for node in self._nodes)


async def connect(amqp_url: str, *, timeout: float | None = None,
                  rng: random.Random | None = None) -> AbstractRobustConnection:
    """A robust connection to one of AMQP_URL's nodes (tried in turn from a random one; raises what the last
    refused with when none answers), which moves on to the next node whenever it loses its own."""
    nodes = [URL(url) for url in node_urls(amqp_url)]
    first = (rng or random).randrange(len(nodes))
    for attempt in range(len(nodes)):
        connection = NodesConnection(nodes, (first + attempt) % len(nodes), reconnect_interval=RECONNECT_SECONDS)
        try:
            await connection.connect(timeout=timeout)
            return connection
        except Exception:
            await connection.close()
            if attempt == len(nodes) - 1:
                raise
    raise AssertionError("unreachable")
