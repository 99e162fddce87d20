"""Stage 1: pack files and sets load into the model; every structural problem is reported."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from compliance.diagnostics import Diagnostic
from compliance.loader import (
    Limits,
    load_pack_file,
    load_pack_set,
    load_pack_text,
    load_schema_file,
)
from compliance.pack import Pack

GOOD = """\
pack: us-export-control
version: 2026.06.15-1
tier: law
authority: "Directive, 2026-06-15 17:21 ET"
owners: [trade@example.com]
effective: {from: "2026-06-15T17:21:00[America/New_York]"}
variables:
  restricted_model: request.model in ["fable-5", "mythos-5"]
rules:
  - id: foreign-national-suspension
    when: vars.restricted_model && !("US" in principal.nationalities)
    unless: '"EAR-LICENSE-D123" in principal.authorizations'
    effect: deny
    reason: "{request.model} suspended for foreign nationals"
  - id: llm-dev-handoff
    when: request.use_case == "llm-dev"
    effect: intervene
    priority: 5
    intervention:
      {kind: route, target: opus-4.8, disclosure: visible, message: "Handled by opus-4.8."}
  - id: safety-retention
    obligations:
      retention: {min_days: 30, purpose: safety-review, training: prohibited}
      logging: full
      custom:
        data-residency: {value: eu, merge: by-tier}
    overrides: {retention: contract}
    justification: safety review beats zero-retention contracts
"""

MANIFEST = """\
packset: test
default_effect: deny
context:
  principal:
    nationalities: list<string>
    authorizations: list<string>
    kind: {type: string, enum: [customer, employee]}
  request:
    model: string
    use_case: string
    time: timestamp
"""


def load(text: str) -> tuple[Pack | None, list[Diagnostic]]:
    """Load dedented ``text`` as ``p.yaml``."""
    return load_pack_text(textwrap.dedent(text), "p.yaml")


def underlined(text: str, d: Diagnostic) -> str:
    """The text a diagnostic's span underlines (first line only)."""
    assert d.span is not None
    line = textwrap.dedent(text).split("\n")[d.span.start.line]
    end = d.span.end.col if d.span.end.line == d.span.start.line else len(line)
    return line[d.span.start.col : end]


def codes(diags: list[Diagnostic]) -> list[str]:
    """The codes in order found."""
    return [d.code for d in diags]


class TestGoodPack:
    """A well-formed pack loads completely."""

    def test_fields(self) -> None:
        """Provenance, variables, rules, interventions and windows are read."""
        pack, diags = load(GOOD)
        assert diags == []
        assert pack is not None
        assert (pack.id, pack.version, pack.tier, pack.tier_rank) == (
            "us-export-control",
            "2026.06.15-1",
            "law",
            400,
        )
        assert pack.owners == ("trade@example.com",)
        assert pack.effective is not None
        assert pack.effective.start is not None
        assert pack.effective.start.at == datetime(2026, 6, 15, 21, 21, tzinfo=UTC)
        assert [v.name for v in pack.variables] == ["restricted_model"]
        deny, route, retention = pack.rules
        assert deny.effect == "deny"
        assert deny.unknown_policy == "deny"
        assert route.intervention is not None
        assert route.intervention.target == "opus-4.8"
        assert route.priority == 5
        assert retention.effect is None
        assert retention.unknown_policy == "skip"

    def test_obligations_flattened(self) -> None:
        """Obligations become kind/value/merge/group records per the format table."""
        pack, _ = load(GOOD)
        assert pack is not None
        obligations = {o.kind: (o.value, o.merge, o.group) for o in pack.rules[2].obligations}
        assert obligations == {
            "retention_min_days": (30, "max", "retention"),
            "retention_purpose": ("safety-review", "union", "retention"),
            "training": ("prohibited", "prohibit-wins", "training"),
            "logging_level": ("full", "max", "logging"),
            "data-residency": ("eu", "by-tier", "data-residency"),
        }
        (override,) = pack.rules[2].overrides
        assert (override.group, override.tier, override.tier_rank) == ("retention", "contract", 300)

    def test_numeric_tier(self) -> None:
        """A numeric tier is its own rank."""
        pack, diags = load(GOOD.replace("tier: law", "tier: 250"))
        assert diags == []
        assert pack is not None
        assert (pack.tier, pack.tier_rank) == ("250", 250)


