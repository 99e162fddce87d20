"""The example gateway over real HTTP (issue 13): deny, route + disclosure, obligations, flags."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from tests.serving.conftest import Stack

from compliance import Engine

CHAT = "/v1/chat/completions"
PROMPT = [{"role": "user", "content": "hello"}]
CLEAN = {"x-use-case": "coding", "x-origin-country": "US"}


def post(stack: Stack, key: str, body: Any, *, headers: dict[str, str] | None = None,
         path: str = CHAT) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(stack.gateway + path, content=content, timeout=30,
                      headers={"authorization": f"Bearer {key}",
                               "content-type": "application/json", **(headers or {})})


def test_french_national_on_fable5_after_the_directive_is_refused(stack: Stack) -> None:
    """403, OpenAI-format, the rule's user-facing reason and the decision id; never forwarded."""
    before = len(stack.recorder.seen)
    response = post(stack, "key-fr", {"model": "fable-5", "messages": PROMPT},
                    headers={"x-use-case": "coding", "x-origin-country": "FR"})
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "request-denied"
    assert error["type"] == "permission_error"
    assert "fable-5 is suspended" in error["message"]
    assert error["decision_id"] == response.headers["x-compliance-decision-id"]
    assert "`" not in error["message"]
    assert "export-control" not in error["message"]
    assert set(error) == {"message", "type", "param", "code", "decision_id"}
    assert len(stack.recorder.seen) == before


def test_llm_dev_is_routed_to_opus_and_disclosed(stack: Stack) -> None:
    """The upstream is asked for opus-4.8; the client reads the disclosure (header and body)."""
    response = post(stack, "key-us", {"model": "mythos-5", "messages": PROMPT},
                    headers={"x-use-case": "llm-dev", "x-origin-country": "US"})
    assert response.status_code == 200, response.text
    sent = json.loads(stack.recorder.seen[-1][1])
    assert sent["model"] == "opus-4.8"
    assert sent["messages"] == PROMPT
    body = response.json()
    assert body["model"] == "opus-4.8"
    message = "This request was handled by opus-4.8 under our frontier-development policy."
    assert body["compliance"]["disclosures"] == [{"kind": "route", "message": message}]
    assert body["compliance"]["decision_id"] == response.headers["x-compliance-decision-id"]
    assert response.headers["x-compliance-disclosure"] == message


def test_streamed_route_discloses_first_and_passes_chunks_through(stack: Stack) -> None:
    """SSE: a leading `compliance.disclosure` event, then the upstream's chunks unchanged."""
    body = {"model": "mythos-5", "messages": PROMPT, "stream": True}
    with httpx.stream("POST", stack.gateway + CHAT, content=json.dumps(body), timeout=30,
                      headers={"authorization": "Bearer key-us", "x-use-case": "llm-dev",
                               "x-origin-country": "US"}
                      ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert "x-compliance-disclosure" in response.headers
        text = "".join(response.iter_text())
    events = [e for e in text.split("\n\n") if e]
    assert events[0].startswith("event: compliance.disclosure\ndata: ")
    first = json.loads(events[0].split("data: ", 1)[1])
    assert first["object"] == "compliance.disclosure"
    assert first["disclosures"][0]["kind"] == "route"
    chunks = [json.loads(e[len("data: "):]) for e in events[1:-1]]
    assert [c["model"] for c in chunks] == ["opus-4.8"] * 3
    assert events[-1] == "data: [DONE]"


def test_zdr_retention_obligations_reach_the_logging_pipeline_as_headers(stack: Stack) -> None:
    """A ZDR org's retention_max_days 0 and training prohibited arrive upstream; forgeries don't."""
    response = post(stack, "key-zdr", {"model": "opus-4.8", "messages": PROMPT},
                    headers={**CLEAN,
                             "x-compliance-obligation-training": "allowed",
                             "x-compliance-obligation-custodian": "forged"})
    assert response.status_code == 200, response.text
    seen = stack.recorder.seen[-1][0]
    assert seen["x-compliance-obligation-retention-max-days"] == "0"
    assert seen["x-compliance-obligation-training"] == "prohibited"
    assert "x-compliance-obligation-custodian" not in seen
    assert seen["x-compliance-decision-id"] == response.headers["x-compliance-decision-id"]
    assert response.json()["received_compliance_headers"] == {
        k: v for k, v in seen.items() if k.startswith("x-compliance-")}
    assert "compliance" not in response.json()  # nothing to disclose, body untouched


@pytest.mark.skipif(not hasattr(Engine, "observe"),
                    reason="needs stateful signals (Engine.observe, branch facts) and the "
                           "safeguard-signals pack in rules/")
def test_three_safeguard_flags_put_the_org_under_review(stack: Stack) -> None:
    """Three flagged responses for one org, then its fable-5 request is refused, visibly."""
    fable = {"model": "fable-5", "messages": PROMPT}
    assert post(stack, "key-flagged", fable, headers=CLEAN).status_code == 200
    for _ in range(3):
        flagged = post(stack, "key-flagged",
                       {"model": "opus-4.8", "messages": [{"role": "user",
                                                           "content": "JAILBREAK please"}]},
                       headers=CLEAN)
        assert flagged.status_code == 200
        assert "x-safeguard-flag" not in flagged.headers  # the verdict stays internal
    refused = post(stack, "key-flagged", fable, headers=CLEAN)
    assert refused.status_code == 403
    assert "under review" in refused.json()["error"]["message"]
    other = post(stack, "key-us", fable, headers=CLEAN)
    assert other.status_code == 200  # another organisation is not under review


@pytest.mark.parametrize(("body", "status", "code"), [
    (b"{not json", 400, "invalid-json"),
    (b'{"model": "a", "model": "b"}', 400, "duplicate-key"),
    (b"[1, 2]", 400, "invalid-request"),
    (b'{"messages": []}', 400, "invalid-request"),
    (b'{"model": 5}', 400, "invalid-request"),
    (b'{"model": "opus-4.8", "x": NaN}', 400, "non-finite-number"),
    (b'{"model": "opus-4.8", "pad": "' + b"x" * (1 << 20) + b'"}', 413, "body-too-large"),
])
def test_malformed_requests_get_openai_errors_and_are_not_forwarded(
    stack: Stack, body: bytes, status: int, code: str,
) -> None:
    """Bad bodies are 400 (or 413) in OpenAI format, never a traceback, never forwarded."""
    before = len(stack.recorder.seen)
    response = post(stack, "key-us", body)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code
    assert error["type"] == "invalid_request_error"
    assert "Traceback" not in response.text
    assert len(stack.recorder.seen) == before


def test_unknown_caller_wrong_method_and_path(stack: Stack) -> None:
    """An unknown key is 401, GET is 405 and an unknown path 404; none is forwarded."""
    before = len(stack.recorder.seen)
    assert post(stack, "nobody", {"model": "opus-4.8"}).json()["error"]["code"] == (
        "unauthenticated")
    assert httpx.get(stack.gateway + CHAT, timeout=30).status_code == 405
    assert post(stack, "key-us", {"model": "opus-4.8"}, path="/v1/other").status_code == 404
    assert len(stack.recorder.seen) == before


def test_mapped_header_of_the_wrong_type_is_a_400(stack: Stack) -> None:
    """A mapped header is converted by the schema type; a value that is not one is refused."""
    response = post(stack, "key-us", {"model": "opus-4.8"}, headers={"x-use-case": "x" * 5000})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid-header"
