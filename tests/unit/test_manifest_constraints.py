"""Attribute constraints in `packset.yaml`: parsed onto the schema, reported when malformed."""

from __future__ import annotations

import pickle
import textwrap
from pathlib import Path

import pytest

from compliance.cel.conform import fast_exit, reader, text_verdicts
from compliance.cel.types import NO_CONSTRAINT, ContextSchema, Limits
from compliance.diagnostics import Diagnostic
from compliance.loader import load_schema_file


def load(tmp_path: Path, context: str) -> tuple[ContextSchema | None, list[Diagnostic]]:
    path = tmp_path / "packset.yaml"
    text = "packset: t\ncontext:\n" + textwrap.indent(textwrap.dedent(context), "  ")
    path.write_text(text, encoding="utf-8")
    return load_schema_file(path)


class TestConstraints:
    def test_string_constraints(self, tmp_path: Path) -> None:
        """`pattern`, `normalize` land on the type; a constrained string treats "" as absent."""
        schema, diags = load(tmp_path, """
            request:
              origin: {type: string, pattern: "[A-Z]{2}", normalize: [upper, trim]}
              label: {type: string, normalize: [lower], empty: keep}
        """)
        assert not diags, diags
        assert schema is not None
        origin = schema.lookup("request.origin")
        assert origin is not None
        assert origin.constraint.pattern == "[A-Z]{2}"
        assert origin.constraint.normalize == ("trim", "upper")  # trim always first
        assert origin.constraint.empty_absent
        label = schema.lookup("request.label")
        assert label is not None
        assert not label.constraint.empty_absent

    def test_a_string_with_nothing_to_check_reads_as_a_plain_string(self,
                                                                   tmp_path: Path) -> None:
        """`sensitive` alone (or `empty: keep` alone) constrains nothing: the type is the
        plain `string`, and its reader takes the plain fast exit instead of judging and
        caching every new text (an organisation id is new on most first requests)."""
        schema, diags = load(tmp_path, """
            org:
              id: {type: string, sensitive: true}
              tag: {type: string, empty: keep}
              code: {type: string, pattern: "[a-z]+"}
        """)
        assert not diags, diags
        assert schema is not None
        for name in ("org.id", "org.tag"):
            declared = schema.lookup(name)
            assert declared is not None
            assert declared.constraint == NO_CONSTRAINT
            assert pickle.loads(pickle.dumps(declared)) == declared  # as a bundle reads it
            read = reader(pickle.loads(pickle.dumps(declared)), name, Limits())
            assert fast_exit(read) is not None
            assert text_verdicts(read) is None
            assert read("acme") == "acme"
            assert read("") == ""
        code = schema.lookup("org.code")
        assert code is not None
        assert fast_exit(reader(code, "org.code", Limits())) is None

    def test_constraints_apply_to_list_elements_and_map_values(self, tmp_path: Path) -> None:
        """On `list<string>` the constraint is the element's; on a map, the value's."""
        schema, diags = load(tmp_path, """
            p:
              codes: {type: "list<string>", pattern: "[A-Z]{2}", enum: [US, FR]}
              scores: {type: "map<string, double>", finite: false}
        """)
        assert not diags, diags
        assert schema is not None
        codes = schema.lookup("p.codes")
        scores = schema.lookup("p.scores")
        assert codes is not None
        assert scores is not None
        assert codes.elem.constraint.pattern == "[A-Z]{2}"
        assert codes.elem.enum == ("US", "FR")
        assert not scores.value.constraint.finite

    @pytest.mark.parametrize(("leaf", "needle"), [
        ('{type: string, pattern: "[A-Z"}', "not an RE2 pattern"),
        ("{type: string, normalize: [squash]}", "unknown normalisation `squash`"),
        ("{type: string, normalize: [lower, upper]}", "at most one of"),
        ("{type: int, pattern: x}", "`pattern` is only allowed for `string`"),
        ("{type: string, finite: false}", "`finite` is only allowed for `double`"),
        ("{type: string, enum: [a], empty: never}", "invalid `empty`"),
    ])
    def test_malformed_constraints_are_reported(self, tmp_path: Path, leaf: str,
                                                needle: str) -> None:
        """Each malformed constraint is one `invalid-value` diagnostic saying what is wrong."""
        _, diags = load(tmp_path, f"request:\n  x: {leaf}\n")
        assert [d.code for d in diags] == ["invalid-value"], diags
        assert needle in diags[0].message

    def test_shipped_manifest_constrains_identifiers(self) -> None:
        """The canonical schema normalises the founding identifiers."""
        manifest = Path(__file__).resolve().parents[2] / "rules" / "packset.yaml"
        schema, diags = load_schema_file(manifest)
        assert not diags
        assert schema is not None
        origin = schema.lookup("request.origin_country")
        model = schema.lookup("request.model")
        nationalities = schema.lookup("principal.nationalities")
        assert origin is not None
        assert model is not None
        assert nationalities is not None
        assert origin.constraint.pattern == "[A-Z]{2}"
        assert model.constraint.normalize == ("trim", "lower")
        assert nationalities.elem.constraint.normalize == ("trim", "upper")
