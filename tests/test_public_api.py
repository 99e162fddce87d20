"""The public API is small, sorted and deliberate."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import compliance


def test_all_is_sorted_and_complete() -> None:
    """`__all__` is sorted and every name in it exists."""
    assert list(compliance.__all__) == sorted(compliance.__all__)
    for name in compliance.__all__:
        assert hasattr(compliance, name), name


def test_import_does_not_load_cli_or_celpy_interpreter() -> None:
    """`import compliance` stays light: no CLI, no cel-python interpreter backend."""
    code = ("import sys, compliance; bad = [m for m in ('compliance.cli',"
            " 'compliance.cel.interpreter', 'celpy.evaluation') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_exception_is_exported_and_raised() -> None:
    """Each class in `compliance.errors` is public, and each leaf is raised by the library."""
    import inspect

    from compliance import errors

    public = {n for n, v in vars(errors).items()
              if inspect.isclass(v) and issubclass(v, errors.ComplianceError)}
    assert set(errors.__all__) == public
    assert public <= set(compliance.__all__)
    source = "\n".join(p.read_text(encoding="utf-8")
                       for p in Path(compliance.__file__).parent.rglob("*.py"))
    for name in public - {"ComplianceError"}:
        assert f"raise {name}(" in source, f"{name} is public but never raised"


def test_strict_evaluation_error_names_the_rule_and_its_location(
    packset: Callable[..., Path],
) -> None:
    """Strict mode raises the first rule error with its pack, rule and `file:line:col`."""
    root = packset({"p.yaml": """\
        pack: math
        version: "1"
        tier: policy
        rules:
          - id: divide
            when: 1 / size(request.use_case) > 0
            effect: deny
        """})
    engine = compliance.Engine.from_path(root)
    context = {"principal": {"id": "p", "kind": "customer", "nationalities": [],
                             "authorizations": []},
               "org": {"id": "o", "zdr": False},
               "request": {"time": "2026-07-01T12:00:00Z", "model": "m", "use_case": "",
                           "risk_scores": {}}}
    assert engine.evaluate(context).errors[0].code == "division-by-zero"
    with pytest.raises(compliance.EvaluationError) as info:
        engine.evaluate(context, strict=True)
    err = info.value
    assert (err.code, err.pack, err.rule) == ("division-by-zero", "math", "divide")
    assert err.location is not None
    assert err.location.endswith("p.yaml:6:11")
    assert str(err).startswith(err.location + ": math/divide: ")


def _modules_after(code: str) -> set[str]:
    code += "\nimport sys; print(' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_importing_engine_defers_the_heavy_stages() -> None:
    """`from compliance import Engine` loads no stage, pydantic, YAML, re2 or metadata yet."""
    loaded = _modules_after("from compliance import Engine")
    deferred = {"compliance.loader", "compliance.checker", "compliance.planner",
                "compliance.evaluator", "compliance.decision", "pydantic", "yaml", "re2",
                "importlib.metadata", "celpy", "lark"}
    assert loaded & deferred == set()


def test_every_public_name_resolves_lazily_to_its_one_definition() -> None:
    """Each name in `__all__` is the object its defining module holds (no copies)."""
    import importlib

    for name in compliance.__all__:
        if name == "__version__":
            continue
        module = importlib.import_module(compliance._EXPORTS[name])
        assert getattr(compliance, name) is getattr(module, name), name
    assert set(compliance._EXPORTS) | {"__version__"} == set(compliance.__all__)
    with pytest.raises(AttributeError, match="no attribute 'Engin'"):
        _ = compliance.Engin  # type: ignore[attr-defined]


def test_version_is_the_installed_metadata_read_on_access() -> None:
    """`__version__` comes from the distribution metadata, imported only when it is read."""
    from importlib.metadata import version

    assert "importlib.metadata" not in _modules_after("import compliance")
    assert compliance.__version__ == version("compliance")


def test_plan_models_share_one_fields_set_and_copies_stay_independent() -> None:
    """Every Match of a plan shares its fields set (memory); copying one changes no other.

    Matches are built when a rule first applies, once: asking again gives the same record."""
    engine = compliance.Engine.from_path(Path(__file__).resolve().parent.parent / "rules")
    assert all(m is None for r in engine.plan.rules for m in r.matches)
    matches = [r.match(n, failed) for r in engine.plan.rules
               for failed in (False, True) for n in (1, 2)]
    assert matches[3] is engine.plan.rules[0].match(2, True)
    assert (matches[3].routing_pass, matches[3].fail_closed) == (2, True)
    assert len({id(m.__pydantic_fields_set__) for m in matches}) == 1
    copy = matches[0].model_copy(update={"routing_pass": 2})
    assert copy.routing_pass == 2
    assert matches[0].routing_pass == 1
    assert matches[1].model_fields_set == {"pack", "rule", "effect", "routing_pass",
                                           "fail_closed"}


def test_decisions_share_one_complete_fields_set_and_copies_stay_independent() -> None:
    """Decisions set every field and share the set of names; a copy with changes is its own."""
    engine = compliance.Engine.from_path(Path(__file__).resolve().parent.parent / "rules")
    first = engine.evaluate({"request": {"model": "fable-5"}})
    second = engine.evaluate({"request": {"model": "opus-4.8"}})
    assert first.model_fields_set == set(first.__dict__) == set(compliance.Decision.model_fields)
    assert first.__pydantic_fields_set__ is second.__pydantic_fields_set__
    copy = first.model_copy(update={"reasons": ["changed"]})
    assert copy.reasons == ["changed"]
    assert first.reasons != ["changed"]
    assert second.model_fields_set == set(compliance.Decision.model_fields)
