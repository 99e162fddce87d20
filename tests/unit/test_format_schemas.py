"""``compliance schema``: the editor schemas accept every shipped file and refuse broken ones,
and their keys are exactly the loaders' keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from compliance.cli import main
from compliance.loader._nodes import plain_data
from compliance.loader._yaml import read_yaml
from compliance.testing._schemas import (
    LOADER_FIELDS,
    ManifestModel,
    PackModel,
    SuiteModel,
    keys_of,
)

REPO = Path(__file__).resolve().parents[2]
PACKS = sorted(p for p in (REPO / "rules").glob("*.yaml") if p.name != "packset.yaml") + \
    sorted((REPO / "examples" / "packs").glob("*.yaml"))
SUITES = sorted((REPO / "rules" / "tests").glob("*.yaml"))


def _data(path: Path) -> Any:
    """The file as the loaders read it (YAML 1.2 core: `on:` is a key, not `true`)."""
    parsed = read_yaml(path.read_bytes(), str(path))
    assert parsed.root is not None, parsed.diagnostics
    return plain_data(parsed.root)


def _stringify_times(value: Any) -> Any:
    """PyYAML turns unquoted timestamps into datetimes; the loaders keep their text."""
    if isinstance(value, dict):
        return {k: _stringify_times(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stringify_times(v) for v in value]
    if hasattr(value, "isoformat") and not isinstance(value, str):
        return value.isoformat()
    return value


@pytest.mark.parametrize("path", PACKS, ids=[p.name for p in PACKS])
def test_shipped_packs_validate(path: Path) -> None:
    PackModel.model_validate(_stringify_times(_data(path)))


def test_shipped_manifest_validates() -> None:
    ManifestModel.model_validate(_data(REPO / "rules" / "packset.yaml"))


@pytest.mark.parametrize("path", SUITES, ids=[p.name for p in SUITES])
def test_shipped_suites_validate(path: Path) -> None:
    SuiteModel.model_validate(_stringify_times(_data(path)))


@pytest.mark.parametrize(("model", "data"), [
    (PackModel, {"pack": "p", "version": "1", "tier": "law", "rules": [{"id": "r", "efect": 1}]}),
    (PackModel, {"pack": "p", "version": "1", "tier": "law",
                 "rules": [{"id": "r", "effect": "block"}]}),
    (PackModel, {"version": "1", "tier": "law", "rules": []}),
    (SuiteModel, {"suite": "s", "cases": [{"name": "c", "expect": {"efect": "deny"}}]}),
    (SuiteModel, {"suite": "s", "cases": [{"name": "c", "expect": {"effect": "maybe"}}]}),
    (SuiteModel, {"suite": "s", "cases": [{"name": "c", "contxt": {}}]}),
    (ManifestModel, {"packset": "x"}),
])
def test_broken_files_are_rejected(model: type[BaseModel], data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(data)


@pytest.mark.parametrize("model", list(LOADER_FIELDS), ids=lambda m: m.__name__)
def test_models_have_exactly_the_loader_keys(model: type[BaseModel]) -> None:
    assert keys_of(model) == set(LOADER_FIELDS[model])


@pytest.mark.parametrize("kind", ["packs", "suites", "manifest"])
def test_schema_command_prints_json_schema(kind: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", kind]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["$schema"].endswith("2020-12/schema")
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert schema["required"]


def test_schema_command_rejects_an_unknown_kind(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "rules"]) == 2
    assert "invalid choice" in capsys.readouterr().err
