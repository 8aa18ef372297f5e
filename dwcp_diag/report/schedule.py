"""Scheduled suites: ``dwcp-diag due`` renders every period that is due, once.

A suite is a list of notebooks rendered for each completed period (a UTC day, or an ISO week
starting Monday) once its ``at`` time has passed. ``due`` is safe to run from cron as often
as you like: it holds a lock (a second run finds it busy and does nothing), remembers the last
period it rendered per suite in ``reports/.schedule-state.json`` (so running twice renders
once), and catches up the periods it missed (up to ``max_catch_up``), oldest first.

A period is marked done only when every report rendered and saw its sources. One whose report
failed (``report_failed``) or could not reach a source (``source_unavailable``) is rendered
again on the next run, up to ``max_attempts`` times; the state file keeps the attempt count
and the reason (``retry``), and a period given up on (``given_up``). Later periods wait for
it. A ``no_data`` finding does not hold a period back: the source answered, with nothing.

Suites come from the config file's ``[suites.NAME]`` tables, else :data:`DEFAULT_SUITES`::

    [suites.daily]
    notebooks = ["latency", "database"]
    every = "day"        # day | week (ISO weeks, Monday 00:00 UTC)
    at = "06:00"         # UTC time of day (of the Monday, for weekly) the period becomes due
    max_catch_up = 4     # missed periods rendered in one run, at most
    max_attempts = 6     # runs that try a failed period before it is given up

>>> suite = Suite("weekly", ("memory",), "week", "06:00")
>>> [p.label for p in due_periods(suite, pd.Timestamp("2026-11-16T07:00Z"), last_end=None)]
['2026-W46']
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from dwcp_diag.config import find_config_file, read_config_file
from dwcp_diag.errors import ConfigError
from dwcp_diag.sources.snapshot import atomic_write_bytes

if TYPE_CHECKING:
    from dwcp_diag.report.render import RenderResult

STATE_FILE = ".schedule-state.json"
_COUNTS = ("max_catch_up", "max_attempts")
LOCK_FILE = ".schedule.lock"


@dataclass(frozen=True)
class Suite:
    name: str
    notebooks: tuple[str, ...]
    every: str = "day"
    at: str = "06:00"
    max_catch_up: int = 4
    max_attempts: int = 6

    def __post_init__(self) -> None:
        if self.every not in ("day", "week"):
            raise ConfigError(f"suite {self.name!r}: every = {self.every!r}; use 'day' or 'week'")
        try:
            hours, minutes = (int(part) for part in self.at.split(":"))
            valid = 0 <= hours < 24 and 0 <= minutes < 60
        except ValueError:
            valid = False
        if not valid:
            raise ConfigError(f"suite {self.name!r}: at = {self.at!r}; use HH:MM (UTC)")
        if not self.notebooks:
            raise ConfigError(f"suite {self.name!r} lists no notebooks")

    @property
    def at_offset(self) -> pd.Timedelta:
        hours, minutes = (int(part) for part in self.at.split(":"))
        return pd.Timedelta(hours=hours, minutes=minutes)


DEFAULT_SUITES = {
    "daily": Suite("daily", ("latency", "database", "platform"), "day", "06:00"),
    "weekly": Suite("weekly", ("memory", "cost", "capacity"), "week", "06:00"),
}


@dataclass(frozen=True)
class Period:
    start: pd.Timestamp
    end: pd.Timestamp
    label: str


def _period_containing(every: str, moment: pd.Timestamp) -> Period:
    day = moment.floor("D")
    if every == "day":
        return Period(day, day + pd.Timedelta(days=1), day.strftime("%Y-%m-%d"))
    monday = day - pd.Timedelta(days=day.weekday())
    year, week, _ = monday.isocalendar()
    return Period(monday, monday + pd.Timedelta(days=7), f"{year}-W{week:02d}")


def due_periods(suite: Suite, now: pd.Timestamp, last_end: pd.Timestamp | None) -> list[Period]:
    """Completed periods due at ``now`` and not yet rendered (ended after ``last_end``)."""
    latest = _period_containing(suite.every, now)
    if now < latest.start + suite.at_offset:  # this period's predecessor is not due yet
        latest = _period_containing(suite.every, latest.start - pd.Timedelta(seconds=1))
    periods: list[Period] = []
    candidate = _period_containing(suite.every, latest.start - pd.Timedelta(seconds=1))
    while len(periods) < suite.max_catch_up:
        if last_end is not None and candidate.end <= last_end:
            break
        periods.append(candidate)
        if last_end is None:  # first run: only the latest completed period
            break
        candidate = _period_containing(suite.every, candidate.start - pd.Timedelta(seconds=1))
    return list(reversed(periods))


def load_suites(
    path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Suite]:
    """Suites from the config file's ``[suites.NAME]`` tables (file found as for profiles)."""
    file_path = find_config_file(path, environ)
    tables = read_config_file(file_path).get("suites", {}) if file_path else {}
    if not tables:
        return dict(DEFAULT_SUITES)
    suites = {}
    for name, table in tables.items():
        unknown = set(table) - {"notebooks", "every", "at", "max_catch_up", "max_attempts"}
        if unknown:
            raise ConfigError(
                f"suite {name!r}: unknown key(s) {sorted(unknown)}; "
                "valid: notebooks, every, at, max_catch_up, max_attempts"
            )
        notebooks = table.get("notebooks", [])
        if not isinstance(notebooks, list) or not all(isinstance(n, str) for n in notebooks):
            raise ConfigError(f'suite {name!r}: notebooks must be a list, e.g. ["latency"]')
        counts = {key: table.get(key, 4 if key == "max_catch_up" else 6) for key in _COUNTS}
        for key, count in counts.items():
            if not isinstance(count, int) or isinstance(count, bool) or count < 1:
                raise ConfigError(f"suite {name!r}: {key} must be a whole number >= 1")
        suites[name] = Suite(
            name,
            tuple(notebooks),
            table.get("every", "day"),
            table.get("at", "06:00"),
            **counts,
        )
    return suites


