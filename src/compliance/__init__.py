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
    from compliance.audit import (
        AuditWriteError,
        Break,
        DecisionLog,
        DecisionRecordV1,
        PackArchive,
        ReplayResult,
        VerifyReport,
        verify_log,
    )

    # `replay` and `verify` are also submodule names of compliance.audit; mypy cannot tell
    # them apart here, so they are typed through ``__getattr__`` (Any) only.
    from compliance.cel.types import ContextSchema, Limits, schema_from_pydantic
    from compliance.checker import CheckedPackSet, CheckReport, check_pack_set
    from compliance.contexts import ContextProblem, validate_context
    from compliance.decision import (
        ConditionTrace,
        Conflict,
        Decision,
        EvalError,
        FactRead,
        InterventionOut,
        Match,
        ObligationDetail,
        Obligations,
        PackInfo,
        RoutingPass,
        RuleExplanation,
        RuleRef,
    )
    from compliance.diagnostics import Diagnostic, DiagnosticSet, Severity
    from compliance.engine import Engine, EngineHolder
    from compliance.errors import (
        ComplianceError,
        ConfigurationError,
        EvaluationError,
        LogIntegrityError,
        ObligationNotUnderstood,
        PackError,
        RequestDenied,
    )
    from compliance.loader import load_pack_set

    __version__: str

_EXPORTS: dict[str, str] = {
    "AuditWriteError": "compliance.audit",
    "Break": "compliance.audit",
    "CheckReport": "compliance.checker",
    "CheckedPackSet": "compliance.checker",
    "ComplianceError": "compliance.errors",
    "ConfigurationError": "compliance.errors",
    "ConditionTrace": "compliance.decision",
    "Conflict": "compliance.decision",
    "ContextProblem": "compliance.contexts",
    "ContextSchema": "compliance.cel.types",
    "Decision": "compliance.decision",
    "DecisionLog": "compliance.audit",
    "DecisionRecordV1": "compliance.audit",
    "Diagnostic": "compliance.diagnostics",
    "DiagnosticSet": "compliance.diagnostics",
    "Engine": "compliance.engine",
    "EngineHolder": "compliance.engine",
    "EvalError": "compliance.decision",
    "EvaluationError": "compliance.errors",
    "FactRead": "compliance.decision",
    "InterventionOut": "compliance.decision",
    "Limits": "compliance.cel.types",
    "LogIntegrityError": "compliance.errors",
    "Match": "compliance.decision",
    "ObligationDetail": "compliance.decision",
    "ObligationNotUnderstood": "compliance.errors",
    "Obligations": "compliance.decision",
    "PackArchive": "compliance.audit",
    "PackError": "compliance.errors",
    "PackInfo": "compliance.decision",
    "ReplayResult": "compliance.audit",
    "RequestDenied": "compliance.errors",
    "RoutingPass": "compliance.decision",
    "RuleExplanation": "compliance.decision",
    "RuleRef": "compliance.decision",
    "Severity": "compliance.diagnostics",
    "VerifyReport": "compliance.audit",
    "check_pack_set": "compliance.checker",
    "load_pack_set": "compliance.loader",
    "replay": "compliance.audit",
    "schema_from_pydantic": "compliance.cel.types",
    "validate_context": "compliance.contexts",
    "verify": "compliance.audit",
    "verify_log": "compliance.audit",
}
"""Each public name and the module that defines it (the one definition, imported on use)."""

__all__ = [
    "AuditWriteError",
    "Break",
    "CheckReport",
    "CheckedPackSet",
    "ComplianceError",
    "ConditionTrace",
    "ConfigurationError",
    "Conflict",
    "ContextProblem",
    "ContextSchema",
    "Decision",
    "DecisionLog",
    "DecisionRecordV1",
    "Diagnostic",
    "DiagnosticSet",
    "Engine",
    "EngineHolder",
    "EvalError",
    "EvaluationError",
    "FactRead",
    "InterventionOut",
    "Limits",
    "LogIntegrityError",
    "Match",
    "ObligationDetail",
    "ObligationNotUnderstood",
    "Obligations",
    "PackArchive",
    "PackError",
    "PackInfo",
    "ReplayResult",
    "RequestDenied",
    "RoutingPass",
    "RuleExplanation",
    "RuleRef",
    "Severity",
    "VerifyReport",
    "__version__",
    "check_pack_set",
    "load_pack_set",
    "replay",
    "schema_from_pydantic",
    "validate_context",
    "verify",
    "verify_log",
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
