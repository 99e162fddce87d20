"""The proxy's upstream client over real sockets, the httpx alternative, and what fails closed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.serving.conftest import Recorder, Running, load_example, serve, stop
from tests.serving.test_middleware import call

from compliance import Engine
from compliance.serving import Gateway
from compliance.serving.upstream import Upstream, UpstreamError

REPO = Path(__file__).resolve().parents[2]
CHAT = "/v1/chat/completions"
JSON = [(b"content-type", b"application/json")]


@pytest.fixture(scope="module")
def upstream() -> Iterator[Running]:
    running = serve(load_example("upstream").app)
    try:
        yield running
    finally:
        stop(running)


async def exchange(pool: Upstream, body: dict[str, Any]) -> tuple[int, dict[bytes, bytes], bytes]:
    response = await pool.request("POST", CHAT, JSON, json.dumps(body).encode())
    try:
        chunks = [chunk async for chunk in response.body()]
    finally:
        await response.aclose()
    return response.status_code, dict(response.headers), b"".join(chunks)


def test_keep_alive_connections_are_reused_and_bodies_arrive_whole(upstream: Running) -> None:
    """Sequential exchanges share one connection; a JSON body and an SSE stream both arrive."""

    async def run() -> None:
        pool = Upstream(upstream.url)
        for _ in range(3):
            status, headers, body = await exchange(pool, {"model": "m"})
            assert status == 200
            assert json.loads(body)["model"] == "m"
            assert headers[b"content-length"] == str(len(body)).encode()
        assert len(pool._idle) == 1
        status, _, body = await exchange(pool, {"model": "m", "stream": True})
        assert status == 200
        assert body.count(b"data: ") == 4
        assert body.endswith(b"data: [DONE]\n\n")
        await pool.aclose()
        assert pool._idle == []

    asyncio.run(run())


def test_a_connection_the_server_closed_while_idle_is_not_reused(upstream: Running) -> None:
    async def run() -> None:
        pool = Upstream(upstream.url)
        await exchange(pool, {"model": "m"})
        (idle,) = pool._idle
        idle.writer.transport.abort()  # as a server's keep-alive timeout would
        await asyncio.sleep(0.05)
        status, _, _ = await exchange(pool, {"model": "m"})
        assert status == 200
        assert pool._idle
        assert pool._idle[0] is not idle

    asyncio.run(run())


def test_an_unreachable_upstream_is_an_upstream_error_and_a_502() -> None:
    with pytest.raises(ValueError, match="http:// or https://"):
        Upstream("ftp://127.0.0.1")

    async def run() -> None:
        with pytest.raises(UpstreamError, match=r"connecting to 127\.0\.0\.1:9 failed"):
            await Upstream("http://127.0.0.1:9", timeout=5).request("POST", CHAT, JSON, b"{}")

    asyncio.run(run())
    example = load_example("gateway")
    app = example.build("http://127.0.0.1:9")
    response = call(app, CHAT, {"model": "opus-4.8"},
                    {"authorization": "Bearer key-us", "x-use-case": "coding",
                     "x-origin-country": "US"})
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream-unavailable"


def test_a_given_httpx_client_carries_the_request_instead(upstream: Running) -> None:
    """proxy(client=AsyncClient(...)): same decision applied, the caller's client used."""
    recorder = Recorder(load_example("upstream").app)
    example = load_example("gateway")
    gateway = Gateway(Engine.from_path(REPO / "rules"), resolver=example.resolve,
                      mapping=example.MAPPING)

    async def run() -> httpx.Response:
        inner = httpx.AsyncClient(transport=httpx.ASGITransport(app=recorder))
        app = gateway.proxy("http://model", client=inner)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://gw") as client:
            response = await client.post(CHAT, content=json.dumps({"model": "mythos-5"}),
                                         headers={"authorization": "Bearer key-us",
                                                  "x-use-case": "llm-dev",
                                                  "x-origin-country": "US"})
        await inner.aclose()
        return response

    response = asyncio.run(run())
    assert response.status_code == 200
    assert json.loads(recorder.seen[-1][1])["model"] == "opus-4.8"
    assert response.json()["compliance"]["disclosures"][0]["kind"] == "route"


@pytest.mark.parametrize("kind", ["modify", "steer"])
def test_modify_and_steer_fail_closed_in_the_gateway(
    packset: Callable[..., Path], kind: str,
) -> None:
    """The gateway does not rewrite prompts: such a decision is a 500, never forwarded."""
    root = packset({"p.yaml": f"""\
        pack: prompts
        version: "1"
        tier: policy
        rules:
          - id: nudge
            when: "true"
            effect: intervene
            reason: "nudged"
            intervention:
              kind: {kind}
              disclosure: visible
              message: "Answered with care."
              instruction: "Be careful."
        """})
    recorder = Recorder(load_example("upstream").app)
    response = call(Gateway(Engine.from_path(root)).middleware(recorder), CHAT, {"model": "m"})
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == "intervention-unsupported"
    assert error["message"] == "The request could not be served as the policy requires."
    assert error["decision_id"] == response.headers["x-compliance-decision-id"]
    assert recorder.seen == []


