"""The proxy's default upstream client: HTTP/1.1 keep-alive over asyncio streams.

Why not httpx: against the stub upstream on 127.0.0.1 one httpx ``AsyncClient`` request
took ~1.3 ms and httpcore's pool alone ~1.05 ms, against ~0.33 ms for the same bytes
written and read on an asyncio stream; h11 (httpx's parser) still cost ~150 us a request
(~70 us of it validating the request's headers). httpx would have been most of what the
gateway adds. This client does the one exchange a proxy needs -- a POST with a known body,
a response read as it arrives -- and nothing else; ``gateway.proxy(url, client=...)`` takes
an ``httpx.AsyncClient`` for HTTP/2, proxies or custom transports.

The request is one write: the headers come from the ASGI server (which already refused
malformed ones) and the gateway, and are checked again here (a token name, no CR, LF or NUL
in a value). The response is parsed strictly and refused (``UpstreamError``, a 502) when
ambiguous: a status line that is not HTTP/1.x, a header line without a name, folded lines,
``transfer-encoding`` other than ``chunked`` or together with ``content-length``, differing
lengths, a head over 64 KiB. Bodies are framed by ``content-length``, ``chunked``, or the
connection's end; 1xx responses are skipped. A connection is reused only after a complete
exchange on HTTP/1.1 without ``connection: close``, and never when the server closed it while
idle or it sat idle longer than ``keepalive`` seconds (servers drop idle connections; uvicorn
after 5 s).
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

__all__ = ["Upstream", "UpstreamError", "UpstreamResponse", "relay"]

_READ = 1 << 16
_MAX_HEAD = 1 << 16
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE = re.compile(rb"[\x00\r\n]")
_STATUS = re.compile(rb"HTTP/1\.([01]) ([1-9][0-9]{2})(?: [^\r\n]*)?")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")
_NO_BODY = frozenset({204, 304})


class UpstreamError(Exception):
    """The upstream could not be reached, or answered outside HTTP/1.1 (the gateway's 502)."""


@dataclass(slots=True)
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = 0.0

    def usable(self, now: float, keepalive: float) -> bool:
        return (not self.reader.at_eof() and not self.writer.is_closing()
                and now - self.idle_since < keepalive)

    def close(self) -> None:
        self.writer.close()


class UpstreamResponse:
    """Status and headers (lower-case names) of one response; ``body()`` streams the rest."""

    def __init__(self, pool: Upstream, connection: _Connection, *, status: int,
                 headers: list[tuple[bytes, bytes]], framing: str, length: int,
                 keep_alive: bool) -> None:
        self.status_code, self.headers = status, headers
        self._pool, self._connection = pool, connection
        self._framing, self._length, self._keep_alive = framing, length, keep_alive
        self._done = False

    @property
    def length(self) -> int | None:
        """The body's size when the upstream declared it (``content-length``), else None."""
        return self._length if self._framing == "length" else None

    async def body(self) -> AsyncIterator[bytes]:
        """The body as it arrives (transfer coding removed, content coding kept)."""
        read = self._pool._read
        reader = self._connection.reader
        if self._framing == "length":
            left = self._length
            while left:
                chunk = await read(reader.read(min(left, _READ)))
                if not chunk:
                    raise UpstreamError("the upstream closed the connection mid-response")
                left -= len(chunk)
                yield chunk
        elif self._framing == "chunked":
            while True:
                line = await self._pool._line(reader)
                size_text = line.split(b";", 1)[0].strip()
                if not _HEX.fullmatch(size_text):
                    raise UpstreamError("the upstream sent a malformed chunk size")
                size = int(size_text, 16)
                if size == 0:
                    while await self._pool._line(reader):  # trailers, dropped
                        pass
                    break
                try:
                    data = await read(reader.readexactly(size + 2))
                except asyncio.IncompleteReadError:
                    raise UpstreamError("the upstream closed the connection mid-chunk") from None
                if data[-2:] != b"\r\n":
                    raise UpstreamError("the upstream sent a malformed chunk")
                yield data[:-2]
        else:  # "close": the body is everything until the upstream closes
            while chunk := await read(reader.read(_READ)):
                yield chunk
        self._done = True

    async def aclose(self) -> None:
        """Return the connection to the pool after a complete exchange, else close it."""
        self._pool._release(self._connection, reusable=self._done and self._keep_alive)


class Upstream:
    """A small pool of keep-alive connections to one base URL (``http://`` or ``https://``)."""

    def __init__(self, base_url: str, *, timeout: float = 60.0, keepalive: float = 4.0,
                 max_idle: int = 64, ssl_context: ssl.SSLContext | None = None) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"upstream must be an http:// or https:// URL, not {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.prefix = parts.path.rstrip("/").encode("ascii")
        self.authority = parts.netloc.rpartition("@")[2].encode("ascii")
        self.ssl: ssl.SSLContext | None = None
        if parts.scheme == "https":
            self.ssl = ssl_context or ssl.create_default_context()
        self.timeout, self.keepalive, self.max_idle = timeout, keepalive, max_idle
        self._idle: list[_Connection] = []

    async def request(self, method: str, target: str, headers: Sequence[tuple[bytes, bytes]],
                      body: bytes) -> UpstreamResponse:
        """Send one request (``host`` and ``content-length`` are set here) and read the head."""
        head = [method.encode("ascii"), b" ", self.prefix, target.encode("ascii"),
                b" HTTP/1.1\r\nhost: ", self.authority, b"\r\n"]
        for name, value in headers:
            if not _TOKEN.fullmatch(name) or _BAD_VALUE.search(value):
                raise UpstreamError(f"refusing to forward a malformed header {name[:40]!r}")
            head += (name, b": ", value, b"\r\n")
        head += (b"content-length: ", str(len(body)).encode(), b"\r\n\r\n", body)
        connection = await self._acquire()
        try:
            connection.writer.write(b"".join(head))
            while True:
                response = await self._head(connection)
                if response is not None:
                    return response
        except BaseException:
            connection.close()
            raise

    async def _head(self, connection: _Connection) -> UpstreamResponse | None:
        """The next response head; None for a 1xx (informational) one."""
        try:
            raw = await self._read(connection.reader.readuntil(b"\r\n\r\n"))
        except asyncio.IncompleteReadError as exc:
            raise UpstreamError("the upstream closed the connection without a response"
                                if not exc.partial else "the upstream's response was cut off"
                                ) from None
        except asyncio.LimitOverrunError:
            raise UpstreamError(f"the upstream's response head is over {_MAX_HEAD} bytes") \
                from None
        status_line, *lines = raw[:-4].split(b"\r\n")
        matched = _STATUS.fullmatch(status_line)
        if matched is None:
            raise UpstreamError(f"the upstream did not answer HTTP/1.x: {status_line[:60]!r}")
        status = int(matched[2])
        headers: list[tuple[bytes, bytes]] = []
        lengths: set[bytes] = set()
        codings: list[bytes] = []
        close = matched[1] == b"0"
        for line in lines:
            name, sep, value = line.partition(b":")
            if not sep or not _TOKEN.fullmatch(name) or _BAD_VALUE.search(value):
                raise UpstreamError(f"the upstream sent a malformed header line {line[:60]!r}")
            name, value = name.lower(), value.strip(b" \t")
            if name == b"content-length":
                lengths.update(v.strip() for v in value.split(b","))
            elif name == b"transfer-encoding":
                codings += [c.strip().lower() for c in value.split(b",")]
            elif name == b"connection" and b"close" in value.lower():
                close = True
            headers.append((name, value))
        if 100 <= status < 200:
            if status == 101:
                raise UpstreamError("the upstream switched protocols, which a proxy cannot")
            return None
        framing, length = "close", 0
        if status in _NO_BODY:
            framing = "length"
        elif codings:
            if lengths or codings != [b"chunked"]:
                raise UpstreamError("the upstream's response framing is ambiguous "
                                    "(transfer-encoding other than chunked, or with a length)")
            framing = "chunked"
        elif lengths:
            text = lengths.pop()
            if lengths or not text.isdigit() or len(text) > 18:
                raise UpstreamError("the upstream sent an invalid or conflicting content-length")
            framing, length = "length", int(text)
        return UpstreamResponse(self, connection, status=status, headers=headers,
                                framing=framing, length=length,
                                keep_alive=not close and framing != "close")

    async def _read(self, pending: Awaitable[bytes]) -> bytes:
        """Await one read within the timeout; I/O failures are ``UpstreamError``."""
        try:
            async with asyncio.timeout(self.timeout):
                return await pending
        except TimeoutError:
            raise UpstreamError(f"the upstream did not answer within {self.timeout} s") \
                from None
        except OSError as exc:
            raise UpstreamError(f"reading from the upstream failed: {exc!r}") from None

    async def _line(self, reader: asyncio.StreamReader) -> bytes:
        try:
            line = await self._read(reader.readuntil(b"\r\n"))
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            raise UpstreamError("the upstream's chunked body was cut off or malformed") \
                from None
        return line[:-2]

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
                    self.host, self.port, ssl=self.ssl, limit=_MAX_HEAD)
        except (OSError, TimeoutError) as exc:
            raise UpstreamError(f"connecting to {self.host}:{self.port} failed: {exc!r}") \
                from None
        return _Connection(reader, writer)

    def _release(self, connection: _Connection, *, reusable: bool) -> None:
        if reusable and len(self._idle) < self.max_idle and not connection.writer.is_closing():
            connection.idle_since = time.monotonic()
            self._idle.append(connection)
        else:
            connection.close()

    async def aclose(self) -> None:
        """Close every idle connection (the proxy's lifespan shutdown)."""
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()


Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


async def relay(response: UpstreamResponse, send: Send, *,
                drop: frozenset[bytes] = frozenset()) -> None:
    """Pass ``response`` on to an ASGI ``send``, chunk by chunk, without buffering a stream.

    A sized body's first chunk is read before the head is sent, so the two leave back to
    back (the client is woken once, not once for a lone head); a body that arrives whole is
    one message. Streams (chunked, or delimited by the close) get their head at once.
    """
    start = {"type": "http.response.start", "status": response.status_code,
             "headers": [(k, v) for k, v in response.headers if k not in drop]}
    chunks = response.body()
    if response.length is not None:
        first = await anext(chunks, None)
        await send(start)
        if first is not None:
            more = len(first) < response.length
            await send({"type": "http.response.body", "body": first, "more_body": more})
            if not more:
                await anext(chunks, None)  # ends the generator: the exchange is complete
                return
    else:
        await send(start)
    async for chunk in chunks:
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})
