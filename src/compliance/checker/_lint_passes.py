"""Authoring lints: shadowed rules, unused variables, obligations with an unstated unknown.

Warnings, never errors: each points at something that is legal but probably not what the
author meant. None of them needs CEL types or constant folding; they read the parsed
conditions (compared by their canonical text, so spacing and quoting do not matter).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from compliance.cel.ast import Expr, Ident, Select, attribute_path, walk
from compliance.cel.unparse import unparse
from compliance.diagnostics import Diagnostic, Severity
from compliance.pack import Rule, Window

from ._parsed import ParsedPack, ParsedSet, Site

_MAX_VAR_DEPTH = 16


def check_shadowed(parsed: ParsedSet) -> list[Diagnostic]:
    """``shadowed-rule``: a rule with the same `when`, `unless`, window and effect (and the
    same intervention or obligations) as an earlier rule of its pack adds nothing."""
    out: list[Diagnostic] = []
    for ppack in parsed.packs:
        seen: dict[object, Rule] = {}
        for rule in ppack.pack.rules:
            key = _behaviour(ppack, rule)
            if key is None:
                continue
            first = seen.setdefault(key, rule)
            if first is rule:
                continue
            out.append(Diagnostic(
                "shadowed-rule",
                f"rule `{rule.id}` of pack `{ppack.pack.id}`: applies exactly when rule "
                f"`{first.id}` does, with the same effect: it never changes the outcome",
                rule.span, Severity.WARNING,
                help="remove one of them, or make their conditions differ",
                notes=(f"rule `{first.id}` is at {first.span.file}:{first.span.start.line + 1}",),
            ))
    return out


def _behaviour(ppack: ParsedPack, rule: Rule) -> object | None:
    """What decides whether and how ``rule`` acts, as a comparable value (None: unparsed)."""
    conditions: dict[str, str] = {}
    for site in ppack.sites_of(rule):
        if site.role in ("when", "unless"):
            if site.expr is None:
                return None
            conditions[site.role] = unparse(site.expr)
    iv = rule.intervention
    return (
        conditions.get("when", "true"), conditions.get("unless"), rule.effect,
        _window_key(rule.effective), rule.priority,
        (iv.kind, iv.target, iv.disclosure) if iv is not None else None,
        tuple(sorted((o.kind, repr(o.value)) for o in rule.obligations)),
        tuple(sorted((o.group, o.tier) for o in rule.overrides)),
    )


def _window_key(window: Window | None) -> object:
    if window is None:
        return None
    if not window.complete:
        return object()  # an edge failed to load (an error says so): equal to no other window
    return tuple(i.at.isoformat() if i is not None else None
                 for i in (window.start, window.until))


def check_unused_variables(parsed: ParsedSet) -> list[Diagnostic]:
    """``unused-variable``: a pack variable (or a shared variable of the manifest) that no
    condition, reason, message or other variable reads as ``vars.<name>``."""
    shared = {v.name: v for v in parsed.pack_set.variables}
    used_anywhere: set[str] = set()
    out: list[Diagnostic] = []
    for ppack in parsed.packs:
        used = _used_variables(ppack)
        used_anywhere |= used
        for site in ppack.variables:
            if site.name in used or site.name in shared:
                continue
            out.append(Diagnostic(
                "unused-variable",
                f"pack `{ppack.pack.id}`: variable `{site.name}` is never used",
                site.source.span, Severity.WARNING,
                help=f"remove it, or read it as `vars.{site.name}`"))
    for name, variable in shared.items():
        if parsed.packs and name not in used_anywhere:
            out.append(Diagnostic(
                "unused-variable", f"shared variable `{name}` is never used by any pack",
                variable.span, Severity.WARNING, help=f"remove it, or read it as `vars.{name}`"))
    return out


def _used_variables(ppack: ParsedPack) -> set[str]:
    """Variables read by the pack's rules, directly or through other variables."""
    deps = ppack.dependencies()
    declared = ppack.variable_exprs
    todo = [name for site in ppack.rules if site.expr is not None
            for name in _vars_read(site.expr, declared)]
    used: set[str] = set()
    while todo:
        name = todo.pop()
        if name not in used:
            used.add(name)
            todo.extend(deps.get(name, ()))
    return used


def _vars_read(expr: Expr, declared: Mapping[str, object]) -> Iterator[str]:
    for node in walk(expr):
        if (isinstance(node, Select) and isinstance(node.operand, Ident)
                and node.operand.name == "vars" and node.field in declared):
            yield node.field


def check_obligation_unknown(parsed: ParsedSet) -> list[Diagnostic]:
    """``obligation-unknown``: an obligation-only rule without ``on_unknown`` whose condition
    reads context attributes (or has a window, so needs ``request.time``): when one is absent
    the rule is skipped by default and its obligation silently dropped."""
    roots = set(parsed.pack_set.schema.variables)
    out: list[Diagnostic] = []
    for ppack in parsed.packs:
        variables = ppack.variable_exprs
        for rule in ppack.pack.rules:
            if rule.effect is not None or rule.on_unknown is not None or not rule.obligations:
                continue
            reads = sorted({p for site in ppack.sites_of(rule)
                            if site.role in ("when", "unless")
                            for p in _reads(site, variables, roots)})
            if rule.effective is not None or ppack.pack.effective is not None:
                reads.append("request.time")
            if not reads:
                continue
            shown = ", ".join(f"`{p}`" for p in reads[:3]) + (" ..." if len(reads) > 3 else "")
            out.append(Diagnostic(
                "obligation-unknown",
                f"rule `{rule.id}` of pack `{ppack.pack.id}`: imposes obligations, needs {shown} "
                "to decide, but declares no `on_unknown`",
                rule.span, Severity.WARNING,
                help="when an attribute is absent the rule is skipped and its obligations are "
                     "not imposed; say so with `on_unknown: skip`, or impose them anyway "
                     "with `on_unknown: deny`",
            ))
    return out


def _reads(site: Site, variables: Mapping[str, Expr | None], roots: set[str]) -> set[str]:
    """Context attribute paths an expression reads outside ``has()``, through variables."""
    found: set[str] = set()
    stack: list[tuple[Expr, int]] = [(site.expr, 0)] if site.expr is not None else []
    while stack:
        expr, depth = stack.pop()
        for node in walk(expr):
            if not isinstance(node, Select) or node.test_only:
                continue
            path = attribute_path(node)
            if path is None or len(path) < 2:
                continue
            if path[0] == "vars":
                inner = variables.get(path[1])
                if inner is not None and depth < _MAX_VAR_DEPTH:
                    stack.append((inner, depth + 1))
            elif path[0] in roots:
                found.add(".".join(path))
    return _outermost(found)


def _outermost(paths: set[str]) -> set[str]:
    """Drop prefixes: ``request.risk_scores`` when ``request.risk_scores.bio`` is read."""
    return {p for p in paths if not any(q != p and q.startswith(p + ".") for q in paths)}
