"""CEL text cut out of YAML scalars, with an exact map back to file positions (STYLE R2).

YAML changes text on the way in: quotes are dropped, ``''`` means one quote, line breaks
fold into spaces, block scalars lose their indentation. To put a caret under the right
character of a CEL error, each scalar style is replayed here character by character from
the raw file lines, recording where every character of the value came from. The replay
is checked against PyYAML's own value; if they ever disagree the map degrades to the
scalar's start rather than pointing somewhere wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from yaml.nodes import Node, ScalarNode
from yaml.scanner import Scanner

from compliance.diagnostics import Severity
from compliance.loader._nodes import Ctx, describe, kind_of
from compliance.pack import CelSource, Template
from compliance.source import Position, SourceMap, Span

_ESCAPES: dict[str, str] = dict(Scanner.ESCAPE_REPLACEMENTS)
_ESCAPE_CODES: dict[str, int] = dict(Scanner.ESCAPE_CODES)


@dataclass
class Mapped:
    """A replayed scalar: its text, map segments, and the raw spans of escape sequences."""

    chars: list[str] = field(default_factory=list)
    segments: list[tuple[int, int, int]] = field(default_factory=list)
    escapes: list[tuple[int, Span]] = field(default_factory=list)
    _next: tuple[int, int] | None = None
    joined: bool = False  # a line break was folded away: recommend `|`
    continued: bool = False  # the line ended in an escaped line break (no fold follows)

    def put(self, ch: str, line: int, col: int, *, contiguous: bool = True) -> None:
        """Append ``ch`` found at ``(line, col)``; start a segment when not contiguous."""
        if self._next != (line, col):
            self.segments.append((len(self.chars), line, col))
        self.chars.append(ch)
        self._next = (line, col + 1) if contiguous else None

    @property
    def text(self) -> str:
        """The replayed value."""
        return "".join(self.chars)


def _decode_plain(out: Mapped, raw: str, line: int, col: int, file: str) -> None:
    for j, ch in enumerate(raw):
        out.put(ch, line, col + j)


def _decode_single(out: Mapped, raw: str, line: int, col: int, file: str) -> None:
    j = 0
    while j < len(raw):
        if raw.startswith("''", j):
            out.put("'", line, col + j)  # the next character starts a new segment
            j += 2
        else:
            out.put(raw[j], line, col + j)
            j += 1


def _decode_double(out: Mapped, raw: str, line: int, col: int, file: str) -> None:
    j = 0
    while j < len(raw):
        if raw[j] != "\\":
            out.put(raw[j], line, col + j)
            j += 1
            continue
        code = raw[j + 1 : j + 2]
        if code in _ESCAPES:
            ch, width = _ESCAPES[code], 2
        elif code in _ESCAPE_CODES:
            width = 2 + _ESCAPE_CODES[code]
            ch = chr(int(raw[j + 2 : j + width], 16))
        else:  # an escaped line break: the fold that follows is dropped
            out.continued = True
            return
        out.escapes.append((len(out.chars), Span.point(file, line, col + j, width)))
        out.put(ch, line, col + j)  # the next character starts a new segment
        j += width


_DECODERS: dict[str | None, Callable[[Mapped, str, int, int, str], None]] = {
    None: _decode_plain,
    "'": _decode_single,
    '"': _decode_double,
}


def _flow(node: ScalarNode, lines: list[str], file: str) -> Mapped:
    """Replay a plain or quoted scalar: strip each line, fold breaks, decode quotes."""
    start, end = node.start_mark, node.end_mark
    quote = 1 if node.style in ("'", '"') else 0
    decode = _DECODERS[node.style]
    out = Mapped()
    breaks, prev_end = 0, (start.line, start.column)
    for ln in range(start.line, end.line + 1):
        text = lines[ln] if ln < len(lines) else ""
        a = start.column + quote if ln == start.line else 0
        b = end.column - quote if ln == end.line else len(text)
        raw = text[a:b]
        first, last = ln == start.line, ln == end.line
        if not first:
            stripped = raw.lstrip(" \t")
            a, raw = a + len(raw) - len(stripped), stripped
        if not last:
            raw = raw.rstrip(" \t")
        if not first and not last and not raw:
            breaks += 1
            continue
        if not first and not out.continued:
            for ch in " " if breaks == 0 else "\n" * breaks:
                out.put(ch, *prev_end, contiguous=False)
        out.joined = out.joined or not first
        breaks, out.continued = 0, False
        decode(out, raw, ln, a, file)
        prev_end = (ln, a + len(raw))
    return out


def _block_lines(node: ScalarNode, lines: list[str]) -> tuple[list[int], int] | None:
    """The file lines of a block scalar's content and its indentation (None: unsupported)."""
    start, end = node.start_mark, node.end_mark
    header = lines[start.line][start.column :].split("#", 1)[0]
    if any(c.isdigit() for c in header):
        return None  # explicit indentation indicator: let the fallback handle it
    last = end.line if end.column > 0 else end.line - 1
    numbers = list(range(start.line + 1, min(last, len(lines) - 1) + 1))
    for ln in numbers:
        if lines[ln].strip():
            return numbers, len(lines[ln]) - len(lines[ln].lstrip(" "))
    return numbers, 0


