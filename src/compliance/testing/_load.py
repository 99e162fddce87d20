"""Suite files → ``Suite`` objects, every problem a diagnostic at ``file:line:col``.

Reuses the pack loader's machinery: the same hardened YAML reader (size, depth and alias
limits), the same ``Fields`` checks (unknown keys with a did-you-mean, duplicates, wrong
types), the same ``Diagnostic``. Expectations that need the pack set (a ``matched`` rule
id no pack defines, an obligation kind nobody declares, a context attribute the schema
does not declare) are checked by ``check_against`` once the pack set is loaded.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from compliance.cel.values import to_timestamp
from compliance.decision import Obligations
from compliance.diagnostics import Diagnostic
from compliance.loader import MANIFEST_NAMES, SUITE_DIR, SUITE_SUFFIXES
from compliance.loader._nodes import Ctx, Fields, describe, is_str, kind_of, plain_data, suggest
from compliance.loader._yaml import DEFAULT_LIMITS, Limits, read_yaml, split_lines
from compliance.pack import PackSet
from compliance.signals import Event, SignalError
from compliance.source import Span
from compliance.testing._model import EXPECT_FIELDS, Case, Exempt, Expected, Suite

SUITE_FIELDS = ("suite", "description", "packs", "time", "fixtures", "cases", "coverage_exempt")
EXEMPT_FIELDS = ("rule", "item", "reason")
COVERAGE_ITEMS = ("applied", "not-applied", "on-unknown", "before", "at-or-after",
                  "condition-true", "condition-false")
CASE_FIELDS = ("name", "description", "context", "with", "time", "matrix", "events", "expect")
INTERVENTION_FIELDS = ("kind", "target", "disclosure", "message", "pack", "rule",
                       "justification", "instruction")
OBLIGATION_FIELDS: tuple[str, ...] = tuple(n for n in Obligations.model_fields if n != "custom")
MAX_CASES = 10_000
"""Cases per suite file after matrix expansion: a bound on untrusted suites."""
_SUFFIXES = (".yaml", ".yml")


def is_suite(path: Path) -> bool:
    """True for a suite found by searching: a ``*.test.yaml`` file, or a YAML file under the
    ``tests/`` folder of a pack set (a folder whose parent holds ``packset.yaml``).

    ``compliance test DIR`` and the pytest plugin both search with this, so a project's own
    YAML test data (not beside a manifest) is never taken for a suite.
    """
    if path.suffix not in _SUFFIXES:
        return False
    if path.name.endswith(SUITE_SUFFIXES):
        return True
    for parent in path.parents:
        if parent.name == SUITE_DIR:
            return any((parent.parent / n).is_file() for n in MANIFEST_NAMES)
    return False


def discover(paths: Sequence[str | Path]) -> tuple[list[Path], list[Diagnostic]]:
    """The suite files named by ``paths``: files as given, directories searched (``is_suite``).
    """
    found: list[Path] = []
    problems: list[Diagnostic] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and is_suite(p)))
        elif path.is_file():
            found.append(path)
        else:
            problems.append(Diagnostic("file-not-found", f"no such file or directory `{raw}`"))
    unique: dict[Path, Path] = {}
    for f in found:
        unique.setdefault(f.resolve(), f)
    return list(unique.values()), problems


def load_suite_file(path: Path, limits: Limits = DEFAULT_LIMITS
                    ) -> tuple[Suite | None, list[Diagnostic]]:
    """One suite file and its problems. The suite is None when it has no usable name or
    YAML; it may come with errors, and must then not be run."""
    name = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, [Diagnostic("io-error", f"cannot read `{name}`: {exc.strerror or exc}")]
    parsed = read_yaml(data, name, limits)
    if parsed.root is None or parsed.text is None:
        return None, parsed.diagnostics
    ctx = Ctx(name, split_lines(parsed.text))
    suite = _SuiteBuilder(ctx, path).build(parsed.root)
    return suite, ctx.diagnostics


class _SuiteBuilder:
    """Builds one suite, reporting into ``ctx``; the result is None on any error."""

    def __init__(self, ctx: Ctx, path: Path) -> None:
        self.ctx, self.path = ctx, path
        self.fixtures: dict[str, dict[str, dict[str, Any]]] = {}
        self.time: str | None = None

    def build(self, root: Node) -> Suite | None:
        if not isinstance(root, MappingNode):
            self.ctx.report("wrong-type", f"a suite must be a mapping, found {describe(root)}",
                            root)
            return None
        f = Fields(self.ctx, root, SUITE_FIELDS)
        f.require("suite", "cases")
        name = f.text("suite")
        packs = self._packs(f)
        time_node = f.node("time")
        if time_node is not None:
            self.time = self._time(time_node, "time")
        self._fixtures(f.mapping("fixtures"))
        cases: list[Case] = []
        seq = f.sequence("cases")
        for node in seq.value if seq is not None else ():
            cases.extend(self._case(node, name or ""))
            if len(cases) > MAX_CASES:
                self.ctx.report("invalid-value",
                                f"more than {MAX_CASES} cases after matrix expansion", node)
                return None
        self._unique_names(cases)
        exempt = self._exempt(f.sequence("coverage_exempt"))
        if name is None:
            return None
        # Returned even with errors, so what needs the pack set is checked in the same run;
        # ``prepare`` never runs a suite that has any error.
        return Suite(name, str(self.path), self.ctx.head(root), packs, tuple(cases), exempt)

    def _exempt(self, seq: SequenceNode | None) -> tuple[Exempt, ...]:
        out: list[Exempt] = []
        for node in seq.value if seq is not None else ():
            if not isinstance(node, MappingNode):
                self.ctx.report("wrong-type", "a `coverage_exempt` entry must be a mapping, "
                                f"found {describe(node)}", node)
                continue
            f = Fields(self.ctx, node, EXEMPT_FIELDS, "coverage_exempt: ")
            if not f.require(*EXEMPT_FIELDS):
                continue
            rule, item, reason = f.text("rule"), f.choice("item", COVERAGE_ITEMS), f.text("reason")
            if rule is not None and item is not None and reason:
                rule_node = f.node("rule")
                assert rule_node is not None
                out.append(Exempt(rule, item, reason, self.ctx.span(rule_node)))
        return tuple(out)

    def _packs(self, f: Fields) -> Path:
        text = f.text("packs")
        here = self.path.parent
        if text is not None:
            target = here / text
            if not target.exists():
                node = f.node("packs")
                assert node is not None
                self.ctx.report("file-not-found",
                                f"`packs`: no such file or directory `{text}`", node,
                                help_="`packs` is relative to the suite file")
            return target
        for parent in [self.path.parent, *self.path.parent.parents]:
            if parent.name == SUITE_DIR:
                return parent.parent
        return here

    def _time(self, node: Node, where: str) -> str | None:
        if not isinstance(node, ScalarNode) or kind_of(node) in ("null", "mapping", "list"):
            self.ctx.report("wrong-type",
                            f"`{where}` must be an RFC 3339 timestamp, found {describe(node)}",
                            node)
            return None
        text = str(node.value)
        try:
            to_timestamp(text)
        except ValueError as exc:
            self.ctx.report("invalid-timestamp", f"`{where}`: {exc}", node,
                            help_="write e.g. `2026-06-20T15:00:00Z` (a zone is required)")
            return None
        return text

    def _fixtures(self, node: MappingNode | None) -> None:
        if node is None:
            return
        for key, value in node.value:
            if not is_str(key):
                self.ctx.report("wrong-type", "fixture groups are named by a context key", key)
                continue
            assert isinstance(key, ScalarNode)
            if not isinstance(value, MappingNode):
                self.ctx.report("wrong-type", f"fixtures `{key.value}` must be a mapping of "
                                f"named maps, found {describe(value)}", value)
                continue
            group: dict[str, dict[str, Any]] = {}
            for fname, fvalue in value.value:
                label = f"fixture `{key.value}.{getattr(fname, 'value', '?')}`"
                if not is_str(fname):
                    self.ctx.report("wrong-type", "fixture names must be strings", fname)
                elif fname.value in group:
                    self.ctx.report("duplicate-key", f"duplicate {label}", fname)
                elif not isinstance(fvalue, MappingNode):
                    self.ctx.report("wrong-type", f"{label} must be a mapping, found "
                                    f"{describe(fvalue)}", fvalue)
                else:
                    group[str(fname.value)] = _plain_map(fvalue)
            self.fixtures[str(key.value)] = group

    def _case(self, node: Node, suite: str) -> list[Case]:
        if not isinstance(node, MappingNode):
            self.ctx.report("wrong-type", f"a case must be a mapping, found {describe(node)}",
                            node)
            return []
        f = Fields(self.ctx, node, CASE_FIELDS, "case: ")
        name = f.text("name")
        where = f"case `{name}`: " if name else "case: "
        f.require("name")
        f.where = where
        if f.node("context") is None and f.node("matrix") is None:
            self.ctx.report("missing-field", f"{where}missing required field `context`",
                            self.ctx.head(node),
                            help_="name fixtures (`context: {principal: fr-verified}`) or "
                                  "give inline maps")
        base = self._context(f.mapping("context"), where)
        cells = self._matrix(f.mapping("matrix"), where, base)
        overlay = _plain_map(f.mapping("with")) if f.mapping("with") is not None else {}
        time_node = f.node("time")
        time: str | None = self.time
        if time_node is not None:
            time = None if kind_of(time_node) == "null" else self._time(time_node, "time")
        expect = self._expect(f.mapping("expect"), where)
        events = self._events(f.sequence("events"), where)
        if name is None:
            return []
        out: list[Case] = []
        for label, context in cells:
            merged = _merge(context, overlay)
            if time is not None:
                request = merged.setdefault("request", {})
                if isinstance(request, dict) and "time" not in request:
                    request["time"] = time
            full = f"{name} [{label}]" if label else name
            out.append(Case(suite, full, self.ctx.head(node), merged, expect, events))
        return out

    def _events(self, node: SequenceNode | None, where: str) -> tuple[Event, ...]:
        """``events:``: event objects (``kind``, ``time`` and the manifest's ``events:`` fields)."""
        out: list[Event] = []
        for item in node.value if node is not None else ():
            if not isinstance(item, MappingNode):
                self.ctx.report("wrong-type", f"{where}an event must be a mapping, found "
                                f"{describe(item)}", item)
                continue
            try:
                out.append(Event.from_json(_plain_map(item)))
            except SignalError as exc:
                self.ctx.report("invalid-value", f"{where}event: {exc}", item,
                                help_="an event has a `kind`, an RFC 3339 `time` and the fields "
                                      "the manifest's `events:` declares")
        return tuple(out)

    def _context(self, node: MappingNode | None, where: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in node.value if node is not None else ():
            if not is_str(key):
                self.ctx.report("wrong-type", f"{where}context keys must be names", key)
                continue
            resolved = self._part(str(key.value), value, where)
            if resolved is not None:
                out[str(key.value)] = resolved
        return out

    def _part(self, key: str, value: Node, where: str) -> dict[str, Any] | None:
        """A fixture name or an inline map for the context key ``key``."""
        if isinstance(value, MappingNode):
            return _plain_map(value)
        if is_str(value):
            assert isinstance(value, ScalarNode)
            group = self.fixtures.get(key, {})
            if value.value in group:
                chosen: dict[str, Any] = _copy(group[value.value])
                return chosen
            known = sorted(group)
            self.ctx.report(
                "unknown-fixture", f"{where}no `{key}` fixture named `{value.value}`", value,
                help_=suggest(value.value, known)
                or (f"the `{key}` fixtures are " + ", ".join(f"`{k}`" for k in known)
                    if known else f"declare it under `fixtures: {{{key}: ...}}`"))
            return None
        self.ctx.report("wrong-type", f"{where}`{key}` must be a fixture name or a mapping, "
                        f"found {describe(value)}", value)
        return None

    def _matrix(self, node: MappingNode | None, where: str, base: dict[str, Any]
                ) -> list[tuple[str, dict[str, Any]]]:
        """The cells of the cross product, each with its label; one unlabelled cell if none."""
        if node is None:
            return [("", base)]
        axes: list[tuple[str, list[tuple[str, dict[str, Any]]]]] = []
        for key, value in node.value:
            if not is_str(key):
                self.ctx.report("wrong-type", f"{where}matrix keys must be names", key)
                continue
            name = str(key.value)
            if name in base:
                self.ctx.report("duplicate-key", f"{where}`{name}` is set by both `context` "
                                "and `matrix`", key, help_="set each context key in one place")
            if not isinstance(value, SequenceNode) or not value.value:
                self.ctx.report("wrong-type", f"{where}matrix `{name}` must be a non-empty "
                                f"list of fixture names or maps, found {describe(value)}", value)
                continue
            options: list[tuple[str, dict[str, Any]]] = []
            for i, item in enumerate(value.value):
                part = self._part(name, item, where)
                if part is not None:
                    label = str(item.value) if isinstance(item, ScalarNode) else f"#{i + 1}"
                    options.append((f"{name}={label}", part))
            axes.append((name, options))
        cells: list[tuple[str, dict[str, Any]]] = []
        for combo in itertools.product(*(options for _, options in axes)):
            if len(cells) > MAX_CASES:
                break
            context = _copy(base)
            for (name, _), (_, part) in zip(axes, combo, strict=True):
                context[name] = _copy(part)
            cells.append((", ".join(label for label, _ in combo), context))
        return cells

    def _expect(self, node: MappingNode | None, where: str) -> tuple[Expected, ...]:
        if node is None:
            return ()
        f = Fields(self.ctx, node, EXPECT_FIELDS, f"{where}expect: ",
                   ("unknown-field", "expectation"))
        out: list[Expected] = []
        for name in EXPECT_FIELDS:
            value = f.node(name)
            if value is None:
                continue
            checked = self._expected(name, value, f)
            if checked is not None:
                out.append(checked)
        return tuple(out)

    def _expected(self, name: str, node: Node, f: Fields) -> Expected | None:
        span = self.ctx.span(node)
        if name == "effect":
            effect = f.choice("effect", ("allow", "deny"))
            return None if effect is None else Expected(name, effect, span)
        if name == "model":
            if kind_of(node) == "null":
                return Expected(name, None, span)
            text = f.text("model")
            return None if text is None else Expected(name, text, span)
        if name in ("matched", "missing"):
            seq = f.sequence(name)
            if seq is None:
                return None
            values = f.strings(name)
            if len(values) != len(seq.value):
                return None
            if name == "matched":
                for item in seq.value:
                    if "/" not in str(item.value):
                        self.ctx.report("invalid-value", f"{f.where}`matched` entry "
                                        f"`{item.value}` is not `pack/rule`", item)
            return Expected(name, list(values), span,
                            tuple(self.ctx.span(i) for i in seq.value))
        if name == "interventions":
            seq = f.sequence(name)
            if seq is None:
                return None
            items: list[dict[str, Any]] = []
            for item in seq.value:
                if not isinstance(item, MappingNode):
                    f.wrong(name, "a list of mappings", item)
                    continue
                Fields(self.ctx, item, INTERVENTION_FIELDS, f"{f.where}intervention: ")
                items.append({k: v for k, v in _plain_map(item).items()
                              if k in INTERVENTION_FIELDS})
            return Expected(name, items, span, tuple(self.ctx.span(i) for i in seq.value))
        mapping = f.mapping(name)
        if mapping is None:
            return None
        keys: list[Span] = []
        for key, _ in mapping.value:
            if not is_str(key):
                self.ctx.report("wrong-type", f"{f.where}obligation keys must be names", key)
            keys.append(self.ctx.span(key))
        return Expected(name, _plain_map(mapping), span, tuple(keys))

    def _unique_names(self, cases: Iterable[Case]) -> None:
        seen: dict[str, Case] = {}
        for case in cases:
            if case.name in seen:
                first = seen[case.name].span
                self.ctx.report("duplicate-case", f"duplicate case name `{case.name}`",
                                case.span,
                                notes=(f"first used at line {first.start.line + 1}",))
            seen.setdefault(case.name, case)


def check_against(suite: Suite, pack_set: PackSet) -> list[Diagnostic]:
    """What the suite names that its pack set does not define, each at its position."""
    rules = sorted(f"{p.id}/{r.id}" for p in pack_set.packs for r in p.rules)
    known_rules = set(rules)
    custom = sorted({o.kind for p in pack_set.packs for r in p.rules for o in r.obligations}
                    - set(OBLIGATION_FIELDS))
    obligation_names = [*OBLIGATION_FIELDS, *custom]
    out: list[Diagnostic] = []
    reported: set[tuple[str, Span]] = set()
    for exempt in suite.exempt:
        if exempt.rule not in known_rules:
            out.append(Diagnostic(
                "unknown-rule", f"no pack in `{suite.packs}` defines rule `{exempt.rule}`",
                exempt.span, help=suggest(exempt.rule, rules) or "write `pack-id/rule-id`"))
    for case in suite.cases:
        for expected in case.expect:
            if expected.name == "matched":
                for ref, span in zip(expected.value, expected.items, strict=False):
                    if ref not in known_rules and (ref, span) not in reported:
                        reported.add((ref, span))
                        out.append(Diagnostic(
                            "unknown-rule", f"no pack in `{suite.packs}` defines rule `{ref}`",
                            span, help=suggest(ref, rules) or "write `pack-id/rule-id`"))
            elif expected.name == "obligations":
                for key, span in zip(expected.value, expected.items, strict=False):
                    if key not in obligation_names and (key, span) not in reported:
                        reported.add((key, span))
                        out.append(Diagnostic(
                            "unknown-field", f"unknown obligation `{key}`", span,
                            help=suggest(key, obligation_names)
                            or "expected one of " + ", ".join(f"`{n}`"
                                                               for n in obligation_names)))
    return out


def _plain_map(node: MappingNode | None) -> dict[str, Any]:
    data = plain_data(node) if node is not None else {}
    assert isinstance(data, dict)
    return data


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """``overlay`` deep-merged over a copy of ``base``: maps merge, anything else replaces."""
    out: dict[str, Any] = _copy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = _copy(value)
    return out
