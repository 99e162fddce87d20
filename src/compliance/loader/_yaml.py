"""Untrusted YAML in, a node tree out: PyYAML's safe composer with the limits we need.

Rule packs come from many authors and CI jobs, so the reader assumes hostile input: a
size cap before decoding, strict UTF-8, a nesting cap checked while composing (the
composer recurses, so a deep file must stop before Python's recursion limit does), and
no aliases at all (an alias bomb must never expand, and rule packs have no use for them).
No explicit tags either (``!!int law`` would fail to convert, ``!!python/object`` must
never mean anything), and plain scalars resolve by the YAML 1.2 core schema, not PyYAML's
YAML 1.1 one, so ``1:30`` stays a string instead of becoming 90 and ``yes`` is not
``true``. Integers must fit in 64 bits (CEL's ``int``), which also keeps Python's
4 300-digit conversion limit out of reach. Nodes keep their marks so every later
diagnostic points at ``file:line:col``.

Speed: libyaml's C parser (shipped in PyYAML's wheels) produces the events when it is
present, and the same Python composer turns them into nodes with the same checks; it reads
a pack about 6x faster than the pure-Python parser. The pure-Python parser stays the
authority: whenever the fast path fails for any reason (a syntax error, an alias, a tag,
a too-deep or too-large value) the file is read again by the pure-Python reader, so every
diagnostic is exactly the one PyYAML's messages give, and text that libyaml reads
differently from PyYAML (a byte order mark after the start, characters PyYAML's reader
refuses) never takes the fast path. ``tests/unit/test_loader_yaml_fast.py`` compares both
paths node for node.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import Protocol

import yaml
from yaml.composer import Composer

try:  # libyaml: PyYAML's wheels ship it; without it every file takes the pure-Python path
    from yaml._yaml import CParser as _CParser

    CParser: type | None = _CParser
except ImportError:  # pragma: no cover - a PyYAML built without libyaml
    CParser = None
from yaml.events import AliasEvent, CollectionStartEvent, ScalarEvent
from yaml.nodes import Node, ScalarNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner
from yaml.tokens import ScalarToken

from compliance.diagnostics import Diagnostic, DiagnosticCode
from compliance.source import Span

LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


@dataclass(frozen=True, slots=True)
class Limits:
    """Caps on untrusted pack files; raise them per call, not by editing the defaults."""

    max_file_bytes: int = 1 << 20
    max_depth: int = 64


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class ParsedYaml:
    """The outcome of reading one YAML file: its text and root node when it composed."""

    text: str | None
    root: Node | None
    diagnostics: list[Diagnostic]


class _Mark(Protocol):
    """What a diagnostic needs from a PyYAML mark (pure-Python or libyaml flavour)."""

    @property
    def line(self) -> int: ...
    @property
    def column(self) -> int: ...


class _StopError(Exception):
    """Aborts composing at ``mark`` with a diagnostic (alias, tag, huge int, nesting)."""

    def __init__(
        self, code: DiagnosticCode, message: str, mark: _Mark | None, help_: str | None
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.mark, self.help = code, message, mark, help_


TAG = "tag:yaml.org,2002:"
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
_MAX_INT_DIGITS = 19  # decimal digits of INT64_MAX: longer literals are refused unconverted


class CoreResolver(BaseResolver):
    """Plain scalars resolved by the YAML 1.2 core schema (spec 1.2.2, section 10.3.2).

    PyYAML implements YAML 1.1, where ``1:30`` is the int 90, ``017`` is octal 15 and
    ``yes``/``on`` are booleans; none of those readings is what a pack author means.
    """


for _tag, _pattern, _first in (
    ("bool", r"true|True|TRUE|false|False|FALSE", "tTfF"),
    ("int", r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+", "-+0123456789"),
    (
        "float",
        r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
        "-+0123456789.",
    ),
    ("null", r"~|null|Null|NULL|", ["~", "n", "N", ""]),
):
    CoreResolver.add_implicit_resolver(
        TAG + _tag, re.compile(rf"\A(?:{_pattern})\Z"), list(_first)
    )
del _tag, _pattern, _first


def core_int(text: str) -> int:
    """The value of a scalar the core schema reads as an int (``0o17``, ``0x10``, ``-5``)."""
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    if len(text.lstrip("+-").lstrip("0")) > _MAX_INT_DIGITS:
        return INT64_MAX + 1 if not text.startswith("-") else INT64_MIN - 1
    return int(text, 10)


def core_float(text: str) -> float:
    """The value of a scalar the core schema reads as a float (``.inf``, ``-.5``, ``1e3``)."""
    lowered = text.lower()
    if lowered.endswith((".inf", ".nan")):
        return float(lowered.replace(".", ""))
    return float(text)


def _tag_name(tag: str) -> str:
    return "!!" + tag.removeprefix(TAG) if tag.startswith(TAG) else tag


_INTERNED = 64  # scalars up to this length are interned: a big pack set repeats them


class _Guarded(Composer):
    """PyYAML's composer refusing aliases and tags and counting nesting as it descends.

    One definition for both event sources: the pure-Python parser and libyaml's.
    """

    max_depth = DEFAULT_LIMITS.max_depth
    _depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event = self.peek_event()  # type: ignore[attr-defined]
        if isinstance(event, AliasEvent):
            raise _StopError(
                "yaml-alias",
                f"YAML alias `*{event.anchor}` is not allowed in rule packs",
                event.start_mark,
                "write the value out in full; anchors and aliases are not supported",
            )
        if isinstance(event, ScalarEvent | CollectionStartEvent) and event.tag is not None:
            raise _StopError(
                "yaml-tag",
                f"YAML tag `{_tag_name(event.tag)}` is not allowed in rule packs",
                event.start_mark,
                "remove the tag: values are read from how they are written "
                '(quote a value to make it a string, e.g. `"1:30"`)',
            )
        self._depth += 1
        try:
            if self._depth > self.max_depth:
                raise _StopError(
                    "too-deep", f"nesting deeper than {self.max_depth} levels",
                    event.start_mark, None,
                )
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if isinstance(node, ScalarNode):
            if not node.value.isascii():
                _check_surrogates(node)
            if node.tag == TAG + "int":
                _check_int(node)
            elif len(node.value) <= _INTERNED:  # `deny`, tiers, obligation keys: one copy each
                node.value = sys.intern(node.value)
        return node


class _Composer(Reader, Scanner, Parser, _Guarded, CoreResolver):
    """The pure-Python reader, scanner and parser under the guarded composer (the authority)."""

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        CoreResolver.__init__(self)


if CParser is not None:

    class _FastComposer(_Guarded, CoreResolver, _CParser):
        """libyaml's parser under the same guarded composer (Python composing, C parsing)."""

        def __init__(self, stream: str) -> None:
            _CParser.__init__(self, stream)
            Composer.__init__(self)
            CoreResolver.__init__(self)
            self._flow = 0

        def compose_node(self, parent: Node | None, index: int) -> Node | None:
            event = self.peek_event()
            flow = isinstance(event, CollectionStartEvent) and event.flow_style is True
            self._flow += flow
            try:
                node = super().compose_node(parent, index)
            finally:
                self._flow -= flow
            if isinstance(node, ScalarNode) and node.style == "":
                node.style = None  # libyaml says "" for a plain scalar, PyYAML says None
                if self._flow and ("?" in node.value or not node.value):
                    # PyYAML (YAML 1.1) ends a flow plain scalar at `?`, and marks an empty
                    # flow value at its `:` where libyaml marks the next token
                    raise _UnsureError
            return node