def _literal(node: ScalarNode, lines: list[str], file: str) -> Mapped:
    """Replay a ``|`` scalar: content line *i* sits at the block indent of line *i*."""
    out = Mapped()
    found = _block_lines(node, lines)
    if found is None:
        return out
    numbers, indent = found
    for ln in numbers:
        content = lines[ln][indent:]
        for j, ch in enumerate(content):
            out.put(ch, ln, indent + j)
        out.put("\n", ln, indent + len(content))
    return out


def _folded(node: ScalarNode, lines: list[str], file: str) -> Mapped:
    """Replay a ``>`` scalar: adjacent normal lines join with a space, blank lines keep breaks."""
    out = Mapped()
    found = _block_lines(node, lines)
    if found is None:
        return out
    numbers, indent = found
    breaks, prev_more, prev_end = 0, None, (0, 0)
    for ln in numbers:
        content = lines[ln][indent:]
        if not content.strip(" "):
            breaks += 1
            continue
        more = content[0] in " \t"
        if prev_more is not None:
            fold = (
                (" " if breaks == 0 else "\n" * breaks)
                if not (more or prev_more)
                else "\n" * (breaks + 1)
            )
            for ch in fold:
                out.put(ch, *prev_end, contiguous=False)
            out.joined = out.joined or " " in fold
        breaks, prev_more, prev_end = 0, more, (ln, indent + len(content))
        for j, ch in enumerate(content):
            out.put(ch, ln, indent + j)
    out.put("\n", *prev_end, contiguous=False)
    return out


_STYLES: dict[str | None, Callable[[ScalarNode, list[str], str], Mapped]] = {
    None: _flow,
    "'": _flow,
    '"': _flow,
    "|": _literal,
    ">": _folded,
}


def map_scalar(node: ScalarNode, lines: list[str], file: str) -> Mapped:
    """Replay ``node`` and check the replay; a mismatch falls back to the scalar's start."""
    out = _STYLES[node.style](node, lines, file)
    value = node.value
    exact = out.text == value
    if node.style in ("|", ">"):
        exact = out.text.rstrip("\n") == value.rstrip("\n")
    if not exact:
        quote = 1 if node.style in ("'", '"') else 0
        mark = node.start_mark
        fallback = Mapped(list(value), [(0, mark.line, mark.column + quote)])
        fallback.joined = out.joined
        return fallback
    out.chars = list(value)
    return out


def sub_map(full: SourceMap, start: int, end: int) -> SourceMap:
    """The map of ``text[start:end]`` given the map of ``text``."""
    segments: list[tuple[int, int, int]] = []
    expected: Position | None = None
    for offset in range(start, end):
        pos = full.position(offset)
        if pos != expected:
            segments.append((offset - start, pos.line, pos.col))
        expected = Position(pos.line, pos.col + 1)
    return SourceMap(full.file, tuple(segments) or ((0, *_first(full, start)),))


