"""compliance: declarative rule packs (YAML + CEL) in, auditable decisions out.

The pipeline, one module per stage::

    loader (YAML -> Pack) -> checker (CEL parse + types) -> planner/compiler -> evaluator

Typical use::

    from compliance import Engine
    engine = Engine.from_path("rules")
    decision = engine.evaluate(context)      # a frozen pydantic Decision

Names are imported on first use (PEP 562 ``__getattr__``), so ``import compliance`` costs
almost nothing and ``from compliance import Engine`` loads only what an engine needs to
exist; ``__version__`` reads the installed metadata (``importlib.metadata``, ~40 ms of
imports) only when it is read.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what the lazy names are, for type checkers and editors
    from compliance.cel.types import ContextSchema, Limits, schema_from_pydantic
    from compliance.checker import CheckedPackSet, CheckReport, check_pack_set
    from compliance.contexts import ContextProblem, validate_context
    from compliance.decision import Conflict, Decision, InterventionOut, Match, Obligations, RuleRef
    from compliance.diagnostics import Diagnostic, DiagnosticSet, Severity
    from compliance.engine import Engine, EngineHolder
    from compliance.errors import ComplianceError, EvaluationError, LogIntegrityError, PackError
    from compliance.loader import load_pack_set

    __version__: str

_EXPORTS: dict[str, str] = {
    "CheckReport": "compliance.checker",
    "CheckedPackSet": "compliance.checker",
    "ComplianceError": "compliance.errors",
    "Conflict": "compliance.decision",
    "ContextProblem": "compliance.contexts",
    "ContextSchema": "compliance.cel.types",
    "Decision": "compliance.decision",
    "Diagnostic": "compliance.diagnostics",
    "DiagnosticSet": "compliance.diagnostics",
    "Engine": "compliance.engine",
    "EngineHolder": "compliance.engine",
    "EvaluationError": "compliance.errors",
    "InterventionOut": "compliance.decision",
    "Limits": "compliance.cel.types",
    "LogIntegrityError": "compliance.errors",
    "Match": "compliance.decision",
    "Obligations": "compliance.decision",
    "PackError": "compliance.errors",
    "RuleRef": "compliance.decision",
    "Severity": "compliance.diagnostics",
    "check_pack_set": "compliance.checker",
    "load_pack_set": "compliance.loader",
    "schema_from_pydantic": "compliance.cel.types",
    "validate_context": "compliance.contexts",
}
"""Each public name and the module that defines it (the one definition, imported on use)."""

__all__ = [
    "CheckReport",
    "CheckedPackSet",
    "ComplianceError",
    "Conflict",
    "ContextProblem",
    "ContextSchema",
    "Decision",
    "Diagnostic",
    "DiagnosticSet",
    "Engine",
    "EngineHolder",
    "EvaluationError",
    "InterventionOut",
    "Limits",
    "LogIntegrityError",
    "Match",
    "Obligations",
    "PackError",
    "RuleRef",
    "Severity",
    "__version__",
    "check_pack_set",
    "load_pack_set",
    "schema_from_pydantic",
    "validate_context",
]


def __getattr__(name: str) -> Any:
    """Import a public name's module on first access and keep the value (PEP 562)."""
    if name == "__version__":
        value: Any = _installed_version()
    elif name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    else:
        raise AttributeError(f"module 'compliance' has no attribute {name!r}")
    globals()[name] = value  # later reads are plain attribute lookups
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def _installed_version() -> str:
    """The distribution's version; a source tree that was never installed says ``0.0.0``."""
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415 - on read only

    try:
        return version("compliance")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"
