"""Untrusted YAML in, a node tree out: PyYAML's safe composer with the limits we need.

Rule packs come from many authors and CI jobs, so the reader assumes hostile input: a
size cap before decoding, strict UTF-8, a nesting cap checked while composing (the
composer recurses, so a deep file must stop before Python's recursion limit does), and
no aliases at all (an alias bomb must never expand, and rule packs have no use for them).
Nodes keep their marks so every later diagnostic points at ``file:line:col``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml
from yaml.events import AliasEvent
from yaml.nodes import Node

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


class _StopError(Exception):
    """Aborts composing at ``mark`` with a diagnostic (alias or nesting limit)."""

    def __init__(
        self, code: DiagnosticCode, message: str, mark: yaml.Mark, help_: str | None
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.mark, self.help = code, message, mark, help_


class _Composer(yaml.SafeLoader):
    """``SafeLoader`` whose composer refuses aliases and counts nesting as it descends."""

    max_depth = DEFAULT_LIMITS.max_depth

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        if self.check_event(AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            anchor = getattr(event, "anchor", "")
            raise _StopError(
                "yaml-alias",
                f"YAML alias `*{anchor}` is not allowed in rule packs",
                event.start_mark,
                "write the value out in full; anchors and aliases are not supported",
            )
        self._depth += 1
        try:
            if self._depth > self.max_depth:
                raise _StopError(
                    "too-deep",
                    f"nesting deeper than {self.max_depth} levels",
                    self.peek_event().start_mark,  # type: ignore[no-untyped-call]
                    None,
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def read_yaml(data: bytes, file: str, limits: Limits = DEFAULT_LIMITS) -> ParsedYaml:
    """Decode and compose one file, turning every failure into a diagnostic."""
    if len(data) > limits.max_file_bytes:
        return ParsedYaml(None, None, [_file_too_large(file, len(data), limits)])
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
        return ParsedYaml(text, None, [_file_too_large(file, size, limits)])
    loader = _Composer(text)
    loader.max_depth = limits.max_depth
    try:
        root = loader.get_single_node()
    except _StopError as stop:
        return ParsedYaml(
            text, None, [_at_mark(file, stop.code, stop.message, stop.mark, stop.help)]
        )
    except yaml.MarkedYAMLError as exc:
        return ParsedYaml(text, None, [_syntax_error(file, exc)])
    except yaml.reader.ReaderError as exc:
        return ParsedYaml(text, None, [_reader_error(file, text, exc)])
    finally:
        loader.dispose()
    if root is None:
        diag = Diagnostic("empty-file", "file holds no YAML document", Span.point(file, 0, 0, 0))
        return ParsedYaml(text, None, [diag])
    return ParsedYaml(text, root, [])


def split_lines(text: str) -> list[str]:
    """The lines of ``text`` split exactly where YAML sees line breaks."""
    return LINE_BREAK.split(text)


def _at_mark(
    file: str,
    code: DiagnosticCode,
    message: str,
    mark: yaml.Mark | None,
    help_: str | None = None,
    *,
    notes: tuple[str, ...] = (),
) -> Diagnostic:
    span = Span.point(file, mark.line, mark.column) if mark else Span.point(file, 0, 0, 0)
    return Diagnostic(code, message, span, help=help_, notes=notes)


def _file_too_large(file: str, size: int, limits: Limits) -> Diagnostic:
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
    before = text[: exc.position]
    line = len(split_lines(before)) - 1
    col = len(split_lines(before)[-1])
    char = exc.character if isinstance(exc.character, str) else chr(exc.character)
    return Diagnostic(
        "invalid-encoding",
        f"YAML does not allow the control character `U+{ord(char):04X}`",
        Span.point(file, line, col),
    )


_REWRITES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"found character '\\t' that cannot start any token"),
        "found a tab character, which YAML does not allow for indentation",
    ),
    (re.compile(r"<block (mapping |sequence )?end>"), "end of block"),
    (re.compile(r"<stream end>"), "end of file"),
    (re.compile(r"<document start>"), "start of document"),
    (re.compile(r"'([^']*)'"), r"`\1`"),
)

_HELP = {
    "mapping values are not allowed here": "quote the value if it contains `: `",
}


def clean_problem(problem: str) -> str:
    """PyYAML's problem text in our style: backticks for input, no angle-bracket tokens."""
    for pattern, replacement in _REWRITES:
        problem = pattern.sub(replacement, problem)
    return problem.strip()


def _syntax_error(file: str, exc: yaml.MarkedYAMLError) -> Diagnostic:
    problem = exc.problem or "invalid YAML"
    mark = exc.problem_mark or exc.context_mark
    if "expected a single document" in (exc.context or ""):
        return _at_mark(
            file,
            "multiple-documents",
            "a pack file must hold exactly one YAML document",
            exc.problem_mark,
            "put each pack in its own file",
        )
    notes: tuple[str, ...] = ()
    if exc.context and exc.context_mark:
        where = f"{exc.context_mark.line + 1}:{exc.context_mark.column + 1}"
        notes = (f"{clean_problem(exc.context)} started at {where}",)
    message = clean_problem(problem)
    return _at_mark(file, "yaml-syntax", message, mark, _HELP.get(problem), notes=notes)
