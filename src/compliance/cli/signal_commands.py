"""``compliance observe`` and ``compliance eval --events``: replay an event stream (issue 12).

An events file is JSON Lines: one event object per line (``kind``, RFC 3339 ``time`` and the
fields the manifest's ``events:`` declares); blank lines are skipped. Events are replayed in
file order through ``Engine.observe`` into a fresh in-process store whose clock stands at
each event's own time, so a recorded stream gives the same facts wherever it is replayed.
Every bad line (not JSON, not an object, a missing or malformed ``kind``/``time``, a field a
signal reads that is absent or of the wrong type) is an ``InputError`` naming the line.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from typing import Any

from compliance.checker import CheckedPackSet
from compliance.cli.rules_option import add_rules_options, load_checked
from compliance.cli.streams import InputError, read_bounded, write_out
from compliance.engine import Backend, Engine
from compliance.events import ReplayClock, fresh_engine, replay, request_time
from compliance.jsonread import JsonReadError, read_json
from compliance.signals import Event, Fact, SignalError

__all__ = ["DEFAULT_MAX_EVENTS_BYTES", "add_events_option", "add_observe_command",
           "replayed_engine"]

DEFAULT_MAX_EVENTS_BYTES = 64 << 20
MAX_EVENT_LINE_BYTES = 1 << 20
MAX_EVENT_DEPTH = 32


def add_events_option(p: argparse.ArgumentParser) -> None:
    """``--events FILE`` for ``compliance eval``."""
    p.add_argument("--events", metavar="EVENTS",
                   help="JSON Lines of events to replay (in order) into a fresh in-process "
                        "store before evaluating; rules then read the facts they raised")


def add_observe_command(sub: Any, parents: Sequence[argparse.ArgumentParser] = ()) -> None:
    """Register ``observe``: replay an events file and print the facts each event raised."""
    p = sub.add_parser(
        "observe", help="replay events and print the facts they raise", parents=list(parents),
        description="Replay a JSON Lines events file, in order, through the pack set's "
                    "signals into a fresh in-process store, and print every fact raised "
                    "(with the line of the event that raised it).\n\n"
                    "exit codes: 0 replayed (even with no fact raised), 1 the packs have "
                    "errors, 2 usage error or a bad event (its line is named), 70 internal error",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("events", metavar="EVENTS", help="events file (JSON Lines), or - for stdin")
    add_rules_options(p)
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(run=_run_observe)


def read_events(name: str, max_bytes: int = DEFAULT_MAX_EVENTS_BYTES) -> list[tuple[int, Event]]:
    """The events of a JSON Lines file with their line numbers; ``InputError`` naming a bad line."""
    data, label = read_bounded(name, max_bytes)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = data[: exc.start].count(b"\n") + 1
        raise InputError(f"{label}:{bad}: not UTF-8 text") from None
    out: list[tuple[int, Event]] = []
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            value = read_json(line, max_bytes=MAX_EVENT_LINE_BYTES, max_depth=MAX_EVENT_DEPTH)
        except JsonReadError as exc:
            column = f":{exc.column}" if exc.column else ""
            raise InputError(f"{label}:{number}{column}: not a JSON event: {exc.message}"
                             ) from None
        try:
            out.append((number, Event.from_json(value)))
        except SignalError as exc:
            raise InputError(f"{label}:{number}: bad event: {exc}") from None
    return out


def _replay(engine: Engine, clock: ReplayClock, events: Sequence[tuple[int, Event]],
            label: str) -> list[tuple[int, Fact]]:
    """Observe each event with the clock at its time; the facts raised, with their lines."""
    raised: list[tuple[int, Fact]] = []
    for number, event in events:
        try:
            for _, facts in replay(engine, clock, [event]):
                raised.extend((number, fact) for fact in facts)
        except SignalError as exc:
            raise InputError(f"{label}:{number}: event not recorded: {exc}") from None
    return raised


def replayed_engine(checked: CheckedPackSet, backend: Backend, events_file: str,
                    context: Mapping[str, Any]) -> Engine:
    """An engine whose fresh store holds the replayed events, its clock at the request's time.

    The clock moves to ``request.time`` when that is later than the last event (a request
    a day after the burst must see the review's expiry); facts are judged at request.time.
    """
    engine, clock = fresh_engine(checked, backend)
    events = read_events(events_file)
    _replay(engine, clock, events, _label(events_file))
    clock.advance(request_time(context))
    return engine


def _label(name: str) -> str:
    return "<stdin>" if name == "-" else name


def _run_observe(args: argparse.Namespace) -> int:
    from compliance.cli import EXIT_OK  # noqa: PLC0415

    checked = load_checked(args.rules, args.public_key)
    if isinstance(checked, int):
        return checked
    events = read_events(args.events)
    engine, clock = fresh_engine(checked)
    raised = _replay(engine, clock, events, _label(args.events))
    if args.format == "json":
        write_out(json.dumps([{"line": n, "fact": f.name, "key": f.key, "since": str(f.since),
                               "until": str(f.until)} for n, f in raised], indent=2))
    else:
        for number, fact in raised:
            write_out(f"line {number}: {fact.name} for `{fact.key}` from {fact.since} "
                      f"until {fact.until}")
        write_out(f"{len(events)} events replayed, {len(raised)} facts raised")
    return EXIT_OK