# --- the response parser, against a server that answers exactly the bytes given ------------

async def scripted(answers: list[bytes], *, close: bool = False) -> tuple[Upstream, Any]:
    """A server answering each request on a connection with the next of ``answers``."""
    queue = list(answers)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while queue:
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            writer.write(queue.pop(0))
            await writer.drain()
            if close:
                break
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return Upstream(f"http://127.0.0.1:{port}", timeout=5), server


def answers_of(raw: list[bytes], n: int | None = None) -> list[tuple[int, bytes, bool]]:
    """(status, body, connection kept) of ``n`` sequential exchanges with scripted ``raw``."""

    async def run() -> list[tuple[int, bytes, bool]]:
        pool, server = await scripted(raw)
        out = []
        try:
            for _ in range(n or len(raw)):
                status, _, body = await exchange(pool, {"model": "m"})
                out.append((status, body, bool(pool._idle)))
        finally:
            await pool.aclose()
            server.close()
        return out

    return asyncio.run(run())


OK = b"HTTP/1.1 200 OK\r\n"


def test_framings_length_chunked_close_and_informational() -> None:
    got = answers_of([
        OK + b"content-length: 5\r\n\r\nhello",
        OK + b"transfer-encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n"
             b"0\r\ntrailer: x\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\n" + OK + b"content-length: 2\r\n\r\nok",
        b"HTTP/1.1 204 No Content\r\n\r\n",
        OK + b"connection: close\r\ncontent-length: 3\r\n\r\nbye",
    ])
    assert got == [(200, b"hello", True), (200, b"hello world", True), (200, b"ok", True),
                   (204, b"", True), (200, b"bye", False)]


def test_a_body_delimited_by_the_close_is_read_whole_and_not_reused() -> None:
    async def run() -> tuple[int, bytes, int]:
        pool, server = await scripted([OK + b"\r\nuntil the end"], close=True)
        status, _, body = await exchange(pool, {"model": "m"})
        server.close()
        return status, body, len(pool._idle)

    assert asyncio.run(run()) == (200, b"until the end", 0)


@pytest.mark.parametrize(("raw", "says"), [
    (b"HTTP/2 200 OK\r\n\r\n", "did not answer HTTP/1.x"),
    (b"SSH-2.0-OpenSSH\r\n\r\n", "did not answer HTTP/1.x"),
    (OK + b"no colon here\r\n\r\n", "malformed header line"),
    (OK + b" folded: x\r\n\r\n", "malformed header line"),
    (OK + b"transfer-encoding: chunked\r\ncontent-length: 3\r\n\r\nabc", "ambiguous"),
    (OK + b"transfer-encoding: gzip\r\n\r\n", "ambiguous"),
    (OK + b"content-length: 3\r\ncontent-length: 4\r\n\r\nabcd", "conflicting content-length"),
    (OK + b"content-length: -1\r\n\r\n", "invalid or conflicting content-length"),
    (OK + b"transfer-encoding: chunked\r\n\r\nzz\r\n", "malformed chunk size"),
    (OK + b"transfer-encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n", "malformed chunk"),
    (OK + b"content-length: 10\r\n\r\nshort", "closed the connection mid-response"),
    (b"", "closed the connection without a response"),
    (b"HTTP/1.1 101 Switching Protocols\r\n\r\n", "switched protocols"),
])
def test_ambiguous_or_broken_responses_are_upstream_errors(raw: bytes, says: str) -> None:
    async def run() -> None:
        pool, server = await scripted([raw], close=True)
        try:
            with pytest.raises(UpstreamError, match=says):
                await exchange(pool, {"model": "m"})
            assert pool._idle == []
        finally:
            server.close()

    asyncio.run(run())


def test_a_header_that_would_split_the_request_is_not_sent() -> None:
    async def run() -> None:
        pool, server = await scripted([OK + b"content-length: 0\r\n\r\n"])
        try:
            for bad in ([(b"x-a", b"1\r\nx-b: 2")], [(b"bad name", b"1")], [(b"x", b"\x00")]):
                with pytest.raises(UpstreamError, match="malformed header"):
                    await pool.request("POST", CHAT, bad, b"{}")
            assert pool._idle == []
        finally:
            server.close()

    asyncio.run(run())
