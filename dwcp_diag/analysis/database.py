"""Database health: PostgreSQL findings, tables and fix-it SQL from the loader's frames.

Pure functions: the frames of :class:`dwcp_diag.sources.postgres.PostgresLoader` (their columns
are the loader's ``*_SCHEMA`` dicts) and postgres_exporter series in, frames, :class:`Finding`
lists and SQL text out; nothing here connects to anything or runs the SQL it writes.

=============================== ================================== ============================
check (DESIGN.md)               function                           loader frame(s)
=============================== ================================== ============================
slow_query                      :func:`slow_query_findings`        slow_queries (or its delta)
table_bloat, index_bloat        :func:`bloat_findings`             bloat
missing_index                   :func:`missing_index_findings`     tables (+ slow_queries,
                                                                   indexes: the column)
unused_index                    :func:`unused_index_findings`      indexes (+ server)
duplicate_index                 :func:`duplicate_index_findings`   duplicate_indexes (+ indexes)
vacuum_lag                      :func:`vacuum_lag_findings`        tables (+ settings)
long_running_query,             :func:`activity_findings`          activity, settings (+
idle_in_transaction,                                               pg_stat_activity_count and
connection_saturation                                              pg_settings_max_connections)
xid_wraparound_risk             :func:`wraparound_findings`        wraparound
sequence_exhaustion             :func:`sequence_findings`          sequences
low_cache_hit_ratio             :func:`cache_hit_findings`         cache_hit
stats_unavailable               :func:`stats_unavailable_findings` availability (+ errors)
=============================== ================================== ============================

:func:`database_report` runs them all on a dict of frames keyed as in :data:`LOADER_CALLS`.
Thresholds live in :data:`DATABASE_THRESHOLDS` (defaults from PgHero, check_postgres and the
runbook; :func:`thresholds_markdown` prints them) and are overridden by a profile's
``[thresholds.CHECK]`` tables. Where a fix applies, a finding's ``evidence["fix_sql"]`` holds
it: one statement per line, each to be run on its own by a human (VACUUM, CONCURRENTLY and
ALTER SYSTEM refuse to run inside a transaction block), identifiers always double-quoted.

>>> tables = pd.DataFrame({"schemaname": ["public"], "relname": ["events"],
...     "seq_scan": [120], "seq_tup_read": [36_000_000], "idx_scan": [20],
...     "n_live_tup": [300_000]})
>>> statements = pd.DataFrame({"queryid": [7], "calls": [100], "total_exec_time_ms": [2500.0],
...     "query": ["SELECT count(*) FROM events WHERE account_id = $1"]})
>>> [f.evidence["fix_sql"] for f in missing_index_findings(tables, statements)]
['CREATE INDEX CONCURRENTLY ON "public"."events" ("account_id");']
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from dwcp_diag.analysis.findings import Finding, Findings, merge_overlapping, source_unavailable
from dwcp_diag.config import Profile
from dwcp_diag.errors import ConfigError, QueryTimeout, SourceUnavailable, StatsUnavailable
from dwcp_diag.frames import conform
from dwcp_diag.sources.postgres import (
    ACTIVITY_SCHEMA,
    AVAILABILITY_SCHEMA,
    BLOAT_SCHEMA,
    CACHE_HIT_SCHEMA,
    DUPLICATE_INDEXES_SCHEMA,
    ESTIMATE_DETAIL,
    INDEXES_SCHEMA,
    SEQUENCES_SCHEMA,
    SERVER_SCHEMA,
    SETTINGS_SCHEMA,
    SLOW_QUERIES_SCHEMA,
    TABLES_SCHEMA,
    WRAPAROUND_SCHEMA,
    find_unused_indexes,
    slow_queries_delta,
)
from dwcp_diag.units import human_bytes, human_duration

MIB, GIB = 2**20, 2**30
HOUR_S, DAY_S = 3600.0, 86400.0
XID_WRAP = 2**31  # transaction IDs wrap around 2^31 after the oldest unfrozen one
XID_STOP_MARGIN = 3_000_000  # PostgreSQL 14+ refuses new XIDs this close to wraparound
MAX_QUERY_CHARS_IN_EVIDENCE = 500
CLIENT_BACKEND = "client backend"
_TIME_FORMAT = "%Y-%m-%d %H:%M UTC"


# --------------------------------------------------------------------------- thresholds


@dataclass(frozen=True)
class ThresholdDefault:
    """A threshold's default ``value`` (in ``unit``), what it means and where it comes from."""

    value: float
    unit: str
    meaning: str
    source: str


_T = ThresholdDefault
DATABASE_THRESHOLDS: dict[str, dict[str, ThresholdDefault]] = {
    "slow_query": {
        "mean_ms": _T(20, "ms", "mean execution time at least this", "PgHero slow_query_ms"),
        "calls": _T(100, "calls", "and called at least this often", "PgHero slow_query_calls"),
        "critical_mean_ms": _T(
            200, "ms", "critical from this mean: one call spends the API's p95 budget",
            "runbook SLA: p95 < 200 ms",
        ),
    },
    "table_bloat": {
        "min_bytes": _T(10 * MIB, "bytes", "estimated bloat at least this", "dwcp-diag"),
        "min_ratio": _T(
            0.3, "ratio", "and at least this share of the table (estimates count padding)",
            "dwcp-diag",
        ),
        "critical_bytes": _T(5 * GIB, "bytes", "critical from this bloat", "check_postgres bloat"),
    },
    "index_bloat": {
        "min_bytes": _T(100 * MIB, "bytes", "estimated bloat at least this",
                        "PgHero index_bloat_bytes"),
        "min_ratio": _T(0.3, "ratio", "and at least this share of the index", "dwcp-diag"),
        "critical_bytes": _T(5 * GIB, "bytes", "critical from this bloat", "check_postgres bloat"),
    },
    "missing_index": {
        "min_rows": _T(10_000, "rows", "tables with at least this many live rows",
                       "PgHero missing_indexes"),
        "max_index_scan_share": _T(0.95, "ratio", "and fewer of their scans using an index",
                                   "PgHero missing_indexes"),
        "min_seq_scans": _T(100, "scans", "and at least this many sequential scans", "dwcp-diag"),
        "min_rows_per_seq_scan": _T(10_000, "rows", "each reading this many rows on average",
                                    "dwcp-diag"),
    },
    "unused_index": {
        "max_scans": _T(50, "scans", "scanned at most this often since the stats reset",
                        "PgHero unused_indexes"),
        "min_stats_age_days": _T(7, "days", "younger statistics make findings info only",
                                 "dwcp-diag"),
    },
    "duplicate_index": {},
    "vacuum_lag": {
        "min_dead_tup": _T(1000, "tuples", "dead tuples at least this (and past the autovacuum "
                           "trigger)", "runbook Tip 3: n_dead_tup > 1000"),
        "trigger_factor": _T(2.0, "ratio", "lagging when dead tuples reach this many triggers",
                             "dwcp-diag"),
        "warning_age_s": _T(DAY_S, "s", "or the last (auto)vacuum is older than this",
                            "check_postgres last_vacuum"),
        "critical_age_s": _T(2 * DAY_S, "s", "critical when the last (auto)vacuum is older",
                             "check_postgres last_vacuum"),
    },
    "long_running_query": {
        "warning_s": _T(60, "s", "active query running at least this long",
                        "PgHero long_running_query_sec"),
        "critical_s": _T(300, "s", "critical from this age", "runbook Problem 3: 5 minutes"),
    },
    "idle_in_transaction": {
        "warning_s": _T(60, "s", "idle inside an open transaction at least this long",
                        "PgHero long_running_query_sec"),
        "critical_s": _T(300, "s", "critical from this age", "runbook Problem 3: 5 minutes"),
    },
    "connection_saturation": {
        "warning_ratio": _T(0.9, "ratio", "client connections / (max_connections - reserved)",
                            "check_postgres backends"),
        "critical_ratio": _T(0.95, "ratio", "critical from this share", "check_postgres backends"),
    },
    "xid_wraparound_risk": {
        "warning_xid_age": _T(1.3e9, "xids", "age(datfrozenxid) at least this",
                              "check_postgres txn_wraparound"),
        "critical_xid_age": _T(1.4e9, "xids", "critical from this age",
                               "check_postgres txn_wraparound"),
    },
    "sequence_exhaustion": {
        "warning_used_pct": _T(90, "%", "share of the usable range consumed",
                               "PgHero sequence_danger"),
        "critical_used_pct": _T(95, "%", "critical from this share", "dwcp-diag"),
    },
    "low_cache_hit_ratio": {
        "min_ratio": _T(0.99, "ratio", "table and index buffer hit ratio under this",
                        "PgHero cache_hit_rate_threshold"),
        "critical_ratio": _T(0.90, "ratio", "critical under this", "dwcp-diag"),
        "min_blocks": _T(10_000, "blocks", "judged only after this many block accesses",
                         "dwcp-diag"),
    },
    "stats_unavailable": {},
}  # fmt: skip
ThresholdSettings = Profile | Mapping[str, Mapping[str, float]] | None


def resolve_thresholds(settings: ThresholdSettings = None) -> dict[str, dict[str, float]]:
    """Every database threshold: :data:`DATABASE_THRESHOLDS` overridden by ``settings``.

    ``settings`` is a :class:`Profile` (its ``[thresholds.CHECK]`` tables) or a mapping of the
    same shape. An unknown key of a database check is an error (a typo would pass silently).

    >>> resolve_thresholds({"slow_query": {"mean_ms": 50}})["slow_query"]
    {'mean_ms': 50.0, 'calls': 100.0, 'critical_mean_ms': 200.0}
    """
    given = settings.thresholds if isinstance(settings, Profile) else (settings or {})
    resolved: dict[str, dict[str, float]] = {}
    for check, defaults in DATABASE_THRESHOLDS.items():
        overrides = dict(given.get(check, {}) or {})
        unknown = set(overrides) - set(defaults)
        if unknown:
            valid = ", ".join(defaults) or "none"
            raise ConfigError(
                f"[thresholds.{check}]: unknown key(s) {sorted(unknown)}; valid keys: {valid}"
            )
        resolved[check] = {k: float(overrides.get(k, d.value)) for k, d in defaults.items()}
    return resolved


