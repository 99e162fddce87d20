"""The log's record schema, version 1: one model per record kind, and its JSON Schema.

The writer builds plain dicts on the hot path (validating a model per record would cost
more than the rest of logging); readers (``log show``, ``replay``) validate every record
against these models, and ``decision-record-v1.schema.json`` next to this file is the
committed JSON Schema of ``LogRecordV1``, tested against the models so neither drifts.
Field by field documentation: docs/audit.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from compliance.decision import Decision

__all__ = [
    "RECORD_VERSION",
    "SCHEMA_FILE",
    "CheckpointRecordV1",
    "DecisionRecordV1",
    "LogRecordV1",
    "StartRecordV1",
    "json_schema",
    "parse_record",
]

RECORD_VERSION = 1
SCHEMA_FILE = Path(__file__).with_name("decision-record-v1.schema.json")

Hash = Annotated[str, Field(pattern=r"^sha256:[0-9a-f]{64}$")]


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    record_version: Literal[1]
    seq: int = Field(ge=0, description="position in the chain, from 0, across rotated files")
    prev: Hash = Field(description="sha256 of the previous line's bytes (genesis: all zeros)")
    chain: str = Field(description="random id of this chain, fixed at its first record")


class DecisionRecordV1(_Record):
    """One decision, with what is needed to prove and replay it."""

    kind: Literal["decision"]
    engine_version: str
    pack_set_digest: Hash
    context_digest: str | None = Field(
        description="HMAC-SHA256 of the canonical context under the redaction key; "
        "null without a key"
    )
    context: dict[str, Any] | None = Field(
        description="the declared attributes of the context, sensitive ones redacted"
    )
    redaction: Literal["hmac-sha256", "drop", "none"]
    redaction_key_id: str | None
    redacted: list[str] = Field(description="attribute paths replaced by an HMAC or dropped")
    undeclared: list[str] = Field(description="context keys not in the schema, not logged")
    lossy: list[str] = Field(description="paths whose values JSON cannot hold exactly")
    decision: Decision | None = Field(description="the decision; null only with encoding_error")
    encoding_error: str | None = Field(
        default=None, description="set when the decision could not be logged in full"
    )


class StartRecordV1(_Record):
    """A writer opened the log: a new chain, a rotation, a restart after a crash."""

    kind: Literal["start"]
    time: str
    engine_version: str
    writer: str = Field(description="random id of the writer instance")
    pid: int
    previous: Literal["new", "closed", "unclosed", "torn", "rotated"]
    continues: str | None = Field(description="file this one continues after rotation")
    torn_file: str | None = Field(description="where a torn tail was moved aside")
    torn_bytes: int
    key_id: str | None = Field(description="public key that signs this writer's checkpoints")


class CheckpointRecordV1(_Record):
    """The chain head (``prev``) and count (``seq``) at a moment, signed with Ed25519."""

    kind: Literal["checkpoint"]
    time: str
    writer: str
    closing: bool = Field(description="written by close(): the writer ended cleanly")
    rotated_to: str | None = None
    key_id: str | None
    sig: str | None = Field(description="Ed25519 signature (hex) over the record without sig")


LogRecordV1 = Annotated[
    DecisionRecordV1 | StartRecordV1 | CheckpointRecordV1, Field(discriminator="kind")
]
_adapter: TypeAdapter[DecisionRecordV1 | StartRecordV1 | CheckpointRecordV1] = TypeAdapter(
    LogRecordV1
)


def parse_record(data: dict[str, Any]) -> DecisionRecordV1 | StartRecordV1 | CheckpointRecordV1:
    """Validate one parsed line (raises ``pydantic.ValidationError``)."""
    return _adapter.validate_python(data)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of one log line (what ``SCHEMA_FILE`` holds)."""
    schema = _adapter.json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "compliance decision log record, version 1"
    return schema


def _write_schema_file() -> None:  # pragma: no cover - run by hand after a model change
    SCHEMA_FILE.write_text(json.dumps(json_schema(), indent=2, sort_keys=True) + "\n",
                           encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover
    _write_schema_file()
