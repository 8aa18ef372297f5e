"""Times and windows: UTC everywhere, and clear errors for nonsense."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pandas as pd
import pytest

from dwcp_diag.errors import TimeWindowError
from dwcp_diag.timewindow import TimeWindow, format_duration, parse_duration, parse_time

NOW = pd.Timestamp("2026-11-16T00:00:00Z")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("5m", 300),
        ("6h", 21600),
        ("7d", 604800),
        ("2w", 1209600),
        ("1h30m", 5400),
        ("500ms", 0.5),
        ("120", 120),
        (timedelta(hours=2), 7200),
    ],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "7 days", "h", "5x", "1h30", "-5m", "m5"])
def test_bad_durations_are_refused_with_the_value(bad):
    with pytest.raises(TimeWindowError, match="duration"):
        parse_duration(bad)


def test_format_duration_round_trips():
    for seconds in (1, 59, 60, 3600, 5400, 86400, 604800, 694861):
        assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-12T14:00:00Z",
        "2026-11-12T16:00:00+02:00",
        "2026-11-12 14:00",
        datetime(2026, 11, 12, 14, tzinfo=UTC),
        datetime(2026, 11, 12, 9, tzinfo=timezone(timedelta(hours=-5))),
        pd.Timestamp("2026-11-12T14:00"),
        1794492000,
    ],
)
def test_every_time_form_is_the_same_utc_instant(value):
    stamp = parse_time(value)
    assert stamp == pd.Timestamp("2026-11-12T14:00:00Z")
    assert str(stamp.tz) == "UTC"


def test_relative_times():
    assert parse_time("now", now=NOW) == NOW
    assert parse_time("now-6h", now=NOW) == NOW - pd.Timedelta(hours=6)
    assert parse_time("-1d", now=NOW) == NOW - pd.Timedelta(days=1)


def test_unparseable_time_names_the_value():
    with pytest.raises(TimeWindowError, match="'yesterday-ish' is not ISO-8601"):
        parse_time("yesterday-ish")


def test_window_from_duration_and_from_bounds():
    w = TimeWindow.parse(window="7d", now=NOW)
    assert (w.start, w.end) == (NOW - pd.Timedelta(days=7), NOW)
    w = TimeWindow.parse(start="2026-11-12T14:00Z", end="2026-11-12T15:00Z")
    assert w.duration_s == 3600
    assert w.label() == "2026-11-12T14:00Z..2026-11-12T15:00Z"
    assert w.shift(-3600).end == w.start


def test_start_after_end_and_absurd_windows_are_errors():
    with pytest.raises(TimeWindowError, match="is not before end"):
        TimeWindow.parse(start="2026-11-13T00:00Z", end="2026-11-12T00:00Z")
    with pytest.raises(TimeWindowError, match="must be longer than zero"):
        TimeWindow.parse(window="0s", now=NOW)
    with pytest.raises(TimeWindowError, match="longer than the 400 days"):
        TimeWindow.parse(window="5000d", now=NOW)
    with pytest.raises(TimeWindowError, match="either a window"):
        TimeWindow.parse(window="1d", start="2026-11-01T00:00Z", now=NOW)
