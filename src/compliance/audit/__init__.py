"""The audit trail: a decision log that proves what happened.

- ``record``     the record schema (``DecisionRecordV1``) and its JSON Schema file
- ``encoding``   canonical JSON bytes and the strict line reader
- ``redaction``  keyed (HMAC) redaction of sensitive attributes, keyed context digest
- ``writer``     ``DecisionLog``: one chain across threads and processes, checkpoints
- ``signing``    Ed25519 keys for checkpoints (``cryptography``, imported lazily)
- ``verify``     the first broken record and its kind, and what was (not) proven
- ``replay``     re-evaluation against the archived packs, filters for ``log show``
- ``archive``    pack sets stored by digest

The evaluator never logs; hosts (or ``compliance eval --log``) wrap it with ``DecisionLog``.
Details: docs/audit.md.
"""

from compliance.audit.archive import PackArchive
from compliance.audit.record import DecisionRecordV1
from compliance.audit.replay import ReplayResult, replay
from compliance.audit.verify import Break, VerifyReport, verify, verify_log
from compliance.audit.writer import GENESIS, AuditWriteError, DecisionLog

__all__ = [
    "GENESIS",
    "AuditWriteError",
    "Break",
    "DecisionLog",
    "DecisionRecordV1",
    "PackArchive",
    "ReplayResult",
    "VerifyReport",
    "replay",
    "verify",
    "verify_log",
]