class _UnsureError(Exception):
    """libyaml may read this text differently from PyYAML: read it in pure Python."""


_NON_PRINTABLE = Reader.NON_PRINTABLE
_HEADER_COMMENT = re.compile(r"[|>][-+0-9]*#")  # `|#`: PyYAML refuses it, libyaml reads a comment


def _fast_root(text: str, max_depth: int) -> tuple[bool, Node | None]:
    """``(True, root)`` composed from libyaml's events, or ``(False, None)``: read it in Python.

    Refused for text libyaml reads differently from PyYAML (each case found by the
    differential tests: a last line without a break, tabs, a BOM, which libyaml skips at
    the start of any line, characters PyYAML's reader refuses, ``|#``, ``?`` in a plain
    scalar in ``[...]``/``{...}``, an empty value there) and for any failure, so errors
    always carry the pure-Python path's messages and positions.
    """
    if (
        CParser is None
        or not text.endswith("\n")  # libyaml ends a last line without a break one line on
        or "\t" in text  # libyaml skips tabs as blanks where PyYAML refuses them
        or "\ufeff" in text
        or _NON_PRINTABLE.search(text)
        or _HEADER_COMMENT.search(text)
    ):
        return False, None
    loader = _FastComposer(text)
    loader.max_depth = max_depth
    try:
        root: Node | None = loader.get_single_node()
    except (_StopError, _UnsureError, yaml.YAMLError, RecursionError, UnicodeError):
        return False, None
    finally:
        loader.dispose()
    return True, root