class TestStructuralErrors:
    """Each structural problem has its code and underlines the offending text."""

    @pytest.mark.parametrize(
        ("old", "new", "code", "underline"),
        [
            ("    effect: deny\n", "    effect: deny\n    whn: x\n", "unknown-field", "whn"),
            (
                "    effect: deny\n",
                "    effect: deny\n    effect: allow\n",
                "duplicate-key",
                "effect",
            ),
            ("    priority: 5", "    priority: high", "wrong-type", "high"),
            ("effect: deny\n", "effect: dney\n", "invalid-value", "dney"),
            ("target: opus-4.8", "target: 4.8", "wrong-type", "4.8"),
            ("tier: law", "tier: lawful", "invalid-value", "lawful"),
            ("logging: full", "logging: loud", "invalid-obligation", "loud"),
            ("min_days: 30", "min_days: -3", "invalid-obligation", "-3"),
            ("merge: by-tier", "merge: by-tear", "invalid-obligation", "by-tear"),
            (
                "    justification: safety",
                "    description: safety",
                "missing-justification",
                "overrides",
            ),
            ("disclosure: visible", "disclosure: silent", "missing-justification", "silent"),
            (
                "id: llm-dev-handoff",
                "id: foreign-national-suspension",
                "duplicate-rule-id",
                "foreign-national-suspension",
            ),
            (
                '{from: "2026-06-15T17:21:00[America/New_York]"}',
                '{from: "2026-06-15T17:21:00"}',
                "naive-time",
                '"2026-06-15T17:21:00"',
            ),
        ],
    )
    def test_problem(self, old: str, new: str, code: str, underline: str) -> None:
        """Changing ``old`` to ``new`` yields one ``code`` diagnostic under ``underline``."""
        text = GOOD.replace(old, new, 1)
        assert text != GOOD
        _, diags = load(text)
        found = [d for d in diags if d.code == code]
        assert len(found) == 1, diags
        assert underlined(text, found[0]) == underline

    def test_did_you_mean(self) -> None:
        """Unknown fields and invalid values suggest the closest spelling."""
        _, diags = load(GOOD.replace("    effect: deny\n", "    effect: dney\n    whn: x\n", 1))
        assert {d.help for d in diags} == {"did you mean `when`?", "did you mean `deny`?"}

    def test_missing_fields(self) -> None:
        """Required pack and rule fields are reported as `missing-field`."""
        _, diags = load("pack: x\nrules:\n  - effect: deny\n")
        assert sorted(d.message for d in diags if d.code == "missing-field") == [
            "missing required field `tier`",
            "missing required field `version`",
            "rule 1: missing required field `id`",
        ]

    def test_intervene_needs_intervention(self) -> None:
        """`effect: intervene` without an intervention, and the reverse, are both errors."""
        block = (
            "    intervention:\n"
            "      {kind: route, target: opus-4.8, disclosure: visible,"
            ' message: "Handled by opus-4.8."}\n'
        )
        assert block in GOOD
        _, missing = load(GOOD.replace(block, ""))
        assert "missing-field" in codes(missing)
        _, unexpected = load(GOOD.replace("effect: intervene", "effect: deny"))
        assert "unexpected-field" in codes(unexpected)

    def test_broken_rules_do_not_hide_the_rest(self) -> None:
        """A pack with errors still loads its sound rules, for the checker to read."""
        pack, diags = load(GOOD.replace("priority: 5", "priority: high"))
        assert codes(diags) == ["wrong-type"]
        assert pack is not None
        assert len(pack.rules) == 3


