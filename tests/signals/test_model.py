"""Signal specs and events: validation that names the field and refuses bad input."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from _sigtools import T0, founding_spec

from compliance.cel.values import Duration, Timestamp
from compliance.signals import Event, Fact, SignalError


class TestEvent:
    def test_parses_kind_time_and_keeps_the_object(self) -> None:
        """`time` with an offset is read as the same UTC instant; other fields stay readable."""
        event = Event.from_json({"kind": "safeguard_flag", "time": "2026-06-15T14:00:00+02:00",
                                 "org_id": "o1"})
        assert (event.kind, event.time, event.data["org_id"]) == ("safeguard_flag", T0, "o1")

    def test_data_is_read_only(self) -> None:
        """A predicate cannot change the event other specs read."""
        event = Event.from_json({"kind": "k", "time": "2026-06-15T12:00:00Z"})
        with pytest.raises(TypeError):
            event.data["kind"] = "other"  # type: ignore[index]

    @pytest.mark.parametrize(
        ("obj", "field", "fragment"),
        [
            ({"time": "2026-06-15T12:00:00Z"}, "kind", "is required"),
            ({"kind": 3, "time": "2026-06-15T12:00:00Z"}, "kind", "got number"),
            ({"kind": "", "time": "2026-06-15T12:00:00Z"}, "kind", "1 to 256"),
            ({"kind": "k" * 257, "time": "2026-06-15T12:00:00Z"}, "kind", "1 to 256"),
            ({"kind": "k"}, "time", "is required"),
            ({"kind": "k", "time": None}, "time", "got null"),
            ({"kind": "k", "time": "2026-06-15 12:00"}, "time", "RFC 3339"),
            ({"kind": "k", "time": "2026-06-15T12:00:00"}, "time", "RFC 3339"),
            ({"kind": "k", "time": "2026-02-30T12:00:00Z"}, "time", "not a valid timestamp"),
        ],
        ids=["no-kind", "kind-number", "kind-empty", "kind-long", "no-time", "time-null",
             "time-not-rfc3339", "time-without-offset", "time-impossible-date"],
    )
    def test_invalid_fields_are_named(self, obj: dict[str, Any], field: str, fragment: str) -> None:
        """Every refusal carries `event-invalid` and the field it is about."""
        with pytest.raises(SignalError) as err:
            Event.from_json(obj)
        assert (err.value.code, err.value.field) == ("event-invalid", field)
        assert fragment in err.value.message

    @pytest.mark.parametrize("obj", [[], "x", None, 3], ids=["array", "string", "null", "number"])
    def test_not_an_object(self, obj: object) -> None:
        """Anything but a JSON object is refused."""
        with pytest.raises(SignalError) as err:
            Event.from_json(obj)
        assert err.value.code == "event-invalid"
        assert "JSON object" in err.value.message

    def test_too_many_fields(self) -> None:
        """Events are bounded in size."""
        obj = {f"f{i}": i for i in range(2000)} | {"kind": "k", "time": "2026-06-15T12:00:00Z"}
        with pytest.raises(SignalError) as err:
            Event.from_json(obj)
        assert err.value.code == "event-invalid"


class TestSignalSpec:
    def test_window_and_lifetime_accept_timedelta_duration_and_nanoseconds(self) -> None:
        """All three spellings give the same nanoseconds."""
        a = founding_spec(window=timedelta(minutes=10), lifetime=Duration(86_400 * 10**9))
        b = founding_spec(window=600 * 10**9, lifetime=timedelta(days=1))
        assert (a.window_ns, a.lifetime_ns) == (b.window_ns, b.lifetime_ns) == (
            600 * 10**9, 86_400 * 10**9)

    @pytest.mark.parametrize(
        "changes",
        [{"window": 0}, {"window": timedelta(seconds=-1)}, {"lifetime": 0}, {"threshold": 0},
         {"threshold": True}, {"window": 1.5}, {"name": "bad name"}, {"fact": "a:b"},
         {"lifetime": timedelta(days=4_000_000)}],
        ids=["window-zero", "window-negative", "lifetime-zero", "threshold-zero",
             "threshold-bool", "window-float", "name-space", "fact-colon", "lifetime-huge"],
    )
    def test_invalid_specs_are_refused(self, changes: dict[str, Any]) -> None:
        """Non-positive windows, lifetimes or thresholds and non-identifier names fail early."""
        with pytest.raises(SignalError) as err:
            founding_spec(**changes)
        assert err.value.code == "signal-spec-invalid"

    def test_predicate_must_return_a_bool(self) -> None:
        """A truthy non-bool is an error, not a match."""
        spec = founding_spec(predicate=lambda event: event["kind"])
        event = Event.from_json({"kind": "k", "time": "2026-06-15T12:00:00Z"})
        with pytest.raises(SignalError) as err:
            spec.applies(event)
        assert err.value.code == "signal-predicate-error"


def test_fact_lifetime_is_half_open() -> None:
    """`since` is inclusive, `until` exclusive."""
    fact = Fact("f", "k", Timestamp(10), Timestamp(20))
    assert [fact.holds_at(Timestamp(n)) for n in (9, 10, 19, 20)] == [False, True, True, False]