class ScheduleState:
    """The end of the last period rendered per suite, stored next to the reports."""

    def __init__(self, root: Path) -> None:
        self.path = root / STATE_FILE
        self.data: dict[str, Any] = {}
        if self.path.is_file():
            try:
                self.data = json.loads(self.path.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise ConfigError(
                    f"schedule state {self.path} is corrupt ({exc}); fix or delete it "
                    "(deleting renders the latest period of every suite again)"
                ) from None

    def last_end(self, suite: str) -> pd.Timestamp | None:
        value = self.data.get(suite, {}).get("last_end")
        return pd.Timestamp(value) if value else None

    def resume_after(self, suite: str) -> pd.Timestamp | None:
        """Where :func:`due_periods` starts: after the last period done, or, before any was
        done, just before the period being retried (so a failed first run is not forgotten)."""
        last_end = self.last_end(suite)
        retry = self.data.get(suite, {}).get("retry")
        if last_end is None and retry:
            return pd.Timestamp(retry["start"])
        return last_end

    def mark_done(self, suite: str, period: Period) -> None:
        entry = self.data.setdefault(suite, {})
        entry.pop("retry", None)
        entry.update(
            last_end=period.end.isoformat(),
            last_label=period.label,
            rendered_at=pd.Timestamp.now(tz="UTC").isoformat(),
        )
        self._save()

    def record_failure(self, suite: Suite, period: Period, reason: str) -> tuple[int, bool]:
        """Count a failed attempt at ``period``: ``(attempts, True)`` while it will be retried,
        ``(attempts, False)`` once ``max_attempts`` is reached (then it is marked done, so
        later periods go on, and listed under ``given_up`` with the reason)."""
        entry = self.data.setdefault(suite.name, {})
        retry = entry.get("retry") or {}
        attempts = (retry.get("attempts", 0) if retry.get("label") == period.label else 0) + 1
        record = {
            "label": period.label,
            "start": period.start.isoformat(),
            "attempts": attempts,
            "reason": reason,
            "at": pd.Timestamp.now(tz="UTC").isoformat(),
        }
        if attempts < suite.max_attempts:
            entry["retry"] = record
            self._save()
            return attempts, True
        entry["given_up"] = [*entry.get("given_up", []), record][-20:]
        self.mark_done(suite.name, period)
        return attempts, False

    def _save(self) -> None:
        atomic_write_bytes(self.path, json.dumps(self.data, indent=1, sort_keys=True).encode())


def retry_reason(results: Sequence[RenderResult]) -> str | None:
    """Why a period's reports must be rendered again (None: the period is done): the first
    failed report, else the first source a report could not reach."""
    for result in results:
        if not result.ok:
            return result.error or f"{result.name} failed"
    for result in results:
        for finding in result.findings:
            if finding.get("check") == "source_unavailable":
                return f"{result.name}: {finding.get('summary', 'a source was unavailable')}"
    return None


@contextmanager
def schedule_lock(root: Path) -> Iterator[bool]:
    """Yield True while holding the schedule lock, False if another run holds it."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / LOCK_FILE, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