class TestUntrustedYaml:
    """Hostile files are refused before they can cost memory or time."""

    def test_alias_bomb_is_not_expanded(self) -> None:
        """Aliases are refused outright, so a billion-laughs file stays small."""
        bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
            for i in range(9)
        )
        pack, diags = load_pack_text(bomb, "p.yaml")
        assert pack is None
        assert codes(diags) == ["yaml-alias"]

    def test_too_deep(self) -> None:
        """Nesting beyond the limit stops composing with `too-deep`."""
        _, diags = load_pack_text("a: " + "[" * 200 + "]" * 200 + "\n", "p.yaml")
        assert codes(diags) == ["too-deep"]

    def test_too_large(self) -> None:
        """A file over the size limit is refused before parsing."""
        _, diags = load_pack_text("a: b\n" * 10, "p.yaml", Limits(max_file_bytes=20))
        assert codes(diags) == ["file-too-large"]

    def test_invalid_encoding(self, tmp_path: Path) -> None:
        """Bytes that are not UTF-8 are `invalid-encoding` at their line and column."""
        path = tmp_path / "p.yaml"
        path.write_bytes(b"pack: x\nauthority: caf\xe9\n")
        _, diags = load_pack_file(path)
        assert codes(diags) == ["invalid-encoding"]
        assert diags[0].span is not None
        assert diags[0].span.start.line == 1

    @pytest.mark.parametrize(
        ("text", "code"),
        [
            ("a: [1, 2\n", "yaml-syntax"),
            ("a: 1\n---\nb: 2\n", "multiple-documents"),
            ("# only a comment\n", "empty-file"),
            ("- 1\n", "wrong-type"),
        ],
        ids=["syntax", "two-documents", "empty", "not-a-mapping"],
    )
    def test_unusable_files(self, text: str, code: str) -> None:
        """Files without one usable mapping give no pack and one diagnostic."""
        pack, diags = load_pack_text(text, "p.yaml")
        assert pack is None
        assert codes(diags) == [code]


class TestInstants:
    """Effective windows are DST-correct and refuse ambiguous input."""

    @pytest.mark.parametrize(
        ("raw", "utc"),
        [
            ("2026-06-15T17:21:00-04:00", datetime(2026, 6, 15, 21, 21, tzinfo=UTC)),
            ("2026-06-15T17:21:00Z", datetime(2026, 6, 15, 17, 21, tzinfo=UTC)),
            ("2026-01-15T17:21:00[America/New_York]", datetime(2026, 1, 15, 22, 21, tzinfo=UTC)),
            (
                "2026-11-01T01:30:00-05:00[America/New_York]",
                datetime(2026, 11, 1, 6, 30, tzinfo=UTC),
            ),
        ],
    )
    def test_resolves(self, raw: str, utc: datetime) -> None:
        """Offsets and zones resolve to the right UTC instant."""
        pack, diags = load(GOOD.replace("2026-06-15T17:21:00[America/New_York]", raw))
        assert diags == []
        assert pack is not None
        assert pack.effective is not None
        assert pack.effective.start is not None
        assert pack.effective.start.at == utc

    @pytest.mark.parametrize(
        ("raw", "code"),
        [
            ("2026-06-15T17:21:00", "naive-time"),
            ("2026-03-08T02:30:00[America/New_York]", "nonexistent-local-time"),
            ("2026-11-01T01:30:00[America/New_York]", "ambiguous-local-time"),
            ("2026-06-15T17:21:00-07:00[America/New_York]", "offset-zone-mismatch"),
            ("2026-06-15T17:21:00[America/New_Yrok]", "unknown-time-zone"),
            ("next tuesday", "invalid-instant"),
        ],
    )
    def test_refused(self, raw: str, code: str) -> None:
        """Naive, nonexistent, ambiguous, mismatched and unknown-zone instants are errors."""
        _, diags = load(GOOD.replace("2026-06-15T17:21:00[America/New_York]", raw))
        assert codes(diags) == [code]

    def test_zone_suggestion(self) -> None:
        """A misspelt zone suggests the real one."""
        _, diags = load(GOOD.replace("America/New_York", "america/new_york"))
        assert diags[0].help == "did you mean `America/New_York`?"

    def test_empty_window(self) -> None:
        """``until`` not after ``from`` is `empty-window`, underlining ``until``."""
        text = GOOD.replace(
            '{from: "2026-06-15T17:21:00[America/New_York]"}',
            '{from: "2026-06-15T17:21:00-04:00", until: "2026-06-15T21:21:00Z"}',
        )
        _, diags = load(text)
        assert codes(diags) == ["empty-window"]
        assert underlined(text, diags[0]) == '"2026-06-15T21:21:00Z"'