_SURROGATE = re.compile("[\ud800-\udfff]")


def _check_surrogates(node: ScalarNode) -> None:
    """Refuse a lone surrogate, which only an escape (``"\\ud800"``) can write.

    It is half of a UTF-16 pair, not a character: no UTF-8 encoder accepts it, so the
    pack could be neither digested nor shown. YAML reads ``"\\ud83d\\ude00"`` as two
    such halves, not one character.
    """
    found = _SURROGATE.search(node.value)
    if found is None:
        return
    raise _StopError(
        "invalid-character",
        f"the escape `\\u{ord(found.group()):04X}` is half of a UTF-16 surrogate pair, "
        "not a character",
        node.start_mark,
        "write the character itself, or its code point as `\\U` and eight hex digits "
        "(`\\U0001F600`)",
    )


def _check_int(node: ScalarNode) -> None:
    if INT64_MIN <= core_int(node.value) <= INT64_MAX:
        return
    shown = node.value if len(node.value) <= 24 else node.value[:20] + "..."
    raise _StopError(
        "integer-too-large",
        f"integer `{shown}` does not fit in 64 bits",
        node.start_mark,
        f"integers must lie between {INT64_MIN} and {INT64_MAX}; quote the value for a string",
    )


def read_yaml(data: bytes, file: str, limits: Limits = DEFAULT_LIMITS) -> ParsedYaml:
    """Decode and compose one file, turning every failure into a diagnostic."""
    if len(data) > limits.max_file_bytes:
        return ParsedYaml(None, None, [file_too_large(file, len(data), limits)])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return ParsedYaml(None, None, [_bad_encoding(file, data, exc)])
    if text.startswith("\ufeff"):
        text = text[1:]
    return compose_text(text, file, limits)


def compose_text(text: str, file: str, limits: Limits = DEFAULT_LIMITS) -> ParsedYaml:
    """Compose already-decoded text into one node (a size check applies to its UTF-8)."""
    if len(text.encode("utf-8", "surrogatepass")) > limits.max_file_bytes:
        size = len(text.encode("utf-8", "surrogatepass"))
        return ParsedYaml(text, None, [file_too_large(file, size, limits)])
    composed, fast = _fast_root(text, limits.max_depth)
    if composed:
        if fast is None:
            return ParsedYaml(text, None, [_empty_file(file)])
        return ParsedYaml(text, fast, [])
    try:
        # the reader checks every character up front, so construction can fail too
        loader = _Composer(text)
    except yaml.reader.ReaderError as exc:
        return ParsedYaml(text, None, [_reader_error(file, text, exc)])
    loader.max_depth = limits.max_depth
    try:
        root = loader.get_single_node()
    except _StopError as stop:
        return ParsedYaml(
            text, None, [_at_mark(file, stop.code, stop.message, stop.mark, stop.help)]
        )
    except yaml.MarkedYAMLError as exc:
        return ParsedYaml(text, None, [_syntax_error(file, text, exc)])
    except yaml.reader.ReaderError as exc:
        return ParsedYaml(text, None, [_reader_error(file, text, exc)])
    finally:
        loader.dispose()
    if root is None:
        return ParsedYaml(text, None, [_empty_file(file)])
    return ParsedYaml(text, root, [])