def _settings(settings: ThresholdSettings, check: str) -> dict[str, float]:
    return resolve_thresholds(settings)[check]


def thresholds_markdown(settings: ThresholdSettings = None) -> str:
    """The thresholds in force as a markdown table (for a notebook's ``Markdown(...)``).

    >>> thresholds_markdown().splitlines()[2].split(" | ")[:4]
    ['| slow_query', 'mean_ms', '20', '20']
    """
    resolved = resolve_thresholds(settings)
    lines = [
        "| check | key | value | default | unit | meaning | source |",
        "|---|---|---|---|---|---|---|",
    ]
    for check, defaults in DATABASE_THRESHOLDS.items():
        for key, default in defaults.items():
            value, unit = resolved[check][key], default.unit
            lines.append(
                f"| {check} | {key} | {_number(value, unit)} | {_number(default.value, unit)} | "
                f"{unit} | {default.meaning} | {default.source} |"
            )
    return "\n".join(lines)


def _number(value: float, unit: str = "") -> str:
    """``10485760`` as ``10,485,760 (10.0 MiB)`` for bytes, ``1300000000`` as
    ``1,300,000,000``, ``0.95`` as ``0.95``."""
    text = f"{value:,.0f}" if float(value).is_integer() else f"{value:g}"
    return f"{text} ({human_bytes(value)})" if unit == "bytes" and value >= 1024 else text


# --------------------------------------------------------------------------- SQL text


def quote_ident(name: str) -> str:
    """``name`` as a PostgreSQL identifier: always double-quoted, inner quotes doubled.

    Always quoting (unlike ``quote_ident()``, which leaves plain lower-case names bare) is
    valid on every version whatever its keywords, and keeps case and spaces as they are.

    >>> quote_ident("events"), quote_ident("Weird Name"), quote_ident('a"b')
    ('"events"', '"Weird Name"', '"a""b"')
    """
    return '"' + str(name).replace('"', '""') + '"'


def qualified(schema: str | None, name: str) -> str:
    """A schema-qualified, quoted name for SQL.

    >>> qualified("public", "Weird Name")
    '"public"."Weird Name"'
    """
    return quote_ident(name) if _missing(schema) else f"{quote_ident(schema)}.{quote_ident(name)}"


