"""Source positions: where in which file a piece of a rule pack came from.

Positions are 0-based everywhere inside the library; only ``render`` adds 1 for people.
A CEL expression is parsed from a string that was cut out of a YAML scalar, so a
``SourceMap`` translates offsets in that string back to file line and column.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """A 0-based line and column in a source file."""

    line: int
    col: int


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open range ``[start, end)`` of a source file."""

    file: str
    start: Position
    end: Position

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
    _offsets: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_offsets", tuple(s[0] for s in self.segments))

    @classmethod
    def single_line(cls, file: str, line: int, col: int) -> SourceMap:
        """The map of a string that sits verbatim on one line starting at ``(line, col)``."""
        return cls(file, ((0, line, col),))

    def position(self, offset: int) -> Position:
        """The file position of the character at ``offset`` in the extracted string."""
        if not self.segments:
            return Position(0, 0)
        i = max(bisect.bisect_right(self._offsets, offset) - 1, 0)
        start, line, col = self.segments[i]
        return Position(line, col + max(offset - start, 0))

    def span(self, start: int, end: int) -> Span:
        """The file span of ``[start, end)`` in the extracted string (clipped to one line)."""
        first = self.position(start)
        last = self.position(max(end - 1, start))
        if last.line != first.line:
            last = Position(first.line, first.col)
        return Span(self.file, first, Position(last.line, last.col + (1 if end > start else 0)))
