"""Parsing every CEL expression of a pack set once, before any pass looks at it.

Each expression becomes a ``Site``: where it sits (pack, rule, role), how messages name it
(``rule `r1`: `when`: ``) and either its ``Expr`` or its ``CelSyntaxError``. Passes read
sites, so a syntax error skips only the checks of that one expression (every independent
problem is still reported in the same run).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from compliance.cel.ast import Expr, Ident, Select, walk
from compliance.cel.checker import CheckedExpr
from compliance.cel.parser import CelSyntaxError, parse
from compliance.pack import CelSource, Pack, PackSet, Rule, Template

Role = Literal["variable", "when", "unless", "reason", "message"]


@dataclass(frozen=True, slots=True)
class Site:
    """One CEL expression of the pack set, parsed (``expr``) or not (``error``)."""

    pack: Pack
    rule: Rule | None
    role: Role
    name: str  # the variable name for variables, else the rule id
    where: str  # message prefix, e.g. "rule `r1`: `when`: "
    source: CelSource
    expr: Expr | None
    error: CelSyntaxError | None


@dataclass(frozen=True, slots=True)
class ParsedPack:
    """A pack's sites, and its variables' expressions and ``vars.<name>`` dependencies."""

    pack: Pack
    variables: tuple[Site, ...]
    rules: tuple[Site, ...]

    @property
    def variable_exprs(self) -> dict[str, Expr | None]:
        """Every declared variable, with None for one that did not parse."""
        return {s.name: s.expr for s in self.variables}

    def dependencies(self) -> dict[str, tuple[str, ...]]:
        """For each variable, the declared variables its expression reads, in order."""
        declared = self.variable_exprs
        return {name: _var_refs(expr, declared) for name, expr in declared.items()}

    def sites_of(self, rule: Rule) -> Iterator[Site]:
        """The sites of one rule."""
        return (s for s in self.rules if s.rule is rule)


@dataclass(frozen=True, slots=True)
class ParsedSet:
    """The pack set with every CEL expression parsed."""

    pack_set: PackSet
    packs: tuple[ParsedPack, ...]
    #: The type pass's checked trees, by ``id`` of the expression (filled by ``check_types``).
    checked: dict[int, CheckedExpr] = field(default_factory=dict, compare=False)

    def sites(self) -> Iterator[Site]:
        """Every site, variables first within each pack."""
        for p in self.packs:
            yield from p.variables
            yield from p.rules


def parse_pack_set(pack_set: PackSet) -> ParsedSet:
    """Parse every variable, condition and template interpolation of ``pack_set``."""
    return ParsedSet(pack_set, tuple(_parse_pack(pack) for pack in pack_set.packs))


def _parse_pack(pack: Pack) -> ParsedPack:
    variables = tuple(
        _site(pack, None, "variable", name=v.name, where=f"variable `{v.name}`: ", source=v.expr)
        for v in pack.variables
    )
    rules = tuple(site for rule in pack.rules for site in _rule_sites(pack, rule))
    return ParsedPack(pack, variables, rules)


def _rule_sites(pack: Pack, rule: Rule) -> Iterator[Site]:
    where = f"rule `{rule.id}`: "
    if rule.when is not None:
        yield _site(pack, rule, "when", name=rule.id, where=where + "`when`: ", source=rule.when)
    if rule.unless is not None:
        yield _site(
            pack, rule, "unless", name=rule.id, where=where + "`unless`: ", source=rule.unless
        )
    yield from _template_sites(pack, rule, "reason", where + "`reason`: ", rule.reason)
    message = rule.intervention.message if rule.intervention else None
    yield from _template_sites(pack, rule, "message", where + "intervention: `message`: ", message)


def _template_sites(
    pack: Pack, rule: Rule, role: Role, where: str, template: Template | None
) -> Iterator[Site]:
    if template is None:
        return
    for part in template.parts:
        if isinstance(part, CelSource):
            yield _site(pack, rule, role, name=rule.id, where=where, source=part)


def _site(
    pack: Pack, rule: Rule | None, role: Role, *, name: str, where: str, source: CelSource
) -> Site:
    try:
        return Site(pack, rule, role, name, where, source, parse(source.text), None)
    except CelSyntaxError as err:
        return Site(pack, rule, role, name, where, source, None, err)


def _var_refs(expr: Expr | None, declared: Mapping[str, object]) -> tuple[str, ...]:
    """The declared variables ``expr`` reads as ``vars.<name>``, first use first."""
    if expr is None:
        return ()
    found: dict[str, None] = {}
    for node in walk(expr):
        if (
            isinstance(node, Select)
            and isinstance(node.operand, Ident)
            and node.operand.name == "vars"
            and node.field in declared
        ):
            found.setdefault(node.field)
    return tuple(found)
