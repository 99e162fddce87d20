"""``compliance test``: suites, failure reports (text, JSON, JUnit), malformed suites, coverage."""

from __future__ import annotations

import json
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from compliance.cli import main

PACK = """\
pack: demo
version: "1"
tier: policy
rules:
  - id: block-fable
    when: request.model == "fable-5"
    unless: '"LIC" in principal.authorizations'
    effect: deny
    reason: "fable-5 is blocked"
    on_unknown: deny
  - id: late-rule
    effective: {from: "2026-06-12T21:21:00Z"}
    when: request.use_case == "cyber"
    effect: deny
"""

SUITE = """\
suite: demo
time: 2026-06-20T15:00:00Z
fixtures:
  principal:
    plain: {id: p1, kind: customer, authorizations: []}
  request:
    fable: {model: fable-5, use_case: coding}
cases:
  - name: fable denied
    context: {principal: plain, request: fable}
    expect: {effect: deny, matched: [demo/block-fable]}
  - name: wrongly expected allow
    context: {principal: plain, request: fable}
    expect: {effect: allow, matched: []}
"""


@pytest.fixture
def suite_dir(packset: Callable[..., Path]) -> Callable[[str], Path]:
    def make(suite: str) -> Path:
        root = packset({"demo.yaml": PACK})
        (root / "tests").mkdir(exist_ok=True)
        (root / "tests" / "demo.yaml").write_text(textwrap.dedent(suite), encoding="utf-8")
        return root

    return make


