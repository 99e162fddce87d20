"""compliance: declarative rule packs (YAML + CEL) in, auditable decisions out.

The pipeline, one module per stage::

    loader (YAML -> Pack) -> checker (CEL parse + types) -> planner/compiler -> evaluator

Typical use::

    from compliance import Engine
    engine = Engine.from_path("rules")
    decision = engine.evaluate(context)      # a frozen pydantic Decision
"""

from importlib.metadata import PackageNotFoundError, version

from compliance.audit import (
    AuditWriteError,
    Break,
    DecisionLog,
    DecisionRecordV1,
    PackArchive,
    ReplayResult,
    VerifyReport,
    replay,
    verify,
    verify_log,
)
from compliance.cel.types import ContextSchema, Limits, schema_from_pydantic
from compliance.checker import CheckedPackSet, CheckReport, check_pack_set
from compliance.contexts import ContextProblem, validate_context
from compliance.decision import (
    Conflict,
    Decision,
    EvalError,
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
    EvaluationError,
    LogIntegrityError,
    ObligationNotUnderstood,
    PackError,
    RequestDenied,
)
from compliance.loader import load_pack_set

try:
    __version__ = version("compliance")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "AuditWriteError",
    "Break",
    "CheckReport",
    "CheckedPackSet",
    "ComplianceError",
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