def _empty_file(file: str) -> Diagnostic:
    return Diagnostic("empty-file", "file holds no YAML document", Span.point(file, 0, 0, 0))


def split_lines(text: str) -> list[str]:
    """The lines of ``text`` split exactly where YAML sees line breaks."""
    return LINE_BREAK.split(text)


def _at_mark(
    file: str,
    code: DiagnosticCode,
    message: str,
    mark: _Mark | None,
    help_: str | None = None,
    *,
    notes: tuple[str, ...] = (),
) -> Diagnostic:
    span = Span.point(file, mark.line, mark.column) if mark else Span.point(file, 0, 0, 0)
    return Diagnostic(code, message, span, help=help_, notes=notes)


def file_too_large(file: str, size: int, limits: Limits) -> Diagnostic:
    """The diagnostic for a file over ``limits.max_file_bytes`` (checked before reading)."""
    return Diagnostic(
        "file-too-large",
        f"file is {size} bytes, over the limit of {limits.max_file_bytes} bytes",
        Span.point(file, 0, 0, 0),
        help="split the pack into several files",
    )


def _bad_encoding(file: str, data: bytes, exc: UnicodeDecodeError) -> Diagnostic:
    before = data[: exc.start]
    line = before.count(b"\n")
    col = len(before.rsplit(b"\n", 1)[-1].decode("utf-8", "replace"))
    byte = data[exc.start : exc.start + 1].hex()
    return Diagnostic(
        "invalid-encoding",
        f"file is not valid UTF-8: unexpected byte `0x{byte}`",
        Span.point(file, line, col),
        help="save the file as UTF-8",
    )


def _reader_error(file: str, text: str, exc: yaml.reader.ReaderError) -> Diagnostic:
    before = split_lines(text[: exc.position])
    char = exc.character if isinstance(exc.character, str) else chr(exc.character)
    point = ord(char)
    name = "control character" if point < 0x20 or 0x7F <= point < 0xA0 else "character"
    escape = f"\\u{point:04X}" if point <= 0xFFFF else f"\\U{point:08X}"
    return Diagnostic(
        "invalid-character",
        f"YAML does not allow the {name} `U+{point:04X}` in a file",
        Span.point(file, len(before) - 1, len(before[-1])),
        help=f"delete it; to mean it, write `{escape}` inside a double-quoted string",
    )


_REWRITES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"found character '\\t' that cannot start any token"),
        "found a tab character, which YAML does not allow for indentation",
    ),
    (re.compile(r"'?<block (mapping |sequence )?end>'?"), "end of block"),
    (re.compile(r"'?<block mapping start>'?"), "a new mapping"),
    (re.compile(r"'?<block sequence start>'?"), "a new list"),
    (re.compile(r"'?<flow (mapping|sequence) (start|end)>'?"), "a bracket"),
    (re.compile(r"'?<scalar>'?"), "a value"),
    (re.compile(r"'?<stream end>'?"), "end of file"),
    (re.compile(r"'?<document start>'?"), "start of document"),
    (re.compile(r"'([^']*)'"), r"`\1`"),
)

_HELP = {
    "mapping values are not allowed here": "quote the value if it contains `: `",
}
_INDENT_HELP = (
    "line up the keys of one mapping, and the `- ` items of one list, in the same column; "
    "indent a value nested under a key further than the key"
)


def clean_problem(problem: str) -> str:
    """PyYAML's problem text in our style: backticks for input, no angle-bracket tokens."""
    for pattern, replacement in _REWRITES:
        problem = pattern.sub(replacement, problem)
    return problem.strip()


def _where(mark: yaml.Mark) -> str:
    return f"{mark.line + 1}:{mark.column + 1}"


