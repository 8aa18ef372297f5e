"""Connections: ``long_running_query``, ``idle_in_transaction`` (per session of
pg_stat_activity) and ``connection_saturation`` (client connections against
``max_connections``, now and at postgres_exporter's peak over the window), and when they peak.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from dwcp_diag.analysis.database.fix_sql import sql_literal, sql_timestamptz
from dwcp_diag.analysis.database.values import (
    ThresholdSettings,
    as_text,
    first_value,
    float_column,
    float_or_nan,
    is_missing,
    short_query,
    utc_text,
    warning_or_critical,
)
from dwcp_diag.analysis.findings import Finding
from dwcp_diag.checks import check_thresholds
from dwcp_diag.frames import conform
from dwcp_diag.sources.postgres.schemas import ACTIVITY_SCHEMA
from dwcp_diag.units import human_duration

CLIENT_BACKEND = "client backend"


def client_sessions(activity: pd.DataFrame) -> pd.DataFrame:
    """The client backends of the loader's ``activity`` (background workers left out).

    >>> act = pd.DataFrame({"pid": [1, 2], "backend_type": ["client backend", "checkpointer"]})
    >>> client_sessions(act)["pid"].tolist()
    [1]
    """
    frame = conform(activity, ACTIVITY_SCHEMA)
    kind = frame["backend_type"].astype("str")
    return frame[(kind == CLIENT_BACKEND) | frame["backend_type"].isna()].reset_index(drop=True)


def connections_by(activity: pd.DataFrame, by: Iterable[str] = ("state",)) -> pd.DataFrame:
    """Client connections counted by ``by`` columns of ``activity`` (``state``,
    ``application_name``, ``client_addr``, ``usename``, ``datname``), most first; a state the
    role may not see (no pg_read_all_stats) counts as ``hidden``.

    >>> act = pd.DataFrame({"backend_type": "client backend", "state": ["idle", "idle", None],
    ...                     "application_name": ["api", "api", "cron"]})
    >>> connections_by(act, ["application_name", "state"]).values.tolist()
    [['api', 'idle', 2], ['cron', 'hidden', 1]]
    """
    keys = list(by)
    frame = client_sessions(activity)[keys].copy()
    for key in keys:
        frame[key] = frame[key].astype("str").fillna("hidden" if key == "state" else "")
    counts = frame.groupby(keys, dropna=False).size().rename("connections").reset_index()
    counts["connections"] = counts["connections"].astype("int64")
    return counts.sort_values(["connections", *keys], ascending=[False] + [True] * len(keys)
                              ).reset_index(drop=True)  # fmt: skip


SESSION_COLUMNS = [
    "pid",
    "application_name",
    "usename",
    "datname",
    "client_addr",
    "state",
    "age_s",
    "query_age_s",
    "xact_age_s",
    "wait_event_type",
    "wait_event",
    "blocked_by",
    "query",
    "query_start",
    "state_change",
]


def _sessions(activity: pd.DataFrame, state: str, age_column: str, min_age_s: float):
    frame = client_sessions(activity)
    frame = frame[frame["state"].astype("str") == state].copy()
    frame["age_s"] = float_column(frame, age_column)
    frame = frame[frame["age_s"] >= min_age_s]
    return frame.sort_values(["age_s", "pid"], ascending=[False, True])[SESSION_COLUMNS]


def long_running_queries(activity: pd.DataFrame, min_age_s: float = 60.0) -> pd.DataFrame:
    """Client sessions running one query for at least ``min_age_s`` (``age_s``), oldest first.

    >>> act = pd.DataFrame({"pid": [7], "backend_type": ["client backend"],
    ...                     "state": ["active"], "query_age_s": [95.0]})
    >>> long_running_queries(act)[["pid", "age_s"]].values.tolist()
    [[7, 95.0]]
    """
    return _sessions(activity, "active", "query_age_s", min_age_s).reset_index(drop=True)


def idle_in_transaction_sessions(activity: pd.DataFrame, min_age_s: float = 60.0) -> pd.DataFrame:
    """Client sessions idle inside an open transaction for at least ``min_age_s`` (``age_s``
    is the idle time; ``xact_age_s`` the transaction's), oldest first.

    >>> act = pd.DataFrame({"pid": [8], "backend_type": ["client backend"],
    ...     "state": ["idle in transaction"], "state_age_s": [400.0], "xact_age_s": [401.0]})
    >>> idle_in_transaction_sessions(act)[["pid", "age_s"]].values.tolist()
    [[8, 400.0]]
    """
    return _sessions(activity, "idle in transaction", "state_age_s", min_age_s).reset_index(
        drop=True
    )


def _session_findings(
    sessions: pd.DataFrame, check: str, limits: Mapping[str, float]
) -> list[Finding]:
    findings = []
    for row in sessions.itertuples(index=False):
        application = as_text(row.application_name)
        who = f"{as_text(row.usename, '?')}@{as_text(row.client_addr, 'local')}"
        if check == "long_running_query":
            what = f"has run one query for {human_duration(row.age_s)}"
            action, state, since_column = "pg_cancel_backend", "active", "query_start"
        else:
            xact = human_duration(float_or_nan(row.xact_age_s))
            what = (
                f"has sat idle in an open transaction for {human_duration(row.age_s)} "
                f"(transaction open {xact}), holding its locks and the vacuum horizon"
            )
            action, state, since_column = (
                "pg_terminate_backend",
                "idle in transaction",
                "state_change",
            )
        since = getattr(row, since_column)
        # guarded by the state and its start time: a pid reused since the report is left alone
        fix = (
            f"SELECT {action}({int(row.pid)});"
            if is_missing(since)
            else f"SELECT {action}(pid) FROM pg_stat_activity WHERE pid = {int(row.pid)} "
            f"AND state = {sql_literal(state)} AND {since_column} = {sql_timestamptz(since)};"
        )
        findings.append(
            Finding(
                check,
                warning_or_critical(row.age_s >= limits["critical_s"]),
                {"pid": str(int(row.pid)), "application": application},
                f"Session {int(row.pid)} ({application or 'no application_name'}, {who}) {what}: "
                f"{short_query(row.query, 80)}",
                float(row.age_s),
                limits["warning_s"],
                "s",
                {
                    "query": short_query(row.query),
                    "usename": as_text(row.usename),
                    "datname": as_text(row.datname),
                    "client_addr": as_text(row.client_addr),
                    "xact_age_s": float_or_nan(row.xact_age_s),
                    "wait_event": as_text(row.wait_event),
                    "blocked_by": as_text(row.blocked_by),
                    "fix_sql": fix,
                },
            )
        )
    return findings


CONNECTION_SERIES_COLUMNS = ["timestamp", "state", "connections"]


def connection_series(pg_activity_count: pd.DataFrame) -> pd.DataFrame:
    """postgres_exporter's ``pg_stat_activity_count{datname,state}`` summed over databases (and
    any other label): connections per ``state`` and ``timestamp``. Give it one server's series.

    >>> t = pd.Timestamp("2026-11-02 17:00", tz="UTC")
    >>> frame = pd.DataFrame({"datname": ["a", "b", "a"], "state": ["idle", "idle", "active"],
    ...                       "timestamp": t, "value": [3.0, 4.0, 2.0]})
    >>> connection_series(frame)[["state", "connections"]].values.tolist()
    [['active', 2.0], ['idle', 7.0]]
    """
    if pg_activity_count is None or pg_activity_count.empty:
        return pd.DataFrame(
            {"timestamp": pd.Series([], dtype="datetime64[ns, UTC]"),
             "state": pd.Series([], dtype="str"), "connections": pd.Series([], dtype="float64")}
        )  # fmt: skip
    frame = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(pg_activity_count["timestamp"], utc=True),
            "state": (
                pg_activity_count["state"].astype("str").fillna("unknown")
                if "state" in pg_activity_count.columns
                else "all"
            ),
            "connections": float_column(pg_activity_count, "value"),
        }
    )
    frame["state"] = frame["state"].replace("", "unknown")
    summed = frame.groupby(["timestamp", "state"], sort=True)["connections"].sum(min_count=1)
    return summed.reset_index()[CONNECTION_SERIES_COLUMNS]


class ConnectionPeaks(NamedTuple):
    """:func:`peak_connection_hours`, all in time zone ``tz``: ``profile`` (one row per hour of
    day: ``hour``, ``mean``, ``p95``, ``max`` connections, ``samples``), ``daily`` (one row per
    day: ``date``, ``peak_at``, ``peak_connections``, ``peak_hour``), ``peak_hour`` (the hour
    of day with the highest mean) and ``peak_window`` (``(first, last)`` hour of the run of
    hours around it still near the peak; both None without data)."""

    profile: pd.DataFrame
    daily: pd.DataFrame
    peak_hour: int | None
    peak_window: tuple[int, int] | None
    tz: str

    def window_text(self) -> str:
        """The peak window in words: ``17:00-19:00 UTC``."""
        if self.peak_window is None:
            return "unknown"
        first, last = self.peak_window
        return f"{first:02d}:00-{(last + 1) % 24:02d}:00 {self.tz}"


def _peak_window(means: np.ndarray, peak_hour: int, share: float) -> tuple[int, int]:
    """The run of hours (wrapping at midnight) around ``peak_hour`` whose mean is at least
    ``share`` of the peak hour's."""
    floor = means[peak_hour] * share
    first = last = peak_hour
    for _ in range(23):
        if not means[(last + 1) % 24] >= floor or (last + 1) % 24 == first:
            break
        last = (last + 1) % 24
    for _ in range(23):
        if not means[(first - 1) % 24] >= floor or (first - 1) % 24 == last:
            break
        first = (first - 1) % 24
    return first, last


