"""Slow queries (``slow_query``): pg_stat_statements ranked, over a window or since its reset.

The loader's ``slow_queries`` frame holds counters since pg_stat_statements was reset;
:func:`slow_queries_delta` subtracts an earlier capture to get a window's counters, and
:func:`statement_stats` sums a statement's rows (roles, nesting levels) into one.
"""

from __future__ import annotations

import pandas as pd

from dwcp_diag.analysis.database.values import (
    ThresholdSettings,
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
from dwcp_diag.sources.postgres.schemas import SLOW_QUERIES_DELTA_SCHEMA, SLOW_QUERIES_SCHEMA

_DELTA_KEY = ["userid", "dbid", "queryid", "toplevel_key"]
_DELTA_COUNTERS = ["calls", "total_exec_time_ms", "rows", "shared_blks_hit", "shared_blks_read"]


def slow_queries_delta(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """What pg_stat_statements counted between two :meth:`PostgresLoader.slow_queries` captures.

    Take both captures with ``limit=None`` (every statement), e.g. one recorded a week ago and
    one now, to rank "the slowest queries of the last 7 days". Per statement (key: userid,
    dbid, queryid, toplevel) ``status`` says how its numbers were obtained:

    - ``continued``: in both captures; counters are after - before.
    - ``restarted``: its counters went down, its ``stats_since`` changed (PG17) or all
      statistics were reset (``stats_reset_at`` moved, PG14+) in between: counters are the
      after values, i.e. since that restart. (On PG13 only counters going down show a reset.)
    - ``new``: only in the after capture (first run, or evicted and back): after values.
    - ``gone``: only in the before capture (evicted or reset away): counters NA.

    Rows without a queryid (other roles' statements, hidden without pg_read_all_stats) cannot
    be matched and are left out, as are continued statements not called in between.
    ``max_exec_time_ms`` is known for the interval only when the entry started within it.
    ``share_of_total_time`` is the part of the interval's execution time (0..1).

    >>> cols = ["userid", "dbid", "queryid", "toplevel", "query", "calls", "total_exec_time_ms"]
    >>> t0, t1 = pd.Timestamp("2026-11-09", tz="UTC"), pd.Timestamp("2026-11-16", tz="UTC")
    >>> b = pd.DataFrame([[10, 5, 1, True, "q1", 100, 500.0]], columns=cols).assign(captured_at=t0)
    >>> a = pd.DataFrame([[10, 5, 1, True, "q1", 300, 2500.0], [10, 5, 2, True, "q2", 10, 5.0]],
    ...                  columns=cols).assign(captured_at=t1)
    >>> slow_queries_delta(b, a)[["query", "status", "calls", "mean_exec_time_ms"]].values.tolist()
    [['q1', 'continued', 200, 10.0], ['q2', 'new', 10, 0.5]]
    """
    before = conform(before, SLOW_QUERIES_SCHEMA)
    after = conform(after, SLOW_QUERIES_SCHEMA)
    start, end = before["captured_at"].max(), after["captured_at"].max()
    reset_before, reset_after = before["stats_reset_at"].max(), after["stats_reset_at"].max()
    whole_reset = pd.notna(reset_after) and (pd.isna(reset_before) or reset_after > reset_before)
    if whole_reset and pd.notna(start):
        start = max(start, reset_after)
    merged = _match_statements(before, after)
    out = _delta_counters(merged, _delta_status(merged, whole_reset))
    out["interval_start"] = start
    out["interval_end"] = end
    out["interval_s"] = (end - start).total_seconds() if pd.notna(start) and pd.notna(end) else None
    out = out.sort_values(
        ["total_exec_time_ms", "queryid"], ascending=[False, True], na_position="last"
    )
    return conform(out.reset_index(drop=True), SLOW_QUERIES_DELTA_SCHEMA)


def _match_statements(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Outer join of two captures on the statement key; before's columns end in ``_before``."""

    def keyed(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame[frame["queryid"].notna()].copy()
        frame["toplevel_key"] = frame["toplevel"].fillna(True).astype(bool)  # NA before PG14
        return frame

    kept = [*_DELTA_KEY, *_DELTA_COUNTERS, "stats_since", "role_name", "dbname", "query"]
    return keyed(after).merge(
        keyed(before)[[*kept, "toplevel"]],
        on=_DELTA_KEY,
        how="outer",
        suffixes=("", "_before"),
        indicator=True,
    )


def _delta_status(merged: pd.DataFrame, whole_reset: bool) -> pd.Series:
    """continued / restarted / new / gone per matched statement (see slow_queries_delta)."""
    since_moved = (
        merged["stats_since"].notna()
        & merged["stats_since_before"].notna()
        & (merged["stats_since"] != merged["stats_since_before"])
    )
    went_down = merged["calls"].astype("float64") < merged["calls_before"].astype("float64")
    status = pd.Series("continued", index=merged.index, dtype="str")
    status[merged["_merge"] == "left_only"] = "new"
    status[merged["_merge"] == "right_only"] = "gone"
    status[(merged["_merge"] == "both") & (whole_reset | since_moved | went_down)] = "restarted"
    return status


def _delta_counters(merged: pd.DataFrame, status: pd.Series) -> pd.DataFrame:
    """Counters over the interval and the ratios derived from them; drops idle statements."""
    out = merged[["userid", "dbid", "queryid"]].copy()
    for column in ["toplevel", "role_name", "dbname", "query"]:
        out[column] = merged[column].combine_first(merged[f"{column}_before"])
    out["status"] = status
    continued = status == "continued"
    for column in _DELTA_COUNTERS:
        now = merged[column].astype("float64")
        out[column] = now.where(~continued, now - merged[f"{column}_before"].astype("float64"))
        out.loc[status == "gone", column] = float("nan")
    out["mean_exec_time_ms"] = out["total_exec_time_ms"] / out["calls"].where(out["calls"] > 0)
    out["max_exec_time_ms"] = merged["max_exec_time_ms"].where(status.isin(["new", "restarted"]))
    touched = out["shared_blks_hit"] + out["shared_blks_read"]
    out["cache_hit_ratio"] = out["shared_blks_hit"] / touched.where(touched > 0)
    total = out["total_exec_time_ms"].sum()
    out["share_of_total_time"] = out["total_exec_time_ms"] / total if total > 0 else float("nan")
    return out[~(continued & (out["calls"] == 0))]


STATEMENT_COLUMNS = [
    "queryid",
    "query",
    "role_name",
    "calls",
    "total_exec_time_ms",
    "mean_exec_time_ms",
    "max_exec_time_ms",
    "rows",
    "rows_per_call",
    "shared_blks_hit",
    "shared_blks_read",
    "cache_hit_ratio",
    "share_of_total_time",
]


def statement_stats(slow_queries: pd.DataFrame) -> pd.DataFrame:
    """One row per statement (``queryid``), heaviest total time first.

    Takes :meth:`PostgresLoader.slow_queries` (counters since the reset) or its
    :func:`slow_queries_delta` (counters over a window; ``gone`` rows are dropped). Rows of one
    queryid (several roles, top-level and nested) are summed; ``share_of_total_time`` is the
    statement's part (0..1) of all execution time in scope. Statements other roles ran, hidden
    without pg_read_all_stats (no queryid), are left out.

    >>> frame = pd.DataFrame({"queryid": [1, 1, 2], "query": ["q1", "q1", "q2"],
    ...     "calls": [10, 30, 5], "total_exec_time_ms": [100.0, 300.0, 600.0],
    ...     "share_of_total_time": [0.1, 0.3, 0.6]})
    >>> statement_stats(frame)[["queryid", "calls", "mean_exec_time_ms"]].values.tolist()
    [[2, 5, 120.0], [1, 40, 10.0]]
    """
    frame = conform(slow_queries, SLOW_QUERIES_SCHEMA, keep_extra=True)
    if "status" in frame.columns:
        frame = frame[frame["status"].astype("str") != "gone"]
    frame = frame[frame["queryid"].notna()].copy()
    numeric = ["calls", "total_exec_time_ms", "rows", "shared_blks_hit", "shared_blks_read",
               "share_of_total_time", "max_exec_time_ms"]  # fmt: skip
    for column in numeric:
        frame[column] = float_column(frame, column)
    grouped = frame.groupby("queryid", sort=False)
    out = grouped.agg(
        query=("query", "first"),
        role_name=("role_name", lambda s: ", ".join(sorted(set(s.dropna().astype(str))))),
        calls=("calls", "sum"),
        total_exec_time_ms=("total_exec_time_ms", "sum"),
        max_exec_time_ms=("max_exec_time_ms", "max"),
        rows=("rows", "sum"),
        shared_blks_hit=("shared_blks_hit", "sum"),
        shared_blks_read=("shared_blks_read", "sum"),
        share_of_total_time=("share_of_total_time", lambda s: s.sum(min_count=1)),
    ).reset_index()
    calls = out["calls"].where(out["calls"] > 0)
    out["mean_exec_time_ms"] = out["total_exec_time_ms"] / calls
    out["rows_per_call"] = out["rows"] / calls
    touched = out["shared_blks_hit"] + out["shared_blks_read"]
    out["cache_hit_ratio"] = out["shared_blks_hit"] / touched.where(touched > 0)
    out["calls"] = out["calls"].round().astype("Int64")
    out["rows"] = out["rows"].round().astype("Int64")
    out = out.sort_values(["total_exec_time_ms", "queryid"], ascending=[False, True])
    return out[STATEMENT_COLUMNS].reset_index(drop=True)


def top_statements(
    stats: pd.DataFrame, by: str = "total_exec_time_ms", limit: int = 15, min_calls: int = 1
) -> pd.DataFrame:
    """The ``limit`` heaviest rows of :func:`statement_stats` by ``by`` (total or mean time,
    calls...), statements called fewer than ``min_calls`` times left out.

    >>> stats = pd.DataFrame({"queryid": [1, 2], "calls": [1, 500],
    ...                       "mean_exec_time_ms": [900.0, 30.0]})
    >>> top_statements(stats, "mean_exec_time_ms", min_calls=100)["queryid"].tolist()
    [2]
    """
    kept = stats[float_column(stats, "calls") >= min_calls]
    return (
        kept.sort_values([by, "queryid"], ascending=[False, True])
        .head(limit)
        .reset_index(drop=True)
    )


def slow_query_basis(slow_queries: pd.DataFrame) -> str:
    """What period a statements frame's counters cover, in words, for the report.

    >>> t = pd.Timestamp("2026-11-22 10:00", tz="UTC")
    >>> slow_query_basis(pd.DataFrame({"stats_reset_at": [t], "queryid": [1]}))
    'since pg_stat_statements was reset at 2026-11-22 10:00 UTC (no earlier capture to subtract)'
    """
    if "interval_start" in slow_queries.columns:
        start, end = (
            first_value(slow_queries, "interval_start"),
            first_value(slow_queries, "interval_end"),
        )
        return (
            f"between {utc_text(start)} and {utc_text(end)} (the difference of two "
            "pg_stat_statements captures; restarted entries count since their restart)"
        )
    reset = slow_queries["stats_reset_at"].max() if "stats_reset_at" in slow_queries else None
    since = slow_queries["stats_since"].min() if "stats_since" in slow_queries else None
    if not is_missing(reset):
        return (
            f"since pg_stat_statements was reset at {utc_text(reset)} "
            "(no earlier capture to subtract)"
        )
    if not is_missing(since):
        return f"since {utc_text(since)} (the oldest entry's stats_since; no earlier capture)"
    return (
        "since pg_stat_statements was last reset (its time is not recorded before "
        "PostgreSQL 14; no earlier capture to subtract)"
    )


def windowed_statements(
    slow_queries: pd.DataFrame, before: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, str]:
    """The statements frame to rank, and :func:`slow_query_basis` for it: the delta between
    an earlier capture ``before`` (the window's start) and ``slow_queries`` when there is one,
    else the counters since the last reset.

    >>> frame, basis = windowed_statements(pd.DataFrame({"queryid": [1]}))
    >>> basis.startswith("since pg_stat_statements was last reset")
    True
    """
    if before is not None and not before.empty:
        frame = slow_queries_delta(before, slow_queries)
    else:
        frame = slow_queries
    return frame, slow_query_basis(frame)


def slow_query_findings(
    slow_queries: pd.DataFrame, thresholds: ThresholdSettings = None, basis: str | None = None
) -> list[Finding]:
    """``slow_query``: statements averaging at least ``mean_ms`` over at least ``calls`` calls
    (PgHero's rule), critical from ``critical_mean_ms``. Takes the loader's ``slow_queries``
    or its delta; ``basis`` (:func:`slow_query_basis`) goes into the evidence.

    >>> frame = pd.DataFrame({"queryid": [42], "query": ["SELECT 1"], "calls": [150],
    ...                       "total_exec_time_ms": [4500.0], "share_of_total_time": [0.8]})
    >>> [(f.subject, f.value, f.severity) for f in slow_query_findings(frame)]
    [({'queryid': '42'}, 30.0, 'warning')]
    """
    limits = check_thresholds(thresholds, "slow_query")
    basis = basis or slow_query_basis(slow_queries)
    stats = statement_stats(slow_queries)
    slow = stats[
        (float_column(stats, "mean_exec_time_ms") >= limits["mean_ms"])
        & (float_column(stats, "calls") >= limits["calls"])
    ]
    findings = []
    for row in slow.itertuples(index=False):
        share = float_or_nan(row.share_of_total_time)
        share_text = "" if is_missing(share) else f", {share:.0%} of all execution time"
        findings.append(
            Finding(
                "slow_query",
                warning_or_critical(row.mean_exec_time_ms >= limits["critical_mean_ms"]),
                {"queryid": str(row.queryid)},
                f"Statement {row.queryid} averages {row.mean_exec_time_ms:,.1f} ms over "
                f"{int(row.calls):,} calls{share_text} ({basis.split(' (')[0]}): "
                f"{short_query(row.query, 80)}",
                float(row.mean_exec_time_ms),
                limits["mean_ms"],
                "ms",
                {
                    "query": short_query(row.query),
                    "calls": int(row.calls),
                    "total_exec_time_ms": float(row.total_exec_time_ms),
                    "max_exec_time_ms": float_or_nan(row.max_exec_time_ms),
                    "share_of_total_time": share,
                    "rows_per_call": float_or_nan(row.rows_per_call),
                    "cache_hit_ratio": float_or_nan(row.cache_hit_ratio),
                    "role_name": row.role_name,
                    "basis": basis,
                    "min_calls": limits["calls"],
                },
            )
        )
    return findings
