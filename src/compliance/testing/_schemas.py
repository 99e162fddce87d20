"""The file formats as pydantic models, for editors: ``compliance schema packs|suites|manifest``.

The loaders (``compliance.loader``, ``compliance.testing._load``) stay the authority, with
positions and messages; these models describe the same keys so an editor can complete and
flag them. The field lists come from the loaders' own tuples, and a test validates every
shipped pack, manifest and suite against these models (and rejects broken ones), so the two
cannot drift apart silently.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from compliance.loader._manifest import MANIFEST_FIELDS
from compliance.loader._pack import INTERVENTION_FIELDS, PACK_FIELDS, RULE_FIELDS
from compliance.testing._load import CASE_FIELDS, EXEMPT_FIELDS, SUITE_FIELDS
from compliance.testing._model import EXPECT_FIELDS

Scalar = str | int | float | bool


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WindowModel(_Closed):
    """An effective window: ``from`` inclusive, ``until`` exclusive, explicit zones."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_: str | None = Field(default=None, alias="from")
    until: str | None = None


class InterventionModel(_Closed):
    """What an ``intervene`` rule does, and whether the user is told."""

    kind: Literal["refuse", "route", "modify", "steer", "degrade"]
    target: str | None = None
    disclosure: Literal["visible", "silent"]
    message: str | None = None
    fail_closed_message: str | None = None
    instruction: str | None = None
    justification: str | None = None


class RuleModel(_Closed):
    """One rule of a pack."""

    id: str
    description: str | None = None
    when: str | bool | None = None
    unless: str | bool | None = None
    effect: Literal["allow", "deny", "intervene"] | None = None
    reason: str | None = None
    fail_closed_reason: str | None = None
    on_unknown: Literal["deny", "skip", "error"] | None = None
    priority: int | None = None
    effective: WindowModel | None = None
    intervention: InterventionModel | None = None
    obligations: dict[str, Any] | None = None
    overrides: dict[str, str] | None = None
    justification: str | None = None


class SignalModel(_Closed):
    """A signal: events matching ``on`` counted per ``key`` raise a fact (docs/signals.md)."""

    name: str
    description: str | None = None
    on: str | bool
    key: str
    key_path: str
    count: int
    within: str
    raise_: str = Field(alias="raise")
    for_: str = Field(alias="for")
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class PackModel(_Closed):
    """A rule pack file (docs/rule-pack-format.md)."""

    pack: str
    version: Scalar
    tier: str | int
    authority: str | None = None
    owners: list[str] | None = None
    description: str | None = None
    effective: WindowModel | None = None
    forbid_silent: bool | None = None
    variables: dict[str, str | bool] | None = None
    signals: list[SignalModel] | None = None
    rules: list[RuleModel]


class ManifestModel(_Closed):
    """``packset.yaml``: the pack set's id, default effect, shared variables and context."""

    packset: str
    default_effect: Literal["allow", "deny"] | None = None
    variables: dict[str, str | bool] | None = None
    context: dict[str, Any]
    events: dict[str, Any] | None = None


class ExpectInterventionModel(_Closed):
    """An intervention the decision must hold (only the named keys are compared)."""

    kind: Literal["refuse", "route", "modify", "steer", "degrade"] | None = None
    target: str | None = None
    disclosure: Literal["visible", "silent"] | None = None
    message: str | None = None
    pack: str | None = None
    rule: str | None = None
    justification: str | None = None
    instruction: str | None = None


class ExpectModel(_Closed):
    """Any subset of the decision; only what is named is asserted."""

    effect: Literal["allow", "deny"] | None = None
    model: str | None = None
    matched: list[str] | None = None
    missing: list[str] | None = None
    interventions: list[ExpectInterventionModel] | None = None
    obligations: dict[str, Any] | None = None


class CaseModel(_Closed):
    """One case: a context from fixtures or inline maps, and what to expect."""

    name: str
    description: str | None = None
    context: dict[str, str | dict[str, Any]] | None = None
    with_: dict[str, Any] | None = Field(default=None, alias="with")
    time: str | None = None
    matrix: dict[str, list[str | dict[str, Any]]] | None = None
    events: list[dict[str, Any]] | None = None
    expect: ExpectModel | None = None
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ExemptModel(_Closed):
    """A coverage item declared unreachable, with the reason."""

    rule: str
    item: Literal["applied", "not-applied", "on-unknown", "before", "at-or-after"]
    reason: str


class SuiteModel(_Closed):
    """A policy test suite (docs/testing.md)."""

    suite: str
    description: str | None = None
    packs: str | None = None
    time: str | None = None
    fixtures: dict[str, dict[str, dict[str, Any]]] | None = None
    cases: list[CaseModel]
    coverage_exempt: list[ExemptModel] | None = None


MODELS: dict[str, type[BaseModel]] = {
    "packs": PackModel, "suites": SuiteModel, "manifest": ManifestModel,
}
LOADER_FIELDS: dict[type[BaseModel], tuple[str, ...]] = {
    PackModel: PACK_FIELDS, RuleModel: RULE_FIELDS, InterventionModel: INTERVENTION_FIELDS,
    SuiteModel: SUITE_FIELDS, CaseModel: CASE_FIELDS, ExpectModel: EXPECT_FIELDS,
    ExemptModel: EXEMPT_FIELDS, ManifestModel: MANIFEST_FIELDS,
}
"""Each model's keys must equal the loader's list (checked by tests/unit/test_suites.py)."""


def keys_of(model: type[BaseModel]) -> set[str]:
    """The keys a model accepts in a file (aliases, not Python names)."""
    return {f.alias or name for name, f in model.model_fields.items()}


def schema_json(kind: str) -> str:
    """The JSON Schema (draft 2020-12, as pydantic writes it) of one format."""
    model = MODELS[kind]
    schema = model.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://compliance.invalid/schema/{kind}.json"
    return json.dumps(schema, indent=2, sort_keys=False)
