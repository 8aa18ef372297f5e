"""The database checks' thresholds: defaults, their units and sources, and a profile's overrides.

:data:`DATABASE_THRESHOLDS` holds the defaults (from PgHero, check_postgres and the runbook);
a profile's ``[thresholds.CHECK]`` tables override them (:func:`resolve_thresholds`), and
:func:`thresholds_markdown` prints the ones in force.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dwcp_diag.analysis.database.values import GIB, MIB
from dwcp_diag.config import Profile
from dwcp_diag.errors import ConfigError
from dwcp_diag.units import DAY_S, human_bytes


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


def thresholds_for(settings: ThresholdSettings, check: str) -> dict[str, float]:
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
