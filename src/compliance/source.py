"""Source positions: where in which file a piece of a rule pack came from.

Positions are 0-based everywhere inside the library; only ``render`` adds 1 for people.
A CEL expression is parsed from a string that was cut out of a YAML scalar, so a
``SourceMap`` translates offsets in that string back to file line and column.
"""

from __future__ import annotations

import bisect
from dataclasses import FrozenInstanceError, dataclass
from operator import itemgetter


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """A 0-based line and column in a source file."""

    line: int
    col: int


class Span:
    """A half-open range ``[start, end)`` of a source file (immutable).

    Held as five slots, not two ``Position`` objects: a big pack set keeps tens of
    thousands of spans (88 bytes less each) and wants their positions only to report, so
    ``start`` and ``end`` are built when read. Equal spans compare and hash equal.
    """

    __slots__ = ("_end_col", "_end_line", "_start_col", "_start_line", "file")
    __match_args__ = ("file", "start", "end")
    file: str
    _start_line: int
    _start_col: int
    _end_line: int
    _end_col: int

    def __init__(self, file: str, start: Position, end: Position) -> None:
        init = object.__setattr__
        init(self, "file", file)
        init(self, "_start_line", start.line)
        init(self, "_start_col", start.col)
        init(self, "_end_line", end.line)
        init(self, "_end_col", end.col)

    @property
    def start(self) -> Position:
        """Where the span starts."""
        return Position(self._start_line, self._start_col)

    @property
    def end(self) -> Position:
        """Just past where the span ends."""
        return Position(self._end_line, self._end_col)

    def _key(self) -> tuple[str, int, int, int, int]:
        return (self.file, self._start_line, self._start_col, self._end_line, self._end_col)

    def __eq__(self, other: object) -> bool:
        if type(other) is not Span:
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Span(file={self.file!r}, start={self.start!r}, end={self.end!r})"

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __reduce__(self) -> tuple[type[Span], tuple[str, Position, Position]]:
        return (Span, (self.file, self.start, self.end))

    @classmethod
    def point(cls, file: str, line: int, col: int, length: int = 1) -> Span:
        """A span of ``length`` characters on one line."""
        return cls(file, Position(line, col), Position(line, col + length))


@dataclass(frozen=True, slots=True)
class SourceFile:
    """The text of one file, kept so diagnostics can quote the offending line."""

    path: str
    text: str

    def line_text(self, line: int) -> str:
        """The text of 0-based ``line`` without its newline, or ``""`` past the end."""
        lines = self.text.splitlines()
        return lines[line] if 0 <= line < len(lines) else ""


@dataclass(frozen=True, slots=True)
class SourceMap:
    """Maps offsets inside an extracted string (a CEL condition) to file positions.

    ``segments`` holds ``(string_offset, file_line, file_col)`` triples sorted by offset:
    the character at ``string_offset`` sits at ``(file_line, file_col)`` and the following
    characters of that segment follow it on the same line.
    """

    file: str
    segments: tuple[tuple[int, int, int], ...]

    @classmethod
    def single_line(cls, file: str, line: int, col: int) -> SourceMap:
        """The map of a string that sits verbatim on one line starting at ``(line, col)``."""
        return cls(file, ((0, line, col),))

    def position(self, offset: int) -> Position:
        """The file position of the character at ``offset`` in the extracted string."""
        if not self.segments:
            return Position(0, 0)
        # looked up by key, not through a kept tuple of offsets: positions are wanted only
        # for errors, and a big pack set holds one map per expression
        i = max(bisect.bisect_right(self.segments, offset, key=itemgetter(0)) - 1, 0)
        start, line, col = self.segments[i]
        return Position(line, col + max(offset - start, 0))

    def span(self, start: int, end: int) -> Span:
        """The file span of ``[start, end)`` in the extracted string (clipped to one line)."""
        first = self.position(start)
        last = self.position(max(end - 1, start))
        if last.line != first.line:
            last = Position(first.line, first.col)
        return Span(self.file, first, Position(last.line, last.col + (1 if end > start else 0)))