def _literal(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _timestamptz(value: pd.Timestamp) -> str:
    return f"timestamptz {_literal(pd.Timestamp(value).isoformat())}"


# --------------------------------------------------------------------------- small helpers


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _num(value: Any) -> float:
    return float("nan") if _missing(value) else float(value)


def _text(value: Any, default: str = "") -> str:
    return default if _missing(value) else str(value)


def _floats(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series(np.nan, index=frame.index, dtype="float64")
    return pd.to_numeric(frame[column], errors="coerce").astype("float64")


def _flags(frame: pd.DataFrame, column: str, default: bool = False) -> pd.Series:
    if column not in frame.columns:
        return pd.Series(default, index=frame.index, dtype=bool)
    return frame[column].astype("boolean").fillna(default).astype(bool)


def _names(frame: pd.DataFrame, column: str) -> pd.Series:
    """``schemaname.column`` per row (the label subjects and tables use)."""
    return frame["schemaname"].astype("str") + "." + frame[column].astype("str")


def _first(frame: pd.DataFrame | None, column: str) -> Any:
    if frame is None or column not in frame.columns or frame.empty:
        return None
    value = frame[column].iloc[0]
    return None if _missing(value) else value


def _utc(value: Any) -> str:
    return "unknown" if _missing(value) else pd.Timestamp(value).strftime(_TIME_FORMAT)


def _age_s(timestamps: pd.Series, now: pd.Timestamp | None) -> pd.Series:
    if now is None or _missing(now):
        return pd.Series(np.nan, index=timestamps.index, dtype="float64")
    stamps = pd.to_datetime(timestamps, utc=True)
    return (pd.Timestamp(now) - stamps).dt.total_seconds().astype("float64")


def _now(now: Any, server: pd.DataFrame | None) -> pd.Timestamp | None:
    """``now`` as a UTC timestamp (naive means UTC), else the server frame's ``captured_at``."""
    if _missing(now):
        now = _first(server, "captured_at")
    if now is None:
        return None
    stamp = pd.Timestamp(now)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _bool(value: Any, default: bool = False) -> bool:
    return default if _missing(value) else bool(value)


def _severity(critical: bool) -> str:
    return "critical" if critical else "warning"


def _short_query(query: Any, limit: int = MAX_QUERY_CHARS_IN_EVIDENCE) -> str:
    """The query on one line, cut at a word (never mid-word) past ``limit`` characters."""
    # texts arrive redacted by the loader ([postgres] query_text); "none" leaves no text at all
    text = " ".join(_text(query, "(query text not shown)").split())
    if len(text) <= limit:
        return text
    return (text[: limit - 1].rsplit(" ", 1)[0] or text[: limit - 1]) + " …"


# --------------------------------------------------------------------------- slow queries

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
        frame[column] = _floats(frame, column)
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
    kept = stats[_floats(stats, "calls") >= min_calls]
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
        start, end = _first(slow_queries, "interval_start"), _first(slow_queries, "interval_end")
        return (
            f"between {_utc(start)} and {_utc(end)} (the difference of two "
            "pg_stat_statements captures; restarted entries count since their restart)"
        )
    reset = slow_queries["stats_reset_at"].max() if "stats_reset_at" in slow_queries else None
    since = slow_queries["stats_since"].min() if "stats_since" in slow_queries else None
    if not _missing(reset):
        return (
            f"since pg_stat_statements was reset at {_utc(reset)} (no earlier capture to subtract)"
        )
    if not _missing(since):
        return f"since {_utc(since)} (the oldest entry's stats_since; no earlier capture)"
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
    limits = _settings(thresholds, "slow_query")
    basis = basis or slow_query_basis(slow_queries)
    stats = statement_stats(slow_queries)
    slow = stats[
        (_floats(stats, "mean_exec_time_ms") >= limits["mean_ms"])
        & (_floats(stats, "calls") >= limits["calls"])
    ]
    findings = []
    for row in slow.itertuples(index=False):
        share = _num(row.share_of_total_time)
        share_text = "" if _missing(share) else f", {share:.0%} of all execution time"
        findings.append(
            Finding(
                "slow_query",
                _severity(row.mean_exec_time_ms >= limits["critical_mean_ms"]),
                {"queryid": str(row.queryid)},
                f"Statement {row.queryid} averages {row.mean_exec_time_ms:,.1f} ms over "
                f"{int(row.calls):,} calls{share_text} ({basis.split(' (')[0]}): "
                f"{_short_query(row.query, 80)}",
                float(row.mean_exec_time_ms),
                limits["mean_ms"],
                "ms",
                {
                    "query": _short_query(row.query),
                    "calls": int(row.calls),
                    "total_exec_time_ms": float(row.total_exec_time_ms),
                    "max_exec_time_ms": _num(row.max_exec_time_ms),
                    "share_of_total_time": share,
                    "rows_per_call": _num(row.rows_per_call),
                    "cache_hit_ratio": _num(row.cache_hit_ratio),
                    "role_name": row.role_name,
                    "basis": basis,
                    "min_calls": limits["calls"],
                },
            )
        )
    return findings


# --------------------------------------------------------------------------- space and bloat

BLOAT_COLUMNS = [
    "kind",
    "name",
    "table",
    "method",
    "size_bytes",
    "expected_bytes",
    "bloat_bytes",
    "bloat_ratio",
    "is_reliable",
    "unreliable_reason",
    "method_detail",
    "estimate_bloat_ratio",
    "dead_tuple_bloat_ratio",
    "schemaname",
    "relname",
    "indexrelname",
]
MEASURED_BLOAT_METHODS = ("approx_scan", "pgstatindex")


def bloat_table(bloat: pd.DataFrame) -> pd.DataFrame:
    """The loader's ``bloat`` frame, labelled (``name``: ``schema.table`` or ``schema.index``)
    and sorted by bloat, reliable figures first within equal sizes. ``method`` is NA in frames
    recorded before it existed: those figures are planner-statistics estimates.

    >>> frame = pd.DataFrame({"kind": ["table"], "schemaname": ["public"],
    ...     "relname": ["audit_log"], "indexrelname": [None], "bloat_bytes": [15187968]})
    >>> bloat_table(frame)[["name", "method"]].values.tolist()
    [['public.audit_log', 'estimate']]
    """
    frame = conform(bloat, BLOAT_SCHEMA)
    is_index = frame["kind"].astype("str") == "index"
    frame["table"] = _names(frame, "relname")
    frame["name"] = frame["table"].where(~is_index, _names(frame, "indexrelname"))
    frame["is_reliable"] = _flags(frame, "is_reliable")
    recorded_before_methods = frame["method"].isna()
    frame["method"] = frame["method"].where(~recorded_before_methods, "estimate")
    frame["method_detail"] = frame["method_detail"].where(~recorded_before_methods, ESTIMATE_DETAIL)
    frame = frame.sort_values(
        ["bloat_bytes", "is_reliable", "name"], ascending=[False, False, True], na_position="last"
    )
    return frame[BLOAT_COLUMNS].reset_index(drop=True)


def bloat_findings(bloat: pd.DataFrame, thresholds: ThresholdSettings = None) -> list[Finding]:
    """``table_bloat`` and ``index_bloat``: reliable figures (see the loader's ``bloat``), by
    whichever ``method`` gave them, with at least ``min_bytes`` and ``min_ratio`` of bloat;
    critical from ``critical_bytes``. The evidence names the method and what it rests on.

    Fix: ``VACUUM (FULL, ANALYZE)`` for a table (it rewrites the table under an ACCESS EXCLUSIVE
    lock: off-peak, or pg_repack online), ``REINDEX INDEX CONCURRENTLY`` for an index.

    >>> frame = pd.DataFrame({"kind": ["index"], "schemaname": ["public"], "relname": ["t"],
    ...     "indexrelname": ["t_pkey"], "size_bytes": [300 * MIB], "bloat_bytes": [200 * MIB],
    ...     "bloat_ratio": [2 / 3], "is_reliable": [True]})
    >>> [(f.evidence["method"], f.evidence["fix_sql"]) for f in bloat_findings(frame)]
    [('estimate', 'REINDEX INDEX CONCURRENTLY "public"."t_pkey";')]
    """
    findings = []
    for row in bloat_table(bloat).itertuples(index=False):
        kind = "index" if row.kind == "index" else "table"
        limits = _settings(thresholds, f"{kind}_bloat")
        wasted, size, ratio = _num(row.bloat_bytes), _num(row.size_bytes), _num(row.bloat_ratio)
        if not (row.is_reliable and wasted >= limits["min_bytes"] and ratio >= limits["min_ratio"]):
            continue
        if kind == "index":
            fix = f"REINDEX INDEX CONCURRENTLY {qualified(row.schemaname, row.indexrelname)};"
            how = "REINDEX CONCURRENTLY rebuilds it without blocking writes"
        else:
            fix = f"VACUUM (FULL, ANALYZE) {qualified(row.schemaname, row.relname)};"
            how = (
                "VACUUM FULL returns the space but locks the table (ACCESS EXCLUSIVE) while it "
                "rewrites it: run it off-peak, or use pg_repack online"
            )
        measured = row.method in MEASURED_BLOAT_METHODS
        figure = "a measured" if measured else "an estimated"
        evidence = {
            "size_bytes": size,
            "expected_bytes": _num(row.expected_bytes),
            "bloat_ratio": ratio,
            "table": row.table,
            "method": row.method,
            "method_detail": _text(row.method_detail, ESTIMATE_DETAIL),
        }
        if not measured:
            evidence["verify"] = (
                f"PostgresLoader.bloat_exact({str(row.name)!r}) measures it with pgstattuple "
                "(reads the whole relation) before you act"
            )
        findings.append(
            Finding(
                f"{kind}_bloat",
                _severity(wasted >= limits["critical_bytes"]),
                {kind: row.name},
                f"{kind.capitalize()} {row.name} carries {figure} {human_bytes(wasted)} of "
                f"bloat ({ratio:.0%} of {human_bytes(size)}, by {row.method}); {how}.",
                wasted,
                limits["min_bytes"],
                "bytes",
                {**evidence, "fix_sql": fix},
            )
        )
    return findings


SPACE_TREE_COLUMNS = ["id", "parent", "label", "kind", "bytes"]


def space_tree(tables: pd.DataFrame, indexes: pd.DataFrame | None = None) -> pd.DataFrame:
    """Space as a tree for a treemap: database → schema → table → its data and each index.

    ``bytes`` of a parent is the sum of its children (plotly's ``branchvalues="total"``).
    Table data is ``table_bytes`` (heap + TOAST + maps); indexes are listed one by one from
    ``indexes`` when given, else as one ``indexes`` node of ``index_bytes``.

    >>> tables = pd.DataFrame({"schemaname": ["public"], "relname": ["t"],
    ...                        "table_bytes": [800], "index_bytes": [200]})
    >>> space_tree(tables)[["id", "bytes"]].values.tolist()  # doctest: +NORMALIZE_WHITESPACE
    [['database', 1000.0], ['public', 1000.0], ['public.t', 1000.0],
     ['public.t/data', 800.0], ['public.t/indexes', 200.0]]
    """
    frame = conform(tables, TABLES_SCHEMA)
    frame["table"] = _names(frame, "relname")
    leaves = [
        pd.DataFrame(
            {
                "id": frame["table"] + "/data",
                "parent": frame["table"],
                "label": "data",
                "kind": "table data",
                "bytes": _floats(frame, "table_bytes"),
            }
        )
    ]
    index_frame = conform(indexes, INDEXES_SCHEMA) if indexes is not None else None
    if index_frame is not None and not index_frame.empty:
        index_frame = index_frame[_names(index_frame, "relname").isin(set(frame["table"]))]
        leaves.append(
            pd.DataFrame(
                {
                    "id": _names(index_frame, "relname") + "/" + index_frame["indexrelname"],
                    "parent": _names(index_frame, "relname"),
                    "label": index_frame["indexrelname"].astype("str"),
                    "kind": "index",
                    "bytes": _floats(index_frame, "size_bytes"),
                }
            )
        )
    else:
        leaves.append(
            pd.DataFrame(
                {
                    "id": frame["table"] + "/indexes",
                    "parent": frame["table"],
                    "label": "indexes",
                    "kind": "index",
                    "bytes": _floats(frame, "index_bytes"),
                }
            )
        )
    leaf = pd.concat(leaves, ignore_index=True)
    leaf["bytes"] = leaf["bytes"].fillna(0.0)
    per_table = leaf.groupby("parent", sort=False)["bytes"].sum()
    table_nodes = pd.DataFrame(
        {
            "id": frame["table"],
            "parent": frame["schemaname"].astype("str"),
            "label": frame["relname"].astype("str"),
            "kind": "table",
            "bytes": frame["table"].map(per_table).fillna(0.0).astype("float64"),
        }
    )
    per_schema = table_nodes.groupby("parent", sort=True)["bytes"].sum()
    schema_nodes = pd.DataFrame(
        {
            "id": per_schema.index.astype("str"),
            "parent": "database",
            "label": per_schema.index.astype("str"),
            "kind": "schema",
            "bytes": per_schema.to_numpy(dtype="float64"),
        }
    )
    root = pd.DataFrame(
        {"id": ["database"], "parent": [""], "label": ["database"], "kind": ["database"],
         "bytes": [float(per_schema.sum())]}
    )  # fmt: skip
    ordered = [root, schema_nodes, table_nodes.sort_values("id"), leaf.sort_values("id")]
    return pd.concat(ordered, ignore_index=True)[SPACE_TREE_COLUMNS]


def largest_tables(tables: pd.DataFrame, limit: int = 15) -> pd.DataFrame:
    """The ``limit`` largest tables by total size (table + TOAST + indexes).

    >>> tables = pd.DataFrame({"schemaname": ["s", "s"], "relname": ["a", "b"],
    ...                        "total_bytes": [10, 20]})
    >>> largest_tables(tables)["table"].tolist()
    ['s.b', 's.a']
    """
    frame = conform(tables, TABLES_SCHEMA)
    frame.insert(0, "table", _names(frame, "relname"))
    columns = ["table", "total_bytes", "table_bytes", "index_bytes", "n_live_tup", "n_dead_tup",
               "seq_scan", "idx_scan"]  # fmt: skip
    ordered = frame.sort_values(["total_bytes", "table"], ascending=[False, True])
    return ordered[columns].head(limit).reset_index(drop=True)


def largest_indexes(indexes: pd.DataFrame, limit: int = 15) -> pd.DataFrame:
    """The ``limit`` largest indexes, with their scans and definition.

    >>> idx = pd.DataFrame({"schemaname": ["s"], "relname": ["t"], "indexrelname": ["i"],
    ...                     "size_bytes": [8192]})
    >>> largest_indexes(idx)["index"].tolist()
    ['s.i']
    """
    frame = conform(indexes, INDEXES_SCHEMA)
    frame.insert(0, "index", _names(frame, "indexrelname"))
    frame.insert(1, "table", _names(frame, "relname"))
    columns = ["index", "table", "size_bytes", "idx_scan", "is_unique", "is_primary",
               "definition"]  # fmt: skip
    ordered = frame.sort_values(["size_bytes", "index"], ascending=[False, True])
    return ordered[columns].head(limit).reset_index(drop=True)


# --------------------------------------------------------------------------- vacuum

VACUUM_COLUMNS = [
    "table",
    "n_live_tup",
    "n_dead_tup",
    "dead_tup_ratio",
    "autovacuum_vacuum_trigger_tup",
    "dead_to_trigger",
    "tuples_until_autovacuum",
    "autovacuum_enabled",
    "last_vacuum_at",
    "last_vacuum_age_s",
    "last_analyze_at",
    "last_analyze_age_s",
    "n_mod_since_analyze",
    "total_bytes",
    "schemaname",
    "relname",
]


def vacuum_status(tables: pd.DataFrame, now: Any = None) -> pd.DataFrame:
    """Per table: dead tuples against the autovacuum trigger, last (auto)vacuum and analyze.

    ``dead_to_trigger`` is ``n_dead_tup`` / the dead-tuple count at which autovacuum vacuums
    the table (1 = due now); ``tuples_until_autovacuum`` what is left before that (0 when due).
    Ages are seconds before ``now`` (NaN without ``now``, or when never done). Most due first.

    >>> tables = pd.DataFrame({"schemaname": ["public"], "relname": ["t"], "n_dead_tup": [500],
    ...                        "autovacuum_vacuum_trigger_tup": [250.0]})
    >>> status = vacuum_status(tables)
    >>> status[["table", "dead_to_trigger", "tuples_until_autovacuum"]].values.tolist()
    [['public.t', 2.0, 0.0]]
    """
    frame = conform(tables, TABLES_SCHEMA)
    now = _now(now, None)
    frame["table"] = _names(frame, "relname")
    dead, trigger = _floats(frame, "n_dead_tup"), _floats(frame, "autovacuum_vacuum_trigger_tup")
    frame["dead_to_trigger"] = dead / trigger.where(trigger > 0)
    frame["tuples_until_autovacuum"] = (trigger - dead).clip(lower=0)
    frame["last_vacuum_at"] = frame[["last_vacuum", "last_autovacuum"]].max(axis=1)
    frame["last_analyze_at"] = frame[["last_analyze", "last_autoanalyze"]].max(axis=1)
    frame["last_vacuum_age_s"] = _age_s(frame["last_vacuum_at"], now)
    frame["last_analyze_age_s"] = _age_s(frame["last_analyze_at"], now)
    frame = frame.sort_values(["dead_to_trigger", "table"], ascending=[False, True])
    return frame[VACUUM_COLUMNS].reset_index(drop=True)


def vacuum_lag_findings(
    tables: pd.DataFrame,
    settings: pd.DataFrame | None = None,
    thresholds: ThresholdSettings = None,
    now: Any = None,
) -> list[Finding]:
    """``vacuum_lag``: tables whose dead tuples (at least ``min_dead_tup``) are past the
    autovacuum trigger and stay there: autovacuum is off for them, or they reach
    ``trigger_factor`` triggers, or the last (auto)vacuum is older than ``warning_age_s``.
    Critical when the last (auto)vacuum is older than ``critical_age_s`` (or never ran).

    ``settings`` (the loader's) tells a table's own ``autovacuum_enabled = false`` from the
    server's ``autovacuum = off``, which changes the fix.

    >>> t = pd.DataFrame({"schemaname": ["public"], "relname": ["audit_log"],
    ...     "n_live_tup": [150000], "n_dead_tup": [110000], "autovacuum_enabled": [False],
    ...     "autovacuum_vacuum_trigger_tup": [30050.0]})
    >>> print(vacuum_lag_findings(t)[0].evidence["fix_sql"])
    ALTER TABLE "public"."audit_log" RESET (autovacuum_enabled);
    VACUUM (ANALYZE) "public"."audit_log";
    """
    limits = _settings(thresholds, "vacuum_lag")
    status = vacuum_status(tables, now)
    server_autovacuum = _first(settings, "autovacuum")
    dead, trigger = _floats(status, "n_dead_tup"), _floats(status, "autovacuum_vacuum_trigger_tup")
    age = _floats(status, "last_vacuum_age_s")
    never = status["last_vacuum_at"].isna()
    old_for_warning = never | (age >= limits["warning_age_s"])
    disabled = ~_flags(status, "autovacuum_enabled", default=True)
    over = dead >= np.fmax(trigger.fillna(0.0), limits["min_dead_tup"])
    lagging = over & (disabled | (dead >= limits["trigger_factor"] * trigger) | old_for_warning)
    critical = never | (age >= limits["critical_age_s"])
    findings = []
    for position in np.flatnonzero(lagging.to_numpy()):
        row = status.iloc[position]
        target = qualified(row["schemaname"], row["relname"])
        vacuum = f"VACUUM (ANALYZE) {target};"
        if bool(disabled.iloc[position]) and not _bool(server_autovacuum, default=True):
            why = "autovacuum is off for the whole server"
            fix = f"ALTER SYSTEM SET autovacuum = on;\nSELECT pg_reload_conf();\n{vacuum}"
        elif bool(disabled.iloc[position]):
            why = "autovacuum is disabled for this table (autovacuum_enabled = false)"
            fix = f"ALTER TABLE {target} RESET (autovacuum_enabled);\n{vacuum}"
        else:
            why = "autovacuum has not caught up"
            fix = vacuum
        last = (
            "never vacuumed"
            if never.iloc[position]
            else f"last vacuumed {_utc(row['last_vacuum_at'])}"
            + (
                ""
                if _missing(age.iloc[position])
                else f", {human_duration(age.iloc[position])} ago"
            )
        )
        findings.append(
            Finding(
                "vacuum_lag",
                _severity(bool(critical.iloc[position])),
                {"table": row["table"]},
                f"Table {row['table']} has {int(dead.iloc[position]):,} dead tuples, "
                f"{_num(row['dead_to_trigger']):.1f}x its autovacuum trigger of "
                f"{_num(trigger.iloc[position]):,.0f} ({last}): {why}.",
                float(dead.iloc[position]),
                float(max(_num(trigger.iloc[position]), limits["min_dead_tup"])),
                "tuples",
                {
                    "n_live_tup": _num(row["n_live_tup"]),
                    "dead_tup_ratio": _num(row["dead_tup_ratio"]),
                    "autovacuum_vacuum_trigger_tup": _num(trigger.iloc[position]),
                    "autovacuum_enabled": not bool(disabled.iloc[position]),
                    "last_vacuum_at": row["last_vacuum_at"],
                    "last_analyze_at": row["last_analyze_at"],
                    "fix_sql": fix,
                },
            )
        )
    return findings


# --------------------------------------------------------------------------- indexes

_IDENT = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
_SINGLE_TABLE = re.compile(
    rf"\b(?:FROM|UPDATE)\s+(?P<table>{_IDENT}(?:\s*\.\s*{_IDENT})?)"
    rf"(?:\s+(?:AS\s+)?(?P<alias>{_IDENT}))?\s+(?:SET\s+.*?\s+)?WHERE\s+(?P<where>.*?)\s*"
    r"(?:\b(?:GROUP\s+BY|ORDER\s+BY|LIMIT|OFFSET|FETCH|FOR|RETURNING|HAVING|WINDOW)\b|;|$)",
    re.IGNORECASE | re.DOTALL,
)
_VALUE = r"(?:\$\d+|-?\d+(?:\.\d+)?|'(?:[^']|'')*'|TRUE|FALSE)"
_VALUES = rf"\(\s*{_VALUE}(?:\s*,\s*{_VALUE})*\s*\)"
_CONJUNCT = re.compile(
    rf"^(?:(?P<qualifier>{_IDENT})\s*\.\s*)?(?P<column>{_IDENT})\s*"
    rf"(?:(?P<eq>=\s*{_VALUE}|IN\s*{_VALUES}|=\s*ANY\s*\(\s*\$\d+\s*\)|IS\s+NULL)"
    rf"|(?P<range>(?:<=|>=|<|>)\s*{_VALUE}|BETWEEN\s+{_VALUE}\s+{_VALUE})"
    rf"|(?P<other>(?:<>|!=)\s*{_VALUE}|IS\s+NOT\s+NULL))$",
    re.IGNORECASE | re.DOTALL,
)
_NOT_SIMPLE = re.compile(r"\b(?:JOIN|UNION|INTERSECT|EXCEPT|OR|NOT\s+IN|EXISTS)\b|\(\s*SELECT\b",
                         re.IGNORECASE)  # fmt: skip
_IN_LIST = re.compile(rf"\bIN\s*{_VALUES}|=\s*ANY\s*\(\s*\$\d+\s*\)", re.IGNORECASE)
_MAX_INDEX_COLUMNS = 3


def _unquote(identifier: str) -> str:
    identifier = identifier.strip()
    if identifier.startswith('"'):
        return identifier[1:-1].replace('""', '"')
    return identifier.lower()


def _split_qualified(text: str) -> tuple[str | None, str]:
    parts = re.findall(_IDENT, text)
    names = [_unquote(part) for part in parts]
    return (None, names[0]) if len(names) == 1 else (names[0], names[1])


def filtered_columns(
    query: str, schemaname: str, relname: str, allow_unqualified: bool = True
) -> list[str]:
    """The columns a statement filters table ``schemaname.relname`` on, for an index, or ``[]``
    when the statement does not say so plainly. An unqualified table name counts only with
    ``allow_unqualified`` (the caller knows the name is unique across schemas).

    Only statements reading that one table (no join, subquery, set operation or OR) whose WHERE
    clause is an AND of ``column <op> value`` terms count; equality terms (``=``, ``IN``,
    ``= ANY``, ``IS NULL``) come first in their order, then the first range term (``<``, ``>``,
    ``BETWEEN``), at most three columns. A term on an expression (``lower(email) = $1``) or
    another column gives up rather than guess.

    >>> filtered_columns("SELECT * FROM public.events e WHERE e.created_at > $2 AND "
    ...                  "e.account_id = $1 ORDER BY id", "public", "events")
    ['account_id', 'created_at']
    >>> filtered_columns('DELETE FROM "Weird Name" WHERE "Kind" = $1', "public", "Weird Name")
    ['Kind']
    >>> filtered_columns("SELECT * FROM events WHERE lower(kind) = $1", "public", "events")
    []
    """
    text = re.sub(r"--[^\n]*|/\*.*?\*/", " ", _text(query), flags=re.DOTALL)
    if _NOT_SIMPLE.search(text) or len(re.findall(r"\bFROM\b", text, re.IGNORECASE)) > 1:
        return []
    match = _SINGLE_TABLE.search(text)
    if match is None:
        return []
    schema, table = _split_qualified(match["table"])
    if table != relname or (schema is not None and schema != schemaname):
        return []
    if schema is None and not allow_unqualified:
        return []
    aliases = {table, f"{schema}.{table}" if schema else table}
    if match["alias"]:
        aliases.add(_unquote(match["alias"]))
    where = re.sub(r"\s+", " ", match["where"]).strip()
    if "(" in _IN_LIST.sub("", where):
        return []
    where = re.sub(rf"\bBETWEEN\s+({_VALUE})\s+AND\s+({_VALUE})", r"BETWEEN \1 \2", where,
                   flags=re.IGNORECASE)  # fmt: skip
    equal: list[str] = []
    ranged: list[str] = []
    for term in re.split(r"\s+AND\s+", where, flags=re.IGNORECASE):
        found = _CONJUNCT.match(term.strip())
        if found is None:
            return []
        if found["qualifier"] and _unquote(found["qualifier"]) not in aliases:
            return []
        column = _unquote(found["column"])
        if found["eq"] and column not in equal:
            equal.append(column)
        elif found["range"] and column not in ranged:
            ranged.append(column)
    columns = equal + [c for c in ranged[:1] if c not in equal]
    return columns[:_MAX_INDEX_COLUMNS]


def _leading_columns(indexes: pd.DataFrame | None) -> dict[str, set[str]]:
    """Per ``schema.table``: the first key column of each valid index (quotes removed)."""
    if indexes is None or indexes.empty:
        return {}
    frame = conform(indexes, INDEXES_SCHEMA)
    frame = frame[_flags(frame, "is_valid", default=True)]
    leading: dict[str, set[str]] = {}
    for table, columns in zip(_names(frame, "relname"), frame["columns"], strict=True):
        first = _text(columns).split(",")[0].strip()
        if first:
            leading.setdefault(table, set()).add(
                first[1:-1].replace('""', '"') if first.startswith('"') else first
            )
    return leading


MISSING_INDEX_COLUMNS = [
    "table",
    "n_live_tup",
    "seq_scan",
    "seq_tup_read",
    "rows_per_seq_scan",
    "idx_scan",
    "index_scan_share",
    "total_bytes",
    "columns",
    "columns_from_queryid",
    "fix_sql",
    "schemaname",
    "relname",
]


def missing_index_candidates(
    tables: pd.DataFrame,
    slow_queries: pd.DataFrame | None = None,
    indexes: pd.DataFrame | None = None,
    thresholds: ThresholdSettings = None,
) -> pd.DataFrame:
    """Tables that want an index: at least ``min_rows`` live rows, fewer than
    ``max_index_scan_share`` of their scans using an index (PgHero's rule), and heavy
    sequential scans (``min_seq_scans`` of them, ``min_rows_per_seq_scan`` rows each).

    Statistics do not say which column those scans filter on. The statements do: the
    heaviest statement of ``slow_queries`` (the loader's, or its delta) that plainly filters
    the table (:func:`filtered_columns`) on columns no valid index of ``indexes`` starts with
    gives ``columns`` and a ``CREATE INDEX CONCURRENTLY`` in ``fix_sql``; otherwise both are NA.

    >>> tables = pd.DataFrame({"schemaname": ["public"], "relname": ["events"],
    ...     "seq_scan": [102], "seq_tup_read": [30_300_000], "idx_scan": [20],
    ...     "n_live_tup": [300_000]})
    >>> missing_index_candidates(tables)[["table", "index_scan_share", "columns"]].values.tolist()
    [['public.events', 0.16393442622950818, nan]]
    """
    limits = _settings(thresholds, "missing_index")
    frame = conform(tables, TABLES_SCHEMA)
    frame["table"] = _names(frame, "relname")
    seq, idx = _floats(frame, "seq_scan").fillna(0.0), _floats(frame, "idx_scan").fillna(0.0)
    scans = seq + idx
    frame["index_scan_share"] = idx / scans.where(scans > 0)
    frame["rows_per_seq_scan"] = _floats(frame, "seq_tup_read") / seq.where(seq > 0)
    wanted = (
        (_floats(frame, "n_live_tup") >= limits["min_rows"])
        & (frame["index_scan_share"].fillna(0.0) < limits["max_index_scan_share"])
        & (seq >= limits["min_seq_scans"])
        & (frame["rows_per_seq_scan"] >= limits["min_rows_per_seq_scan"])
    )
    name_counts = frame["relname"].astype("str").value_counts()
    frame = frame[wanted].copy()
    stats = statement_stats(slow_queries) if slow_queries is not None else None
    leading = _leading_columns(indexes)
    columns, sources, fixes = [], [], []
    for row in frame.itertuples(index=False):
        found: tuple[list[str], Any] = ([], None)
        unique = name_counts.get(row.relname, 0) == 1
        if stats is not None:
            for statement in stats.itertuples(index=False):
                cols = filtered_columns(statement.query, row.schemaname, row.relname, unique)
                if cols and cols[0] not in leading.get(row.table, set()):
                    found = (cols, statement.queryid)
                    break
        cols, queryid = found
        columns.append(", ".join(cols) if cols else None)
        sources.append(None if queryid is None else str(queryid))
        target = qualified(row.schemaname, row.relname)
        column_list = ", ".join(quote_ident(c) for c in cols)
        fixes.append(f"CREATE INDEX CONCURRENTLY ON {target} ({column_list});" if cols else None)
    frame["columns"] = pd.Series(columns, index=frame.index, dtype="str")
    frame["columns_from_queryid"] = pd.Series(sources, index=frame.index, dtype="str")
    frame["fix_sql"] = pd.Series(fixes, index=frame.index, dtype="str")
    frame = frame.sort_values(["seq_tup_read", "table"], ascending=[False, True])
    return frame[MISSING_INDEX_COLUMNS].reset_index(drop=True)


def missing_index_findings(
    tables: pd.DataFrame,
    slow_queries: pd.DataFrame | None = None,
    indexes: pd.DataFrame | None = None,
    thresholds: ThresholdSettings = None,
) -> list[Finding]:
    """``missing_index`` for each of :func:`missing_index_candidates` (same arguments); when
    no statement names the filtered column, the summary says so and there is no ``fix_sql``.

    >>> tables = pd.DataFrame({"schemaname": ["public"], "relname": ["events"],
    ...     "seq_scan": [102], "seq_tup_read": [30_300_000], "idx_scan": [20],
    ...     "n_live_tup": [300_000]})
    >>> "not say which column" in missing_index_findings(tables)[0].summary
    True
    """
    limits = _settings(thresholds, "missing_index")
    findings = []
    for row in missing_index_candidates(tables, slow_queries, indexes, thresholds).itertuples(
        index=False
    ):
        share = _num(row.index_scan_share)
        share = 0.0 if _missing(share) else share
        scans = (
            f"Table {row.table} ({int(_num(row.n_live_tup)):,} rows) was read by "
            f"{int(_num(row.seq_scan)):,} sequential scans of ~{_num(row.rows_per_seq_scan):,.0f} "
            f"rows each; {share:.0%} of its scans used an index"
        )
        evidence: dict[str, Any] = {
            "seq_scan": _num(row.seq_scan),
            "seq_tup_read": _num(row.seq_tup_read),
            "idx_scan": _num(row.idx_scan),
            "n_live_tup": _num(row.n_live_tup),
            "total_bytes": _num(row.total_bytes),
        }
        if _missing(row.columns):
            summary = (
                f"{scans}; the statistics do not say which column those scans filter on: "
                "EXPLAIN the statements that read it before adding an index."
            )
        else:
            summary = f"{scans}; statement {row.columns_from_queryid} filters it on {row.columns}."
            evidence.update(
                columns=row.columns.split(", "),
                columns_from_queryid=row.columns_from_queryid,
                fix_sql=row.fix_sql,
            )
        findings.append(
            Finding(
                "missing_index",
                "warning",
                {"table": row.table},
                summary,
                round(share * 100, 2),
                limits["max_index_scan_share"] * 100,
                "% of scans using an index",
                evidence,
            )
        )
    return findings


UNUSED_INDEX_COLUMNS = [
    "index",
    "table",
    "idx_scan",
    "size_bytes",
    "stats_reset",
    "stats_age_s",
    "unused_since",
    "definition",
    "fix_sql",
    "schemaname",
    "relname",
    "indexrelname",
]


def unused_indexes(
    indexes: pd.DataFrame, thresholds: ThresholdSettings = None, now: Any = None
) -> pd.DataFrame:
    """Droppable indexes scanned at most ``max_scans`` times since the statistics were reset
    (the loader's :func:`find_unused_indexes`: unique, primary-key, constraint and invalid
    indexes never count), largest first, with ``unused_since`` in words and the DROP.

    >>> idx = pd.DataFrame({"schemaname": ["public"], "relname": ["tasks"],
    ...     "indexrelname": ["tasks_updated_at_idx"], "idx_scan": [0], "is_unique": [False],
    ...     "size_bytes": [4513792]})
    >>> unused = unused_indexes(idx)
    >>> unused.loc[0, "unused_since"]
    'statistics began (never reset)'
    >>> unused.loc[0, "fix_sql"]
    'DROP INDEX CONCURRENTLY "public"."tasks_updated_at_idx";'
    """
    limits = _settings(thresholds, "unused_index")
    frame = find_unused_indexes(indexes, max_scans=int(limits["max_scans"])).copy()
    now = _now(now, None)
    frame["index"] = _names(frame, "indexrelname")
    frame["table"] = _names(frame, "relname")
    frame["stats_age_s"] = _age_s(frame["stats_reset"], now)
    frame["unused_since"] = pd.Series(
        [
            "statistics began (never reset)"
            if _missing(reset)
            else f"{_utc(reset)}" + ("" if _missing(age) else f" ({human_duration(age)} ago)")
            for reset, age in zip(frame["stats_reset"], frame["stats_age_s"], strict=True)
        ],
        index=frame.index,
        dtype="str",
    )
    frame["fix_sql"] = pd.Series(
        [
            f"DROP INDEX CONCURRENTLY {qualified(s, i)};"
            for s, i in zip(frame["schemaname"], frame["indexrelname"], strict=True)
        ],
        index=frame.index,
        dtype="str",
    )
    return frame[UNUSED_INDEX_COLUMNS].reset_index(drop=True)


def unused_index_findings(
    indexes: pd.DataFrame,
    server: pd.DataFrame | None = None,
    thresholds: ThresholdSettings = None,
    now: Any = None,
) -> list[Finding]:
    """``unused_index`` for each of :func:`unused_indexes` (the loader's ``indexes`` or
    ``unused_indexes`` frame). Statistics reset less than ``min_stats_age_days`` ago make the
    finding ``info``: too short to tell. ``server`` supplies ``now`` (its ``captured_at``) and
    whether this is a replica, whose scans are not the primary's.

    >>> idx = pd.DataFrame({"schemaname": ["public"], "relname": ["tasks"],
    ...     "indexrelname": ["tasks_updated_at_idx"], "idx_scan": [0], "size_bytes": [4513792],
    ...     "stats_reset": [pd.Timestamp("2026-11-28", tz="UTC")]})
    >>> f = unused_index_findings(idx, now="2026-11-29")[0]
    >>> f.subject, f.severity
    ({'index': 'public.tasks_updated_at_idx'}, 'info')
    """
    limits = _settings(thresholds, "unused_index")
    now = _now(now, server)
    replica = _bool(_first(server, "is_in_recovery"))
    findings = []
    for row in unused_indexes(indexes, thresholds, now).itertuples(index=False):
        young = (
            not _missing(row.stats_age_s) and row.stats_age_s < limits["min_stats_age_days"] * DAY_S
        )
        caveats = []
        if young:
            caveats.append("statistics are too young to be sure")
        if replica:
            caveats.append("this is a replica: check the primary's scans too")
        caveat = f" ({'; '.join(caveats)})" if caveats else ""
        scans = 0.0 if _missing(row.idx_scan) else float(row.idx_scan)
        findings.append(
            Finding(
                "unused_index",
                "info" if young else "warning",
                {"index": row.index},
                f"Index {row.index} on {row.table} ({human_bytes(_num(row.size_bytes))}) was "
                f"scanned {scans:,.0f} times since {row.unused_since}{caveat}.",
                scans,
                limits["max_scans"],
                "scans",
                {
                    "table": row.table,
                    "size_bytes": _num(row.size_bytes),
                    "stats_reset": row.stats_reset,
                    "definition": _text(row.definition),
                    "fix_sql": row.fix_sql,
                },
            )
        )
    return findings


DUPLICATE_INDEX_COLUMNS = [
    "index",
    "covering_index",
    "table",
    "match",
    "size_bytes",
    "idx_scan",
    "definition",
    "covering_definition",
    "fix_sql",
    "schemaname",
    "relname",
    "indexrelname",
]


def duplicate_index_table(
    duplicates: pd.DataFrame, indexes: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The loader's ``duplicate_indexes`` with labels and the SQL that drops the redundant
    index: ``DROP INDEX CONCURRENTLY``, or ``ALTER TABLE ... DROP CONSTRAINT`` when
    ``indexes`` says the index backs a constraint (its name is the constraint's).

    >>> dup = pd.DataFrame({"schemaname": ["public"], "relname": ["users"],
    ...     "indexrelname": ["users_email_idx"], "covering_indexrelname": ["users_email_key"],
    ...     "match": ["identical"]})
    >>> duplicate_index_table(dup)["fix_sql"].tolist()
    ['DROP INDEX CONCURRENTLY "public"."users_email_idx";']
    """
    frame = conform(duplicates, DUPLICATE_INDEXES_SCHEMA)
    frame["index"] = _names(frame, "indexrelname")
    frame["covering_index"] = _names(frame, "covering_indexrelname")
    frame["table"] = _names(frame, "relname")
    constraint_backed: set[str] = set()
    if indexes is not None and not indexes.empty:
        known = conform(indexes, INDEXES_SCHEMA)
        backed = _flags(known, "is_constraint")
        constraint_backed = set(_names(known, "indexrelname")[backed])
    fixes = []
    for row in frame.itertuples(index=False):
        if row.index in constraint_backed:
            fixes.append(
                f"ALTER TABLE {qualified(row.schemaname, row.relname)} "
                f"DROP CONSTRAINT {quote_ident(row.indexrelname)};"
            )
        else:
            fixes.append(f"DROP INDEX CONCURRENTLY {qualified(row.schemaname, row.indexrelname)};")
    frame["fix_sql"] = pd.Series(fixes, index=frame.index, dtype="str")
    frame = frame.sort_values(["size_bytes", "index"], ascending=[False, True])
    return frame[DUPLICATE_INDEX_COLUMNS].reset_index(drop=True)


def duplicate_index_findings(
    duplicates: pd.DataFrame, indexes: pd.DataFrame | None = None
) -> list[Finding]:
    """``duplicate_index`` for each index another makes redundant (the loader's
    ``duplicate_indexes``; ``indexes`` as for :func:`duplicate_index_table`).

    >>> dup = pd.DataFrame({"schemaname": ["public"], "relname": ["tasks"],
    ...     "indexrelname": ["tasks_user_id_idx"], "match": ["prefix"], "size_bytes": [8192],
    ...     "covering_indexrelname": ["tasks_user_id_status_idx"]})
    >>> duplicate_index_findings(dup)[0].subject
    {'index': 'public.tasks_user_id_idx'}
    """
    findings = []
    for row in duplicate_index_table(duplicates, indexes).itertuples(index=False):
        how = "is identical to" if row.match == "identical" else "is a prefix of"
        findings.append(
            Finding(
                "duplicate_index",
                "warning",
                {"index": row.index},
                f"Index {row.index} on {row.table} ({human_bytes(_num(row.size_bytes))}) {how} "
                f"{row.covering_index}, which serves the same lookups: drop it.",
                _num(row.size_bytes),
                None,
                "bytes",
                {
                    "covering_index": row.covering_index,
                    "match": _text(row.match),
                    "definition": _text(row.definition),
                    "covering_definition": _text(row.covering_definition),
                    "idx_scan": _num(row.idx_scan),
                    "fix_sql": row.fix_sql,
                },
            )
        )
    return findings


# --------------------------------------------------------------------------- sessions


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
    frame["age_s"] = _floats(frame, age_column)
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
        application = _text(row.application_name)
        who = f"{_text(row.usename, '?')}@{_text(row.client_addr, 'local')}"
        if check == "long_running_query":
            what = f"has run one query for {human_duration(row.age_s)}"
            action, state, since_column = "pg_cancel_backend", "active", "query_start"
        else:
            xact = human_duration(_num(row.xact_age_s))
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
            if _missing(since)
            else f"SELECT {action}(pid) FROM pg_stat_activity WHERE pid = {int(row.pid)} "
            f"AND state = {_literal(state)} AND {since_column} = {_timestamptz(since)};"
        )
        findings.append(
            Finding(
                check,
                _severity(row.age_s >= limits["critical_s"]),
                {"pid": str(int(row.pid)), "application": application},
                f"Session {int(row.pid)} ({application or 'no application_name'}, {who}) {what}: "
                f"{_short_query(row.query, 80)}",
                float(row.age_s),
                limits["warning_s"],
                "s",
                {
                    "query": _short_query(row.query),
                    "usename": _text(row.usename),
                    "datname": _text(row.datname),
                    "client_addr": _text(row.client_addr),
                    "xact_age_s": _num(row.xact_age_s),
                    "wait_event": _text(row.wait_event),
                    "blocked_by": _text(row.blocked_by),
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
            "connections": _floats(pg_activity_count, "value"),
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


def _max_connections(
    settings: pd.DataFrame | None, pg_max_connections: pd.DataFrame | None
) -> tuple[float, float]:
    """(max_connections, superuser_reserved_connections) from the loader's settings, else the
    latest ``pg_settings_max_connections`` sample (reserved then unknown: 0)."""
    maximum = _num(_first(settings, "max_connections"))
    reserved = _num(_first(settings, "superuser_reserved_connections"))
    if _missing(maximum):
        maximum = _latest_value(pg_max_connections)
    return maximum, 0.0 if _missing(reserved) else reserved


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
    resolved = resolve_thresholds(thresholds)
    long_limits, idle_limits = resolved["long_running_query"], resolved["idle_in_transaction"]
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
        _max_connections(settings, pg_max_connections),
        pg_activity_count,
        _latest_value(pg_max_connections),
        resolved["connection_saturation"],
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
    if pg_activity_count is not None and not pg_activity_count.empty and not _missing(exporter):
        return exporter
    return _max_connections(settings, pg_max_connections)[0]


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
    ratio = peak / usable if not _missing(usable) and usable > 0 else float("nan")
    if pg_activity_count is not None and not pg_activity_count.empty:
        totals = connection_series(pg_activity_count).groupby("timestamp")["connections"].sum()
        window_max = maximum if _missing(exporter_max_connections) else exporter_max_connections
        window_usable = window_max - reserved
        if len(totals) and not _missing(window_usable) and window_usable > 0:
            window_ratio = float(totals.max()) / window_usable
            if _missing(ratio) or window_ratio > ratio:
                peak_at = totals.idxmax()
                peak, where, ratio = float(totals.max()), f"at {_utc(peak_at)}", window_ratio
                maximum, usable = window_max, window_usable
                peaks = peak_connection_hours(pg_activity_count)
                evidence.update(
                    window_peak_connections=peak,
                    window_peak_at=peak_at,
                    window_max_connections=window_max,
                    daily_peak_hour_utc=peaks.peak_hour,
                    daily_peak_window=peaks.window_text(),
                )
    if _missing(ratio) or ratio < limits["warning_ratio"]:
        return None
    window = evidence.get("daily_peak_window")
    daily = "" if window in (None, "unknown") else f"; connections peak daily {window}"
    return Finding(
        "connection_saturation",
        _severity(ratio >= limits["critical_ratio"]),
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


# --------------------------------------------------------------------------- horizons, cache


def wraparound_findings(
    wraparound: pd.DataFrame, thresholds: ThresholdSettings = None
) -> list[Finding]:
    """``xid_wraparound_risk`` per database whose ``age(datfrozenxid)`` reaches
    ``warning_xid_age`` (check_postgres's defaults), with the transactions left before
    PostgreSQL stops assigning XIDs and, for the current database (whose oldest tables the
    loader lists), a ``VACUUM (FREEZE)`` of its oldest table.

    >>> wrap = pd.DataFrame({"level": ["database", "table"], "dbname": ["app", "app"],
    ...     "schemaname": [None, "public"], "relname": [None, "events"],
    ...     "xid_age": [1_350_000_000, 1_350_000_000]})
    >>> f = wraparound_findings(wrap)[0]
    >>> f.subject, f.evidence["fix_sql"]
    ({'database': 'app'}, 'VACUUM (FREEZE, VERBOSE) "public"."events";')
    """
    limits = _settings(thresholds, "xid_wraparound_risk")
    frame = conform(wraparound, WRAPAROUND_SCHEMA)
    level = frame["level"].astype("str")
    databases, tables = frame[level == "database"], frame[level == "table"]
    findings = []
    for row in databases.itertuples(index=False):
        age = _num(row.xid_age)
        if _missing(age) or age < limits["warning_xid_age"]:
            continue
        left = XID_WRAP - XID_STOP_MARGIN - age
        oldest = tables[tables["dbname"].astype("str") == row.dbname]
        oldest = oldest.sort_values("xid_age", ascending=False).head(5)
        if oldest.empty:
            fix = "VACUUM (FREEZE, VERBOSE);"
            where = f" (connected to database {row.dbname})"
        else:
            first = oldest.iloc[0]
            fix = f"VACUUM (FREEZE, VERBOSE) {qualified(first['schemaname'], first['relname'])};"
            where = f"; its oldest table is {first['schemaname']}.{first['relname']}"
        findings.append(
            Finding(
                "xid_wraparound_risk",
                _severity(age >= limits["critical_xid_age"]),
                {"database": str(row.dbname)},
                f"Database {row.dbname} is {age:,.0f} transactions old "
                f"({age / XID_WRAP:.0%} of the wraparound horizon, {left:,.0f} left before "
                f"PostgreSQL stops assigning transaction IDs){where}: freeze it now.",
                age,
                limits["warning_xid_age"],
                "xids",
                {
                    "xids_left": left,
                    "mxid_age": _num(row.mxid_age),
                    "pct_of_freeze_max_age": _num(row.pct_of_freeze_max_age),
                    "oldest_tables": [
                        {"table": f"{t.schemaname}.{t.relname}", "xid_age": _num(t.xid_age)}
                        for t in oldest.itertuples(index=False)
                    ],
                    "fix_sql": fix,
                },
            )
        )
    return findings


def _widen_sequence_sql(row: Any) -> str | None:
    """Statements that give a sequence (and the column it feeds) room: both to bigint."""
    statements = []
    sequence = qualified(row.schemaname, row.sequencename)
    column_type = _text(row.column_type)
    if not _missing(row.table_name) and column_type in ("smallint", "integer"):
        schema, table = _split_qualified(row.table_name)
        statements.append(
            f"ALTER TABLE {qualified(schema, table)} "
            f"ALTER COLUMN {quote_ident(row.column_name)} TYPE bigint;"
        )
    if _text(row.data_type) in ("smallint", "integer"):
        statements.append(f"ALTER SEQUENCE {sequence} AS bigint;")
    return "\n".join(statements) or None


def sequence_findings(
    sequences: pd.DataFrame, thresholds: ThresholdSettings = None
) -> list[Finding]:
    """``sequence_exhaustion``: sequences that used ``warning_used_pct`` of their range (limited
    by the column they feed when that is narrower). Fix: widen the column and the sequence to
    bigint (``ALTER TABLE ... TYPE bigint`` rewrites the table under an exclusive lock).

    >>> seq = pd.DataFrame({"schemaname": ["public"], "sequencename": ["invoices_id_seq"],
    ...     "data_type": ["integer"], "table_name": ["public.invoices"], "column_name": ["id"],
    ...     "column_type": ["integer"], "used_pct": [95.0], "remaining_values": [1e8]})
    >>> print(sequence_findings(seq)[0].evidence["fix_sql"])
    ALTER TABLE "public"."invoices" ALTER COLUMN "id" TYPE bigint;
    ALTER SEQUENCE "public"."invoices_id_seq" AS bigint;
    """
    limits = _settings(thresholds, "sequence_exhaustion")
    frame = conform(sequences, SEQUENCES_SCHEMA)
    frame = frame[_floats(frame, "used_pct") >= limits["warning_used_pct"]]
    findings = []
    for row in frame.itertuples(index=False):
        name = f"{row.schemaname}.{row.sequencename}"
        feeds = (
            ""
            if _missing(row.table_name)
            else f" feeding {row.table_name}.{row.column_name} ({row.column_type})"
        )
        fix = _widen_sequence_sql(row)
        advice = (
            "widen to bigint (the ALTER TABLE rewrites the table under an exclusive lock: plan "
            "a maintenance window)"
            if fix
            else "it is already bigint: find out what consumes it so fast"
        )
        evidence: dict[str, Any] = {
            "data_type": _text(row.data_type),
            "table": _text(row.table_name),
            "column": _text(row.column_name),
            "column_type": _text(row.column_type),
            "last_value": _num(row.last_value),
            "effective_max_value": _num(row.effective_max_value),
            "remaining_values": _num(row.remaining_values),
        }
        if fix:
            evidence["fix_sql"] = fix
        findings.append(
            Finding(
                "sequence_exhaustion",
                _severity(_num(row.used_pct) >= limits["critical_used_pct"]),
                {"sequence": name},
                f"Sequence {name} ({row.data_type}){feeds} has used {row.used_pct:.1f} % of its "
                f"range ({_num(row.remaining_values):,.0f} values left): {advice}.",
                round(float(row.used_pct), 4),
                limits["warning_used_pct"],
                "%",
                evidence,
            )
        )
    return findings


def cache_hit_findings(
    cache_hit: pd.DataFrame, thresholds: ThresholdSettings = None, database: str = "current"
) -> list[Finding]:
    """``low_cache_hit_ratio`` for user tables and user indexes (PgHero's two rates) served
    from shared_buffers less than ``min_ratio`` of the time, once ``min_blocks`` blocks were
    accessed (a fresh server says nothing yet). Subject ``{"database", "scope"}``.

    >>> hits = pd.DataFrame({"scope": ["tables", "indexes"], "blks_hit": [900_000, 50],
    ...                      "blks_read": [100_000, 10]})
    >>> [(f.subject["scope"], f.severity) for f in cache_hit_findings(hits, database="app")]
    [('tables', 'warning')]
    """
    limits = _settings(thresholds, "low_cache_hit_ratio")
    frame = conform(cache_hit, CACHE_HIT_SCHEMA)
    findings = []
    for row in frame.itertuples(index=False):
        hit, read = _num(row.blks_hit), _num(row.blks_read)
        if row.scope not in ("tables", "indexes") or _missing(hit) or _missing(read):
            continue
        if hit + read < limits["min_blocks"] or hit / (hit + read) >= limits["min_ratio"]:
            continue
        ratio = hit / (hit + read)
        findings.append(
            Finding(
                "low_cache_hit_ratio",
                _severity(ratio < limits["critical_ratio"]),
                {"database": database, "scope": str(row.scope)},
                f"Only {ratio:.2%} of {row.scope} block reads in database {database} were "
                f"served from shared_buffers ({read:,.0f} of {hit + read:,.0f} went to the "
                "operating system): the working set does not fit; raise shared_buffers or "
                "memory, or cut what the heaviest statements read.",
                round(ratio, 6),
                limits["min_ratio"],
                "ratio",
                {"blks_hit": hit, "blks_read": read},
            )
        )
    return findings


def stats_unavailable_findings(
    availability: pd.DataFrame | None, errors: Mapping[str, BaseException] | None = None
) -> list[Finding]:
    """``stats_unavailable`` per feature the loader's ``availability`` says is missing (warning
    when ``required``, else info), with its fix (a GRANT, CREATE EXTENSION or setting), plus
    one per :class:`StatsUnavailable` or other query error in ``errors`` (frame key ->
    exception) whose feature the table does not already name: a warning for a missing
    privilege or extension and for a :class:`QueryTimeout` (the section is missing; its
    ``setting`` is in the evidence), info for other errors.

    >>> avail = pd.DataFrame({"feature": ["pg_stat_statements"], "available": [False],
    ...     "required": [True], "needed_for": ["slow_queries"], "detail": ["not created"],
    ...     "fix": ["CREATE EXTENSION pg_stat_statements;"]})
    >>> [(f.subject, f.severity) for f in stats_unavailable_findings(avail)]
    [({'feature': 'pg_stat_statements'}, 'warning')]
    """
    frame = conform(availability if availability is not None else pd.DataFrame(),
                    AVAILABILITY_SCHEMA)  # fmt: skip
    missing = frame[~_flags(frame, "available", default=True)]
    findings, named = [], set()
    for row in missing.itertuples(index=False):
        named.add(str(row.feature))
        findings.append(
            Finding(
                "stats_unavailable",
                "warning" if _bool(row.required) else "info",
                {"feature": str(row.feature)},
                f"{row.feature} is unavailable ({_text(row.detail)}); it is needed for "
                f"{_text(row.needed_for)}.",
                None,
                None,
                "",
                {"needed_for": _text(row.needed_for), "fix_sql": _text(row.fix)},
            )
        )
    for key, error in (errors or {}).items():
        if isinstance(error, SourceUnavailable):
            continue
        feature = getattr(error, "feature", None) or key
        if feature in named:
            continue
        named.add(feature)
        evidence: dict[str, Any] = {"frame": key}
        if isinstance(error, StatsUnavailable) and error.fix:
            evidence["fix_sql"] = error.fix
        if isinstance(error, QueryTimeout):
            evidence["timed_out_setting"] = error.setting
        findings.append(
            Finding(
                "stats_unavailable",
                "warning" if isinstance(error, StatsUnavailable | QueryTimeout) else "info",
                {"feature": str(feature)},
                f"{key} could not be read: {error}",
                None,
                None,
                "",
                evidence,
            )
        )
    return findings


# --------------------------------------------------------------------------- the report

LOADER_CALLS: dict[str, tuple[str, dict[str, Any]]] = {
    "server": ("server", {}),
    "settings": ("settings", {}),
    "availability": ("availability", {}),
    "slow_queries": ("slow_queries", {"limit": None}),
    "activity": ("activity", {}),
    "tables": ("tables", {}),
    "indexes": ("indexes", {}),
    "duplicate_indexes": ("duplicate_indexes", {}),
    "bloat": ("bloat", {}),
    "wraparound": ("wraparound", {}),
    "sequences": ("sequences", {}),
    "cache_hit": ("cache_hit", {}),
}
"""Frame key -> (PostgresLoader method, keyword arguments) for :func:`database_report`.
Besides these: ``slow_queries_before`` (an earlier ``slow_queries(limit=None)`` capture: the
window's start), ``pg_activity_count`` and ``pg_max_connections`` (Prometheus frames of
postgres_exporter's ``pg_stat_activity_count`` and ``pg_settings_max_connections``)."""

_SCHEMAS = {
    "server": SERVER_SCHEMA,
    "settings": SETTINGS_SCHEMA,
    "availability": AVAILABILITY_SCHEMA,
    "slow_queries": SLOW_QUERIES_SCHEMA,
    "activity": ACTIVITY_SCHEMA,
    "tables": TABLES_SCHEMA,
    "indexes": INDEXES_SCHEMA,
    "duplicate_indexes": DUPLICATE_INDEXES_SCHEMA,
    "bloat": BLOAT_SCHEMA,
    "wraparound": WRAPAROUND_SCHEMA,
    "sequences": SEQUENCES_SCHEMA,
    "cache_hit": CACHE_HIT_SCHEMA,
}


def server_summary(
    server: pd.DataFrame,
    availability: pd.DataFrame | None = None,
    settings: pd.DataFrame | None = None,
    now: Any = None,
    max_connections: float | None = None,
) -> pd.DataFrame:
    """The server in a few lines (``item``, ``value``): version, uptime, database and size,
    role and privileges, replica or not, extensions, statistics and pg_stat_statements reset
    ages, max_connections, and what this role can and cannot see.

    >>> server = pd.DataFrame({"version": ["PostgreSQL 16.4 on x86_64-pc-linux-gnu"],
    ...     "uptime_s": [90000.0], "dbname": ["app"], "database_size_bytes": [2**30]})
    >>> server_summary(server).set_index("item").loc["database", "value"]
    'app, 1.0 GiB'
    """
    server = conform(server, SERVER_SCHEMA)
    now = _now(now, server)
    row = server.iloc[0] if len(server) else pd.Series(dtype=object)

    def get(column: str) -> Any:
        value = row.get(column)
        return None if _missing(value) else value

    def since(column: str) -> str:
        at = get(column)
        if at is None:
            return "never reset"
        age = _age_s(pd.Series([at]), now).iloc[0]
        return f"{_utc(at)}" + ("" if _missing(age) else f" ({human_duration(age)} ago)")

    privileges = (
        ("superuser", "is_superuser"),
        ("pg_monitor", "has_pg_monitor"),
        ("pg_read_all_stats", "has_pg_read_all_stats"),
    )
    roles = [name for name, column in privileges if get(column)]
    items = [
        ("PostgreSQL", _text(get("version")).split(" on ")[0] or "unknown"),
        ("uptime", f"{human_duration(_num(get('uptime_s')))} (since {_utc(get('started_at'))})"),
        ("database", f"{_text(get('dbname'), '?')}, {human_bytes(get('database_size_bytes'))}"),
        ("role", f"{_text(get('role_name'), '?')} ({', '.join(roles) or 'no monitoring roles'})"),
        ("replica", "yes (in recovery)" if get("is_in_recovery") else "no"),
        ("session read-only", "yes" if get("is_read_only") else "no"),
        ("extensions", _text(get("extensions"), "none")),
        ("table/index statistics since", since("stats_reset_at")),
        ("pg_stat_statements since", since("pg_stat_statements_reset_at")),
    ]
    dealloc = _num(get("pg_stat_statements_dealloc"))
    if not _missing(dealloc):
        note = " (raise pg_stat_statements.max: entries were evicted)" if dealloc > 0 else ""
        items.append(("pg_stat_statements evictions", f"{dealloc:,.0f}{note}"))
    maximum = _num(_first(settings, "max_connections"))
    if not _missing(max_connections) and max_connections != maximum:
        # the report's one value (connection_limit); this server's own setting beside it
        setting = "" if _missing(maximum) else f"; this server's setting: {maximum:,.0f}"
        items.append(("max_connections", f"{max_connections:,.0f} (postgres_exporter{setting})"))
    elif not _missing(maximum):
        items.append(("max_connections", f"{maximum:,.0f}"))
    if availability is not None and not availability.empty:
        avail = conform(availability, AVAILABILITY_SCHEMA)
        ok = _flags(avail, "available", default=True)
        items.append(("role can see", ", ".join(avail["feature"][ok].astype(str)) or "nothing"))
        items.append(("role cannot see", ", ".join(avail["feature"][~ok].astype(str)) or "-"))
    return pd.DataFrame(items, columns=["item", "value"])


def _split_frames(
    frames: Mapping[str, Any],
) -> tuple[dict[str, pd.DataFrame], dict[str, BaseException]]:
    got, errors = {}, {}
    for key, value in frames.items():
        if isinstance(value, BaseException):
            errors[key] = value
        elif isinstance(value, pd.DataFrame):
            got[key] = value
    return got, errors


def database_report(
    frames: Mapping[str, Any],
    profile: ThresholdSettings = None,
    now: Any = None,
    top: int = 15,
) -> dict[str, Any]:
    """Everything the database notebook shows, in one call: tables and ``findings``.

    ``frames`` maps the keys of :data:`LOADER_CALLS` (plus ``slow_queries_before``,
    ``pg_activity_count``, ``pg_max_connections``) to frames; a key may hold the exception its
    loader call raised instead (a :class:`StatsUnavailable` becomes a ``stats_unavailable``
    finding, a :class:`SourceUnavailable` a ``source_unavailable`` one), and missing keys are
    skipped. ``now`` defaults to the server frame's ``captured_at``.

    Keys of the result: ``thresholds``, ``server`` (:func:`server_summary`), ``visibility``
    (availability), ``statements_basis`` (:func:`slow_query_basis`), ``statements``,
    ``top_by_total``, ``top_by_mean``, ``largest_tables``, ``largest_indexes``, ``space_tree``,
    ``bloat``, ``vacuum``, ``missing_indexes``, ``unused_indexes``, ``duplicate_indexes``,
    ``connections_by_state``, ``connections_by_client``, ``max_connections``,
    ``long_running``, ``idle_in_transaction``, ``connection_series``, ``peaks``
    (:class:`ConnectionPeaks`), ``wraparound``, ``sequences``, ``cache_hit``, ``notes``
    (sentences about what is missing) and ``findings`` (:class:`Findings`).

    A notebook cell (``pg`` a :class:`PostgresLoader`, ``profile`` the run's profile)::

        frames = {}
        for key, (method, kwargs) in LOADER_CALLS.items():
            try:
                frames[key] = getattr(pg, method)(**kwargs)
            except DwcpDiagError as exc:  # reported as a finding, the notebook goes on
                frames[key] = exc
        report = database_report(frames, profile)
        report["findings"].publish()

    >>> report = database_report({"tables": pd.DataFrame({"schemaname": ["public"],
    ...     "relname": ["t"], "n_live_tup": [10], "n_dead_tup": [0]})})
    >>> list(report["findings"]), report["vacuum"]["table"].tolist()
    ([], ['public.t'])
    """
    resolved = resolve_thresholds(profile)
    got, errors = _split_frames(frames)

    def frame(key: str) -> pd.DataFrame:
        return (
            conform(got[key], _SCHEMAS[key])
            if key in got
            else conform(pd.DataFrame(), _SCHEMAS[key])
        )

    server, settings = frame("server"), frame("settings")
    now = _now(now, server)
    database = _text(_first(server, "dbname"), "current")
    notes = [f"{key} could not be loaded: {error}" for key, error in errors.items()]
    findings: list[Finding] = []
    for source in sorted({e.source for e in errors.values() if isinstance(e, SourceUnavailable)}):
        message = next(str(e) for e in errors.values() if getattr(e, "source", None) == source)
        findings.append(source_unavailable(source, message))
    findings += stats_unavailable_findings(got.get("availability"), errors)

    statements_frame, basis = windowed_statements(
        frame("slow_queries"), got.get("slow_queries_before")
    )
    if "slow_queries" not in got:
        basis = "unavailable: pg_stat_statements was not read"
    stats = statement_stats(statements_frame)
    hidden = int(statements_frame["queryid"].isna().sum()) if "queryid" in statements_frame else 0
    if hidden:
        notes.append(f"{hidden} statement(s) of other roles are hidden (no pg_read_all_stats).")
    if "slow_queries" in got:
        findings += slow_query_findings(statements_frame, resolved, basis)

    tables, indexes = frame("tables"), frame("indexes")
    findings += bloat_findings(frame("bloat"), resolved)
    slow_for_columns = statements_frame if "slow_queries" in got else None
    findings += missing_index_findings(tables, slow_for_columns, indexes, resolved)
    # an index both unused and duplicate is one finding with one DROP INDEX
    findings += merge_overlapping(
        [
            *unused_index_findings(indexes, server, resolved, now),
            *duplicate_index_findings(frame("duplicate_indexes"), indexes),
        ]
    )
    findings += vacuum_lag_findings(tables, settings, resolved, now)
    pg_count, pg_max = got.get("pg_activity_count"), got.get("pg_max_connections")
    if "activity" in got or pg_count is not None:
        findings += activity_findings(
            frame("activity"), settings, resolved, pg_count, pg_max, database
        )
    findings += wraparound_findings(frame("wraparound"), resolved)
    findings += sequence_findings(frame("sequences"), resolved)
    findings += cache_hit_findings(frame("cache_hit"), resolved, database)

    _, reserved = _max_connections(settings, pg_max)
    maximum = connection_limit(settings, pg_max, pg_count)
    activity = frame("activity")
    return {
        "thresholds": resolved,
        "server": server_summary(server, got.get("availability"), settings, now, maximum),
        "visibility": frame("availability"),
        "statements_basis": basis,
        "statements": stats,
        "top_by_total": top_statements(stats, "total_exec_time_ms", top),
        "top_by_mean": top_statements(
            stats, "mean_exec_time_ms", top, int(resolved["slow_query"]["calls"])
        ),
        "largest_tables": largest_tables(tables, top),
        "largest_indexes": largest_indexes(indexes, top),
        "space_tree": space_tree(tables, indexes),
        "bloat": bloat_table(frame("bloat")),
        "vacuum": vacuum_status(tables, now),
        "missing_indexes": missing_index_candidates(tables, slow_for_columns, indexes, resolved),
        "unused_indexes": unused_indexes(indexes, resolved, now),
        "duplicate_indexes": duplicate_index_table(frame("duplicate_indexes"), indexes),
        "connections_by_state": connections_by(activity, ["state"]),
        "connections_by_client": connections_by(
            activity, ["application_name", "client_addr", "usename", "state"]
        ),
        "max_connections": maximum,
        "superuser_reserved_connections": reserved,
        "long_running": long_running_queries(activity, resolved["long_running_query"]["warning_s"]),
        "idle_in_transaction": idle_in_transaction_sessions(
            activity, resolved["idle_in_transaction"]["warning_s"]
        ),
        "connection_series": connection_series(pg_count),
        "peaks": peak_connection_hours(pg_count if pg_count is not None else pd.DataFrame()),
        "wraparound": frame("wraparound"),
        "sequences": frame("sequences"),
        "cache_hit": frame("cache_hit"),
        "notes": notes,
        "findings": Findings(findings),
    }


def fix_sql_text(findings: Sequence[Finding], *checks: str) -> str:
    """The fix-it SQL of these checks' findings, one commented block each, for a human to
    review and run by hand (reports never run it).

    >>> f = Finding("unused_index", "warning", {"index": "public.i"}, "unused", 0, 50, "scans",
    ...             {"fix_sql": 'DROP INDEX CONCURRENTLY "public"."i";'})
    >>> print(fix_sql_text([f], "unused_index"))
    -- unused_index: index=public.i
    DROP INDEX CONCURRENTLY "public"."i";
    """
    blocks = [
        f"-- {f.check}: {', '.join(f'{k}={v}' for k, v in f.subject.items())}\n"
        f"{f.evidence['fix_sql']}"
        for f in findings
        if f.check in checks and (f.evidence or {}).get("fix_sql")
    ]
    return "\n\n".join(blocks) or "-- no fix-it SQL: no finding here has one"
