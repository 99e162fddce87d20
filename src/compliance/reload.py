"""Watched reload: notice a pack set or bundle change, load it, swap it in, or keep the old one.

Generic over what is loaded (``EngineHolder.watch`` passes closures that build an
``Engine``), so this module needs nothing of the pipeline. A change is noticed by polling
a cheap fingerprint of the files (sizes, inode, modification and change times) every
``interval`` seconds, or, with ``use="watchfiles"``, by OS change events that trigger the
same comparison. The fingerprint is taken *before* loading, so a write that lands while a
load runs is noticed on the next round. A load that fails keeps the last-known-good value
serving and is recorded in the status (and through structlog); a load that succeeds is
swapped in whole under the holder's lock: a request sees the old set or the new one.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Generic, Literal, TypeVar

import structlog

__all__ = ["ChangeSource", "Outcome", "ReloadStatus", "Watch", "fingerprint"]

T = TypeVar("T")
Outcome = Literal["loaded", "unchanged", "failed"]
ChangeSource = Literal["poll", "watchfiles", "auto"]
_MAX_ENTRIES = 10_000
"""Files fingerprinted under a directory; a pack set is a few dozen."""

_log = structlog.get_logger("compliance.reload")


@dataclass(frozen=True, slots=True)
class ReloadStatus:
    """What a holder serves and how its latest reload went (an immutable snapshot)."""

    digest: str                          # pack-set digest of the engine serving
    source: str | None = None            # what is watched; None when not watching
    watching: bool = False
    serving_since: datetime | None = None  # when the serving engine was swapped in by a watch
    last_attempt: datetime | None = None
    last_outcome: Outcome | None = None
    last_error: str | None = None        # one line; None when the latest attempt succeeded
    last_error_code: str | None = None
    reloads: int = 0                     # swaps done by the watch
    failures: int = 0                    # attempts that kept the old engine


def fingerprint(path: Path) -> Hashable:
    """A value that changes whenever a file under ``path`` is written, added or removed."""
    def stamp(p: Path) -> tuple[int, int, int, int, int]:
        st = p.stat()
        return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    try:
        if not path.is_dir():
            return ("file", stamp(path))
        entries: list[tuple[str, tuple[int, int, int, int, int]]] = []
        for folder, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                file = Path(folder, name)
                try:
                    entries.append((str(file), stamp(file)))
                except OSError:
                    entries.append((str(file), (0, 0, -1, 0, 0)))
                if len(entries) >= _MAX_ENTRIES:
                    return ("dir", tuple(entries))
        return ("dir", tuple(entries))
    except OSError as exc:
        return ("error", exc.errno)


class Watch(Generic[T]):
    """A running watch: ``stop()`` it, or use it as a context manager.

    ``load`` builds a fresh value (raising on any problem), ``digest`` names one, ``swap``
    installs one; ``lock`` serialises attempts with the holder's own reloads. ``on_reload``
    (optional) receives the new status after every attempt.
    """

    def __init__(self, source: Path, *, load: Callable[[], T], digest: Callable[[T], str],
                 swap: Callable[[T], None], serving: str, lock: threading.Lock,
                 interval: float = 1.0, use: ChangeSource = "poll",
                 describe: Callable[[BaseException], tuple[str, str]] | None = None,
                 on_reload: Callable[[ReloadStatus], None] | None = None) -> None:
        if interval <= 0:
            raise ValueError(f"interval must be positive, not {interval}")
        self.source = source
        self.interval = interval
        self.use: Literal["poll", "watchfiles"] = _resolve(use)
        self._load, self._digest, self._swap = load, digest, swap
        self._lock = lock
        self._describe = describe or _describe
        self._on_reload = on_reload
        self._status = ReloadStatus(serving, str(source), True)
        self._stop = threading.Event()
        self._seen: Hashable = None
        self._thread = threading.Thread(target=self._run, name=f"compliance-watch:{source}",
                                        daemon=True)

    def start(self) -> Watch[T]:
        """Attempt one load now (its outcome is in ``status()`` on return), then watch."""
        self.check()
        self._thread.start()
        return self

    def status(self) -> ReloadStatus:
        """The latest snapshot (safe from any thread)."""
        return self._status

    def stop(self, timeout: float | None = 5.0) -> None:
        """Stop watching and wait for the thread; the engine serving stays."""
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        self._status = replace(self._status, watching=False)

    def __enter__(self) -> Watch[T]:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def check(self) -> ReloadStatus:
        """Reload if the files changed since the last look (the loop calls this)."""
        seen = fingerprint(self.source)
        if seen == self._seen:
            return self._status
        self._seen = seen
        return self._attempt()

    def _attempt(self) -> ReloadStatus:
        now = datetime.now(UTC)
        with self._lock:
            previous = self._status
            try:
                fresh = self._load()
            except Exception as exc:
                code, message = self._describe(exc)
                status = replace(previous, last_attempt=now, last_outcome="failed",
                                 last_error=message, last_error_code=code,
                                 failures=previous.failures + 1)
                _log.warning("reload-failed", source=str(self.source), code=code,
                             error=message, serving=previous.digest)
            else:
                digest = self._digest(fresh)
                if digest == previous.digest:
                    status = replace(previous, last_attempt=now, last_outcome="unchanged",
                                     last_error=None, last_error_code=None)
                    _log.debug("reload-unchanged", source=str(self.source), digest=digest)
                else:
                    self._swap(fresh)
                    status = replace(previous, digest=digest, serving_since=now,
                                     last_attempt=now, last_outcome="loaded", last_error=None,
                                     last_error_code=None, reloads=previous.reloads + 1)
                    _log.info("reloaded", source=str(self.source), digest=digest,
                              previous=previous.digest)
            self._status = status
        if self._on_reload is not None:
            self._on_reload(status)
        return status

    def _run(self) -> None:
        if self.use == "watchfiles":
            self._run_watchfiles()
            return
        while not self._stop.wait(self.interval):
            self._check_safely()

    def _run_watchfiles(self) -> None:
        import watchfiles  # noqa: PLC0415  (optional extra: compliance[watch])

        target = self.source if self.source.is_dir() else self.source.parent
        for _ in watchfiles.watch(target, stop_event=self._stop, debounce=int(
                self.interval * 1000), step=min(50, int(self.interval * 1000)),
                rust_timeout=int(self.interval * 1000), yield_on_timeout=True,
                raise_interrupt=False):
            self._check_safely()  # also on timeouts: a missed event costs one interval

    def _check_safely(self) -> None:
        try:
            self.check()
        except Exception:  # a callback that raised must not end the watch
            _log.exception("reload-callback-failed", source=str(self.source))


def _resolve(use: ChangeSource) -> Literal["poll", "watchfiles"]:
    if use == "poll":
        return "poll"
    try:
        import watchfiles  # noqa: F401, PLC0415
    except ImportError:
        if use == "watchfiles":
            raise ValueError("use='watchfiles' needs the optional extra: "
                             "pip install 'compliance[watch]'") from None
        return "poll"
    return "watchfiles"


def _describe(exc: BaseException) -> tuple[str, str]:
    """A code and one line for a failed load."""
    code = getattr(exc, "code", None)
    diagnostics = getattr(exc, "diagnostics", None)  # PackError: the first problem's code
    if code is None and diagnostics:
        code = getattr(diagnostics[0], "code", None)
    if code is None and isinstance(exc, OSError):
        code = "io-error"
    first = (str(exc).strip().splitlines() or [type(exc).__name__])
    message = first[0] if len(first) == 1 else f"{first[0]}: {first[1].strip()}"
    return (code if isinstance(code, str) else "reload-failed"), message[:500]
