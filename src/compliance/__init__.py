"""compliance: declarative rule packs (YAML + CEL) in, auditable decisions out.

The pipeline, one module per stage::

    loader (YAML -> Pack) -> checker (CEL parse + types) -> planner/compiler -> evaluator

Typical use::

    from compliance import Engine
    engine = Engine.from_path("rules")
    decision = engine.evaluate(context)      # a frozen pydantic Decision
"""

from importlib.metadata import PackageNotFoundError, version

from compliance.cel.types import ContextSchema, Limits, schema_from_pydantic
from compliance.checker import CheckedPackSet, CheckReport, check_pack_set
from compliance.contexts import ContextProblem, validate_context
from compliance.decision import Conflict, Decision, InterventionOut, Match, Obligations, RuleRef
from compliance.diagnostics import Diagnostic, DiagnosticSet, Severity
from compliance.engine import Engine, EngineHolder
from compliance.errors import ComplianceError, EvaluationError, LogIntegrityError, PackError
from compliance.loader import load_pack_set

try:
    __version__ = version("compliance")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

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
