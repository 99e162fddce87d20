"""Static cost bounds: a rule file must never be able to make one decision slow.

``estimate_cost`` gives an upper bound on the work one evaluation of an expression can do,
in abstract *steps* (roughly one closure call of the compiled program each), computed from
the syntax tree alone so ``compliance check`` can reject a pack before it ships:

* every node costs 1; a ``vars.<name>`` reference costs the variable's expression again
  at each use (the compiled program evaluates it at each use);
* an operation that scans a string (``contains``, ``startsWith``, ``lowerAscii``, ``+`` of
  strings, ``==`` against a string literal …) adds ``ceil(size / 10)`` where ``size`` is a
  literal's length or, for anything read from the context, ``max_string``
  (``DEFAULT_MAX_STRING``);
* ``matches`` adds ``ceil(size / 10) * ceil(pattern / 4)``: RE2 is linear in the subject
  for a fixed pattern, and its per-character work grows with the pattern;
* a comprehension (``all``, ``exists``, ``exists_one``, ``map``, ``filter``) costs its range
  plus, per element, its body and predicate plus one; the element count is a literal's
  length, a bound from ``max_sizes`` for a context path, or ``max_list``
  (``DEFAULT_MAX_LIST``, the same order as the compiler's runtime bound
  ``CompileEnv.max_iterations``). Nested comprehensions therefore multiply;
* ``in`` over a list read from the context scans it: ``max_list`` (a literal list is a
  hash look-up in the compiled program and costs its elements' nodes only).

The numbers are bounds for comparison against a budget, not predictions of time; the unit
tests pin them down on concrete expressions so a change to the model is a visible diff.
``check_cost`` turns them into ``cost-exceeded`` diagnostics, per rule and for the set.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from compliance.diagnostics import Diagnostic
from compliance.expr import (
    Call,
    Comprehension,
    CreateList,
    CreateMap,
    CreateStruct,
    Expr,
    Ident,
    Literal,
    Select,
    attribute_path,
    children,
)
from compliance.schema import CelType, ContextSchema

if TYPE_CHECKING:
    from compliance.checker import CheckedPackSet
    from compliance.source import Span

__all__ = [
    "DEFAULT_MAX_LIST",
    "DEFAULT_MAX_STRING",
    "DEFAULT_RULE_BUDGET",
    "DEFAULT_TOTAL_BUDGET",
    "UNBOUNDED",
    "check_cost",
    "estimate_cost",
]

DEFAULT_MAX_LIST: Final = 1000
"""Elements assumed for a list or map from the context whose size is not declared."""

DEFAULT_MAX_STRING: Final = 1024
"""Characters assumed for a string from the context."""

DEFAULT_RULE_BUDGET: Final = 50_000
"""Steps one rule (``when`` plus ``unless``) may cost: a 1000-element scan with a 40-node body."""

DEFAULT_TOTAL_BUDGET: Final = 2_000_000
"""Steps the whole pack set may cost when every rule runs (the index usually runs few)."""

UNBOUNDED: Final = 10**18
"""The cost given to expressions too deep to analyse (the checker rejects those anyway)."""

_STRING_SCANS: Final = frozenset({
    "contains", "startsWith", "endsWith", "lowerAscii", "upperAscii", "split", "replace",
    "trim", "indexOf", "lastIndexOf", "substring", "charAt", "reverse", "format",
    "strings.quote", "string", "bytes", "int", "uint", "double", "timestamp", "duration",
})
_COMPARISONS: Final = frozenset({"_==_", "_!=_", "_<_", "_<=_", "_>_", "_>=_"})
_LIST_SCANS: Final = frozenset({"join"})


@dataclass(slots=True)
class _Model:
    """The inputs of one estimate, and the variables being expanded (for cycles)."""

    schema: ContextSchema | None
    variables: Mapping[str, Expr]
    max_list: int
    max_string: int
    max_sizes: Mapping[str, int]
    expanding: list[str] = field(default_factory=list)


_Measure = Callable[[Expr, _Model], int]


def estimate_cost(expr: Expr, schema: ContextSchema | None, variables: Mapping[str, Expr], *,
                  max_list: int = DEFAULT_MAX_LIST, max_string: int = DEFAULT_MAX_STRING,
                  max_sizes: Mapping[str, int] | None = None) -> int:
    """An upper bound on the steps one evaluation of ``expr`` takes (see the module doc).

    ``max_sizes`` maps dotted context paths (``principal.nationalities``) to a declared
    maximum number of elements (or characters, for strings).
    """
    model = _Model(schema, variables, max_list, max_string, max_sizes or {})
    try:
        return _cost(expr, model)
    except RecursionError:
        return UNBOUNDED


def _cost(node: Expr, m: _Model) -> int:
    if isinstance(node, Select) and (name := _var_name(node, m)) is not None:
        return _var_cost(name, m)
    if isinstance(node, Comprehension):
        per_element = _cost(node.body, m) + 1
        if node.predicate is not None:
            per_element += _cost(node.predicate, m)
        return 1 + _cost(node.range, m) + _elements(node.range, m) * per_element
    own = 1 + sum(_cost(child, m) for child in children(node))
    if isinstance(node, Call):
        own += _call_extra(node, m)
    return own


def _var_name(node: Select, m: _Model) -> str | None:
    if isinstance(node.operand, Ident) and node.operand.name == "vars" and not node.test_only:
        return node.field if node.field in m.variables else None
    return None


def _var_cost(name: str, m: _Model) -> int:
    """A variable costs its expression at each use; a cycle (a check error) costs 1."""
    if name in m.expanding:
        return 1
    m.expanding.append(name)
    try:
        return 1 + _cost(m.variables[name], m)
    finally:
        m.expanding.pop()


def _call_extra(node: Call, m: _Model) -> int:
    """What a call costs beyond its nodes: scanning strings and lists."""
    fn = node.function
    operands = ((node.target,) if node.target is not None else ()) + node.args
    if fn == "matches" and len(operands) == 2:
        pattern = operands[1]
        pattern_size = _string_size(pattern, m)
        return _scan(_string_size(operands[0], m)) * _ceil_div(pattern_size, 4)
    if fn in _STRING_SCANS:
        return sum(_scan(_string_size(o, m)) for o in operands if _maybe_string(o, m))
    if fn == "_+_":
        if any(_is_list(o, m) for o in operands):
            return sum(_elements(o, m) for o in operands)  # concatenation copies both
        return sum(_scan(_string_size(o, m)) for o in operands if _maybe_string(o, m))
    if fn in _COMPARISONS:
        literals = [o for o in operands if _is_str_literal(o)]
        if literals:  # comparison stops at the shorter string
            return _scan(min(_string_size(o, m) for o in literals))
        if all(_known_string(o, m) for o in operands):
            return _scan(min(_string_size(o, m) for o in operands))
        return 0
    if fn == "@in" and len(node.args) == 2:
        container = node.args[1]
        return 0 if isinstance(container, CreateList | CreateMap) else _in_scan(container, m)
    if fn in _LIST_SCANS and operands:
        return _elements(operands[0], m) * _scan(m.max_string)
    return 0


def _in_scan(container: Expr, m: _Model) -> int:
    """``x in c``: a map is a hash look-up, a list read from the context is scanned."""
    t = _declared_type(container, m)
    if t is not None and t.kind == "map":
        return 0
    return _elements(container, m)


def _scan(size: int) -> int:
    return _ceil_div(size, 10)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _is_str_literal(node: Expr) -> bool:
    return isinstance(node, Literal) and type(node.value) in (str, bytes)


def _maybe_string(node: Expr, m: _Model) -> bool:
    """False only when the operand is statically something other than a string."""
    if isinstance(node, Literal):
        return type(node.value) in (str, bytes)
    if isinstance(node, CreateList | CreateMap | CreateStruct | Comprehension):
        return False
    t = _declared_type(node, m)
    return t is None or t.kind in ("string", "bytes", "dyn")


def _known_string(node: Expr, m: _Model) -> bool:
    """True when the operand is statically a string (literal or declared)."""
    if _is_str_literal(node):
        return True
    t = _declared_type(node, m)
    return t is not None and t.kind in ("string", "bytes")


def _is_list(node: Expr, m: _Model) -> bool:
    if isinstance(node, CreateList):
        return True
    if isinstance(node, Comprehension):
        return node.kind in ("map", "filter")
    t = _declared_type(node, m)
    return t is not None and t.kind == "list"


def _string_size(node: Expr, m: _Model) -> int:
    """The longest the string ``node`` can be."""
    if _is_str_literal(node):
        assert isinstance(node, Literal)
        value = node.value
        assert isinstance(value, str | bytes)
        return len(value)
    if isinstance(node, Call) and node.function == "_+_" and node.target is None:
        return sum(_string_size(a, m) for a in node.args)
    if isinstance(node, Select) and (name := _var_name(node, m)) is not None:
        return _with_var(name, m, _string_size, m.max_string)
    path = _dotted(node)
    return m.max_sizes.get(path, m.max_string) if path is not None else m.max_string


def _elements(node: Expr, m: _Model) -> int:
    """The most elements a comprehension range or ``in`` container can have."""
    if isinstance(node, CreateList):
        return len(node.elements)
    if isinstance(node, CreateMap):
        return len(node.entries)
    if isinstance(node, Comprehension) and node.kind in ("map", "filter"):
        return _elements(node.range, m)
    if isinstance(node, Call) and node.function == "_+_" and node.target is None:
        return sum(_elements(a, m) for a in node.args)
    if isinstance(node, Call) and node.function == "split" and node.target is not None:
        return _string_size(node.target, m) + 1
    if isinstance(node, Select) and (name := _var_name(node, m)) is not None:
        return _with_var(name, m, _elements, m.max_list)
    path = _dotted(node)
    return m.max_sizes.get(path, m.max_list) if path is not None else m.max_list


def _with_var(name: str, m: _Model, measure: _Measure, default: int) -> int:
    if name in m.expanding:
        return default
    m.expanding.append(name)
    try:
        return measure(m.variables[name], m)
    finally:
        m.expanding.pop()


def _dotted(node: Expr) -> str | None:
    path = attribute_path(node) if isinstance(node, Select | Ident) else None
    return ".".join(path) if path is not None else None


def _declared_type(node: Expr, m: _Model) -> CelType | None:
    """The declared type of a context path (None for anything else or undeclared)."""
    if isinstance(node, Select) and (name := _var_name(node, m)) is not None:
        if name in m.expanding:
            return None
        m.expanding.append(name)
        try:
            return _declared_type(m.variables[name], m)
        finally:
            m.expanding.pop()
    path = attribute_path(node) if isinstance(node, Select | Ident) else None
    if path is None or m.schema is None:
        return None
    t: CelType | None = m.schema.variables.get(path[0])
    for name in path[1:]:
        if t is None:
            return None
        t = t.field_type(name) if t.kind == "object" else t.value if t.kind == "map" else None
    return t


# --- the check pass ------------------------------------------------------------------------


def check_cost(checked: CheckedPackSet, *, budget_per_rule: int = DEFAULT_RULE_BUDGET,
               budget_total: int = DEFAULT_TOTAL_BUDGET,
               max_sizes: Mapping[str, int] | None = None) -> list[Diagnostic]:
    """``cost-exceeded`` errors for each rule over ``budget_per_rule`` and for the whole set.

    A rule's cost is its ``when`` plus its ``unless``. The per-set error points at the most
    expensive rule, since that is where a fix usually starts.
    """
    schema = checked.pack_set.schema
    out: list[Diagnostic] = []
    total = 0
    worst: tuple[int, str, Span | None] = (-1, "", None)
    for cpack in checked.packs:
        variables = dict(cpack.variables)
        for crule in cpack.rules:
            cost = sum(
                estimate_cost(e, schema, variables, max_sizes=max_sizes)
                for e in (crule.when, crule.unless) if e is not None
            )
            total += cost
            rule = crule.rule
            span = rule.when.span if rule.when is not None else rule.span
            name = f"`{rule.id}` of pack `{cpack.pack.id}`"
            if cost > worst[0]:
                worst = (cost, name, span)
            if cost > budget_per_rule:
                out.append(Diagnostic(
                    "cost-exceeded",
                    f"rule {name} may cost up to {cost} steps per evaluation, over the "
                    f"per-rule budget of {budget_per_rule}",
                    span,
                    help="bound the lists it iterates (declare a maximum size) or iterate "
                         "less: nested comprehensions multiply",
                ))
    if total > budget_total:
        out.append(Diagnostic(
            "cost-exceeded",
            f"the pack set may cost up to {total} steps per evaluation, over the budget of "
            f"{budget_total}; the most expensive rule is {worst[1]} ({worst[0]} steps)",
            worst[2],
        ))
    return out
