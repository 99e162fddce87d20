"""The ``signals`` pass: what a pack's ``signals:`` section must satisfy (issue 12).

``on:`` must be a bool over ``event`` (the manifest's ``events:`` schema), ``key:`` must have
the type of the context path ``key_path:`` it matches (a string: store keys are strings),
counts, windows and lifetimes must be positive, names unique across the pack set, and every
signal raising one fact must read it for the same context path (the engine looks a fact up
under one key). Rules reading ``facts.<name>`` need nothing here: ``facts`` is a declared
object, so a fact no signal raises is an ``undeclared-reference`` with a did-you-mean.
"""

from __future__ import annotations

from compliance.cel.ast import Expr
from compliance.cel.checker import TypeEnv, infer, spell_type, suggest
from compliance.cel.parser import CelSyntaxError, parse
from compliance.cel.types import CelType, ContextSchema
from compliance.cel.values import Duration, format_duration
from compliance.diagnostics import Diagnostic
from compliance.pack import CelSource, PackSet, Signal
from compliance.source import Span

from ._parsed import ParsedSet


def check_signals(parsed: ParsedSet) -> list[Diagnostic]:
    """Every problem of every declared signal (see the module docstring)."""
    pack_set = parsed.pack_set
    out: list[Diagnostic] = []
    first: dict[str, Signal] = {}
    by_fact: dict[str, Signal] = {}
    for signal in pack_set.signals:
        where = f"signal `{signal.name}`: "
        if signal.name in first:
            out.append(Diagnostic(
                "duplicate-signal", f"duplicate signal name `{signal.name}`", signal.span,
                notes=(f"first declared at {_at(first[signal.name].span)}",),
                help="signal names are unique across the pack set; rename one"))
        else:
            first[signal.name] = signal
        out.extend(_positive(signal, where))
        out.extend(_on(pack_set, signal, where))
        out.extend(_key(pack_set, signal, where))
        other = by_fact.setdefault(signal.fact, signal)
        if other.key_path != signal.key_path:
            out.append(Diagnostic(
                "signal-key-mismatch",
                f"{where}fact `{signal.fact}` is read for `{signal.key_path}` here but for "
                f"`{other.key_path}` by signal `{other.name}`", signal.key_path_span,
                help="every signal raising one fact must key it by the same context path"))
    return out


def _at(span: Span) -> str:
    return f"{span.file}:{span.start.line + 1}:{span.start.col + 1}"


def _positive(signal: Signal, where: str) -> list[Diagnostic]:
    out = []
    for label, value, span in (("count", signal.count, signal.count_span),
                               ("within", signal.within_ns, signal.within_span),
                               ("for", signal.lifetime_ns, signal.lifetime_span)):
        if value <= 0:
            shown = str(value) if label == "count" else f"`{format_duration(Duration(value))}`"
            out.append(Diagnostic(
                "signal-not-positive", f"{where}`{label}` must be positive, got {shown}", span,
                help=_POSITIVE_HELP[label]))
    return out


_POSITIVE_HELP = {
    "count": "a signal raises its fact after at least 1 matching event",
    "within": "the window is how far back events count, e.g. `10m`",
    "for": "the fact holds for this long after it is raised, e.g. `24h`",
}


def _events(pack_set: PackSet) -> ContextSchema:
    assert pack_set.events is not None  # the loader always sets one
    return pack_set.events


def _parse(source: CelSource, where: str, out: list[Diagnostic]) -> Expr | None:
    try:
        return parse(source.text)
    except CelSyntaxError as err:
        end = max(err.end, err.start + 1)
        out.append(Diagnostic("cel-syntax", where + err.message, source.span_of(err.start, end)))
        return None


def _infer(pack_set: PackSet, source: CelSource, where: str,
           out: list[Diagnostic]) -> CelType | None:
    """The type of an expression over ``event``, or None when it has problems."""
    expr = _parse(source, where, out)
    if expr is None:
        return None
    result, issues = infer(expr, TypeEnv(_events(pack_set)))
    for issue in issues:
        out.append(Diagnostic(issue.code, where + issue.message,
                              source.span_of(issue.start, issue.end), help=issue.help))
    return None if issues else result


def _on(pack_set: PackSet, signal: Signal, where: str) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    found = _infer(pack_set, signal.on, where + "`on`: ", out)
    if found is not None and found.kind not in ("bool", "dyn"):
        out.append(Diagnostic(
            "non-bool-condition",
            f"{where}`on`: the event predicate has type `{spell_type(found)}`, "
            "expected `bool`", signal.on.span, help='compare it, e.g. `event.kind == "x"`'))
    return out


def _key(pack_set: PackSet, signal: Signal, where: str) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    found = _infer(pack_set, signal.key, where + "`key`: ", out)
    declared = pack_set.schema.lookup(signal.key_path)
    if declared is None or signal.key_path.split(".")[0] == "facts":
        paths = [p for p, _ in pack_set.schema.paths() if not p.startswith("facts")]
        hint = suggest(signal.key_path, paths)
        out.append(Diagnostic(
            "undeclared-reference",
            f"{where}`key_path`: `{signal.key_path}` is not declared in the context schema",
            signal.key_path_span,
            help=hint or "name a declared context path"))
        return out
    if declared.kind != "string":
        out.append(Diagnostic(
            "signal-key-mismatch",
            f"{where}`key_path`: `{signal.key_path}` has type `{spell_type(declared)}`; "
            "a signal key must be a `string`", signal.key_path_span,
            help="key signals by an identifier such as `org.id`"))
        return out
    if found is not None and found.kind not in ("string", "dyn"):
        out.append(Diagnostic(
            "signal-key-mismatch",
            f"{where}`key` has type `{spell_type(found)}` but `{signal.key_path}` is a "
            "`string`", signal.key.span,
            help="the key must be the event's value for the same thing, e.g. `event.org_id`"))
    return out
