"""A lean HTTP/1.1 keep-alive client for the load generator.

The generator shares the machine's two cores with the stack it measures, so what it spends per request
is taken from the stack: httpx costs about a millisecond of CPU per request, this client a tenth of
that. Each pool sends from its own loopback address (127.x.y.z), as buyers arrive from many addresses,
so the gateway's per-address rate limit sees many buyers and not one. JSON in, JSON out; enough of
HTTP/1.1 for Nginx (Content-Length and chunked bodies).
"""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader = reader
        self.writer = writer

    async def exchange(self, request: bytes) -> tuple[Response, bool]:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        chunked = headers.get("transfer-encoding", "").lower() == "chunked"
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif chunked:
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    break
                parts.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            body = b"".join(parts)
        else:
            body = await self.reader.read()
        framed = "content-length" in headers or chunked
        reusable = framed and headers.get("connection", "").lower() != "close"
        return Response(status, headers, body), reusable

    def close(self) -> None:
        self.writer.close()


class Pool:
    """Keep-alive connections to one host:port, all from one local address."""

    def __init__(self, host: str, port: int, local_ip: str = "127.0.0.1", max_connections: int = 200,
                 timeout: float = 30.0):
        self.host, self.port, self.local_ip = host, port, local_ip
        self.timeout = timeout
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(max_connections)

    async def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
                      ) -> Response:
        data = b"" if body is None else json.dumps(body).encode()
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Content-Length: {len(data)}"]
        if body is not None:
            head.append("Content-Type: application/json")
        head.extend(f"{name}: {value}" for name, value in (headers or {}).items())
        request = ("\r\n".join(head) + "\r\n\r\n").encode() + data
        async with self._slots:
            for attempt in range(2):  # a kept-alive connection the server closed meanwhile: once more, anew
                reused = bool(self._idle) and attempt == 0
                conn = self._idle.pop() if reused else await self._open()
                try:
                    response, reusable = await asyncio.wait_for(conn.exchange(request), self.timeout)
                except (ConnectionError, asyncio.IncompleteReadError):
                    conn.close()
                    if not reused:
                        raise
                    continue
                except BaseException:
                    conn.close()
                    raise
                if reusable:
                    self._idle.append(conn)
                else:
                    conn.close()
                return response
        raise AssertionError("unreachable")

    async def _open(self) -> _Connection:
        reader, writer = await asyncio.open_connection(self.host, self.port, local_addr=(self.local_ip, 0),
                                                       limit=1 << 20)
        return _Connection(reader, writer)

    def close(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()


def loopback_address(n: int) -> str:
    """The n-th of the load generator's own loopback addresses (127.10.0.1 upwards)."""
    return f"127.10.{(n // 250) % 250}.{n % 250 + 1}"
