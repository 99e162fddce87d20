"""Reports of a suite run: text for people, JSON for tools, JUnit XML for CI, LCOV for
coverage services. All of them are built from the same ``CaseResult`` list and coverage."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

from compliance.cel.trace import trace_lines
from compliance.testing._coverage import PackCoverage, RuleCoverage
from compliance.testing._run import CaseResult

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _where(result: CaseResult) -> str:
    span = result.case.span
    return f"{span.file}:{span.start.line + 1}:{span.start.col + 1}"


def failure_text(result: CaseResult) -> str:
    """Why one case failed: each named field expected vs actual, the reasons, ``missing``."""
    lines = [f"{d.name}: expected {_value(d.expected)}, got {_value(d.actual)}"
             for d in result.diffs]
    decision = result.decision
    lines.append(f"decision: effect {decision.effect}, model {_value(decision.model)}")
    lines += [f"  reason: {r}" for r in decision.reasons] or ["  reasons: none"]
    lines.append(f"  missing: {_value(sorted(decision.missing))}")
    lines += [f"  error: {e.pack}/{e.rule}: {e.code}: {e.message}" for e in decision.errors]
    lines += _traces(result)
    return "\n".join(lines)


def _traces(result: CaseResult) -> list[str]:
    """The explain trace of every rule the case's ``matched`` names (why it did or did not)."""
    named = {str(v) for e in result.case.expect if e.name == "matched"
             for v in (e.value or ())}
    lines: list[str] = []
    for x in result.decision.explanation or ():
        if f"{x.pack}/{x.rule}" not in named:
            continue
        lines.append(f"trace of {x.pack}/{x.rule} (pass {x.routing_pass}): {x.status}")
        if x.trace is not None:
            lines += trace_lines(x.trace.when, x.trace.unless, indent="  ")
    return lines


def render_results(results: Sequence[CaseResult], *, verbose: bool = False) -> str:
    """Failing cases in full (passing ones by name with ``verbose``), then a summary line."""
    blocks: list[str] = []
    for r in results:
        if not r.passed:
            body = "\n".join("  " + line for line in failure_text(r).splitlines())
            blocks.append(f"FAIL {r.case.id} ({_where(r)})\n{body}")
        elif verbose:
            blocks.append(f"ok   {r.case.id}")
    failed = sum(not r.passed for r in results)
    suites = len({r.suite.name for r in results})
    summary = (f"{len(results) - failed} passed, {failed} failed "
               f"({len(results)} cases in {suites} suites)")
    return "\n".join([*blocks, summary])