class TestDigest:
    """The pack digest follows meaning, not formatting."""

    def test_formatting_does_not_change_it(self) -> None:
        """Comments, key order, quoting and flow/block style leave the digest alone."""
        a, _ = load("pack: x\nversion: '1'\ntier: law\nrules:\n  - {id: r, effect: deny}\n")
        b, _ = load(
            '# a comment\ntier: law\nrules:\n- effect: deny   # why\n  id: "r"\n'
            'version: "1"\npack: x\n'
        )
        assert a is not None
        assert b is not None
        assert a.digest == b.digest
        assert a.digest.startswith("sha256:")

    def test_values_change_it(self) -> None:
        """Changing any value changes the digest."""
        a, _ = load("pack: x\nversion: '1'\ntier: law\nrules:\n  - {id: r, effect: deny}\n")
        b, _ = load("pack: x\nversion: '1'\ntier: law\nrules:\n  - {id: r, effect: allow}\n")
        assert a is not None
        assert b is not None
        assert a.digest != b.digest


class TestPackSet:
    """Directories and files load together with their manifest."""

    def _write(self, root: Path, files: dict[str, str]) -> None:
        for name, text in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text), encoding="utf-8")

    def test_directory_with_manifest(self, tmp_path: Path) -> None:
        """Packs are found recursively; the manifest gives schema and default effect."""
        self._write(
            tmp_path,
            {
                "packset.yaml": MANIFEST,
                "a.yaml": GOOD,
                "sub/b.yml": GOOD.replace("us-export-control", "other"),
            },
        )
        pack_set, diags = load_pack_set([tmp_path])
        assert not diags.errors, list(diags)
        assert pack_set is not None
        assert sorted(p.id for p in pack_set.packs) == ["other", "us-export-control"]
        assert pack_set.default_effect == "deny"
        kind = pack_set.schema.lookup("principal.kind")
        assert kind is not None
        assert kind.enum == ("customer", "employee")

    def test_duplicate_pack_ids(self, tmp_path: Path) -> None:
        """Two packs with one id give `duplicate-pack-id` and only the first is kept."""
        self._write(tmp_path, {"packset.yaml": MANIFEST, "a.yaml": GOOD, "b.yaml": GOOD})
        pack_set, diags = load_pack_set([tmp_path])
        assert [d.code for d in diags] == ["duplicate-pack-id"]
        assert pack_set is not None
        assert len(pack_set.packs) == 1

    def test_missing_manifest(self, tmp_path: Path) -> None:
        """Without a manifest or a schema the set cannot be built."""
        self._write(tmp_path, {"a.yaml": GOOD})
        pack_set, diags = load_pack_set([tmp_path])
        assert pack_set is None
        assert [d.code for d in diags] == ["missing-manifest"]

    def test_schema_argument_replaces_manifest(self, tmp_path: Path) -> None:
        """A schema passed in makes the manifest optional."""
        self._write(tmp_path, {"a.yaml": GOOD, "ctx.yaml": MANIFEST})
        schema, problems = load_schema_file(tmp_path / "ctx.yaml")
        assert schema is not None
        assert problems == []
        pack_set, diags = load_pack_set([tmp_path / "a.yaml"], schema=schema)
        assert pack_set is not None
        assert not diags

    def test_type_error_in_manifest(self, tmp_path: Path) -> None:
        """A bad type string is `invalid-type` at the exact character."""
        text = MANIFEST.replace("model: string", "model: list<strng>")
        self._write(tmp_path, {"packset.yaml": text})
        _, diags = load_pack_set([tmp_path])
        (d,) = [d for d in diags if d.code == "invalid-type"]
        assert d.span is not None
        assert text.split("\n")[d.span.start.line][d.span.start.col :] == "strng>"

    def test_enum_only_for_strings(self, tmp_path: Path) -> None:
        """`enum` on a non-string type is refused."""
        self._write(
            tmp_path, {"packset.yaml": MANIFEST.replace("{type: string, enum", "{type: int, enum")}
        )
        _, diags = load_pack_set([tmp_path])
        assert [d.code for d in diags] == ["invalid-value"]