def test_failing_case_shows_expected_and_actual(suite_dir: Callable[[str], Path],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    root = suite_dir(SUITE)
    assert main(["test", str(root)]) == 1
    out = capsys.readouterr().out
    assert "FAIL demo :: wrongly expected allow" in out
    assert 'effect: expected "allow", got "deny"' in out
    assert 'matched: expected [], got ["demo/block-fable"]' in out
    assert "reason: fable-5 is blocked" in out
    assert "1 passed, 1 failed" in out
    assert "demo :: fable denied" not in out  # passing cases only with -v


def test_check_ignores_the_suites_folder(suite_dir: Callable[[str], Path],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    root = suite_dir(SUITE)
    assert main(["check", str(root)]) == 0
    assert "1 packs, 2 rules" in capsys.readouterr().err


def test_json_report_counts_and_diffs(suite_dir: Callable[[str], Path],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    root = suite_dir(SUITE)
    assert main(["test", str(root), "--format", "json", "--coverage"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["summary"] == {"cases": 2, "passed": 1, "failed": 1, "suites": 1}
    failed = [c for c in doc["cases"] if not c["passed"]]
    assert failed[0]["diffs"][0] == {"field": "effect", "expected": "allow", "actual": "deny"}
    assert doc["coverage"]["total"] > doc["coverage"]["covered"]


def test_junit_is_xml_with_the_right_counts(suite_dir: Callable[[str], Path],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    root = suite_dir(SUITE)
    assert main(["test", str(root), "--format", "junit"]) == 1
    tree = ET.fromstring(capsys.readouterr().out)
    assert (tree.get("tests"), tree.get("failures")) == ("2", "1")
    cases = tree.findall("./testsuite/testcase")
    assert [c.get("name") for c in cases] == ["fable denied", "wrongly expected allow"]
    failures = tree.findall("./testsuite/testcase/failure")
    assert len(failures) == 1
    assert 'expected "allow", got "deny"' in (failures[0].text or "")


def test_filter_and_matrix(suite_dir: Callable[[str], Path],
                           capsys: pytest.CaptureFixture[str]) -> None:
    suite = SUITE + ("  - name: grid\n"
                     "    matrix: {request: [fable, {model: opus, use_case: coding}]}\n"
                     "    context: {principal: plain}\n"
                     "    expect: {missing: []}\n")
    root = suite_dir(suite)
    assert main(["test", str(root), "-k", "grid", "-v"]) == 0
    out = capsys.readouterr().out
    assert "ok   demo :: grid [request=fable]" in out
    assert "ok   demo :: grid [request=#2]" in out
    assert "2 passed, 0 failed" in out


@pytest.mark.parametrize(("text", "code", "where", "fragment"), [
    ("    expct: {effect: deny}\n", "unknown-field", ":17:5", "did you mean `expect`?"),
    ("    expect: {effect: denied}\n", "invalid-value", ":17:22", "did you mean `deny`?"),
    ("    expect: {efect: deny}\n", "unknown-field", ":17:14", "did you mean `effect`?"),
    ("    expect: {matched: [demo/block-fabel]}\n", "unknown-rule", ":17:24",
     "did you mean `demo/block-fable`?"),
])
def test_malformed_suite_is_reported_at_file_line_col(
        suite_dir: Callable[[str], Path], capsys: pytest.CaptureFixture[str],
        *, text: str, code: str, where: str, fragment: str) -> None:
    suite = SUITE + "  - name: broken\n    context: {principal: plain}\n" + text
    root = suite_dir(suite)
    assert main(["test", str(root)]) == 2
    err = capsys.readouterr().err
    assert f"demo.yaml{where}: error[{code}]" in err
    assert fragment in err


def test_unknown_fixture_and_missing_context(suite_dir: Callable[[str], Path],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    suite = SUITE + ("  - name: no such fixture\n    context: {principal: plian}\n"
                     "  - name: no context\n    expect: {effect: deny}\n")
    root = suite_dir(suite)
    assert main(["test", str(root)]) == 2
    err = capsys.readouterr().err
    assert "demo.yaml:16:26: error[unknown-fixture]" in err
    assert "did you mean `plain`?" in err
    assert "demo.yaml:17:5: error[missing-field]: case `no context`: missing required field " \
           "`context`" in err


def test_undeclared_context_attribute_is_an_error(suite_dir: Callable[[str], Path],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    suite = SUITE + ("  - name: typo\n    context: {principal: plain, request: fable}\n"
                     "    with: {request: {modle: x}}\n")
    assert main(["test", str(suite_dir(suite))]) == 2
    err = capsys.readouterr().err
    assert "`request.modle`: is not declared in the schema; did you mean `request.model`?" in err


def test_coverage_gaps_and_threshold(suite_dir: Callable[[str], Path], tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    root = suite_dir(SUITE.replace("    expect: {effect: allow, matched: []}\n",
                                   "    expect: {effect: deny}\n"))
    lcov = tmp_path / "cov.info"
    assert main(["test", str(root), "--coverage-min", "100", "--lcov", str(lcov)]) == 1
    captured = capsys.readouterr()
    out = captured.out
    assert "rule coverage 46.2% is below --coverage-min 100%" in captured.err
    assert "demo.yaml:13:11: demo/late-rule: `when` never true" in out
    out = captured.out
    assert "demo.yaml:5:9: demo/block-fable: never not applied" in out
    assert "demo.yaml:5:9: demo/block-fable: `on_unknown` never reached" in out
    assert "demo/late-rule: no case before 2026-06-12T21:21:00Z" in out
    assert "demo.yaml:12:23: demo/late-rule: no case before" in out
    assert "demo/late-rule: never applied" in out
    assert "demo/late-rule: no case at or after" not in out
    text = lcov.read_text(encoding="utf-8")
    assert "FN:5,demo/block-fable" in text
    assert "FNDA:2,demo/block-fable" in text
    assert text.count("end_of_record") == 1


def test_full_coverage_passes_the_threshold(suite_dir: Callable[[str], Path],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    suite = textwrap.dedent("""\
        suite: full
        time: 2026-06-20T15:00:00Z
        fixtures:
          principal:
            plain: {id: p1, kind: customer, authorizations: []}
            licensed: {id: p2, kind: customer, authorizations: [LIC]}
        cases:
          - name: fable denied
            context: {principal: plain, request: {model: fable-5, use_case: cyber}}
            expect: {effect: deny, matched: [demo/block-fable, demo/late-rule]}
          - name: licensed, before the window
            context: {principal: licensed, request: {model: fable-5, use_case: cyber}}
            time: 2026-06-01T00:00:00Z
            expect: {effect: allow, matched: []}
          - name: unknown model fails closed
            context: {principal: plain, request: {use_case: coding}}
            expect: {effect: deny, missing: [request.model]}
          - name: both conditions false
            context: {principal: plain, request: {model: opus-4.8, use_case: coding}}
            expect: {effect: allow, matched: []}
    """)
    assert main(["test", str(suite_dir(suite)), "--coverage-min", "100"]) == 0
    out = capsys.readouterr().out
    assert "all packs: 13/13 items 100.0%" in out  # 7 rule items, 6 condition items


def test_coverage_exempt_is_listed_not_counted(suite_dir: Callable[[str], Path],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    suite = SUITE.replace("cases:\n", "coverage_exempt:\n"
                          "  - {rule: demo/block-fable, item: on-unknown, reason: never unknown}\n"
                          "cases:\n", 1)
    assert main(["test", str(suite_dir(suite)), "--coverage"]) == 1
    out = capsys.readouterr().out
    assert "demo/block-fable: on-unknown: never unknown" in out
    assert "`on_unknown` never reached" not in out
    assert "all packs: 6/12 items" in out


@pytest.mark.parametrize(("entry", "code", "fragment"), [
    ("{rule: demo/block-fabel, item: on-unknown, reason: x}", "unknown-rule",
     "did you mean `demo/block-fable`?"),
    ("{rule: demo/block-fable, item: on_unknown, reason: x}", "invalid-value",
     "did you mean `on-unknown`?"),
    ("{rule: demo/block-fable, item: on-unknown}", "missing-field", "`reason`"),
])
def test_bad_coverage_exempt(suite_dir: Callable[[str], Path],
                             capsys: pytest.CaptureFixture[str], *,
                             entry: str, code: str, fragment: str) -> None:
    suite = SUITE.replace("cases:\n", f"coverage_exempt:\n  - {entry}\ncases:\n", 1)
    assert main(["test", str(suite_dir(suite))]) == 2
    err = capsys.readouterr().err
    assert f"error[{code}]" in err
    assert fragment in err


def test_obligation_expectations_name_known_kinds(suite_dir: Callable[[str], Path],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    suite = SUITE + ("  - name: obligations\n    context: {principal: plain, request: fable}\n"
                     "    expect: {obligations: {retention_min_dys: 3}}\n")
    assert main(["test", str(suite_dir(suite))]) == 2
    err = capsys.readouterr().err
    assert "error[unknown-field]: unknown obligation `retention_min_dys`" in err
    assert "did you mean `retention_min_days`?" in err


def test_no_suites_and_no_matching_case_are_usage_errors(
        packset: Callable[..., Path], suite_dir: Callable[[str], Path],
        capsys: pytest.CaptureFixture[str]) -> None:
    bare = packset({"demo.yaml": PACK})
    assert main(["test", str(bare)]) == 2
    assert "no policy suites found" in capsys.readouterr().err
    root = suite_dir(SUITE)
    assert main(["test", str(root), "--filter", "nothing-like-this"]) == 2
    assert "no case matches --filter" in capsys.readouterr().err


def test_a_failing_case_prints_the_trace_of_the_rules_it_names(
        suite_dir: Callable[[str], Path], capsys: pytest.CaptureFixture[str]) -> None:
    suite = SUITE.replace("    expect: {effect: allow, matched: []}\n",
                          "    expect: {effect: allow, matched: [demo/block-fable]}\n")
    assert main(["test", str(suite_dir(suite))]) == 1
    out = capsys.readouterr().out
    block = out[out.index("FAIL demo :: wrongly expected allow"):]
    assert "trace of demo/block-fable (pass 1): applied" in block
    assert 'request.model == "fable-5" -> true' in block
    assert '"LIC" in principal.authorizations -> false' in block
    assert "trace of demo/late-rule" not in block  # not named by the case
