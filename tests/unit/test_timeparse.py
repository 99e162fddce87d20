"""Request times: strict RFC 3339 to exact epoch nanoseconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from compliance.timeparse import TimeFormatError, to_epoch_nanos


class TestToEpochNanos:
    def test_utc_z(self) -> None:
        """A `Z` time is read as UTC."""
        assert to_epoch_nanos("1970-01-01T00:00:01Z") == 1_000_000_000

    def test_offset_is_applied(self) -> None:
        """An offset moves the instant: 17:21-04:00 is 21:21Z."""
        assert to_epoch_nanos("2026-06-12T17:21:00-04:00") == to_epoch_nanos("2026-06-12T21:21:00Z")

    def test_nanosecond_fraction_is_exact(self) -> None:
        """Nine fraction digits survive exactly (no float rounding)."""
        assert to_epoch_nanos("1970-01-01T00:00:00.123456789Z") == 123_456_789

    def test_aware_datetime(self) -> None:
        """An aware datetime gives the same instant as its RFC 3339 spelling."""
        moment = datetime(2026, 6, 12, 17, 21, tzinfo=timezone(timedelta(hours=-4)))
        assert to_epoch_nanos(moment) == to_epoch_nanos("2026-06-12T21:21:00Z")

    @pytest.mark.parametrize(
        "text",
        ["2026-06-12T17:21:00", "yesterday", "2026-13-01T00:00:00Z", "2026-06-12 17:21Z", ""],
    )
    def test_rejects_non_rfc3339(self, text: str) -> None:
        """Times without an offset, or not times at all, are rejected with a message."""
        with pytest.raises(TimeFormatError):
            to_epoch_nanos(text)

    def test_rejects_naive_datetime(self) -> None:
        """A naive datetime has no instant, so it is rejected."""
        with pytest.raises(TimeFormatError, match="timezone-aware"):
            to_epoch_nanos(datetime(2026, 1, 1))  # noqa: DTZ001

    def test_rejects_other_types(self) -> None:
        """A number is not a timestamp."""
        with pytest.raises(TimeFormatError):
            to_epoch_nanos(12345)

    def test_utc_datetime_round_trip(self) -> None:
        """The epoch itself is zero."""
        assert to_epoch_nanos(datetime(1970, 1, 1, tzinfo=UTC)) == 0
