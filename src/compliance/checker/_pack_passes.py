"""The pack-level passes: transparency, overrides, overlapping routes, unreachable rules.

They read the pack model (and, for route overlap and ``when: false``, parsed conditions)
and never the CEL types. Missing justifications are the loader's (it sees the YAML keys),
so they are not repeated here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from compliance.cel.ast import Call, CreateList, Expr, Ident, Literal, Select, attribute_path
from compliance.cel.compiler import CompileEnv, constant_value
from compliance.diagnostics import Diagnostic, Severity
from compliance.pack import Pack, Rule, Window
from compliance.source import Span

from ._model import OverrideInfo
from ._parsed import ParsedPack, ParsedSet


def _at(span: Span) -> str:
    return f"{span.file}:{span.start.line + 1}"


def check_forbid_silent(parsed: ParsedSet) -> list[Diagnostic]:
    """``forbid-silent``: with any pack declaring ``forbid_silent: true``, every silent
    intervention in the whole set is an error (a transparency commitment spans packs)."""
    forbidders = sorted((p for p in parsed.pack_set.packs if p.forbid_silent), key=lambda p: p.id)
    if not forbidders:
        return []
    forbidder = forbidders[0]
    out: list[Diagnostic] = []
    for pack in parsed.pack_set.packs:
        for rule in pack.rules:
            iv = rule.intervention
            if iv is None or iv.disclosure != "silent":
                continue
            out.append(Diagnostic(
                "forbid-silent",
                f"rule `{rule.id}` of pack `{pack.id}`: silent intervention forbidden by pack "
                f"`{forbidder.id}`",
                iv.span,
                help="make it `disclosure: visible` with a `message` for the user, or remove it",
                notes=tuple(f"pack `{f.id}` sets `forbid_silent: true` ({_at(f.span)})"
                            for f in forbidders),
            ))
    return out


def overrides_of(parsed: ParsedSet) -> tuple[OverrideInfo, ...]:
    """Every ``overrides:`` entry of the set, in pack and rule order."""
    return tuple(
        OverrideInfo(pack.id, rule.id, ov.group, ov.tier, rule.justification, ov.span)
        for pack in parsed.pack_set.packs
        for rule in pack.rules
        for ov in rule.overrides
    )


def check_overrides(parsed: ParsedSet) -> list[Diagnostic]:
    """``override`` notes listing each override, and ``override-not-higher`` warnings.

    An override is a deliberate break of tier order, so ``check`` shows every justified one
    with its justification (an unjustified one is already the loader's error); one naming a
    tier that is not above the pack's own cannot change anything.
    """
    out: list[Diagnostic] = []
    for pack in parsed.pack_set.packs:
        for rule in pack.rules:
            where = f"rule `{rule.id}` of pack `{pack.id}`: "
            for ov in rule.overrides:
                what = f"tier `{ov.tier}` for `{ov.group}`"
                if rule.justification:  # without one, the loader's `missing-justification`
                    out.append(Diagnostic(
                        "override", f"{where}overrides {what}", ov.span, Severity.NOTE,
                        notes=(f"justification: {rule.justification}",),
                    ))
                if ov.tier_rank <= pack.tier_rank:
                    out.append(Diagnostic(
                        "override-not-higher",
                        f"{where}override of {what} has no effect: it is not higher than the "
                        f"pack's tier `{pack.tier}`",
                        ov.span, Severity.WARNING,
                        help="an override only lets a rule beat a higher tier; remove it",
                    ))
    return out


# ---------------------------------------------------------------------------------------------
# unreachable rules


def check_unreachable(parsed: ParsedSet) -> list[Diagnostic]:
    """``unreachable-rule`` for constant conditions, ``window-outside-pack`` for rule windows
    that leave the pack's window (the intersection is what applies)."""
    out: list[Diagnostic] = []
    for ppack in parsed.packs:
        env = CompileEnv(schema=parsed.pack_set.schema, variables={
            v.name: v.expr for v in ppack.variables if v.expr is not None})
        for site in ppack.rules:
            expr = site.expr
            if expr is None or site.role not in ("when", "unless"):
                continue
            folded = not isinstance(expr, Literal)
            constant, value = ((True, expr.value) if isinstance(expr, Literal)
                               else constant_value(expr, env))
            if not constant or not isinstance(value, bool):
                continue
            word = "true" if value else "false"
            after = " after folding" if folded else ""
            span = site.source.span_of(expr.start, expr.end)
            if (site.role, value) in (("when", False), ("unless", True)):
                out.append(Diagnostic(
                    "unreachable-rule",
                    f"{site.where}always `{word}`{after}: the rule never applies",
                    span, Severity.WARNING, help="remove the rule, or give it a real condition",
                ))
            elif folded:  # `when: "true"` is how a rule says "always"; a folded one is a slip
                effect = ("the rule applies to every request" if site.role == "when"
                          else "the exception never holds")
                out.append(Diagnostic(
                    "constant-condition",
                    f"{site.where}always `{word}` after folding: it reads nothing from the "
                    f"request, so {effect}",
                    span, Severity.WARNING,
                    help=f"write `{site.role}: \"{word}\"` if that is meant, or compare with "
                         "a context attribute",
                ))
        out.extend(_window_diagnostics(ppack.pack))
    return out


def _window_diagnostics(pack: Pack) -> Iterator[Diagnostic]:
    outer = pack.effective
    if outer is None:
        return
    for rule in pack.rules:
        inner = rule.effective
        if inner is None:
            continue
        if not _overlap(inner, outer):
            yield Diagnostic(
                "window-outside-pack",
                f"rule `{rule.id}`: `effective` window lies outside the pack's window: the rule "
                "never applies",
                inner.span, Severity.WARNING,
            )
        elif not _contains(outer, inner):
            yield Diagnostic(
                "window-outside-pack",
                f"rule `{rule.id}`: `effective` window extends outside the pack's window",
                inner.span, Severity.WARNING,
                help="only the part inside the pack's window applies; narrow the rule's window",
            )


def _bounds(w: Window) -> tuple[datetime | None, datetime | None]:
    return (w.start.at if w.start else None, w.until.at if w.until else None)


def _overlap(a: Window, b: Window) -> bool:
    (a0, a1), (b0, b1) = _bounds(a), _bounds(b)
    return (a1 is None or b0 is None or b0 < a1) and (b1 is None or a0 is None or a0 < b1)


def _contains(outer: Window, inner: Window) -> bool:
    (o0, o1), (i0, i1) = _bounds(outer), _bounds(inner)
    starts = o0 is None or (i0 is not None and o0 <= i0)
    ends = o1 is None or (i1 is not None and i1 <= o1)
    return starts and ends


# ---------------------------------------------------------------------------------------------
# overlapping route interventions


@dataclass(frozen=True, slots=True)
class _Route:
    pack: Pack
    rule: Rule
    target: str
    span: Span
    constraints: Mapping[tuple[str, ...], frozenset[object]]


def check_intervention_overlap(parsed: ParsedSet) -> list[Diagnostic]:
    """``intervention-overlap``: two routes to different models that can both apply to one
    request with the same tier and priority, so only the deterministic tie-break decides.

    "Can both apply" is judged statically: conditions that pin one attribute (such as
    ``request.model``) to disjoint literal sets exclude each other; anything else may overlap.
    """
    routes = [r for ppack in parsed.packs for r in _routes(ppack)]
    out: list[Diagnostic] = []
    for i, later in enumerate(routes):
        for earlier in routes[:i]:
            if _conflict(earlier, later):
                out.append(_overlap_diagnostic(earlier, later))
    return out


def _conflict(a: _Route, b: _Route) -> bool:
    if a.target == b.target or a.pack.tier_rank != b.pack.tier_rank:
        return False
    if a.rule.priority != b.rule.priority:
        return False
    windows = [w for w in (a.pack.effective, a.rule.effective, b.pack.effective,
                           b.rule.effective) if w is not None]
    if any(not _overlap(x, y) for x in windows for y in windows):
        return False
    shared = a.constraints.keys() & b.constraints.keys()
    return all(a.constraints[k] & b.constraints[k] for k in shared)


def _overlap_diagnostic(earlier: _Route, later: _Route) -> Diagnostic:
    return Diagnostic(
        "intervention-overlap",
        f"rule `{later.rule.id}` of pack `{later.pack.id}`: routes to `{later.target}`, but rule "
        f"`{earlier.rule.id}` of pack `{earlier.pack.id}` may route the same request to "
        f"`{earlier.target}` at the same tier and priority",
        later.span, Severity.WARNING,
        help="give one a higher `priority`, or make their conditions exclusive",
        notes=(f"rule `{earlier.rule.id}` is at {_at(earlier.rule.span)}",),
    )


def _routes(ppack: ParsedPack) -> Iterator[_Route]:
    variables = ppack.variable_exprs
    for rule in ppack.pack.rules:
        iv = rule.intervention
        if rule.effect != "intervene" or iv is None or iv.kind != "route" or iv.target is None:
            continue
        when = next((s for s in ppack.sites_of(rule) if s.role == "when"), None)
        if when is not None and when.expr is None:
            continue  # a syntax error: nothing to say about it statically
        constraints = _constraints(when.expr, variables, 0) if when and when.expr else {}
        if when is None or not (isinstance(when.expr, Literal) and when.expr.value is False):
            yield _Route(ppack.pack, rule, iv.target, iv.span, constraints)


Constraints = dict[tuple[str, ...], frozenset[object]]


def _constraints(expr: Expr, variables: Mapping[str, Expr | None], depth: int) -> Constraints:
    """Attribute paths a condition pins to literal values: ``a == "x"``, ``a in ["x", "y"]``,
    across ``&&`` and through ``vars.<name>`` (a bounded depth guards against cycles)."""
    out: Constraints = {}
    for conjunct in _conjuncts(expr):
        found: Constraints = {}
        var = _var_name(conjunct)
        if var is not None and depth < 16:
            inner = variables.get(var)
            found = _constraints(inner, variables, depth + 1) if inner is not None else {}
        elif isinstance(conjunct, Call):
            found = _pinned(conjunct)
        for path, values in found.items():
            out[path] = out[path] & values if path in out else values
    return out


def _conjuncts(expr: Expr) -> list[Expr]:
    stack, out = [expr], []
    while stack:
        node = stack.pop()
        if isinstance(node, Call) and node.function == "_&&_":
            stack.extend(reversed(node.args))
        else:
            out.append(node)
    return out


def _var_name(node: Expr) -> str | None:
    if isinstance(node, Select) and isinstance(node.operand, Ident) and not node.test_only:
        return node.field if node.operand.name == "vars" else None
    return None


def _pinned(call: Call) -> Constraints:
    if call.function == "_==_" and len(call.args) == 2:
        left, right = call.args
        for attr, lit in ((left, right), (right, left)):
            path = attribute_path(attr)
            if path and path[0] != "vars" and isinstance(lit, Literal):
                return {path: frozenset({(type(lit.value), lit.value)})}
    if call.function == "@in" and len(call.args) == 2:
        attr, values = call.args
        path = attribute_path(attr)
        if path and path[0] != "vars" and isinstance(values, CreateList) and all(
            isinstance(v, Literal) for v in values.elements
        ):
            return {path: frozenset((type(v.value), v.value) for v in values.elements
                                    if isinstance(v, Literal))}
    return {}
