"""The fast RFC 3339 path agrees with the strict parser on every string.

``evaluator._fast_rfc3339`` computes epoch nanoseconds from text it has checked character
by character; the strict parser ``values.parse_timestamp`` is the definition. For any string,
either the fast path declines (None) or both accept it as the same instant; and whatever the strict
parser rejects, the fast path never turns into a time.
"""

from __future__ import annotations

import os

from hypothesis import example, given, settings
from hypothesis import strategies as st

from compliance.cel.values import parse_timestamp
from compliance.evaluator import _fast_rfc3339

EXAMPLES = int(os.environ.get("RFC3339_EXAMPLES", "500"))

DIGIT = st.sampled_from("0123456789")
# ASCII digits plus look-alikes: Arabic-Indic, full-width, superscript digits and a space.
NEAR_DIGIT = st.sampled_from(
    "0123456789" + "".join(map(chr, range(0x660, 0x66A))) + "".join(map(chr, range(0xFF10, 0xFF1A)))
    + "\u00b2\u00b3 "
)


def _digits(n: int, alphabet: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.lists(alphabet, min_size=n, max_size=n).map("".join)


@st.composite
def near_miss(draw: st.DrawFn) -> str:
    """Mostly well-formed timestamps with one or two characters bent out of shape."""
    d = NEAR_DIGIT if draw(st.integers(0, 9)) == 0 else DIGIT
    year = draw(st.sampled_from(["2026", "0001", "9999", "1970", "0000"]) | _digits(4, d))
    month = draw(st.sampled_from(["01", "06", "12", "13", "00"]) | _digits(2, d))
    day = draw(st.sampled_from(["01", "12", "28", "29", "30", "31", "32"]) | _digits(2, d))
    hour = draw(st.sampled_from(["00", "12", "23", "24"]) | _digits(2, d))
    minute = draw(st.sampled_from(["00", "10", "59", "60"]) | _digits(2, d))
    second = draw(st.sampled_from(["00", "30", "59", "60"]) | _digits(2, d))
    frac = draw(st.sampled_from(["", ".1", ".123", ".123456", ".1234567", ".123456789",
                                 ".", ".12a"]))
    zone = draw(st.sampled_from(["Z", "z", "+00:00", "-04:00", "+01:90", "+23:59", "+24:00",
                                 "-00:60", "+0100", "+01", ""])
                | st.tuples(st.sampled_from("+-"), _digits(2, d), _digits(2, d)).map(
                    lambda t: f"{t[0]}{t[1]}:{t[2]}"))
    sep = draw(st.sampled_from(["T", "T", "T", "t", " ", "_"]))
    colon = draw(st.sampled_from([":", ":", ":", ".", "-"]))
    text = f"{year}-{month}-{day}{sep}{hour}{colon}{minute}:{second}{frac}{zone}"
    if draw(st.integers(0, 4)) == 0:  # drop or duplicate one character
        i = draw(st.integers(0, len(text) - 1))
        text = text[:i] + (text[i] * 2 if draw(st.booleans()) else "") + text[i + 1:]
    return text


def strict(text: str) -> int | None:
    """Epoch nanoseconds per the strict parser, None when it rejects the text."""
    try:
        return parse_timestamp(text).nanos
    except ValueError:
        return None


def fast(text: str) -> int | str | None:
    """Epoch ns via the fast path; "declined" when it defers to the strict parser."""
    nanos = _fast_rfc3339(text)
    return "declined" if nanos is None else nanos


@settings(max_examples=EXAMPLES)
@given(near_miss() | st.text(max_size=40))
@example("2026-06-12T22:50:00+01:90")
@example("2026-06-12T12:10.00Z")
@example("\uff12026-06-12T12:10:00Z")
@example("2026-06-12T12:10:00.1234567Z")
@example("0001-01-01T00:00:00+00:01")
@example("9999-12-31T23:59:59-00:01")
@example("9999-12-31T23:59:59.999999999Z")
@example("2024-02-29T00:00:00Z")
@example("2023-02-29T00:00:00Z")
@example("1900-02-29T00:00:00Z")
@example("2000-02-29T12:00:00+05:30")
@example("2026-04-31T00:00:00Z")
@example("2026-06-12T23:59:60Z")
@example("0000-01-01T00:00:00Z")
@example("2026-06-12T12:10:00.123456789-23:59")
def test_fast_path_agrees_with_strict_parser(text: str) -> None:
    """Fast and strict agree: declined, or the same instant, or both reject."""
    got = fast(text)
    if got != "declined":
        assert got == strict(text), text


class TestExamples:
    def test_issue_offset_is_rejected_by_both(self) -> None:
        """`+01:90` is no offset: the fast path declines and the strict parser rejects."""
        assert _fast_rfc3339("2026-06-12T22:50:00+01:90") is None
        assert strict("2026-06-12T22:50:00+01:90") is None

    def test_minutes_with_fraction_is_rejected(self) -> None:
        """`12:10.00` lacks seconds."""
        assert _fast_rfc3339("2026-06-12T12:10.00Z") is None
        assert strict("2026-06-12T12:10.00Z") is None

    def test_non_ascii_digits_are_rejected(self) -> None:
        """Arabic-Indic or full-width digits are not RFC 3339 digits."""
        for text in ("\u0662\u0660\u0662\u0666-06-12T12:10:00Z", "2026-06-12T12:10:0\uff10Z"):
            assert _fast_rfc3339(text) is None
            assert strict(text) is None

    def test_calendar_errors_are_left_to_the_strict_parser(self) -> None:
        """Impossible dates, leap seconds and out-of-range instants: declined, then rejected."""
        for text in ("2023-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-06-12T23:59:60Z",
                     "0001-01-01T00:00:00+00:01", "2026-06-12T24:00:00Z"):
            assert _fast_rfc3339(text) is None, text
            assert strict(text) is None, text

    def test_common_shapes_take_the_fast_path(self) -> None:
        """Well-formed timestamps are parsed by the fast path to the strict answer."""
        for text in ("2026-06-15T10:30:00-04:00", "2026-06-15T21:21:00Z",
                     "2026-06-15T21:21:00.5Z", "2024-02-29T23:59:59.123456789+01:00",
                     "1969-12-31T23:59:59Z", "0001-01-01T00:00:00Z"):
            assert fast(text) == strict(text) is not None


@settings(max_examples=EXAMPLES)
@given(st.lists(near_miss(), min_size=2, max_size=8))
def test_cached_minutes_and_tails_combine_exactly(texts: list[str]) -> None:
    """A minute cached from one string and a tail cached from another read as one instant.

    The fast path caches the first 16 characters and the rest separately once each has
    been accepted: every pairing of the strings' heads and tails must then still agree with
    the strict parser (a rejected pairing may be declined, never turned into a time).
    """
    for text in texts:
        fast(text)  # prime both caches with whatever these strings hold
    for head in texts:
        for tail in texts:
            text = head[:16] + tail[16:]
            expected, got = strict(text), fast(text)
            assert got in ("declined", expected), text
            if expected is None:
                assert got == "declined", text
