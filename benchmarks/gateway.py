"""Added latency of the gateway over calling the upstream directly, and requests/s (issue 13).

Starts the stub upstream (examples/gateway/upstream.py) and the example gateway in front of
it as two uvicorn processes on 127.0.0.1 (as they would be deployed: no shared GIL with the
client or with each other), then drives them from this process with a minimal HTTP/1.1
client: one keep-alive socket per server, ``TCP_NODELAY``, each request one ``sendall``, so
the client adds neither Nagle/delayed-ACK stalls nor a general-purpose client's own cost.
After a warm-up, direct and gateway calls are interleaved (alternating which goes first), so
both series see the same machine load. Per run it reports median and p99 of each series, the
added latency (median and p99 of the gateway series minus the direct one) and the gateway's
sequential requests/s; with ``--runs K`` it repeats and reports the median of the runs, and
states the goal (added median <= 200 us) as met / not met. Two more series separate what
the gateway adds from what any Python hop adds: a bare hop (``floor`` below: the same
uvicorn and upstream client, no policy step) over HTTP, and the ASGI middleware around the
stub in-process (no sockets: the policy step's own cost). A fifth server is the other
deployment: the stub model server with the gateway as its ASGI middleware (no hop), over
HTTP like the rest.

    python benchmarks/gateway.py [--requests 2000] [--runs 3] [--quick]
                                 [--http auto|h11|httptools] [--loop auto|asyncio|uvloop]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
GOAL_ADDED_MEDIAN_US = 200.0
CHAT = "/v1/chat/completions"
BODY = json.dumps({"model": "opus-4.8", "messages": [{"role": "user", "content": "hi"}]})
ROUTED = json.dumps({"model": "mythos-5", "messages": [{"role": "user", "content": "hi"}]})
HEADERS = {"authorization": "Bearer key-us", "content-type": "application/json",
           "x-use-case": "coding", "x-origin-country": "US"}


class Client:
    """One keep-alive HTTP/1.1 connection: a request is one write, the response is read whole."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._connect()

    def _connect(self) -> None:
        self.sock = socket.create_connection(("127.0.0.1", self.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.pending = b""
        self.used = time.monotonic()

    def ready(self) -> None:
        """Reconnect (untimed) if idle for long: uvicorn closes idle connections after 5 s."""
        if time.monotonic() - self.used > 2.0:
            self.sock.close()
            self._connect()

    def request(self, path: str, body: str, headers: dict[str, str]) -> tuple[int, bytes]:
        self.used = time.monotonic()
        data = body.encode()
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.sock.sendall(f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\n{head}"
                          f"content-length: {len(data)}\r\n\r\n".encode() + data)
        status_line, fields = self._head()
        status = int(status_line.split()[1])
        if "content-length" in fields:
            return status, self._exactly(int(fields["content-length"]))
        if fields.get("transfer-encoding", "").lower() == "chunked":
            return status, self._chunked()
        raise SystemExit(f"response without a length: {fields}")

    def _fill(self) -> None:
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise SystemExit("the server closed the connection")
        self.pending += chunk

    def _line(self) -> bytes:
        while b"\r\n" not in self.pending:
            self._fill()
        line, _, self.pending = self.pending.partition(b"\r\n")
        return line

    def _head(self) -> tuple[str, dict[str, str]]:
        while b"\r\n\r\n" not in self.pending:
            self._fill()
        head, _, self.pending = self.pending.partition(b"\r\n\r\n")
        first, *lines = head.decode("latin-1").split("\r\n")
        fields = {}
        for line in lines:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        return first, fields

    def _exactly(self, n: int) -> bytes:
        while len(self.pending) < n:
            self._fill()
        out, self.pending = self.pending[:n], self.pending[n:]
        return out

    def _chunked(self) -> bytes:
        parts = []
        while True:
            size = int(self._line().split(b";")[0], 16)
            if size == 0:
                self._line()
                return b"".join(parts)
            parts.append(self._exactly(size))
            self._line()

    def close(self) -> None:
        self.sock.close()


async def floor(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A proxy with no policy step (same server, same upstream client): what any hop costs."""
    from compliance.serving.upstream import Upstream, relay

    if scope["type"] != "http":
        return
    if not _FLOOR_POOL:
        _FLOOR_POOL.append(Upstream(os.environ["COMPLIANCE_UPSTREAM"]))
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    headers = [(k, v) for k, v in scope["headers"] if k not in (b"host", b"content-length")]
    response = await _FLOOR_POOL[0].request("POST", scope["path"], headers, b"".join(chunks))
    try:
        await relay(response, send, drop=frozenset({b"transfer-encoding", b"connection"}))
    finally:
        await response.aclose()


_FLOOR_POOL: list[Any] = []  # one pool per server process, made on the first request


def _example(name: str) -> Any:
    """examples/gateway/<name>.py as a module (the example is not an installed package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"example_gateway_{name}",
                                                  REPO / "examples" / "gateway" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def embedded_app() -> Any:
    """The stub model server with the gateway as its ASGI middleware: no hop at all."""
    from compliance import Engine
    from compliance.serving import Gateway

    example = _example("gateway")
    return Gateway(Engine.from_path(REPO / "rules"), resolver=example.resolve,
                   mapping=example.MAPPING).middleware(_example("upstream").app)


async def embedded(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """``embedded_app()``, built in the server process on its first request."""
    if not _EMBEDDED:
        _EMBEDDED.append(embedded_app())
    await _EMBEDDED[0](scope, receive, send)


_EMBEDDED: list[Any] = []


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of process ``pid`` so far (Linux /proc; None elsewhere).

    CPU time per request is what a server costs whatever else the machine runs; latency on
    a shared machine also counts the time spent waiting for a core.
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def server(app: str, port: int, args: argparse.Namespace, env: dict[str, str] | None = None,
           app_dir: str = ".") -> Iterator[int]:
    """``uvicorn app`` in a child process on 127.0.0.1:port; yields its pid once it accepts."""
    command = [sys.executable, "-m", "uvicorn", app, "--app-dir", app_dir,
               "--host", "127.0.0.1", "--port", str(port),
               "--log-level", "warning", "--no-access-log", "--http", args.http,
               "--loop", args.loop]
    process = subprocess.Popen(command, cwd=REPO, env={**os.environ, **(env or {})})
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"{app} did not start") from None
                time.sleep(0.05)
        yield process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def cpu_per_request(client: Client, pids: dict[str, int], n: int) -> dict[str, float]:
    """CPU microseconds per request that each process in ``pids`` spent over ``n`` calls."""
    client.ready()
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    for _ in range(n):
        client.request(CHAT, BODY, HEADERS)
    out = {}
    for name, pid in pids.items():
        start, end = before[name], cpu_seconds(pid)
        if start is not None and end is not None:
            out[f"{name}_cpu"] = (end - start) / n * 1e6
    return out


def one_run(direct: Client, hop: Client, gateway: Client, pids: dict[str, int], *, n: int,
            warmup: int, inside: Client) -> dict[str, float]:
    """Interleaved series: direct, via the bare hop, via the gateway (plain, routed).

    Then each server alone: requests/s through the gateway, and CPU per request of the
    upstream (called directly), the bare hop's process and the gateway's process.
    """
    calls: dict[str, tuple[Client, str, dict[str, str]]] = {
        "direct": (direct, BODY, HEADERS),
        "hop": (hop, BODY, HEADERS),
        "via": (gateway, BODY, HEADERS),
        "routed": (gateway, ROUTED, {**HEADERS, "x-use-case": "llm-dev"}),
        "inside": (inside, BODY, HEADERS),
    }
    times: dict[str, list[float]] = {name: [] for name in calls}
    order = list(calls)
    for i in range(warmup + n):
        for name in order if i % 2 else reversed(order):
            client, body, headers = calls[name]
            client.ready()
            start = time.perf_counter()
            status, payload = client.request(CHAT, body, headers)
            elapsed = time.perf_counter() - start
            if status != 200:
                raise SystemExit(f"{name}: unexpected {status}: {payload[:300]!r}")
            if i >= warmup:
                times[name].append(elapsed)
    start = time.perf_counter()
    out = cpu_per_request(gateway, {"gateway": pids["gateway"]}, n)
    out["rate"] = n / (time.perf_counter() - start)
    out |= cpu_per_request(direct, {"upstream": pids["upstream"]}, n)
    out |= cpu_per_request(hop, {"hop": pids["hop"]}, n)
    base_median, base_p99 = statistics.median(times["direct"]), p99(times["direct"])
    for name, series in times.items():
        out[f"{name}_median"] = statistics.median(series) * 1e6
        out[f"{name}_p99"] = p99(series) * 1e6
        if name != "direct":
            out[f"{name}_added_median"] = (statistics.median(series) - base_median) * 1e6
            out[f"{name}_added_p99"] = (p99(series) - base_p99) * 1e6
    return out


def in_process(n: int) -> tuple[list[float], list[float]]:
    """The policy step's own cost: the stub app called directly vs behind the middleware."""
    sys.path.insert(0, str(REPO))
    from tests.serving.conftest import load_example

    from compliance import Engine
    from compliance.serving import Gateway

    upstream = load_example("upstream").app
    example = load_example("gateway")
    wrapped = Gateway(Engine.from_path(REPO / "rules"), resolver=example.resolve,
                      mapping=example.MAPPING).middleware(upstream)
    body = BODY.encode()
    headers = [(k.encode(), v.encode()) for k, v in HEADERS.items()]
    scope = {"type": "http", "method": "POST", "path": CHAT, "headers": headers,
             "query_string": b"", "client": ("127.0.0.1", 1)}

    async def one(app: Any) -> float:
        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: object) -> None:
            return None

        start = time.perf_counter()
        await app(dict(scope), receive, send)
        return time.perf_counter() - start

    async def series(app: Any) -> list[float]:
        for _ in range(100):
            await one(app)
        return [await one(app) for _ in range(n)]

    return asyncio.run(series(upstream)), asyncio.run(series(wrapped))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="per series and run")
    parser.add_argument("--runs", type=int, default=3, help="repeat; report the median run")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="one run of 100 (a smoke run)")
    parser.add_argument("--http", default="auto", help="uvicorn --http for both servers")
    parser.add_argument("--loop", default="auto", help="uvicorn --loop for both servers")
    args = parser.parse_args()
    n, runs, warmup = (100, 1, 50) if args.quick else (args.requests, args.runs, args.warmup)
    up_port, hop_port, gw_port, in_port = _free_port(), _free_port(), _free_port(), _free_port()
    to_upstream = {"COMPLIANCE_UPSTREAM": f"http://127.0.0.1:{up_port}"}
    results = []
    with server("examples.gateway.upstream:app", up_port, args) as up_pid, \
         server("gateway:floor", hop_port, args, to_upstream, app_dir="benchmarks") as hop_pid, \
         server("examples.gateway.gateway:app", gw_port, args, to_upstream) as gw_pid, \
         server("gateway:embedded", in_port, args, app_dir="benchmarks"):
        direct, hop, gateway = Client(up_port), Client(hop_port), Client(gw_port)
        inside = Client(in_port)
        pids = {"upstream": up_pid, "hop": hop_pid, "gateway": gw_pid}
        try:
            for run in range(runs):
                result = one_run(direct, hop, gateway, pids, n=n, warmup=warmup, inside=inside)
                results.append(result)
                print(f"run {run + 1}: direct {result['direct_median']:.0f} us, bare hop "
                      f"{result['hop_median']:.0f} us, via gateway {result['via_median']:.0f} us"
                      f" (added {result['via_added_median']:.0f} us), "
                      f"{result['rate']:.0f} requests/s")
        finally:
            for client in (direct, hop, gateway, inside):
                client.close()

    def mid(key: str) -> float:
        return statistics.median(r[key] for r in results)

    print(f"\n{n} requests per series, {runs} run(s), medians of runs; sequential keep-alive "
          f"over 127.0.0.1, uvicorn --http {args.http} --loop {args.loop}, separate processes")
    print(f"direct upstream      median {mid('direct_median'):7.0f} us   "
          f"p99 {mid('direct_p99'):7.0f} us")
    for name, label in (("hop", "bare hop, no policy"), ("via", "via gateway"),
                        ("routed", "via gateway, routed"), ("inside", "gateway as middleware")):
        print(f"{label:<20} median {mid(f'{name}_median'):7.0f} us   "
              f"p99 {mid(f'{name}_p99'):7.0f} us   added median "
              f"{mid(f'{name}_added_median'):6.0f} us   "
              f"added p99 {mid(f'{name}_added_p99'):6.0f} us")
    print(f"gateway throughput   {mid('rate'):7.0f} requests/s (one client, sequential)")
    if "gateway_cpu" in results[0]:
        print(f"CPU per request: upstream server {mid('upstream_cpu'):.0f} us, bare hop "
              f"process {mid('hop_cpu'):.0f} us, gateway process {mid('gateway_cpu'):.0f} us "
              f"(policy step {mid('gateway_cpu') - mid('hop_cpu'):.0f} us)")
    bare, wrapped = in_process(n)
    added = (statistics.median(wrapped) - statistics.median(bare)) * 1e6
    print(f"in-process (ASGI middleware, no sockets): added median {added:.0f} us, "
          f"added p99 {(p99(wrapped) - p99(bare)) * 1e6:.0f} us")
    added_http = mid("via_added_median")
    verdict = "met" if added_http <= GOAL_ADDED_MEDIAN_US else "NOT MET"
    print(f"policy step over HTTP (via gateway - bare hop): "
          f"{mid('via_median') - mid('hop_median'):.0f} us median")
    print(f"goal: added median <= {GOAL_ADDED_MEDIAN_US:.0f} us over HTTP, proxy: {verdict} "
          f"({added_http:.0f} us; p99 added {mid('via_added_p99'):.0f} us, "
          f"{mid('rate'):.0f} requests/s)")
    added_inside = mid("inside_added_median")
    verdict = "met" if added_inside <= GOAL_ADDED_MEDIAN_US else "NOT MET"
    print(f"goal: added median <= {GOAL_ADDED_MEDIAN_US:.0f} us over HTTP, middleware in the "
          f"model server: {verdict} ({added_inside:.0f} us; p99 added "
          f"{mid('inside_added_p99'):.0f} us)")


if __name__ == "__main__":
    main()
