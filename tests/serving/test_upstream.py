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
