"""The gateway as middleware around an in-process ASGI app, and its fail-closed hooks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.serving.conftest import Recorder, load_example

from compliance import Engine
from compliance.serving import AttributeMap, Gateway, GatewayRequest

REPO = Path(__file__).resolve().parents[2]
IDENTITY = {"principal": {"id": "u", "kind": "customer", "nationalities": ["US"],
                          "nationality_verified": True, "authorizations": []},
            "org": {"id": "o", "zdr": False}}


def call(app: Any, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
         ) -> httpx.Response:
    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            return await client.post(path, content=json.dumps(body), headers=headers or {})
    return asyncio.run(run())


def test_middleware_evaluates_openai_paths_and_passes_the_rest() -> None:
    """A routed request reaches the wrapped app as opus-4.8; other paths are not evaluated."""
    recorder = Recorder(load_example("upstream").app)
    gateway = Gateway(Engine.from_path(REPO / "rules"), resolver=lambda _r: IDENTITY,
                      mapping=AttributeMap(headers={"x-use-case": "request.use_case",
                                                    "x-origin-country": "request.origin_country"}))
    app = gateway.middleware(recorder)
    routed = call(app, "/v1/responses", {"model": "fable-5"},
                  {"x-use-case": "llm-dev", "x-origin-country": "US"})
    assert routed.status_code == 200
    assert json.loads(recorder.seen[-1][1])["model"] == "opus-4.8"
    assert routed.json()["compliance"]["disclosures"][0]["kind"] == "route"
    other = call(app, "/healthz", {"model": "fable-5"})
    assert other.status_code == 200
    assert "x-compliance-decision-id" not in other.headers


def test_a_failing_resolver_fails_closed(packset: Callable[..., Path]) -> None:
    """A resolver that raises gives a 500 `evaluation-failed`; nothing is forwarded."""
    def broken(_request: GatewayRequest) -> dict[str, Any]:
        raise RuntimeError("directory down")

    recorder = Recorder(load_example("upstream").app)
    app = Gateway(Engine.from_path(REPO / "rules"), resolver=broken).middleware(recorder)
    response = call(app, "/v1/chat/completions", {"model": "opus-4.8"})
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "evaluation-failed"
    assert "directory down" not in response.text
    assert recorder.seen == []


def test_an_obligation_the_host_cannot_discharge_is_not_served(
    packset: Callable[..., Path],
) -> None:
    """A custom obligation kind is served only when the host declares it understood."""
    root = packset({"p.yaml": """\
        pack: residency
        version: "1"
        tier: policy
        rules:
          - id: eu
            when: "true"
            obligations:
              custom:
                data-residency: {value: eu, merge: by-tier}
        """})
    engine = Engine.from_path(root)
    recorder = Recorder(load_example("upstream").app)
    refused = call(Gateway(engine).middleware(recorder), "/v1/completions", {"model": "m"})
    assert refused.status_code == 500
    assert refused.json()["error"]["code"] == "obligation-not-understood"
    assert recorder.seen == []
    gateway = Gateway(engine, understood={"data-residency"})
    served = call(gateway.middleware(recorder), "/v1/completions", {"model": "m"})
    assert served.status_code == 200
    assert recorder.seen[-1][0]["x-compliance-obligation-data-residency"] == "eu"


def test_flags_need_an_engine_that_observes() -> None:
    """Configuring a flag header on an engine without observe() is a clear error, not a loss."""
    engine = Engine.from_path(REPO / "rules")
    if callable(getattr(engine, "observe", None)):
        Gateway(engine, flag_header="x-safeguard-flag")  # accepted once signals exist
        return
    with pytest.raises(TypeError, match=r"observe\(\)"):
        Gateway(engine, flag_header="x-safeguard-flag")