def peak_connection_hours(
    pg_activity_count: pd.DataFrame, tz: str = "UTC", window_share: float = 0.9
) -> ConnectionPeaks:
    """When connections peak (KI-003: pool exhaustion 5-7 pm daily): the hour-of-day profile
    of total connections from ``pg_stat_activity_count``, each day's peak, the hour with the
    highest mean and the window of hours whose mean stays within ``window_share`` of it.

    >>> t = pd.date_range("2026-11-02", periods=48, freq="h", tz="UTC")
    >>> frame = pd.DataFrame({"datname": "app", "state": "active", "timestamp": t,
    ...     "value": [100.0 if ts.hour == 17 else 95.0 if ts.hour == 18 else 20.0 for ts in t]})
    >>> peaks = peak_connection_hours(frame)
    >>> peaks.peak_hour, peaks.window_text(), peaks.daily["peak_hour"].tolist()
    (17, '17:00-19:00 UTC', [17, 17])
    """
    totals = connection_series(pg_activity_count).groupby("timestamp")["connections"].sum()
    local = totals.index.tz_convert(tz) if len(totals) else pd.DatetimeIndex([], tz=tz)
    frame = pd.DataFrame({"at": local, "connections": totals.to_numpy(dtype="float64")})
    frame["hour"] = frame["at"].dt.hour
    frame["date"] = frame["at"].dt.date
    profile = (
        frame.groupby("hour")["connections"]
        .agg(mean="mean", p95=lambda s: s.quantile(0.95), max="max", samples="size")
        .reindex(range(24))
        .rename_axis("hour")
        .reset_index()
    )
    profile["samples"] = profile["samples"].fillna(0).astype("int64")
    if frame.empty:
        daily = pd.DataFrame({"date": [], "peak_at": pd.Series([], dtype=f"datetime64[ns, {tz}]"),
                              "peak_connections": [], "peak_hour": []})  # fmt: skip
        return ConnectionPeaks(profile, daily, None, None, tz)
    best = frame.loc[frame.groupby("date")["connections"].idxmax()]
    daily = pd.DataFrame(
        {
            "date": best["date"].to_numpy(),
            "peak_at": best["at"].to_numpy(),
            "peak_connections": best["connections"].to_numpy(),
            "peak_hour": best["hour"].to_numpy(dtype="int64"),
        }
    )
    daily["peak_at"] = pd.to_datetime(daily["peak_at"], utc=True).dt.tz_convert(tz)
    peak_hour = int(profile.loc[profile["mean"].idxmax(), "hour"])
    window = _peak_window(profile["mean"].to_numpy(dtype="float64"), peak_hour, window_share)
    return ConnectionPeaks(profile, daily.reset_index(drop=True), peak_hour, window, tz)


