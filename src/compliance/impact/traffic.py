"""Reading traffic: JSON Lines of contexts (plain or gzip) or decision logs, in partitions.

A file is cut into byte ranges (``Partition``) so that several processes, or the workers of
a cluster, read one file in parallel; a gzip file is one partition (it cannot be entered in
the middle). A partition owns the lines that *start* inside its range, so the partitions of
a file cover every line exactly once. Line numbers are local to a partition while it is
read and made absolute when the partial summaries are merged (``summary``), so no pass over
the file is needed to number its lines.

Every line is read with the strict context reader (``jsonread.read_json``), at most
``max_line_bytes`` of it is held in memory, and a line that cannot be used is reported as a
``ReadProblem`` with its position, never skipped silently.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any, cast

from compliance.diagnostics import InputCode
from compliance.jsonread import JsonReadError, read_json

DEFAULT_PARTITION_BYTES = 4 << 20
"""About 10 000 canonical contexts: long enough to amortise a task, short enough to balance."""
DEFAULT_MAX_LINE_BYTES = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_SKIP = object()  # a decision whose context cannot be replayed: counted as skipped


class _Plumbing:
    """A log's start or checkpoint record: not traffic, not counted."""


_PLUMBING = _Plumbing()
_END = b""  # next() default: no line is empty (a line keeps its newline)


@dataclass(frozen=True, slots=True)
class Partition:
    """Lines of ``path`` starting in ``[start, end)``; ``end`` is -1 for a whole gzip file."""

    file_index: int
    path: str
    start: int
    end: int
    gzip: bool
    size: int  # bytes of the range (of the compressed file for gzip), for progress


@dataclass(frozen=True, slots=True)
class ReadProblem:
    """A line that is not a usable context: ``code`` is kebab-case, ``line`` partition-local."""

    line: int
    column: int
    code: InputCode
    message: str


@dataclass(frozen=True, slots=True)
class Record:
    """One context read from a line (``line`` is 1-based, local to the partition)."""

    line: int
    context: dict[str, Any]


def partitions(paths: Sequence[str], chunk_bytes: int = DEFAULT_PARTITION_BYTES
               ) -> list[Partition]:
    """Cut every file into partitions; raises ``OSError`` for a file that cannot be opened."""
    out: list[Partition] = []
    for index, path in enumerate(paths):
        with open(path, "rb") as handle:
            compressed = handle.read(2) == _GZIP_MAGIC
        size = os.stat(path).st_size
        if compressed or size <= chunk_bytes:
            out.append(Partition(index, path, 0, -1 if compressed else size, compressed, size))
            continue
        for start in range(0, size, chunk_bytes):
            end = min(start + chunk_bytes, size)
            out.append(Partition(index, path, start, end, False, end - start))
    return out


class PartitionReader:
    """Iterate the lines of a partition; ``lines`` counts them all (blank ones too) so the
    merge can turn partition-local line numbers into file line numbers."""

    def __init__(self, part: Partition, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        self.part = part
        self.max_line_bytes = max_line_bytes
        self.lines = 0

    def __iter__(self) -> Iterator[Record | ReadProblem | None]:
        """A ``Record``, a ``ReadProblem``, or None for a decision-log record without a
        context (the caller counts it as skipped); blank lines yield nothing."""
        limit = self.max_line_bytes
        with _open(self.part) as handle:
            lines = _lines(handle, self.part, limit)
            while True:
                try:
                    raw = next(lines, _END)
                except (OSError, EOFError, zlib.error) as exc:  # a truncated or corrupt gzip
                    yield ReadProblem(self.lines + 1, 0, "unreadable-file",
                                      f"cannot read on from here, the rest of the file is not "
                                      f"read: {exc}")
                    return
                if raw is _END:
                    return
                self.lines += 1
                if raw is None:
                    yield ReadProblem(self.lines, 0, "json-too-large",
                                      f"line is longer than the limit of {limit} bytes")
                elif isinstance(raw, bytes) and raw.strip():
                    record = _record(self.lines, raw, limit)
                    if not isinstance(record, _Plumbing):
                        yield record


def _open(part: Partition) -> IO[bytes]:
    if part.gzip:
        return cast(IO[bytes], gzip.GzipFile(part.path, "rb"))  # a binary file like open's
    return open(part.path, "rb")


def _lines(handle: IO[bytes], part: Partition, limit: int) -> Iterator[bytes | None]:
    """The lines starting in the range (None for one over ``limit``, which is then skipped)."""
    position = part.start
    if not part.gzip and part.start > 0:
        handle.seek(part.start - 1)
        if handle.read(1) != b"\n":  # the range starts inside a line its predecessor owns
            position = part.start + _skip_line(handle, limit)
    while part.end < 0 or position < part.end:
        line = handle.readline(limit + 1)
        if not line:
            return
        position += len(line)
        if len(line) > limit and not line.endswith(b"\n"):
            position += _skip_line(handle, limit)
            yield None
            continue
        yield line


def _skip_line(handle: IO[bytes], limit: int) -> int:
    """Read to the end of the current line in bounded pieces; the number of bytes read."""
    skipped = 0
    while True:
        piece = handle.readline(limit)
        skipped += len(piece)
        if not piece or piece.endswith(b"\n"):
            return skipped


def _record(number: int, raw: bytes, limit: int) -> Record | ReadProblem | _Plumbing | None:
    try:
        value = read_json(raw, max_bytes=limit)
    except JsonReadError as exc:
        column = exc.column if exc.line <= 1 else 0
        return ReadProblem(number, column, exc.code, exc.message)
    if not isinstance(value, dict):
        return ReadProblem(number, 1, "not-an-object",
                           f"a context must be a JSON object, got {type(value).__name__}")
    context = context_of(value)
    if isinstance(context, _Plumbing):
        return context
    if context is _SKIP:
        return None
    if not isinstance(context, dict):
        return ReadProblem(number, 1, "not-an-object",
                           "the record's `context` must be a JSON object")
    return Record(number, context)


def context_of(record: Mapping[str, Any]) -> object:
    """The context a line carries: the line itself, or a decision-log record's ``context``.

    The one adapter to the audit log format (``compliance.audit``, records with
    ``record_version``): a decision record yields its context as logged, redacted values
    included (both pack sets see the same keyed hashes, so the comparison stays fair; a rule
    that reads a redacted attribute sees a value that is not the original: docs/impact.md);
    one logged without a context is skipped (``_SKIP``); start and checkpoint records are
    the log's own plumbing (``_PLUMBING``). Anything else is a bare context.
    """
    if "record_version" in record and "kind" in record:
        if record["kind"] != "decision":
            return _PLUMBING
        context = record.get("context")
        return _SKIP if context is None else context
    return record


__all__ = ["DEFAULT_MAX_LINE_BYTES", "DEFAULT_PARTITION_BYTES", "Partition", "PartitionReader",
           "ReadProblem", "Record", "context_of", "partitions"]
