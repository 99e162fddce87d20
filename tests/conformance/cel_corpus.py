"""Load the CEL conformance corpus (JSON Lines) and run one case through our compiler.

Shared by ``test_conformance.py``, ``report.py`` and ``tests/unit/test_unparse.py``. The corpus
is vendored in ``data/`` (cel-spec test data, Apache-2.0: see ``data/NOTICE``); the path can be
overridden with ``COMPLIANCE_CEL_CORPUS``. ``data/README.md`` describes the typed value encoding.
"""

from __future__ import annotations

import base64
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compliance.cel import budget
from compliance.cel.codegen import generated_program
from compliance.cel.compiler import CelCompileError, CompileEnv, compile_expr
from compliance.cel.parser import CelSyntaxError, parse
from compliance.cel.values import (
    CelEvalError,
    CelTypeValue,
    Duration,
    Timestamp,
    UInt,
    parse_duration,
    parse_timestamp,
)

DEFAULT_CORPUS = Path(__file__).resolve().parent / "data" / "cases.jsonl"
CORE_FILES = frozenset({
    "basic", "comparisons", "conversions", "dynamic", "fields", "fp_math", "integer_math", "lists",
    "logic", "macros", "namespace", "parse", "plumbing", "string", "timestamps", "type_deduction",
})
EXTENSION_FILES = frozenset({"string_ext"})
"""Extension files whose functions we implement (the listed `string_ext` functions)."""


def corpus_path() -> Path:
    """The cases file: ``$COMPLIANCE_CEL_CORPUS`` or the vendored copy."""
    return Path(os.environ.get("COMPLIANCE_CEL_CORPUS", DEFAULT_CORPUS))


def celpy_pass_list() -> set[str]:
    """Ids of the cases cel-python 0.5.0 (interpreted) passes: we must pass all of them."""
    path = corpus_path().parent / "celpy-0.5.0-pass-interpreted.txt"
    if not path.exists():
        return set()
    return {line.strip() for line in path.read_text().splitlines() if line.strip()}


@dataclass(frozen=True)
class Case:
    """One corpus case."""

    id: str
    file: str
    section: str
    expr: str
    bindings: dict[str, Any]
    container: str
    expected: dict[str, Any]


def load_cases() -> list[Case]:
    """Every case of the corpus, in file order."""
    cases = []
    with corpus_path().open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            d = json.loads(line)
            cases.append(Case(
                id=f"{d['section']}/{d['name']}",
                file=d["section"].split("/")[0],
                section=d["section"],
                expr=d["expr"],
                bindings=d.get("bindings") or {},
                container=d.get("container", ""),
                expected=d["expected"],
            ))
    return cases


def decode(v: Mapping[str, Any]) -> object:
    """A typed JSON value (``{"int64": "5"}``) as a runtime value."""
    ((kind, raw),) = v.items()
    if kind == "int64":
        return int(raw)
    if kind == "uint64":
        return UInt(int(raw))
    if kind == "double":
        return float(raw)  # also "NaN", "Infinity", "-Infinity"
    if kind == "string":
        return raw
    if kind == "bytes_b64":
        return base64.b64decode(raw)
    if kind == "bool":
        return bool(raw)
    if kind == "null":
        return None
    if kind == "list":
        return [decode(x) for x in raw]
    if kind == "map":
        return {decode(k): decode(x) for k, x in raw}
    if kind == "timestamp":
        return parse_timestamp(raw)
    if kind == "duration":
        return parse_duration(raw)
    if kind == "type":
        return CelTypeValue(raw)
    raise ValueError(f"unknown typed value kind {kind}")


def strict_equal(a: object, b: object) -> bool:
    """CEL value equality with int/uint/double kept apart and NaN equal to NaN."""
    if isinstance(a, list | tuple):
        return isinstance(b, list | tuple) and len(a) == len(b) and all(
            strict_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping):
        if not isinstance(b, Mapping) or len(a) != len(b):
            return False
        for k, x in a.items():
            match = [y for kb, y in b.items() if strict_equal(k, kb)]
            if len(match) != 1 or not strict_equal(x, match[0]):
                return False
        return True
    if type(a) is not type(b):
        return False
    if type(a) is float and math.isnan(a):  # type: ignore[arg-type]
        return math.isnan(b)  # type: ignore[arg-type]
    return a == b


@dataclass(frozen=True)
class Outcome:
    """The result of one case: ``status`` is pass, fail or crash; ``detail`` explains."""

    status: str
    detail: str = ""


def run_case(case: Case, backend: str = "closures") -> Outcome:
    """Evaluate one case and compare with its expectation (any CEL error matches an error).

    ``backend`` is ``closures`` (the closure compiler) or ``generated`` (the code generator).
    """
    try:
        bindings = {k: decode(v) for k, v in case.bindings.items()}
        if backend == "generated":
            program = generated_program(parse(case.expr), container=case.container)
        else:
            program = compile_expr(parse(case.expr), CompileEnv(container=case.container))
        token = budget.start()  # as in a decision: the default run-time budget must fit
        try:
            result = program(bindings)
        finally:
            budget.finish(token)
    except (CelEvalError, CelSyntaxError, CelCompileError) as err:
        if "error" in case.expected:
            return Outcome("pass")
        return Outcome("fail", f"error {type(err).__name__}: {err}")
    except Exception as err:
        return Outcome("crash", f"{type(err).__name__}: {err}")
    if "value" in case.expected:
        want = decode(case.expected["value"])
        if strict_equal(want, result):
            return Outcome("pass")
        return Outcome("fail", f"got {result!r}, want {want!r}")
    return Outcome("fail", f"got {result!r}, want {case.expected}")


__all__ = ["Case", "Duration", "Outcome", "Timestamp", "load_cases", "run_case"]