def max_and_reserved_connections(
    settings: pd.DataFrame | None, pg_max_connections: pd.DataFrame | None
) -> tuple[float, float]:
    """(max_connections, superuser_reserved_connections) from the loader's settings, else the
    latest ``pg_settings_max_connections`` sample (reserved then unknown: 0)."""
    maximum = float_or_nan(first_value(settings, "max_connections"))
    reserved = float_or_nan(first_value(settings, "superuser_reserved_connections"))
    if is_missing(maximum):
        maximum = _latest_value(pg_max_connections)
    return maximum, 0.0 if is_missing(reserved) else reserved


def activity_findings(
    activity: pd.DataFrame,
    settings: pd.DataFrame | None = None,
    thresholds: ThresholdSettings = None,
    pg_activity_count: pd.DataFrame | None = None,
    pg_max_connections: pd.DataFrame | None = None,
    database: str | None = None,
) -> list[Finding]:
    """``long_running_query`` and ``idle_in_transaction`` per session of the loader's
    ``activity`` (fix: cancel / terminate that very backend, guarded by its start time), and
    ``connection_saturation``: client connections now, and at their peak over the window
    when postgres_exporter's ``pg_stat_activity_count`` is given, against
    ``max_connections - superuser_reserved_connections`` (``settings``, else
    ``pg_settings_max_connections``). Connections count server-wide; the subject names
    ``{"database": database}`` (the report's database; ``"all"`` by default).

    >>> act = pd.DataFrame({"pid": [7], "backend_type": ["client backend"],
    ...     "state": ["idle in transaction"], "application_name": ["api"], "state_age_s": [400.0],
    ...     "state_change": [pd.Timestamp("2026-11-02 17:00", tz="UTC")]})
    >>> [(f.check, f.severity) for f in activity_findings(act)]
    [('idle_in_transaction', 'critical')]
    """
    long_limits = check_thresholds(thresholds, "long_running_query")
    idle_limits = check_thresholds(thresholds, "idle_in_transaction")
    findings = [
        *_session_findings(
            long_running_queries(activity, long_limits["warning_s"]),
            "long_running_query",
            long_limits,
        ),
        *_session_findings(
            idle_in_transaction_sessions(activity, idle_limits["warning_s"]),
            "idle_in_transaction",
            idle_limits,
        ),
    ]
    saturation = _saturation_finding(
        len(client_sessions(activity)),
        max_and_reserved_connections(settings, pg_max_connections),
        pg_activity_count,
        _latest_value(pg_max_connections),
        check_thresholds(thresholds, "connection_saturation"),
        database or "all",
    )
    return findings + ([saturation] if saturation is not None else [])


