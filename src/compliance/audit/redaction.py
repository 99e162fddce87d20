"""Keyed redaction: what of a request context goes into the log, and in which form.

Only attributes the schema declares are kept (so prompt text or anything else a host adds
never reaches the log); attributes the manifest marks ``sensitive: true`` are replaced by
an HMAC-SHA256 of their canonical JSON under the redaction key (equal values stay linkable,
unreadable without the key) or dropped when no key is configured. The context digest is
an HMAC too: a plain hash would let anyone confirm a guessed context.
"""

from __future__ import annotations

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

    def keyed(self, value: object) -> str:
        """The HMAC of one value as logged (also how ``log show --org`` finds an org)."""
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
        redacted: list[str] = []
        undeclared: list[str] = []
        secrets: list[str] = []
        kept = self._project(plain, self._plan, "", lossy=lossy, redacted=redacted,
                             undeclared=undeclared, secrets=secrets)
        return Redacted(kept, digest, redacted, undeclared, lossy, tuple(secrets))

    def _project(
        self,
        data: Mapping[str, Any],
        plan: _Plan,
        prefix: str,
        *,
        lossy: list[str],
        redacted: list[str],
        undeclared: list[str],
        secrets: list[str],
    ) -> dict[str, Any]:
        """Copy one object level, then touch only the names the plan singles out."""
        out = dict(data)
        extra = out.keys() - plan.names
        for name in sorted(extra):
            undeclared.append(prefix + name)
            del out[name]
        for name in plan.sensitive:
            if name in out:
                value = out[name]
                redacted.append(prefix + name)
                secrets.extend(_strings(value))
                if self.mode == "hmac-sha256":
                    out[name] = self.keyed(value)
                else:
                    del out[name]
        for name, sub in plan.objects:
            value = out.get(name)
            if isinstance(value, dict):
                out[name] = self._project(
                    value, sub, prefix + name + ".", lossy=lossy, redacted=redacted,
                    undeclared=undeclared, secrets=secrets,
                )
        for name in plan.maps:
            value = out.get(name)
            if isinstance(value, dict) and not all(isinstance(k, str) for k in value):
                lossy.append(prefix + name)  # JSON spells every key as a string
        return out


@dataclass(frozen=True, slots=True)
class _Plan:
    """One object level of the schema: its names, and those redaction must touch."""

    names: frozenset[str]
    sensitive: tuple[str, ...]
    objects: tuple[tuple[str, _Plan], ...]
    maps: tuple[str, ...]


def _plan(fields: Mapping[str, CelType], prefix: str, sensitive: frozenset[str]) -> _Plan:
    """What to do at one object level, decided once per schema."""
    marked = tuple(n for n in fields if prefix + n in sensitive)
    objects = tuple((n, _plan(dict(t.fields), prefix + n + ".", sensitive))
                    for n, t in fields.items() if t.kind == "object" and n not in marked)
    maps = tuple(n for n, t in fields.items() if t.kind == "map" and n not in marked)
    return _Plan(frozenset(fields), marked, objects, maps)


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


def scrub(decision: dict[str, Any], secrets: tuple[str, ...]) -> None:
    """Replace sensitive values templated into reasons and intervention messages, in place."""
    if not secrets:
        return
    ordered = sorted(set(secrets), key=len, reverse=True)

    def clean(text: str) -> str:
        for secret in ordered:
            text = text.replace(secret, "[redacted]")
        return text

    decision["reasons"] = [clean(r) for r in decision.get("reasons", [])]
    for item in decision.get("interventions", []):
        if isinstance(item.get("message"), str):
            item["message"] = clean(item["message"])