def _first(full: SourceMap, offset: int) -> tuple[int, int]:
    pos = full.position(offset)
    return pos.line, pos.col


def _cel_scalar(ctx: Ctx, node: Node, what: str) -> ScalarNode | None:
    if not isinstance(node, ScalarNode) or kind_of(node) == "null":
        ctx.report(
            "wrong-type", f"{what} must be a CEL expression string, found {describe(node)}", node
        )
        return None
    return node


def _folded_hint(ctx: Ctx, node: ScalarNode, what: str) -> None:
    ctx.report(
        "folded-condition",
        f"{what} is folded from several lines",
        ctx.head(node),
        help_="write multi-line CEL as a `|` block so line breaks and positions are kept",
        severity=Severity.WARNING,
    )


def _escape_error(ctx: Ctx, span: Span, what: str) -> None:
    ctx.report(
        "escape-in-condition",
        f"{what} contains a YAML escape sequence",
        span,
        help_="write the CEL in single quotes or a `|` block so CEL reads the escape itself",
    )


def cel_source(ctx: Ctx, node: Node, what: str) -> CelSource | None:
    """A condition or variable as ``CelSource``; None (with a diagnostic) when unusable."""
    scalar = _cel_scalar(ctx, node, what)
    if scalar is None:
        return None
    mapped = map_scalar(scalar, ctx.lines, ctx.file)
    if mapped.escapes:
        _escape_error(ctx, mapped.escapes[0][1], what)
        return None
    if mapped.joined:
        _folded_hint(ctx, scalar, what)
    return CelSource(scalar.value, SourceMap(ctx.file, tuple(mapped.segments)), ctx.span(scalar))


def template(ctx: Ctx, node: Node, what: str) -> Template | None:
    """A ``reason``/``message`` text split into literal parts and ``{cel}`` parts."""
    if not isinstance(node, ScalarNode) or kind_of(node) in ("null", "mapping", "list"):
        ctx.report("wrong-type", f"{what} must be a string, found {describe(node)}", node)
        return None
    mapped = map_scalar(node, ctx.lines, ctx.file)
    full = SourceMap(ctx.file, tuple(mapped.segments))
    pieces = split_template(node.value)
    if isinstance(pieces, int):
        ctx.report(
            "invalid-template",
            f"{what}: unbalanced `{node.value[pieces]}` in text",
            full.span(pieces, pieces + 1),
            help_="write `{{` or `}}` for a literal brace",
        )
        return None
    parts: list[str | CelSource] = []
    for piece in pieces:
        if isinstance(piece, str):
            parts.append(piece)
            continue
        start, end = piece
        bad = [span for offset, span in mapped.escapes if start <= offset < end]
        if bad:
            _escape_error(ctx, bad[0], f"{what}: interpolation")
            return None
        if not node.value[start:end].strip():
            ctx.report(
                "invalid-template",
                f"{what}: empty interpolation `{{}}`",
                full.span(start - 1, end + 1),
            )
            return None
        sub = sub_map(full, start, end)
        parts.append(CelSource(node.value[start:end], sub, full.span(start, end)))
    return Template(tuple(parts), ctx.span(node))


def split_template(text: str) -> list[str | tuple[int, int]] | int:
    """Literal strings and ``(start, end)`` CEL ranges, or the offset of a stray brace."""
    parts: list[str | tuple[int, int]] = []
    literal: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith(("{{", "}}"), i):
            literal.append(text[i])
            i += 2
        elif text[i] == "}":
            return i
        elif text[i] == "{":
            end = _closing(text, i)
            if end < 0:
                return i
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append((i + 1, end))
            i = end + 1
        else:
            literal.append(text[i])
            i += 1
    if literal:
        parts.append("".join(literal))
    return parts


def _closing(text: str, open_at: int) -> int:
    """The offset of the ``}`` closing the ``{`` at ``open_at`` (CEL strings and maps aware)."""
    depth, i, quote = 0, open_at, ""
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1
