"""Serving: an ASGI gateway for OpenAI-compatible APIs (extra ``compliance[serving]``).

``Gateway(engine, resolver=..., mapping=AttributeMap(...))`` holds the policy step;
``gateway.proxy("http://upstream:8000")`` is a pure ASGI app in front of a model server,
``gateway.middleware(app)`` wraps one in-process. docs/serving.md has the details.
"""

try:
    import httpx  # noqa: F401  (the upstream client; checked here for a clear message)
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "compliance.serving needs httpx: pip install 'compliance[serving]'"
    ) from exc

from compliance.serving.context import AttributeMap
from compliance.serving.gateway import (
    BUILTIN_OBLIGATIONS,
    OPENAI_PATHS,
    Gateway,
    GatewayRequest,
)

__all__ = ["BUILTIN_OBLIGATIONS", "OPENAI_PATHS", "AttributeMap", "Gateway", "GatewayRequest"]
