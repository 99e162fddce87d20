"""The proxy's default upstream client: HTTP/1.1 keep-alive over asyncio streams, parsed by h11.

Why not httpx here: measured against the stub upstream on 127.0.0.1, one httpx
``AsyncClient`` request costs ~1.3 ms and httpcore's pool alone ~1.05 ms, against ~0.48 ms
for the same request written and parsed with h11 on an asyncio stream (the server's own
share is ~0.33 ms): httpx would be most of what the gateway adds. h11 (the parser httpx
itself uses) keeps the protocol handling correct -- framing, chunked bodies, keep-alive
reuse -- and this module only pools connections. ``gateway.proxy(url, client=...)`` still
takes an ``httpx.AsyncClient`` for what this client does not do (HTTP/2, proxies, custom
TLS or transports).

Connections are reused only after a complete exchange that both sides keep open, and never
when the server closed them while idle or they sat idle longer than ``keepalive`` seconds
(servers close idle connections; uvicorn after 5 s). Response bodies stream chunk by chunk
as they arrive (server-sent events reach the client live).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import h11

__all__ = ["Upstream", "UpstreamError", "UpstreamResponse"]

_READ = 1 << 16


class UpstreamError(Exception):
    """The upstream could not be reached, or broke the protocol (the gateway answers 502)."""


@dataclass(slots=True)
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    h11: h11.Connection = field(default_factory=lambda: h11.Connection(h11.CLIENT))
    idle_since: float = 0.0

    def usable(self, now: float, keepalive: float) -> bool:
        return (not self.reader.at_eof() and not self.writer.is_closing()
                and now - self.idle_since < keepalive)

    def close(self) -> None:
        self.writer.close()


class UpstreamResponse:
    """Status and headers (lower-case names) of one response; ``body()`` streams the rest."""

    def __init__(self, pool: Upstream, connection: _Connection, status: int,
                 headers: list[tuple[bytes, bytes]]) -> None:
        self.status_code, self.headers = status, headers
        self._pool, self._connection = pool, connection
        self._done = False

    async def body(self) -> AsyncIterator[bytes]:
        """The body as it arrives (transfer coding removed, content coding kept)."""
        connection = self._connection
        while True:
            event = await self._pool._next_event(connection)
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self._done = True
                return
            else:  # ConnectionClosed mid-body
                raise UpstreamError("the upstream closed the connection mid-response")

    async def aclose(self) -> None:
        """Return the connection to the pool after a complete exchange, else close it."""
        self._pool._release(self._connection, reusable=self._done)


class Upstream:
    """A small pool of keep-alive connections to one base URL (``http://`` or ``https://``)."""

    def __init__(self, base_url: str, *, timeout: float = 60.0, keepalive: float = 4.0,
                 max_idle: int = 64, ssl_context: ssl.SSLContext | None = None) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"upstream must be an http:// or https:// URL, not {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.prefix = parts.path.rstrip("/")
        self.authority = parts.netloc.rpartition("@")[2].encode("ascii")
        self.ssl: ssl.SSLContext | None = None
        if parts.scheme == "https":
            self.ssl = ssl_context or ssl.create_default_context()
        self.timeout, self.keepalive, self.max_idle = timeout, keepalive, max_idle
        self._idle: list[_Connection] = []

    async def request(self, method: str, target: str, headers: Sequence[tuple[bytes, bytes]],
                      body: bytes) -> UpstreamResponse:
        """Send one request (``host`` and ``content-length`` are set here) and read the head."""
        connection = await self._acquire()
        try:
            request = h11.Request(method=method, target=self.prefix + target, headers=[
                (b"host", self.authority), *headers, (b"content-length", str(len(body)).encode())])
            data = connection.h11.send(request) or b""
            data += (connection.h11.send(h11.Data(data=body)) or b"") if body else b""
            data += connection.h11.send(h11.EndOfMessage()) or b""
            connection.writer.write(data)
            while True:
                event = await self._next_event(connection)
                if isinstance(event, h11.InformationalResponse):
                    continue
                if isinstance(event, h11.Response):
                    return UpstreamResponse(self, connection, event.status_code,
                                            list(event.headers))
                raise UpstreamError("the upstream closed the connection without a response")
        except BaseException:
            connection.close()
            raise

    async def _next_event(self, connection: _Connection) -> object:
        conn = connection.h11
        try:
            while True:
                event = conn.next_event()
                if event is not h11.NEED_DATA:
                    return event
                async with asyncio.timeout(self.timeout):
                    conn.receive_data(await connection.reader.read(_READ))
        except h11.ProtocolError as exc:
            raise UpstreamError(f"the upstream broke HTTP/1.1: {exc}") from None
        except (OSError, TimeoutError) as exc:
            raise UpstreamError(f"reading from the upstream failed: {exc!r}") from None

    async def _acquire(self) -> _Connection:
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()
            if connection.usable(now, self.keepalive):
                return connection
            connection.close()
        try:
            async with asyncio.timeout(self.timeout):
                reader, writer = await asyncio.open_connection(
                    self.host, self.port, ssl=self.ssl, limit=_READ)
        except (OSError, TimeoutError) as exc:
            raise UpstreamError(f"connecting to {self.host}:{self.port} failed: {exc!r}") \
                from None
        return _Connection(reader, writer)

    def _release(self, connection: _Connection, *, reusable: bool) -> None:
        conn = connection.h11
        if (reusable and conn.our_state is h11.DONE and conn.their_state is h11.DONE
                and len(self._idle) < self.max_idle):
            conn.start_next_cycle()
            connection.idle_since = time.monotonic()
            self._idle.append(connection)
        else:
            connection.close()

    async def aclose(self) -> None:
        """Close every idle connection (the proxy's lifespan shutdown)."""
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()
