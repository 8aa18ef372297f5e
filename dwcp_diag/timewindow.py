"""Times, durations and windows: everything in UTC.

Accepted times: ``"now"``, ISO-8601 strings (``"2026-11-12T14:00:00Z"``; an explicit offset is
converted to UTC; a string without offset is taken as UTC), ``datetime`` and
``pandas.Timestamp`` (naive ones are taken as UTC), and relative strings ``"-6h"``/``"now-6h"``.
Durations: Prometheus style ``"90s"``, ``"5m"``, ``"6h"``, ``"7d"``, ``"2w"``, ``"1h30m"``,
plain seconds, ``timedelta``.

>>> w = TimeWindow.parse(window="7d", end="2026-11-16T00:00:00Z")
>>> w.start.isoformat(), w.duration_s
('2026-11-09T00:00:00+00:00', 604800.0)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from dwcp_diag.errors import TimeWindowError

TimeLike = str | datetime | pd.Timestamp | float | int
DurationLike = str | timedelta | pd.Timedelta | float | int

_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
# A window longer than this is almost certainly a typo (e.g. "7000d"); Prometheus keeps weeks.
MAX_WINDOW_S = 400 * 86400


def parse_duration(value: DurationLike) -> float:
    """Return a duration in seconds.

    >>> parse_duration("1h30m"), parse_duration("7d"), parse_duration(90)
    (5400.0, 604800.0, 90.0)
    """
    if isinstance(value, pd.Timedelta | timedelta):
        return float(pd.Timedelta(value).total_seconds())
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str):
        raise TimeWindowError(
            f"duration {value!r}: expected a string like '7d', seconds or a timedelta"
        )
    text = value.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise TimeWindowError(
            f"duration {value!r} is not understood: use e.g. '90s', '5m', '6h', '7d', '2w', '1h30m'"
        )
    return total


def format_duration(seconds: float) -> str:
    """Format seconds as a compact Prometheus duration.

    >>> format_duration(5400), format_duration(604800), format_duration(0.5)
    ('1h30m', '1w', '500ms')
    """
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    parts, rest = [], round(seconds)
    for unit in ("w", "d", "h", "m", "s"):
        size = int(_UNIT_SECONDS[unit])
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(parts) or "0s"


def parse_time(value: TimeLike, now: pd.Timestamp | None = None) -> pd.Timestamp:
    """Return a UTC ``pandas.Timestamp``.

    ``now`` anchors ``"now"`` and relative times (``"-6h"``, ``"now-6h"``); it defaults to the
    wall clock.

    >>> parse_time("2026-11-12T16:00:00+02:00").isoformat()
    '2026-11-12T14:00:00+00:00'
    >>> parse_time("now-1h", now=pd.Timestamp("2026-11-16", tz="UTC")).isoformat()
    '2026-11-15T23:00:00+00:00'
    """
    anchor = now if now is not None else pd.Timestamp.now(tz="UTC")
    if isinstance(value, str):
        text = value.strip()
        relative = re.fullmatch(r"(?:now)?\s*([+-])\s*(\S+)", text, flags=re.IGNORECASE)
        if text.lower() == "now":
            return anchor
        if relative:
            seconds = parse_duration(relative.group(2))
            sign = -1 if relative.group(1) == "-" else 1
            return anchor + pd.Timedelta(seconds=sign * seconds)
        try:
            stamp = pd.Timestamp(text)
        except (ValueError, TypeError) as exc:
            raise TimeWindowError(
                f"time {value!r} is not ISO-8601 (e.g. '2026-11-12T14:00:00Z') nor 'now-6h'"
            ) from exc
    elif isinstance(value, bool):
        raise TimeWindowError(f"time {value!r}: expected an ISO-8601 string or a datetime")
    elif isinstance(value, int | float):
        stamp = pd.Timestamp(value, unit="s")
    elif isinstance(value, datetime | pd.Timestamp):
        stamp = pd.Timestamp(value)
    else:
        raise TimeWindowError(f"time {value!r}: expected an ISO-8601 string or a datetime")
    if pd.isna(stamp):
        raise TimeWindowError(f"time {value!r} is not a time")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


@dataclass(frozen=True)
class TimeWindow:
    """A closed UTC time interval ``[start, end]``.

    >>> TimeWindow.parse(start="2026-11-12T14:00Z", end="2026-11-12T15:00Z").label()
    '2026-11-12T14:00Z..2026-11-12T15:00Z'
    """

    start: pd.Timestamp
    end: pd.Timestamp

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise TimeWindowError(
                f"window start {self.start.isoformat()} is not before end {self.end.isoformat()}"
            )
        if self.duration_s > MAX_WINDOW_S:
            raise TimeWindowError(
                f"window of {format_duration(self.duration_s)} is longer than the "
                f"{MAX_WINDOW_S // 86400} days dwcp-diag accepts; check --start/--window"
            )

    @classmethod
    def parse(
        cls,
        window: DurationLike | None = None,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        now: pd.Timestamp | None = None,
    ) -> TimeWindow:
        """Build a window from ``window`` (a duration ending at ``end``) or ``start``/``end``.

        ``end`` defaults to ``now``. Giving all three is an error unless they agree.
        """
        end_ts = parse_time(end if end is not None else "now", now=now)
        if window is not None and start is not None:
            raise TimeWindowError("give either a window (e.g. '7d') or a start time, not both")
        if start is not None:
            return cls(parse_time(start, now=now), end_ts)
        seconds = parse_duration(window if window is not None else "24h")
        if seconds <= 0:
            raise TimeWindowError(f"window {window!r} must be longer than zero")
        return cls(end_ts - pd.Timedelta(seconds=seconds), end_ts)

    @property
    def duration_s(self) -> float:
        return float((self.end - self.start).total_seconds())

    def shift(self, seconds: float) -> TimeWindow:
        """The same-length window moved by ``seconds`` (negative: into the past)."""
        delta = pd.Timedelta(seconds=seconds)
        return TimeWindow(self.start + delta, self.end + delta)

    def label(self) -> str:
        """Compact human label, minute precision."""
        fmt = "%Y-%m-%dT%H:%MZ"
        return f"{self.start.strftime(fmt)}..{self.end.strftime(fmt)}"
