"""Serving: an ASGI gateway for OpenAI-compatible APIs (extra ``compliance[serving]``).

``Gateway(engine, resolver=..., mapping=AttributeMap(...))`` holds the policy step;
``gateway.proxy("http://upstream:8000")`` is a pure ASGI app in front of a model server,
``gateway.middleware(app)`` wraps one in-process. docs/serving.md has the details. No
third-party client is needed: httpx only when the proxy is given an ``httpx.AsyncClient``.
"""

from compliance.serving.context import AttributeMap
from compliance.serving.gateway import (
    BUILTIN_OBLIGATIONS,
    OPENAI_PATHS,
    Gateway,
    GatewayRequest,
)

__all__ = ["BUILTIN_OBLIGATIONS", "OPENAI_PATHS", "AttributeMap", "Gateway", "GatewayRequest"]
