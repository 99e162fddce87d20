"""Keyed redaction: what of a request context goes into the log, and in which form.

Only attributes the schema declares are kept (so prompt text or anything else a host adds
never reaches the log); attributes the manifest marks ``sensitive: true`` are replaced by
an HMAC-SHA256 of their canonical JSON under the redaction key (equal values stay linkable,
unreadable without the key) or dropped when no key is configured. The context digest is
an HMAC too: a plain hash would let anyone confirm a guessed context.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from compliance.audit.encoding import canonical, plain_canonical, sanitize
from compliance.cel.types import CelType, ContextSchema

__all__ = ["Redacted", "RedactionMode", "Redactor", "key_id"]

RedactionMode = Literal["hmac-sha256", "drop", "none"]
_MIN_KEY = 16
_MIN_SCRUB = 2
_CACHED = 4096  # keyed hashes remembered per redactor (see ``Redactor.keyed``)


def key_id(key: bytes) -> str:
    """A short public name for a secret key (sha256 of it, truncated): which key, not the key."""
    return "sha256:" + hashlib.sha256(key).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Redacted:
    """A context as logged, with what was withheld and why."""

    context: dict[str, Any]
    digest: str | None
    redacted: list[str]
    undeclared: list[str]
    lossy: list[str]
    secrets: tuple[str, ...]  # clear sensitive strings, to scrub from reasons and messages


class Redactor:
    """Turns a request context into its logged form (see the module docstring)."""

    def __init__(
        self,
        schema: ContextSchema | None,
        key: bytes | None = None,
        *,
        keep_sensitive: bool = False,
    ) -> None:
        if key is not None and len(key) < _MIN_KEY:
            raise ValueError(f"a redaction key needs at least {_MIN_KEY} bytes")
        self.schema = schema
        self.key = key
        padded = (key or b"").ljust(64, b"\0")  # keys of at most 64 bytes, as RFC 2104
        if len(padded) > 64:
            padded = hashlib.sha256(padded).digest().ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))
        self.key_id = key_id(key) if key is not None else None
        self.sensitive = frozenset() if schema is None else schema.sensitive_paths
        self.mode: RedactionMode = (
            "none" if keep_sensitive or not self.sensitive
            else "hmac-sha256" if key is not None else "drop"
        )
        marked = self.sensitive if self.mode != "none" else frozenset()
        self._plan = _plan(schema.variables if schema is not None else {}, "", marked)
        self._keyed_text = functools.lru_cache(maxsize=_CACHED)(self._keyed_once)
        self._keyed_bytes = functools.lru_cache(maxsize=_CACHED)(self._mac)
        self._keyed = self.keyed if self.mode == "hmac-sha256" else None

    def keyed(self, value: object) -> str:
        """The HMAC of one value as logged (also how ``log show --org`` finds an org).

        Ids repeat from request to request, so the last ``_CACHED`` are remembered (by the
        string itself, else by its canonical bytes): equal inputs give equal HMACs, so the
        cache changes no output, only the cost.
        """
        if type(value) is str:
            return self._keyed_text(value)
        return self._keyed_bytes(canonical(value))

    def _keyed_once(self, value: object) -> str:
        return self._mac(canonical(value))

    def _mac(self, data: bytes) -> str:
        """HMAC-SHA256 (RFC 2104) from precomputed pad states: half the cost of ``hmac``."""
        inner = self._inner.copy()
        inner.update(data)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return "hmac-sha256:" + outer.hexdigest()

    def apply(self, context: object) -> Redacted:
        """The logged form of ``context``; never raises on any input."""
        lossy: list[str] = []
        plain: object = context
        encoded = plain_canonical(context) if isinstance(context, dict) else None
        if encoded is None:
            plain = sanitize(context, "", lossy)
            encoded = canonical(plain)
        digest = self._mac(encoded) if self.key is not None else None
        if not isinstance(plain, dict):
            return Redacted({}, digest, [], ["<root>"], lossy, ())
        if self.schema is None:
            return Redacted(plain, digest, [], [], lossy, ())
        notes = _Notes(lossy, [], [], [])
        # orjson writes no dict with a key that is not a string: when the context encoded
        # as it is, no map can have one, and the maps need no look.
        kept = self._project(plain, self._plan, notes, maps=encoded is None)
        return Redacted(kept, digest, notes.redacted, notes.undeclared, lossy,
                        tuple(notes.secrets))

    def _project(self, data: dict[str, Any], plan: _Plan, notes: _Notes, *,
                 maps: bool = True) -> dict[str, Any]:
        """One object level as logged: ``data`` itself when nothing in it is withheld, else a
        copy with only the names the plan singles out touched (the record is encoded before
        ``record()`` returns, so sharing the caller's untouched levels is safe).
        """
        out = data
        if not plan.names.issuperset(data):
            out = dict(data)
            for name in sorted(out.keys() - plan.names):
                notes.undeclared.append(plan.prefix + name)
                del out[name]
        keyed = self._keyed
        for name, path in plan.sensitive:
            if name in out:
                if out is data:
                    out = dict(data)
                value = out[name]
                notes.redacted.append(path)
                if type(value) is str:
                    if len(value) >= _MIN_SCRUB:
                        notes.secrets.append(value)
                elif type(value) is list:  # `_strings` of a list, its common case inline
                    for item in value:
                        if type(item) is str:
                            if len(item) >= _MIN_SCRUB:
                                notes.secrets.append(item)
                        else:
                            notes.secrets.extend(_strings(item))
                elif value:
                    notes.secrets.extend(_strings(value))
                if keyed is None:
                    del out[name]
                else:
                    out[name] = keyed(value)
        for name, sub in plan.objects:
            value = out.get(name)
            if isinstance(value, dict):
                kept = self._project(value, sub, notes, maps=maps)
                if kept is not value:
                    if out is data:
                        out = dict(data)
                    out[name] = kept
        for name, path in plan.maps if maps else ():
            value = out.get(name)
            if value and isinstance(value, dict) and not all(isinstance(k, str) for k in value):
                notes.lossy.append(path)  # JSON spells every key as a string
        return out


@dataclass(frozen=True, slots=True)
class _Notes:
    """What ``_project`` found: the paths withheld or lossy, and the clear sensitive strings."""

    lossy: list[str]
    redacted: list[str]
    undeclared: list[str]
    secrets: list[str]


@dataclass(frozen=True, slots=True)
class _Plan:
    """One object level of the schema: its names, and those redaction must touch (with paths)."""

    prefix: str
    names: frozenset[str]
    sensitive: tuple[tuple[str, str], ...]
    objects: tuple[tuple[str, _Plan], ...]
    maps: tuple[tuple[str, str], ...]


def _plan(fields: Mapping[str, CelType], prefix: str, sensitive: frozenset[str]) -> _Plan:
    """What to do at one object level, decided once per schema."""
    marked = tuple((n, prefix + n) for n in fields if prefix + n in sensitive)
    skip = {n for n, _ in marked}
    objects = tuple((n, _plan(dict(t.fields), prefix + n + ".", sensitive))
                    for n, t in fields.items() if t.kind == "object" and n not in skip)
    maps = tuple((n, prefix + n) for n, t in fields.items() if t.kind == "map" and n not in skip)
    return _Plan(prefix, frozenset(fields), marked, objects, maps)


def _strings(value: object) -> Iterable[str]:
    if isinstance(value, str):
        if len(value) >= _MIN_SCRUB:
            yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
