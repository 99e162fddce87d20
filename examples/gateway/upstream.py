"""A stub OpenAI-compatible model server: it answers with the model it was asked for.

Pure ASGI, no dependency. Non-streaming requests get one JSON completion; ``"stream": true``
gets server-sent events, three chunks then ``[DONE]``. Every answer echoes the
``x-compliance-*`` headers it received (under ``received_compliance_headers``) so the example
shows what the logging pipeline sees. A prompt containing ``JAILBREAK`` is flagged with an
``x-safeguard-flag: jailbreak`` response header, as a real server's safeguard classifier would.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """The stub upstream (``uvicorn examples.gateway.upstream:app``)."""
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    request = json.loads(body or b"{}")
    model = request.get("model")
    seen = {k.decode(): v.decode() for k, v in scope["headers"]
            if k.startswith(b"x-compliance-")}
    headers = [(b"x-upstream", b"stub")]
    if "JAILBREAK" in json.dumps(request):
        headers.append((b"x-safeguard-flag", b"jailbreak"))
    if request.get("stream"):
        await send({"type": "http.response.start", "status": 200,
                    "headers": [*headers, (b"content-type", b"text/event-stream")]})
        for i, word in enumerate(["Hello", " from", f" {model}"]):
            chunk = {"object": "chat.completion.chunk", "model": model, "index": i,
                     "choices": [{"index": 0, "delta": {"content": word}}],
                     "received_compliance_headers": seen}
            await send({"type": "http.response.body", "more_body": True,
                        "body": f"data: {json.dumps(chunk)}\n\n".encode()})
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})
        return
    answer = {"object": "chat.completion", "model": model,
              "choices": [{"index": 0, "message": {"role": "assistant",
                                                   "content": f"Hello from {model}"}}],
              "received_compliance_headers": seen}
    data = json.dumps(answer).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [*headers, (b"content-type", b"application/json"),
                            (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})