def render_coverage(coverage: RuleCoverage) -> str:
    """The table per pack and the list of gaps with ``file:line:col``."""
    rows = [("pack", "applied", "not applied", "on_unknown", "window edges", "conditions",
             "total")]
    for p in coverage.packs():
        covered, total = p.count()
        rows.append((p.pack, _cell(p, "applied"), _cell(p, "not-applied"),
                     _cell(p, "on-unknown"), _cell(p, "before", "at-or-after"),
                     _cell(p, "condition-true", "condition-false"),
                     f"{covered}/{total} {_pct(covered, total)}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["rule coverage:"]
    lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
              for r in rows]
    covered, total = coverage.totals()
    lines.append(f"  all packs: {covered}/{total} items {_pct(covered, total)}")
    exempted = coverage.exempted()
    if exempted:
        lines.append("exempt (declared unreachable by a suite, not counted):")
        lines += [f"  {i.span.file}:{i.span.start.line + 1}:{i.span.start.col + 1}: "
                  f"{i.pack}/{i.rule}: {i.kind}: {i.exempt}" for i in exempted]
    gaps = coverage.gaps()
    if gaps:
        lines.append("gaps:")
        lines += [f"  {g.span.file}:{g.span.start.line + 1}:{g.span.start.col + 1}: "
                  f"{g.pack}/{g.rule}: {g.gap}" for g in gaps]
    return "\n".join(lines)


def _cell(p: PackCoverage, *kinds: Any) -> str:
    covered, total = p.count(*kinds)
    return "-" if total == 0 else f"{covered}/{total}"


def _pct(covered: int, total: int) -> str:
    return f"{100.0 if total == 0 else 100.0 * covered / total:.1f}%"


def coverage_json(coverage: RuleCoverage) -> dict[str, Any]:
    """Coverage as data: totals, per pack, and every gap with its position."""
    covered, total = coverage.totals()
    return {
        "covered": covered, "total": total, "percent": round(coverage.percent(), 2),
        "packs": [{"pack": p.pack, "file": p.file, "covered": p.count()[0],
                   "total": p.count()[1],
                   "items": [{"rule": i.rule, "kind": i.kind, "hits": i.hits,
                              "exempt": i.exempt, "clause": i.clause, "operand": i.operand,
                              "line": i.span.start.line + 1, "col": i.span.start.col + 1}
                             for i in p.items]}
                  for p in coverage.packs()],
        "gaps": [{"file": g.span.file, "line": g.span.start.line + 1,
                  "col": g.span.start.col + 1, "pack": g.pack, "rule": g.rule,
                  "kind": g.kind, "missing": g.gap} for g in coverage.gaps()],
    }


def results_json(results: Sequence[CaseResult], coverage: RuleCoverage | None) -> str:
    """Every case with its outcome and diffs; the coverage when it was collected."""
    failed = sum(not r.passed for r in results)
    doc: dict[str, Any] = {
        "summary": {"cases": len(results), "passed": len(results) - failed,
                    "failed": failed, "suites": len({r.suite.name for r in results})},
        "cases": [{
            "suite": r.suite.name, "name": r.case.name, "file": r.case.span.file,
            "line": r.case.span.start.line + 1, "passed": r.passed,
            "diffs": [{"field": d.name, "expected": d.expected, "actual": d.actual}
                      for d in r.diffs],
            "decision": {"effect": r.decision.effect, "model": r.decision.model,
                         "reasons": r.decision.reasons, "missing": r.decision.missing,
                         "matched": [f"{m.pack}/{m.rule}" for m in r.decision.matched]},
        } for r in results],
    }
    if coverage is not None:
        doc["coverage"] = coverage_json(coverage)
    return json.dumps(doc, indent=2, ensure_ascii=False, default=str)


def results_junit(results: Sequence[CaseResult]) -> str:
    """JUnit XML: one ``testsuite`` per suite, one ``testcase`` per case, diffs in failures."""
    failed = sum(not r.passed for r in results)
    root = ET.Element("testsuites", name="compliance test", tests=str(len(results)),
                      failures=str(failed), errors="0")
    by_suite: dict[str, list[CaseResult]] = {}
    for r in results:
        by_suite.setdefault(r.suite.name, []).append(r)
    for name, items in by_suite.items():
        suite = ET.SubElement(
            root, "testsuite", name=_xml(name), tests=str(len(items)),
            failures=str(sum(not r.passed for r in items)), errors="0", skipped="0",
            file=_xml(items[0].suite.file))
        for r in items:
            case = ET.SubElement(suite, "testcase", name=_xml(r.case.name),
                                 classname=_xml(name), file=_xml(r.case.span.file),
                                 line=str(r.case.span.start.line + 1))
            if not r.passed:
                first = r.diffs[0]
                failure = ET.SubElement(
                    case, "failure", type="expectation",
                    message=_xml(f"{first.name}: expected {_value(first.expected)}, "
                                 f"got {_value(first.actual)}"))
                failure.text = _xml(failure_text(r))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def _xml(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot carry (escaping is ElementTree's)."""
    return _NOT_XML.sub("\ufffd", text)


def coverage_lcov(coverage: RuleCoverage) -> str:
    """LCOV tracefile: a rule is a function and a line; each coverage item is a branch."""
    out: list[str] = []
    for p in coverage.packs():
        out += ["TN:compliance", f"SF:{p.file}"]
        rules: dict[str, list[Any]] = {}
        for item in p.items:
            rules.setdefault(item.rule, []).append(item)
        lines: dict[int, int] = {}
        for rule, items in rules.items():
            line = items[0].span.start.line + 1
            applied = sum(i.hits for i in items if i.kind == "applied")
            out += [f"FN:{line},{p.pack}/{rule}", f"FNDA:{applied},{p.pack}/{rule}"]
            lines[line] = lines.get(line, 0) + applied
        hit = sum(1 for i in p.items if i.kind == "applied" and i.hits)
        out += [f"FNF:{len(rules)}", f"FNH:{hit}"]
        for number, item in enumerate(i for i in p.items if not i.exempt):
            line = item.span.start.line + 1
            out.append(f"BRDA:{line},0,{number},{item.hits if item.hits else '-'}")
        counted = [i for i in p.items if not i.exempt]
        out += [f"BRF:{len(counted)}", f"BRH:{sum(1 for i in counted if i.hits)}"]
        out += [f"DA:{line},{hits}" for line, hits in sorted(lines.items())]
        out += [f"LF:{len(lines)}", f"LH:{sum(1 for h in lines.values() if h)}",
                "end_of_record"]
    return "\n".join(out) + ("\n" if out else "")
