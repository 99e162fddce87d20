"""The CEL passes: syntax, variable cycles, types, and constant arguments.

Each pass reads the ``ParsedSet`` and returns diagnostics; none depends on another's
output, so each can run alone (tests do) and a syntax error in one expression skips only
that expression's later checks.
"""

from __future__ import annotations

from collections.abc import Iterator

from compliance.cel.ast import Expr
from compliance.cel.checker import TypeEnv, TypeIssue, check_expr, literal_issues, spell_type
from compliance.cel.types import DYN, CelType
from compliance.diagnostics import Diagnostic

from ._parsed import ParsedPack, ParsedSet, Site


def issue_diagnostic(site: Site, issue: TypeIssue) -> Diagnostic:
    """A ``TypeIssue`` (offsets in the CEL text) as a diagnostic at the file span."""
    span = site.source.span_of(issue.start, issue.end)
    return Diagnostic(issue.code, site.where + issue.message, span, help=issue.help)


def check_syntax(parsed: ParsedSet) -> list[Diagnostic]:
    """``cel-syntax``: every expression that does not parse, at the offending characters."""
    out: list[Diagnostic] = []
    for site in parsed.sites():
        err = site.error
        if err is not None:
            end = max(err.end, err.start + 1)
            out.append(Diagnostic("cel-syntax", site.where + err.message,
                                  site.source.span_of(err.start, end)))
    return out


def check_variable_cycles(parsed: ParsedSet) -> list[Diagnostic]:
    """``variable-cycle``: a variable that reads itself, directly or through others.

    Such a variable has no value to compute; each cycle is reported once, at the
    first-declared variable on it.
    """
    out: list[Diagnostic] = []
    for ppack in parsed.packs:
        order = [s.name for s in ppack.variables]
        spans = {v.name: v.span for v in ppack.pack.variables}
        for cycle in _cycles(ppack.dependencies(), order):
            path = " -> ".join(f"`vars.{n}`" for n in (*cycle, cycle[0]))
            out.append(Diagnostic(
                "variable-cycle", f"variable `{cycle[0]}`: depends on itself: {path}",
                spans[cycle[0]], help="break the cycle: a variable may only read earlier results",
            ))
    return out


def _cycles(deps: dict[str, tuple[str, ...]], order: list[str]) -> list[tuple[str, ...]]:
    """Every elementary cycle found by depth-first search, rotated to its earliest member."""
    rank = {n: i for i, n in enumerate(order)}
    found: dict[frozenset[str], tuple[str, ...]] = {}
    done: set[str] = set()

    def visit(name: str, stack: list[str]) -> None:
        if name in stack:
            cycle = stack[stack.index(name):]
            first = min(range(len(cycle)), key=lambda i: rank[cycle[i]])
            found.setdefault(frozenset(cycle), tuple(cycle[first:] + cycle[:first]))
            return
        if name in done:
            return
        stack.append(name)
        for dep in deps.get(name, ()):
            visit(dep, stack)
        stack.pop()
        done.add(name)

    for name in order:
        visit(name, [])
    return sorted(found.values(), key=lambda c: rank[c[0]])


def check_types(parsed: ParsedSet) -> list[Diagnostic]:
    """Types: ``undeclared-reference``, ``type-mismatch``, ``no-matching-overload``,
    ``enum-mismatch`` in every expression, and ``non-bool-condition`` for conditions."""
    out: list[Diagnostic] = []
    for ppack in parsed.packs:
        types, var_diagnostics = variable_types(parsed, ppack)
        out.extend(var_diagnostics)
        env = TypeEnv(parsed.pack_set.schema, types)
        for site in ppack.rules:
            out.extend(_check_site(parsed, site, env))
    return out


def variable_types(
    parsed: ParsedSet, ppack: ParsedPack
) -> tuple[dict[str, CelType], list[Diagnostic]]:
    """Each variable's inferred type (dependencies first; ``dyn`` on a cycle or bad parse)."""
    exprs = ppack.variable_exprs
    deps = ppack.dependencies()
    sites = {s.name: s for s in ppack.variables}
    types: dict[str, CelType] = {}
    out: list[Diagnostic] = []
    visiting: set[str] = set()

    def resolve(name: str) -> None:
        if name in types or name in visiting:
            return
        visiting.add(name)
        for dep in deps[name]:
            resolve(dep)
        env = TypeEnv(parsed.pack_set.schema, {n: types.get(n, DYN) for n in exprs})
        types[name] = DYN
        expr = sites[name].expr
        if expr is not None:
            types[name], issues = _infer_site(parsed, sites[name], expr, env)
            out.extend(issues)
        visiting.discard(name)

    for name in exprs:
        resolve(name)
    return types, out


def _infer_site(parsed: ParsedSet, site: Site, expr: Expr, env: TypeEnv
                ) -> tuple[CelType, list[Diagnostic]]:
    """Check one expression; its checked tree is kept on ``parsed`` for the planner."""
    checked = check_expr(expr, env)
    parsed.checked[id(expr)] = checked
    return checked.type, [issue_diagnostic(site, i) for i in checked.issues]


def _check_site(parsed: ParsedSet, site: Site, env: TypeEnv) -> Iterator[Diagnostic]:
    expr = site.expr
    if expr is None:
        return
    result, diagnostics = _infer_site(parsed, site, expr, env)
    yield from diagnostics
    if site.role in ("when", "unless") and result.kind not in ("bool", "dyn", "error"):
        yield Diagnostic(
            "non-bool-condition",
            f"{site.where}condition has type `{spell_type(result)}`, expected `bool`",
            site.source.span_of(expr.start, expr.end),
            help=_non_bool_help(result),
        )


def _non_bool_help(result: CelType) -> str:
    if result.kind in ("string", "list", "map", "bytes"):
        return "test it explicitly, e.g. `size(x) > 0` or `x == \"value\"`"
    return "compare it with something, e.g. `x > 0`"


def check_literals(parsed: ParsedSet) -> list[Diagnostic]:
    """``invalid-regex``, ``invalid-timestamp``, ``invalid-duration`` for constant arguments."""
    out: list[Diagnostic] = []
    for site in parsed.sites():
        if site.expr is not None:
            out.extend(issue_diagnostic(site, i) for i in literal_issues(site.expr))
    return out
