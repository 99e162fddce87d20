"""The ASGI gateway: evaluate every OpenAI-compatible request, then apply the decision.

One ``Gateway`` holds the configuration; ``gateway.proxy(url)`` is an ASGI app forwarding to
an upstream (``compliance.serving.upstream``, or a given httpx client),
``gateway.middleware(app)`` wraps an ASGI inference app in-process.
Both run the same steps (docs/serving.md):

1. bound and read the JSON body (``compliance.jsonread``); a malformed one is a 400;
2. build the canonical context: mapped headers and claims, the host's resolver, then the
   body's ``model``, the request time and id (the gateway's, never the client's);
3. evaluate; deny is a 403 with the user-facing reasons and the decision id only; an
   obligation kind the host did not declare, or an intervention the gateway cannot apply,
   fails closed (500) -- the request is never forwarded unless it was evaluated and allowed;
4. forward: the routed model in the body, obligations as ``x-compliance-obligation-*``
   headers for the downstream logging pipeline (client-sent ``x-compliance-*`` headers are
   dropped, so a client cannot forge them), the decision in the ``DecisionLog`` if any;
5. respond: visible interventions are disclosed in ``x-compliance-disclosure`` and in the
   body (a ``compliance`` member of a JSON response, a leading ``compliance.disclosure`` SSE
   event of a stream); streams pass through unbuffered; upstream safeguard flags (a response
   header, or ``gateway.flag``) become ``engine.observe`` events.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import orjson
import structlog

from compliance.audit import DecisionLog
from compliance.decision import Decision
from compliance.engine import Engine, EngineHolder
from compliance.errors import ComplianceError, ObligationNotUnderstood
from compliance.jsonread import JsonReadError, read_json
from compliance.serving.context import AttributeMap, MappingError, deep_merge
from compliance.serving.upstream import Upstream, UpstreamError, relay

if TYPE_CHECKING:  # httpx is imported only by a proxy given an httpx client
    import httpx

__all__ = [
    "BUILTIN_OBLIGATIONS",
    "OPENAI_PATHS",
    "Gateway",
    "GatewayRequest",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Forward = Callable[[Scope, list[tuple[bytes, bytes]], bytes, Send], Awaitable[None]]

OPENAI_PATHS = frozenset({"/v1/chat/completions", "/v1/completions", "/v1/responses"})
# The kinds the gateway discharges by handing them to the logging pipeline as headers.
BUILTIN_OBLIGATIONS = frozenset({"retention_min_days", "retention_max_days", "training",
                                 "retention_purpose", "custodian", "logging_level"})
_ROUTES = frozenset({"route", "degrade"})
_APPLIED = _ROUTES | {"refuse"}
_HOP = frozenset({b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization",
                  b"te", b"trailer", b"transfer-encoding", b"upgrade", b"host",
                  b"content-length", b"accept-encoding"})
# The upstream's length stays valid for the client: bodies pass through as raw bytes, and the
# responder recomputes it for the one body it edits.
_RESPONSE_HOP = _HOP - {b"content-length"}
_PREFIX = b"x-compliance-"
_MAX_MODEL_CHARS = 256
_MAX_REQUEST_ID = 128
_HEADER_SAFE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")
_log = structlog.get_logger("compliance.serving")

Resolved = Mapping[str, Any] | None
Resolver = Callable[["GatewayRequest"], Resolved | Awaitable[Resolved]]


@dataclass(frozen=True, slots=True)
class GatewayRequest:
    """What a resolver sees: the request line, headers (lower-case names) and JSON body."""

    method: str
    path: str
    headers: Mapping[str, str]
    client: str | None
    body: Mapping[str, Any]


class _Refusal(Exception):  # noqa: N818 - internal control flow, never escapes the gateway
    """An OpenAI-format error response to send instead of forwarding."""

    def __init__(self, status: int, kind: str, code: str, message: str,
                 decision_id: str | None = None) -> None:
        super().__init__(message)
        self.status, self.kind, self.code, self.message = status, kind, code, message
        self.decision_id = decision_id


class Gateway:
    """The policy step in front of an OpenAI-compatible API (see the module docstring).

    ``engine`` may be an ``EngineHolder`` (each request reads the engine serving now).
    ``resolver(request)`` returns principal/org/request attributes as a nested mapping, or
    None for an unauthenticated caller (401); ``claims(request)`` returns verified token
    claims for ``mapping.claims`` (None: 401). Either may be async. ``understood`` are the
    obligation kinds the host discharges (the built-in kinds by default; add custom ones).
    ``flag_header`` names the upstream response header carrying safeguard flags (comma
    separated categories); it needs an engine with ``observe`` (stateful signals).
    """

    def __init__(
        self,
        engine: Engine | EngineHolder,
        *,
        resolver: Resolver | None = None,
        claims: Resolver | None = None,
        mapping: AttributeMap | None = None,
        log: DecisionLog | None = None,
        understood: Iterable[str] = BUILTIN_OBLIGATIONS,
        max_body_bytes: int = 1 << 20,
        max_buffer_bytes: int = 16 << 20,
        flag_header: str | None = None,
        flag_kind: str = "safeguard_flag",
    ) -> None:
        self._source = engine
        self.resolver = resolver
        self.claims = claims
        self.mapping = mapping or AttributeMap()
        self.mapping.check(self.engine.schema)
        self.log = log
        self.understood = frozenset(understood)
        self.max_body_bytes = max_body_bytes
        self.max_buffer_bytes = max_buffer_bytes
        self.flag_kind = flag_kind
        self.flag_header = flag_header.lower().encode("latin-1") if flag_header else None
        if flag_header is not None and not callable(getattr(self.engine, "observe", None)):
            raise TypeError(
                "flag_header needs an engine with observe() (stateful signals, "
                "compliance.signals); this engine has none, so safeguard flags would be lost"
            )

    @property
    def engine(self) -> Engine:
        """The engine deciding the next request."""
        source = self._source
        return source.engine if isinstance(source, EngineHolder) else source

    # --- the two ASGI shapes -------------------------------------------------------------

    def proxy(self, upstream: str, *, client: httpx.AsyncClient | None = None,
              timeout: float = 60.0) -> ASGIApp:
        """An ASGI app serving the OpenAI paths by forwarding to ``upstream`` (a base URL).

        Without ``client`` it keeps its own keep-alive connections (``serving.upstream``,
        closed at lifespan shutdown); with one, it sends through that ``httpx.AsyncClient``
        (HTTP/2, proxies, custom transports), which stays the caller's to close.
        """
        return _Proxy(self, upstream.rstrip("/"), client, timeout)

    def middleware(self, app: ASGIApp) -> ASGIApp:
        """Wrap ``app``: the OpenAI paths are evaluated first, everything else passes."""
        gateway = self

        async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http" or scope["path"] not in OPENAI_PATHS:
                await app(scope, receive, send)
                return

            async def forward(scope2: Scope, headers: list[tuple[bytes, bytes]], body: bytes,
                              send2: Send) -> None:
                sent = False

                async def receive2() -> Message:
                    nonlocal sent
                    if not sent:
                        sent = True
                        return {"type": "http.request", "body": body, "more_body": False}
                    return await receive()

                headers = [*headers, (b"content-length", str(len(body)).encode())]
                await app({**scope2, "headers": headers}, receive2, send2)

            await gateway.handle(scope, receive, send, forward)

        return wrapped

    # --- the steps -----------------------------------------------------------------------

    async def handle(self, scope: Scope, receive: Receive, send: Send, forward: Forward) -> None:
        """Evaluate one request and forward it only when allowed; errors are OpenAI-format."""
        try:
            await self._handle(scope, receive, send, forward)
        except _Refusal as refusal:
            await _send_error(send, refusal)

    async def _handle(self, scope: Scope, receive: Receive, send: Send,
                      forward: Forward) -> None:
        if scope.get("method") != "POST":
            raise _Refusal(405, "invalid_request_error", "method-not-allowed",
                           f"{scope.get('method')} is not allowed here; use POST")
        headers = _header_map(scope)
        raw = await self._read_body(headers, receive)
        body = _parse_body(raw)
        client = scope.get("client")
        request = GatewayRequest("POST", scope["path"], headers,
                                 client[0] if client else None, body)
        engine = self.engine
        context = await self._context(engine, request)
        decision = await engine.evaluate_async(context)
        if self.log is not None:
            try:
                self.log.record(decision, context, engine=engine)
            except ComplianceError as exc:  # AuditWriteError: no record, no service
                _log.error("gateway-audit-failed", error=str(exc), decision_id=decision.decision_id)
                raise _Refusal(503, "server_error", "audit-unavailable",
                               "The request could not be recorded and was not served.",
                               decision.decision_id) from None
        if not decision.allowed:
            raise _Refusal(403, "permission_error", "request-denied",
                           " ".join(decision.user_reasons), decision.decision_id)
        self._check(decision)
        if any(i.kind in _ROUTES for i in decision.interventions) and decision.model:
            body = {**body, "model": decision.model}
            raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        upstream_headers = [(k, v) for k, v in scope["headers"]
                            if k.lower() not in _HOP and not k.lower().startswith(_PREFIX)]
        upstream_headers += _obligation_headers(decision)
        upstream_headers.append((b"accept-encoding", b"identity"))  # the body may be edited
        responder = _Responder(self, send, decision, context)
        await forward(scope, upstream_headers, raw, responder)

    async def _read_body(self, headers: Mapping[str, str], receive: Receive) -> bytes:
        limit = self.max_body_bytes
        too_large = _Refusal(413, "invalid_request_error", "body-too-large",
                             f"The request body is larger than {limit} bytes.")
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Refusal(400, "invalid_request_error", "invalid-request",
                               "The client disconnected before sending the whole body.")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _context(self, engine: Engine, request: GatewayRequest) -> dict[str, Any]:
        context: dict[str, Any] = {}
        schema = engine.schema
        claims: Mapping[str, Any] | None = None
        try:
            if self.claims is not None:
                claims = await _call(self.claims, request)
                if claims is None:
                    raise _unauthenticated()
            self.mapping.apply(schema, request.headers, claims, context)
            if self.resolver is not None:
                resolved = await _call(self.resolver, request)
                if resolved is None:
                    raise _unauthenticated()
                deep_merge(context, resolved)
        except MappingError as exc:
            raise _Refusal(400, "invalid_request_error", exc.code, exc.message) from None
        except _Refusal:
            raise
        except Exception as exc:  # a host hook failed: never forward what was not evaluated
            _log.error("gateway-resolver-failed", error=repr(exc))
            raise _Refusal(500, "server_error", "evaluation-failed",
                           "The request could not be evaluated and was not served.") from None
        req = context.get("request")
        if not isinstance(req, dict):
            req = context["request"] = {}
        # The gateway's own facts win over every hook: what was asked for, and when.
        req["model"] = request.body["model"]
        if schema.lookup("request.time") is not None:
            req["time"] = datetime.now(UTC).isoformat()
        if schema.lookup("request.id") is not None and "id" not in req:
            given = request.headers.get("x-request-id", "")
            req["id"] = given if 0 < len(given) <= _MAX_REQUEST_ID else uuid.uuid4().hex
        return context

    def _check(self, decision: Decision) -> None:
        """Fail closed on what this host cannot honour: unknown obligations, interventions."""
        try:
            decision.require_understood(self.understood)
        except ObligationNotUnderstood as exc:
            _log.error("gateway-obligation-not-understood", kinds=list(exc.kinds),
                       decision_id=decision.decision_id)
            raise _Refusal(500, "server_error", exc.code,
                           "The request could not be served under its obligations.",
                           decision.decision_id) from None
        if decision.allowed and any(i.kind not in _APPLIED for i in decision.interventions):
            kinds = sorted({i.kind for i in decision.interventions} - _APPLIED)
            _log.error("gateway-intervention-unsupported", kinds=kinds,
                       decision_id=decision.decision_id)
            raise _Refusal(500, "server_error", "intervention-unsupported",
                           "The request could not be served as the policy requires.",
                           decision.decision_id)

    # --- safeguard flags -----------------------------------------------------------------

    async def flag(self, context: Mapping[str, Any], category: str | None = None) -> None:
        """Report one safeguard flag about the request ``context`` (the callback form).

        The event is ``{"kind": flag_kind, "time": now, "org_id", "principal_id",
        "category"}``; it runs in a worker thread since a shared store is a network call.
        """
        observe = getattr(self.engine, "observe", None)
        if not callable(observe):
            raise TypeError("this engine has no observe() (stateful signals); "
                            "safeguard flags cannot be recorded")
        event: dict[str, Any] = {"kind": self.flag_kind, "time": datetime.now(UTC).isoformat()}
        for field, path in (("org_id", ("org", "id")), ("principal_id", ("principal", "id"))):
            value = context.get(path[0])
            value = value.get(path[1]) if isinstance(value, Mapping) else None
            if isinstance(value, str) and value:
                event[field] = value
        if category:
            event["category"] = category
        await asyncio.to_thread(observe, event)


class _Responder:
    """The ``send`` the upstream answers into: disclosure, flags, decision id, passthrough."""

    def __init__(self, gateway: Gateway, send: Send, decision: Decision,
                 context: Mapping[str, Any]) -> None:
        self.gateway, self.send, self.decision, self.context = gateway, send, decision, context
        self.disclosures = [{"kind": i.kind, "message": i.message}
                            for i in decision.interventions
                            if i.disclosure == "visible" and i.message]
        self.mode = "pass"
        self.start: Message | None = None
        self.buffer: list[bytes] = []
        self.buffered = 0

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            await self._start(message)
        elif message["type"] == "http.response.body" and self.mode == "json":
            await self._buffer(message)
        else:
            await self.send(message)

    async def _start(self, message: Message) -> None:
        gateway = self.gateway
        flags: list[str] = []
        headers: list[tuple[bytes, bytes]] = []
        ctype = b""
        for name, value in message.get("headers", []):
            low = name.lower()
            if gateway.flag_header is not None and low == gateway.flag_header:
                flags += [f.strip() for f in value.decode("latin-1").split(",") if f.strip()]
                continue  # the upstream's safeguard verdicts are not the client's business
            if low.startswith(_PREFIX):
                continue
            if low == b"content-type":
                ctype = value.lower()
            headers.append((name, value))
        headers.append((b"x-compliance-decision-id", self.decision.decision_id.encode()))
        for item in self.disclosures:
            headers.append((b"x-compliance-disclosure",
                            quote(str(item["message"]), safe=_HEADER_SAFE).encode()))
        ok = 200 <= int(message["status"]) < 300
        start = {**message, "headers": headers}
        for flag in flags:
            try:
                await gateway.flag(self.context, flag)
            except Exception as exc:  # a store error must not break the response
                _log.error("gateway-flag-failed", error=repr(exc),
                           decision_id=self.decision.decision_id)
        if ok and self.disclosures and b"text/event-stream" in ctype:
            start["headers"] = [(k, v) for k, v in headers if k.lower() != b"content-length"]
            await self.send(start)
            await self.send({"type": "http.response.body", "body": self._sse_event(),
                             "more_body": True})
            return
        if ok and self.disclosures and b"json" in ctype:
            self.mode, self.start = "json", start
            return
        await self.send(start)

    def _payload(self) -> dict[str, Any]:
        return {"decision_id": self.decision.decision_id, "disclosures": self.disclosures}

    def _sse_event(self) -> bytes:
        data = orjson.dumps({"object": "compliance.disclosure", **self._payload()})
        return b"event: compliance.disclosure\ndata: " + data + b"\n\n"

    async def _buffer(self, message: Message) -> None:
        assert self.start is not None
        chunk = message.get("body", b"")
        self.buffer.append(chunk)
        self.buffered += len(chunk)
        more = message.get("more_body", False)
        if self.buffered > self.gateway.max_buffer_bytes:  # too big to edit: header only
            self.mode = "pass"
            await self.send(self.start)
            await self.send({"type": "http.response.body", "body": b"".join(self.buffer),
                             "more_body": more})
            return
        if more:
            return
        body = b"".join(self.buffer)
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:
            doc = None
        if isinstance(doc, dict):
            doc["compliance"] = self._payload()
            body = orjson.dumps(doc)
        headers = [(k, v) for k, v in self.start["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await self.send({**self.start, "headers": headers})
        await self.send({"type": "http.response.body", "body": body, "more_body": False})


class _Proxy:
    """``gateway.proxy(url)``: forwards allowed requests to the upstream.

    By default over ``compliance.serving.upstream`` (keep-alive HTTP/1.1); over the
    caller's ``httpx.AsyncClient`` when one is given.
    """

    def __init__(self, gateway: Gateway, upstream: str, client: httpx.AsyncClient | None,
                 timeout: float) -> None:
        self.gateway, self.upstream, self.timeout = gateway, upstream, timeout
        self.client = client
        self.pool = Upstream(upstream, timeout=timeout) if client is None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if scope["path"] not in OPENAI_PATHS:
            await _send_error(send, _Refusal(404, "invalid_request_error", "not-found",
                                             f"Unknown path {scope['path']}."))
            return
        forward = self._forward if self.pool is not None else self._forward_httpx
        await self.gateway.handle(scope, receive, send, forward)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.pool is not None:
                    await self.pool.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _forward(self, scope: Scope, headers: list[tuple[bytes, bytes]], body: bytes,
                       send: Send) -> None:
        assert self.pool is not None
        query = scope.get("query_string", b"").decode("latin-1")
        target = scope["path"] + (f"?{query}" if query else "")
        try:
            response = await self.pool.request("POST", target, headers, body)
        except UpstreamError as exc:
            _log.error("gateway-upstream-failed", error=str(exc), url=self.upstream + target)
            raise _Refusal(502, "server_error", "upstream-unavailable",
                           "The model server could not be reached.") from None
        try:
            await relay(response, send, drop=_RESPONSE_HOP)
        except UpstreamError as exc:  # the head is sent: all that is left is to stop
            _log.error("gateway-upstream-failed", error=str(exc), url=self.upstream + target)
            raise
        finally:
            await response.aclose()

    async def _forward_httpx(self, scope: Scope, headers: list[tuple[bytes, bytes]],
                             body: bytes, send: Send) -> None:
        import httpx  # noqa: PLC0415  (the caller's client: httpx is installed)

        assert self.client is not None
        query = scope.get("query_string", b"").decode("latin-1")
        url = self.upstream + scope["path"] + (f"?{query}" if query else "")
        request = self.client.build_request("POST", url, headers=headers, content=body)
        try:
            response = await self.client.send(request, stream=True)
        except httpx.HTTPError as exc:
            _log.error("gateway-upstream-failed", error=repr(exc), url=url)
            raise _Refusal(502, "server_error", "upstream-unavailable",
                           "The model server could not be reached.") from None
        try:
            await send({"type": "http.response.start", "status": response.status_code,
                        "headers": [(k.lower(), v) for k, v in response.headers.raw
                                    if k.lower() not in _RESPONSE_HOP]})
            async for chunk in response.aiter_raw():  # unbuffered: SSE reaches the client live
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await response.aclose()


# --- helpers -------------------------------------------------------------------------------

async def _call(hook: Resolver, request: GatewayRequest) -> Resolved:
    result = hook(request)
    if inspect.isawaitable(result):
        return await result
    return result


def _unauthenticated() -> _Refusal:
    return _Refusal(401, "invalid_request_error", "unauthenticated",
                    "The caller could not be identified.")


def _header_map(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in scope.get("headers", []):
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        out[key] = f"{out[key]}, {text}" if key in out else text
    return out


def _parse_body(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object with a string ``model``, or a 400."""
    try:
        body = read_json(raw, max_bytes=max(len(raw), 1))
    except JsonReadError as exc:
        raise _Refusal(400, "invalid_request_error", exc.code,
                       f"The request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise _Refusal(400, "invalid_request_error", "invalid-request",
                       "The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip() or len(model) > _MAX_MODEL_CHARS:
        raise _Refusal(400, "invalid_request_error", "invalid-request",
                       f"`model` must be a non-empty string of at most {_MAX_MODEL_CHARS} "
                       "characters.")
    return body


def _obligation_headers(decision: Decision) -> list[tuple[bytes, bytes]]:
    """``x-compliance-obligation-<kind>: <value>`` (strings bare, other values JSON)."""
    out = [(b"x-compliance-decision-id", decision.decision_id.encode())]
    for detail in decision.obligation_details:
        name = "".join(c if c.isascii() and c.isalnum() else "-" for c in detail.kind.lower())
        value = detail.value
        text = value if isinstance(value, str) else orjson.dumps(value).decode()
        out.append((f"x-compliance-obligation-{name}".encode(),
                    quote(text, safe=_HEADER_SAFE).encode()))
    return out


async def _send_error(send: Send, refusal: _Refusal) -> None:
    """An OpenAI-format error: ``{"error": {message, type, param, code[, decision_id]}}``."""
    error: dict[str, Any] = {"message": refusal.message, "type": refusal.kind, "param": None,
                             "code": refusal.code}
    headers = [(b"content-type", b"application/json")]
    if refusal.decision_id is not None:
        error["decision_id"] = refusal.decision_id
        headers.append((b"x-compliance-decision-id", refusal.decision_id.encode()))
    body = orjson.dumps({"error": error})
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
