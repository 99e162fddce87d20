"""Effective windows: instants with explicit offsets or IANA zones, resolved DST-correctly.

A directive "effective 17:21 New York time" must not shift by an hour because a server
runs in UTC or because the date falls near a DST change, so a time without an offset or
zone is an error, a local time that does not exist or happens twice is an error unless
an offset says which, and the offset must agree with the zone when both are written.
"""

from __future__ import annotations

import difflib
import functools
import re
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from yaml.nodes import MappingNode, Node, ScalarNode

from compliance.diagnostics import DiagnosticCode
from compliance.loader._nodes import Ctx, Fields, describe, kind_of
from compliance.pack import Instant, Window

_INSTANT = re.compile(
    r"(?P<local>\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)"
    r"(?P<offset>[Zz]|[+-]\d{2}:\d{2})?"
    r"(?:\[(?P<zone>[^\]]*)\])?"
)
_WINDOW_FIELDS = ("from", "until")
_EXAMPLE = "write e.g. `2026-06-12T17:21:00-04:00` or `2026-06-12T17:21:00[America/New_York]`"


@functools.cache
def _zone_names() -> dict[str, str]:
    """Every IANA zone name, keyed by its lowercase spelling for forgiving suggestions."""
    return {name.lower(): name for name in available_timezones()}


class _BadInstantError(ValueError):
    def __init__(self, code: DiagnosticCode, message: str, help_: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.help = code, message, help_


def parse_instant(raw: str) -> datetime:
    """Resolve an RFC 3339 / RFC 9557 instant to an aware datetime (or ``_BadInstantError``)."""
    match = _INSTANT.fullmatch(raw.strip())
    if match is None:
        raise _BadInstantError("invalid-instant", f"`{raw}` is not a date and time", _EXAMPLE)
    try:
        local = datetime.fromisoformat(match["local"].replace("t", "T").replace(" ", "T"))
    except ValueError as exc:  # month 13, 30 February, hour 25, second 80, year 0
        raise _BadInstantError(
            "invalid-instant", f"`{raw}` is not a real date and time ({exc})", _EXAMPLE
        ) from None
    offset = _offset(raw, match["offset"])
    try:
        if match["zone"] is None:
            if offset is None:
                raise _BadInstantError(
                    "naive-time",
                    f"`{raw}` has no offset or time zone",
                    f"add an offset or a zone: `{match['local']}Z`, "
                    f"`{match['local']}[America/New_York]`",
                )
            return local.replace(tzinfo=timezone(offset)).astimezone(UTC)
        return _zoned(raw, local, offset, _zone(match["zone"]))
    except OverflowError:  # 0001-01-01T00:00+01:00 lies before the first representable instant
        raise _BadInstantError(
            "invalid-instant", f"`{raw}` lies outside the years 1 to 9999 in UTC", _EXAMPLE
        ) from None


def _offset(raw: str, text: str | None) -> timedelta | None:
    if text is None:
        return None
    if text in ("Z", "z"):
        return timedelta(0)
    hours, minutes = int(text[1:3]), int(text[4:6])
    if hours > 23 or minutes > 59:  # RFC 3339 time-offset: 00-23 hours, 00-59 minutes
        raise _BadInstantError(
            "invalid-instant", f"`{raw}`: offset `{text}` is out of range", _EXAMPLE
        )
    return (-1 if text[0] == "-" else 1) * timedelta(hours=hours, minutes=minutes)


def _zone(name: str) -> ZoneInfo:
    try:
        if name in _zone_names().values():
            return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        pass
    names = _zone_names()
    close = difflib.get_close_matches(name.lower(), list(names), n=1, cutoff=0.6)
    help_ = (
        f"did you mean `{names[close[0]]}`?"
        if close
        else "use an IANA zone such as `America/New_York`"
    )
    raise _BadInstantError("unknown-time-zone", f"unknown time zone `{name}`", help_)


def _zoned(raw: str, local: datetime, offset: timedelta | None, zone: ZoneInfo) -> datetime:
    """Pick the one real instant a zoned local time names, using the offset to disambiguate."""
    candidates: dict[timedelta, datetime] = {}
    for fold in (0, 1):
        at = local.replace(tzinfo=zone, fold=fold)
        back = at.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
        utc_offset = at.utcoffset()
        if back == local and utc_offset is not None:
            candidates[utc_offset] = at
    if offset is not None:
        if offset not in candidates:
            raise _BadInstantError(
                "offset-zone-mismatch",
                f"`{raw}`: the offset does not match time zone `{zone.key}`",
                _offsets_help(candidates),
            )
        return candidates[offset]
    if not candidates:
        raise _BadInstantError(
            "nonexistent-local-time",
            f"`{raw}` does not exist in `{zone.key}` (a DST gap)",
            "the clocks skip this hour; pick a time outside the gap",
        )
    if len(candidates) > 1:
        raise _BadInstantError(
            "ambiguous-local-time",
            f"`{raw}` happens twice in `{zone.key}` (DST ends)",
            _offsets_help(candidates),
        )
    return next(iter(candidates.values()))


def _offsets_help(candidates: dict[timedelta, datetime]) -> str | None:
    if not candidates:
        return None
    written = [at.isoformat() + f"[{at.tzinfo}]" for at in candidates.values()]
    return "write one of " + ", ".join(f"`{w}`" for w in written)


def instant(ctx: Ctx, node: Node, what: str) -> Instant | None:
    """Read one instant node, reporting why it is not one."""
    if not isinstance(node, ScalarNode) or kind_of(node) != "string":
        ctx.report("wrong-type", f"{what} must be a date-time string, found {describe(node)}", node)
        return None
    try:
        # in UTC: aware datetimes with fold=1 never compare equal across zones (PEP 495)
        at = parse_instant(node.value).astimezone(UTC)
    except _BadInstantError as bad:
        ctx.report(bad.code, f"{what}: {bad.message}", node, help_=bad.help)
        return None
    return Instant(node.value, at, ctx.span(node))


def window(ctx: Ctx, node: Node, where: str) -> Window | None:
    """Read ``effective: {from, until}``; an empty window (``until <= from``) is an error."""
    if not isinstance(node, MappingNode):
        ctx.report(
            "wrong-type", f"{where}`effective` must be a mapping, found {describe(node)}", node
        )
        return None
    fields = Fields(ctx, node, _WINDOW_FIELDS, where + "effective: ")
    start_node, until_node = fields.node("from"), fields.node("until")
    start = instant(ctx, start_node, f"{where}`from`") if start_node else None
    until = instant(ctx, until_node, f"{where}`until`") if until_node else None
    if start and until and until.at <= start.at:
        ctx.report(
            "empty-window",
            f"{where}`until` is not later than `from`: the window is empty",
            until.span,
            notes=(f"`from` is `{start.raw}` at line {start.span.start.line + 1}",),
        )
    complete = ((start_node is None or start is not None)
                and (until_node is None or until is not None))
    return Window(start, until, ctx.span(node), complete)
