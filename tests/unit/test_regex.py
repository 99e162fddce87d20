"""RE2 compiled quietly: a bad pattern is a clear, textual error and never writes to stderr.

RE2 logs every pattern it cannot parse to file descriptor 2 by default (an ``absl`` banner
and an ``re2.cc`` line), below Python's ``sys.stderr``; so these tests read the descriptor
itself (``capfd``). Patterns come from rule literals, manifest constraints and, for
``matches`` with a non-literal pattern, from the request context.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from compliance import Engine
from compliance.cel.regex import RegexError, compile_re2, matcher
from compliance.engine import check_paths
from compliance.loader import load_schema_file

BAD = "[A-0x10Z]{2}"  # "invalid character class range: A-0"


def test_compile_re2_raises_text_and_logs_nothing(capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(RegexError) as raised:
        compile_re2(BAD)
    assert raised.value.reason == "invalid character class range: A-0"
    assert raised.value.pattern == BAD
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize("whole", [True, False])
def test_matcher_agrees_with_the_public_api(whole: bool) -> None:
    """The direct byte-level match gives what ``fullmatch`` / ``search`` give."""
    regex = compile_re2("[a-z]+-[0-9]")
    test = matcher(regex, whole=whole)
    for text in ["ab-1", "xab-1y", "AB-1", "", "é-1", "ab-12", "zz-9 and more"]:
        public = regex.fullmatch(text) if whole else regex.search(text)
        assert test(text) is (public is not None), text


def test_manifest_pattern_error_is_text_and_quiet(tmp_path: Path,
                                                  capfd: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "packset.yaml"
    manifest = f'packset: t\ncontext:\n  request:\n    x: {{type: string, pattern: "{BAD}"}}\n'
    path.write_text(manifest, encoding="utf-8")
    _, diags = load_schema_file(path)
    assert [d.message for d in diags] == [
        "context `request.x`: `pattern` is not an RE2 pattern: "
        "invalid character class range: A-0"]
    assert capfd.readouterr().err == ""


def test_rule_literal_pattern_error_is_quiet(packset: Callable[..., Path],
                                             capfd: pytest.CaptureFixture[str]) -> None:
    root = packset({"p.yaml": textwrap.dedent(f"""
        pack: p
        version: "1"
        tier: policy
        rules:
          - id: bad
            when: request.model.matches("{BAD}")
            effect: deny
    """)})
    diags, checked = check_paths([root])
    assert checked is None
    assert [d.code for d in diags.errors] == ["invalid-regex"]
    assert "invalid character class range: A-0" in diags.errors[0].message
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize("backend", ["compiled", "closures"])
def test_pattern_from_the_context_fails_closed_quietly(
        packset: Callable[..., Path], capfd: pytest.CaptureFixture[str], backend: str) -> None:
    """A pattern read from the request is untrusted: a bad one is an error in the decision,
    worded as text, and the host's stderr stays clean however often it is sent."""
    root = packset({"p.yaml": """
        pack: p
        version: "1"
        tier: policy
        rules:
          - id: dynamic
            when: request.model.matches(request.use_case)
            effect: deny
    """})
    engine = Engine.from_path(root, backend=backend)  # type: ignore[arg-type]
    context = {"request": {"time": "2026-07-01T12:00:00Z", "model": "fable-5",
                           "use_case": BAD}}
    for _ in range(3):
        decision = engine.evaluate(context)
        assert decision.effect == "deny"
        [error] = decision.errors
        assert error.rule == "dynamic"
        assert error.message == (f"invalid regular expression `{BAD}`: "
                                 "invalid character class range: A-0")
    assert capfd.readouterr().err == ""
    ok = engine.evaluate({**context, "request": {**context["request"], "use_case": "^fab"}})
    assert ok.effect == "deny"
    assert not ok.errors
