"""The shipped packs pass `check`; the transparency pack rejects the silent counter-example."""

from __future__ import annotations

from policy_helpers import EXAMPLES, RULES

SILENT = EXAMPLES / "packs" / "silent-llm-dev-degradation.yaml"


def _check(*paths):
    from compliance import check_pack_set, load_pack_set

    pack_set, diagnostics = load_pack_set([str(p) for p in paths])
    problems = list(diagnostics.errors)
    if pack_set is not None and not problems:
        report = check_pack_set(pack_set)
        problems = [d for d in report.diagnostics if d.severity.value == "error"]
    return pack_set, problems


def test_shipped_packs_check_clean():
    pack_set, errors = _check(RULES)
    assert pack_set is not None
    assert errors == [], [f"{e.code}: {e.message}" for e in errors]


def test_shipped_packs_have_provenance():
    pack_set, _ = _check(RULES)
    ids = {p.id for p in pack_set.packs}
    assert ids == {"us-export-control", "sanctions", "zdr-contract", "safety-retention",
                   "interventions", "acceptable-use", "transparency", "safeguard-signals"}
    for pack in pack_set.packs:
        assert pack.version, pack.id
        assert pack.authority, pack.id
        assert pack.owners, pack.id
        assert pack.description, pack.id
        assert pack.digest
    assert pack_set.forbid_silent
    assert pack_set.default_effect == "allow"


def test_silent_example_alone_is_a_valid_pack():
    """Without the transparency pack, the silent pack is well-formed (it has a justification)."""
    import shutil
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shutil.copy(RULES / "packset.yaml", root / "packset.yaml")
        shutil.copy(SILENT, root / SILENT.name)
        _, errors = _check(root)
        assert errors == [], [f"{e.code}: {e.message}" for e in errors]


def test_silent_example_rejected_with_transparency_pack():
    _, errors = _check(RULES, SILENT)
    assert errors, "the silent intervention should be a check error under forbid_silent"
    text = " ".join(f"{e.message} {' '.join(e.notes)} {e.help or ''}" for e in errors)
    assert "silent-llm-dev-steer" in text
    assert "transparency" in text
    assert any(e.span is not None and e.span.file.endswith(SILENT.name) for e in errors)
