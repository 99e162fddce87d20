"""The example gateway: the shipped rules/ in front of an OpenAI-compatible upstream.

Run both (two terminals, from the repository root)::

    uvicorn examples.gateway.upstream:app --port 9000
    COMPLIANCE_UPSTREAM=http://127.0.0.1:9000 uvicorn examples.gateway.gateway:app --port 8000

or ``python examples/gateway/gateway.py`` to start both. Callers authenticate with a bearer
API key looked up in identities.json (the resolver); the request classifier's labels arrive
in headers set by a trusted edge (the declarative mapping): ``x-use-case``,
``x-origin-country``, ``x-origin-region``, ``x-surface``.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from compliance import Engine
from compliance.serving import AttributeMap, Gateway, GatewayRequest

HERE = Path(__file__).resolve().parent
RULES = HERE.parent.parent / "rules"
IDENTITIES: dict[str, Any] = json.loads((HERE / "identities.json").read_text(encoding="utf-8"))

MAPPING = AttributeMap(headers={
    "x-use-case": "request.use_case",
    "x-origin-country": "request.origin_country",
    "x-origin-region": "request.origin_region",
    "x-surface": "request.surface",
})


def resolve(request: GatewayRequest) -> Mapping[str, Any] | None:
    """The caller's principal and org from its API key; None (401) for an unknown key."""
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or key.startswith("_"):
        return None
    found: Mapping[str, Any] | None = IDENTITIES.get(key.strip())
    return found


def build(upstream: str, engine: Engine | None = None) -> Any:
    """The gateway ASGI app in front of ``upstream`` (a fresh engine unless one is given)."""
    engine = engine or Engine.from_path(RULES)
    # Safeguard flags need stateful signals (engine.observe); older engines serve without.
    flags = "x-safeguard-flag" if callable(getattr(engine, "observe", None)) else None
    gateway = Gateway(engine, resolver=resolve, mapping=MAPPING, flag_header=flags)
    return gateway.proxy(upstream)


app = build(os.environ.get("COMPLIANCE_UPSTREAM", "http://127.0.0.1:9000"))


def main() -> None:
    """Start the stub upstream (port 9000) and the gateway (port 8000) in one process."""
    import uvicorn

    sys.path.insert(0, str(HERE))
    from upstream import app as upstream_app

    up = uvicorn.Server(uvicorn.Config(upstream_app, host="127.0.0.1", port=9000,
                                       log_level="warning"))
    threading.Thread(target=up.run, daemon=True).start()
    uvicorn.run(build("http://127.0.0.1:9000"), host="127.0.0.1", port=8000)


if __name__ == "__main__":
    main()
