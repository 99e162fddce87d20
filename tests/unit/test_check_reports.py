"""``compliance check --report disclosure|overrides`` (text and JSON)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from compliance.cli import main
from compliance.loader import load_pack_set

REPO = Path(__file__).resolve().parents[2]
RULES = str(REPO / "rules")


def test_disclosure_report_lists_every_intervention(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--report", "disclosure", "--format", "json", RULES]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["report"] == "disclosure"
    rules = [(e["pack"], e["rule"], e["kind"], e["disclosure"]) for e in doc["entries"]]
    pack_set, _ = load_pack_set([Path(RULES)])
    assert pack_set is not None
    shipped = {(p.id, r.id, r.intervention.kind, r.intervention.disclosure)
               for p in pack_set.packs for r in p.rules if r.intervention is not None}
    assert len(rules) == len(shipped)
    assert set(rules) == shipped
    cyber = next(e for e in doc["entries"] if e["rule"] == "cyber-handoff")
    assert cyber["message"].endswith("instead of {request.model} under our cybersecurity policy.")


def test_silent_intervention_shows_its_justification(
        packset: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    root = packset({"p.yaml": """\
        pack: p
        version: "1"
        tier: policy
        rules:
          - id: quiet
            when: request.use_case == "llm-dev"
            effect: intervene
            intervention: {kind: degrade, target: small, disclosure: silent,
                           justification: "research agreement 12"}
        """})
    assert main(["check", "--report", "disclosure", str(root)]) == 0
    out = capsys.readouterr().out
    assert "p/quiet: degrade -> small (silent)" in out
    assert "justification: research agreement 12" in out


def test_overrides_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--report", "overrides", RULES]) == 0
    out = capsys.readouterr().out
    assert out.startswith("overrides report: 1 overrides")
    assert ("safety-retention/frontier-safety-retention (tier policy) overrides tier contract "
            "for retention") in out
    assert "justification: Safety review of frontier-model misuse" in out


def test_report_refuses_other_formats_and_broken_sets(
        packset: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--report", "overrides", "--format", "sarif", RULES]) == 2
    assert "prints text or json" in capsys.readouterr().err
    root = packset({"p.yaml": "pack: p\nversion: '1'\ntier: policy\nrules:\n"
                              "  - {id: r, when: 'request.modle == 1', effect: deny}\n"})
    assert main(["check", "--report", "overrides", str(root)]) == 1
    assert "undeclared-reference" in capsys.readouterr().err