def _syntax_error(file: str, text: str, exc: yaml.MarkedYAMLError) -> Diagnostic:
    """A YAML syntax error in plain words: what is wrong, where it started, how to fix it."""
    problem = exc.problem or "invalid YAML"
    context = exc.context or ""
    mark = exc.problem_mark or exc.context_mark
    start = exc.context_mark
    if "expected a single document" in context:
        return _at_mark(
            file,
            "multiple-documents",
            "a pack file must hold exactly one YAML document",
            exc.problem_mark,
            "put each pack in its own file",
        )
    if context == "while scanning a quoted scalar" and start is not None:
        quote = text[start.index] if start.index < len(text) else '"'
        ended = "the file ends" if "end of stream" in problem else "a new document starts"
        return _at_mark(
            file, "yaml-syntax", f"unclosed quote: this {quote} string is never closed", start,
            f"add the closing {quote} at the end of the value",
            notes=(f"{ended} at {_where(mark)} before a closing {quote}",) if mark else (),
        )
    opened = _runaway_quote(text, mark.line) if mark else None
    if opened is not None and mark is not None:
        quote = text[opened.index]
        return _at_mark(
            file, "yaml-syntax",
            f"unclosed quote: this {quote} string runs on to line {mark.line + 1}", opened,
            f"close the quote on this line; to put a {quote} inside the string, escape it "
            f"({_ESCAPED[quote]})",
            notes=(f"YAML read the string up to the next {quote}, and then failed at "
                   f"{_where(mark)}: {clean_problem(problem)}",),
        )
    if context == "while scanning a simple key" and start is not None:
        return _at_mark(
            file, "yaml-syntax", "this line is not a `key: value` pair", start,
            "add `: ` after the key, or indent the line to continue the value above it",
        )
    if problem.startswith("expected <block end>") and start is not None:
        return _at_mark(
            file, "yaml-syntax",
            "bad indentation: this line does not line up with the lines of its block",
            mark, _INDENT_HELP,
            notes=(f"the enclosing block starts at {_where(start)}",),
        )
    notes: tuple[str, ...] = ()
    what = _CONTEXTS.get(context.removeprefix("while parsing ").removeprefix("while scanning "))
    if exc.context and exc.context_mark:
        notes = (f"{what or clean_problem(exc.context)} started at {_where(exc.context_mark)}",)
    help_ = _HELP.get(problem)
    if context.startswith("while parsing a flow"):
        opener, closer = ("[", "]") if "sequence" in context else ("{", "}")
        help_ = f"close the `{opener}` with `{closer}`, and separate its items with `, `"
    message = clean_problem(problem)
    return _at_mark(file, "yaml-syntax", message, mark, help_, notes=notes)


_CONTEXTS = {
    "a flow sequence": "the `[` list",
    "a flow mapping": "the `{` mapping",
    "a block mapping": "the mapping",
    "a block collection": "the list",
    "a block scalar": "the `|` or `>` text block",
    "a flow node": "the value",
    "a block node": "the value",
    "a directive": "the `%` directive",
    "an anchor": "the `&` anchor",
    "an alias": "the `*` alias",
    "a tag": "the tag",
    "a plain scalar": "the value",
}


_ESCAPED = {'"': '`\\"`', "'": "`''`"}


class _TokenScanner(Reader, Scanner):
    """Just PyYAML's reader and scanner, to look at tokens before a syntax error."""

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)


def _runaway_quote(text: str, error_line: int) -> yaml.Mark | None:
    """The opening mark of a quoted string that spans lines and closes on ``error_line``.

    An unclosed quote makes YAML read on to the next quote character, often lines later,
    and fail there; the real mistake is where that string started.
    """
    scanner = _TokenScanner(text)
    try:
        while scanner.check_token():
            token = scanner.get_token()  # type: ignore[no-untyped-call]
            if token.start_mark.line > error_line:
                return None
            if (
                isinstance(token, ScalarToken)
                and token.style in ('"', "'")
                and token.start_mark.line < token.end_mark.line == error_line
            ):
                mark: yaml.Mark = token.start_mark
                return mark
    except yaml.YAMLError:
        return None
    return None
