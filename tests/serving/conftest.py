"""Servers for the gateway tests: the example gateway and its stub upstream on 127.0.0.1.

Both run in uvicorn on sockets bound to free ports, in threads of the test process, and are
driven with httpx over real HTTP. The upstream is wrapped in a recorder so tests can assert
what reached it (and that a refused request never did).
"""

from __future__ import annotations

import importlib.util
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytest.importorskip("uvicorn", reason="the `test` extra installs uvicorn")
import uvicorn

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "gateway"


def load_example(name: str) -> ModuleType:
    """Import examples/gateway/<name>.py (the example is not an installed package)."""
    spec = importlib.util.spec_from_file_location(f"example_gateway_{name}", EXAMPLE / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Recorder:
    """An ASGI wrapper keeping every request body and header set that reached the app."""

    app: Any
    seen: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        self.seen.append(({k.decode(): v.decode() for k, v in scope["headers"]}, body))
        done = False

        async def replay() -> Any:
            nonlocal done
            if not done:
                done = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


@dataclass
class Running:
    url: str
    server: uvicorn.Server
    thread: threading.Thread


def serve(app: Any) -> Running:
    """Start ``app`` under uvicorn on a free 127.0.0.1 port; return once it accepts.

    The socket names ``IPPROTO_TCP``: asyncio sets ``TCP_NODELAY`` on accepted connections
    only when the listening socket's proto says TCP, and without it every response written
    in two parts waits ~40 ms for the client's delayed ACK (Nagle).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="auto"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    return Running(f"http://127.0.0.1:{port}", server, thread)


def stop(running: Running) -> None:
    running.server.should_exit = True
    running.thread.join(timeout=10)


@dataclass
class Stack:
    gateway: str
    upstream: str
    recorder: Recorder


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """The example gateway (fresh engine over rules/) in front of the recorded stub upstream."""
    upstream_module = load_example("upstream")
    gateway_module = load_example("gateway")
    recorder = Recorder(upstream_module.app)
    up = serve(recorder)
    gw = serve(gateway_module.build(up.url))
    try:
        yield Stack(gw.url, up.url, recorder)
    finally:
        stop(gw)
        stop(up)
