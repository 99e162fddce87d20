"""Added latency of the gateway over calling the upstream directly, and requests/s.

Starts the stub upstream (examples/gateway/upstream.py) and the example gateway in front of
it, each under uvicorn on 127.0.0.1 in this process, then times sequential keep-alive POSTs
with one httpx client: N direct to the upstream, N through the gateway (an allowed request
and a routed, disclosed one). Reports median and p99 of each and the added latency.

    python benchmarks/gateway.py [--requests 2000] [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.serving.conftest import load_example, serve, stop  # noqa: E402

BODY = json.dumps({"model": "opus-4.8", "messages": [{"role": "user", "content": "hi"}]})
ROUTED = json.dumps({"model": "mythos-5", "messages": [{"role": "user", "content": "hi"}]})
HEADERS = {"authorization": "Bearer key-us", "content-type": "application/json",
           "x-use-case": "coding", "x-origin-country": "US"}


def timings(client: httpx.Client, url: str, body: str, headers: dict[str, str],
            n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.post(url, content=body, headers=headers)
        out.append(time.perf_counter() - start)
        if response.status_code != 200:
            raise SystemExit(f"unexpected {response.status_code}: {response.text}")
    return out


def p99(values: list[float]) -> float:
    return sorted(values)[int(len(values) * 0.99) - 1]


def in_process(n: int) -> tuple[list[float], list[float]]:
    """The gateway's own cost: the stub app called directly vs wrapped (middleware), no sockets."""
    import asyncio

    from compliance import Engine
    from compliance.serving import Gateway

    upstream = load_example("upstream").app
    example = load_example("gateway")
    gateway = Gateway(Engine.from_path(REPO / "rules"), resolver=example.resolve,
                      mapping=example.MAPPING)
    wrapped = gateway.middleware(upstream)
    body = BODY.encode()
    headers = [(k.encode(), v.encode()) for k, v in HEADERS.items()]
    scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions",
             "headers": headers, "query_string": b"", "client": ("127.0.0.1", 1)}

    async def one(app: object) -> float:
        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: object) -> None:
            return None

        start = time.perf_counter()
        await app(dict(scope), receive, send)  # type: ignore[operator]
        return time.perf_counter() - start

    async def series(app: object) -> list[float]:
        for _ in range(50):
            await one(app)
        return [await one(app) for _ in range(n)]

    return asyncio.run(series(upstream)), asyncio.run(series(wrapped))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--quick", action="store_true", help="200 requests (a smoke run)")
    args = parser.parse_args()
    n = 200 if args.quick else args.requests
    up = serve(load_example("upstream").app)
    gw = serve(load_example("gateway").build(up.url))
    path = "/v1/chat/completions"
    try:
        with httpx.Client(timeout=30) as client:
            timings(client, up.url + path, BODY, HEADERS, 50)  # warm up both
            timings(client, gw.url + path, BODY, HEADERS, 50)
            direct = timings(client, up.url + path, BODY, HEADERS, n)
            start = time.perf_counter()
            via = timings(client, gw.url + path, BODY, HEADERS, n)
            elapsed = time.perf_counter() - start
            routed = timings(client, gw.url + path, ROUTED,
                             {**HEADERS, "x-use-case": "llm-dev"}, n)
    finally:
        stop(gw)
        stop(up)
    us = 1e6
    print(f"requests per series: {n} (sequential, keep-alive, 127.0.0.1)")
    print(f"direct upstream      median {statistics.median(direct) * us:8.0f} us"
          f"   p99 {p99(direct) * us:8.0f} us")
    for name, series in (("via gateway", via), ("via gateway, routed", routed)):
        print(f"{name:<20} median {statistics.median(series) * us:8.0f} us"
              f"   p99 {p99(series) * us:8.0f} us"
              f"   added median {(statistics.median(series) - statistics.median(direct)) * us:7.0f}"
              f" us   added p99 {(p99(series) - p99(direct)) * us:7.0f} us")
    bare, wrapped = in_process(n)
    print(f"in-process (ASGI, no sockets): app {statistics.median(bare) * us:6.0f} us, "
          f"app behind the gateway {statistics.median(wrapped) * us:6.0f} us median; "
          f"added median {(statistics.median(wrapped) - statistics.median(bare)) * us:5.0f} us,"
          f" added p99 {(p99(wrapped) - p99(bare)) * us:5.0f} us")
    print(f"gateway throughput   {n / elapsed:8.0f} requests/s (one client, sequential)")


if __name__ == "__main__":
    main()