def connection_limit(
    settings: pd.DataFrame | None,
    pg_max_connections: pd.DataFrame | None,
    pg_activity_count: pd.DataFrame | None = None,
) -> float:
    """The one ``max_connections`` a report shows (server table, chart, finding): with
    postgres_exporter's connection history, its own ``pg_settings_max_connections`` (what
    those counts are measured against), else this server's setting.

    >>> ts = [pd.Timestamp("2026-11-15", tz="UTC")]
    >>> exporter = pd.DataFrame({"timestamp": ts, "value": [200.0]})
    >>> counts = pd.DataFrame({"state": ["idle"], "timestamp": ts, "value": [5.0]})
    >>> settings = pd.DataFrame({"max_connections": [30]})
    >>> connection_limit(settings, exporter, counts), connection_limit(settings, exporter)
    (200.0, 30.0)
    """
    exporter = _latest_value(pg_max_connections)
    if pg_activity_count is not None and not pg_activity_count.empty and not is_missing(exporter):
        return exporter
    return max_and_reserved_connections(settings, pg_max_connections)[0]


def _latest_value(frame: pd.DataFrame | None) -> float:
    if frame is None or frame.empty:
        return float("nan")
    values = frame.sort_values("timestamp")["value"].dropna()
    return float(values.iloc[-1]) if len(values) else float("nan")


def _saturation_finding(
    connections_now: int,
    limits_pair: tuple[float, float],
    pg_activity_count: pd.DataFrame | None,
    exporter_max_connections: float,
    limits: Mapping[str, float],
    database: str,
) -> Finding | None:
    # The count now is compared with the live server's max_connections; the exporter's
    # window peak with the exporter's own pg_settings_max_connections (the servers may differ).
    maximum, reserved = limits_pair
    evidence: dict[str, Any] = {
        "connections_now": connections_now,
        "max_connections": maximum,
        "superuser_reserved_connections": reserved,
    }
    usable = maximum - reserved
    peak, where = float(connections_now), "now"
    ratio = peak / usable if not is_missing(usable) and usable > 0 else float("nan")
    if pg_activity_count is not None and not pg_activity_count.empty:
        totals = connection_series(pg_activity_count).groupby("timestamp")["connections"].sum()
        window_max = maximum if is_missing(exporter_max_connections) else exporter_max_connections
        window_usable = window_max - reserved
        if len(totals) and not is_missing(window_usable) and window_usable > 0:
            window_ratio = float(totals.max()) / window_usable
            if is_missing(ratio) or window_ratio > ratio:
                peak_at = totals.idxmax()
                peak, where, ratio = float(totals.max()), f"at {utc_text(peak_at)}", window_ratio
                maximum, usable = window_max, window_usable
                peaks = peak_connection_hours(pg_activity_count)
                evidence.update(
                    window_peak_connections=peak,
                    window_peak_at=peak_at,
                    window_max_connections=window_max,
                    daily_peak_hour_utc=peaks.peak_hour,
                    daily_peak_window=peaks.window_text(),
                )
    if is_missing(ratio) or ratio < limits["warning_ratio"]:
        return None
    window = evidence.get("daily_peak_window")
    daily = "" if window in (None, "unknown") else f"; connections peak daily {window}"
    return Finding(
        "connection_saturation",
        warning_or_critical(ratio >= limits["critical_ratio"]),
        {"database": database},
        f"{peak:,.0f} client connections {where} used {ratio:.0%} of the "
        f"{usable:,.0f} available (max_connections {maximum:,.0f} minus {reserved:,.0f} "
        f"reserved){daily}: size the application pools or add PgBouncer before new "
        "connections fail (runbook KI-003).",
        round(ratio, 4),
        limits["warning_ratio"],
        "ratio",
        evidence,
    )
