"""The check registry: every check id, what it flags, its thresholds, who emits it, what it reads.

One place to add a check: an entry in :data:`CHECKS` (id, notebook, description, thresholds
with their defaults, units and sources, the emitting function, the queries it reads, how its
findings rank), the emitter function in ``dwcp_diag.analysis`` and its query in
``dwcp_diag.queries``. Everything else reads this module: :class:`~dwcp_diag.analysis.findings.
Finding` accepts exactly these ids, profile loading rejects unknown ``[thresholds.X]`` tables
and keys, the reference pages (``make docs``) and the README tables of checks are generated
from it, and the analysis modules read their thresholds with :func:`check_thresholds`.

Pure data and resolution: nothing here imports analysis, collect or report code; ``emitter``
and ``queries`` are names (resolved by the tests and the reference pages), not imports.

>>> CHECKS["slow_query"].thresholds["mean_ms"].default
20.0
>>> check_thresholds({"slow_query": {"mean_ms": 50}}, "slow_query")
{'mean_ms': 50.0, 'calls': 100.0, 'critical_mean_ms': 200.0}
>>> check_thresholds(None, "memory_leak")["min_span_h"]
36.0
>>> check_thresholds({"memory_leak": {"min_spn_h": 48}}, "memory_leak")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
dwcp_diag.errors.ConfigError: [thresholds.memory_leak]: unknown key(s) ['min_spn_h']; ...
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from dwcp_diag.errors import ConfigError
from dwcp_diag.units import DAY_S, GIB, MIB


class HasThresholds(Protocol):
    """What the registry reads of a :class:`dwcp_diag.config.Profile` (which validates its
    tables through this module, so the registry does not import config, not even for a type).
    """

    thresholds: Mapping[str, Mapping[str, float]]


@dataclass(frozen=True)
class Threshold:
    """One configurable threshold of a check: its ``default`` (in ``unit``; NaN: none unless
    configured), what it means (``meaning``), and the ``source`` the default comes from.

    >>> Threshold(20, "ms", "mean execution time at least this", "PgHero slow_query_ms").default
    20.0
    """

    default: float
    unit: str
    meaning: str
    source: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "default", float(self.default))


@dataclass(frozen=True)
class Check:
    """A check: its stable ``id`` (the findings' ``check`` field), the ``notebook`` (area) that
    reports it (``all``: any report), a one-line ``description`` of what it flags, its
    ``thresholds`` (``[thresholds.ID]`` keys), the ``emitter`` that builds its findings as a
    dotted path ``"package.module:function"`` (or ``module:Class.method``), the ``queries``
    it reads (``promql.BUILDER`` in :mod:`dwcp_diag.queries.promql`, ``sql/CONCERN/NAME.sql``
    in ``dwcp_diag/queries/``), and how its findings are ordered within the check:
    ``ranked_by`` in words, ``measure`` as data (see :func:`measure_spec`).

    >>> CHECKS["table_bloat"].emitter
    'dwcp_diag.analysis.database.space:bloat_findings'
    """

    id: str
    notebook: str
    description: str
    thresholds: dict[str, Threshold] = field(default_factory=dict)
    emitter: str = ""
    queries: tuple[str, ...] = ()
    ranked_by: str = "value"
    measure: str = "value"


def measure_spec(measure: str) -> tuple[str, str | None, float]:
    """How a ``Check.measure`` reads a finding's record: (field, evidence key, sign).

    ``"none"`` (no order: 0), ``"value"``, ``"evidence.KEY"``, each optionally prefixed by
    ``-`` (smaller first: less time left is more urgent) or wrapped in ``|...|`` (largest
    change either way first, sign ``0`` meaning absolute value).

    >>> measure_spec("-evidence.hours_to_limit"), measure_spec("|value|")
    (('evidence', 'hours_to_limit', -1.0), ('value', None, 0.0))
    """
    sign = 1.0
    if measure.startswith("|") and measure.endswith("|"):
        measure, sign = measure[1:-1], 0.0
    elif measure.startswith("-"):
        measure, sign = measure[1:], -1.0
    if measure in ("none", "value"):
        return measure, None, sign
    if measure.startswith("evidence."):
        return "evidence", measure.removeprefix("evidence."), sign
    raise ValueError(f"unknown measure {measure!r}: expected none, value or evidence.KEY")


_T = Threshold
_LATENCY = "dwcp_diag.analysis.latency"
_DATABASE = "dwcp_diag.analysis.database"
_MEMORY = "dwcp_diag.analysis.memory"
_COST = "dwcp_diag.analysis.cost"
_CAPACITY = "dwcp_diag.analysis.capacity"
_INCIDENT = "dwcp_diag.analysis.incident"
_PLATFORM = "dwcp_diag.analysis.platform"
_STARTUP_QUERIES = (
    "promql.pod_created_times",
    "promql.pod_first_ready_times",
    "promql.pod_owners_seen",
)
_LATENCY_QUERIES = ("promql.latency_bucket_rate", "promql.request_rate_by_path_status")
_MEMORY_QUERIES = (
    "promql.container_memory_working_set",
    "promql.container_restarts",
    "promql.last_terminated_reason",
    "promql.container_resources",
)
_COST_QUERIES = (
    "promql.container_cpu_usage",
    "promql.container_memory_working_set",
    "promql.pod_owner",
    "promql.container_resources",
)
_MIN_REQUESTS = _T(
    100, "requests", "judged only from this many requests in the window", "dwcp-diag"
)
_SLOW_QUERY_SQL = (
    "sql/statements/versions.sql",
    "sql/statements/pgss_pg13.sql",
    "sql/statements/pgss_pg14.sql",
    "sql/statements/pgss_pg17.sql",
    "sql/statements/slow_queries.sql",
)
_BLOAT_SCAN_SQL = ("sql/space/bloat_scan_candidates.sql", "sql/space/bloat_exact_timeout.sql")
_PG_CONNECTIONS = ("promql.pg_connections", "promql.pg_max_connections")
_OVERPROVISIONED = {
    "min_points": _T(100, "samples", "samples needed for a recommendation", "KRR points_required"),
    "min_slack_share": _T(
        0.3, "ratio", "flag when (request - recommendation) / request is at least this", "dwcp-diag"
    ),
    "min_monthly_usd": _T(1, "$/month", "and the slack is worth at least this", "dwcp-diag"),
    "warning_monthly_usd": _T(20, "$/month", "warning (else info) from this much", "dwcp-diag"),
}

CHECKS: dict[str, Check] = {
    c.id: c
    for c in (
        # ------------------------------------------------------------------------ latency
        Check(
            "latency_slo_breach",
            "latency",
            "an endpoint's p95 latency over the target for 5 minutes or more",
            {
                "min_requests": _MIN_REQUESTS,
                "min_duration_s": _T(
                    300, "s", "a breach must last this long to count",
                    "the seed's HighLatency alert: for 5m",
                ),
                "critical_duration_s": _T(3600, "s", "critical from this long over", "dwcp-diag"),
            },
            f"{_LATENCY}:latency_slo_findings",
            _LATENCY_QUERIES,
            "time over the target",
            "evidence.over_target_s",
        ),
        Check(
            "error_rate_breach",
            "latency",
            "the 5xx share of requests over the target, overall or per endpoint",
            {
                "min_requests": _MIN_REQUESTS,
                "critical_factor": _T(
                    10, "x", "critical from this many times the target", "dwcp-diag"
                ),
                "min_duration_s": _T(
                    300, "s", "a burst counts when over the target this long",
                    "like latency_slo_breach",
                ),
            },
            f"{_LATENCY}:error_rate_findings",
            ("promql.request_rate_by_path_status",),
            "5xx share of requests",
            "value",
        ),
        Check(
            "error_budget_burn",
            "latency",
            "a burn-rate window pair (1h/5m, 6h/30m, 3d/6h) over its threshold",
            {},
            f"{_LATENCY}:burn_rate_findings",
            ("promql.request_rate_by_path_status",),
            "burn rate",
            "value",
        ),
        Check(
            "availability_breach",
            "latency",
            "availability (1 - 5xx share) under the SLO over the window",
            {"min_requests": _MIN_REQUESTS},
            f"{_LATENCY}:availability_findings",
            ("promql.request_rate_by_path_status",),
            "availability lost (100 % - availability)",
            "-value",
        ),
        # ----------------------------------------------------------------------- database
        Check(
            "slow_query",
            "database",
            "a statement slow on average and called often (pg_stat_statements)",
            {
                "mean_ms": _T(
                    20, "ms", "mean execution time at least this", "PgHero slow_query_ms"
                ),
                "calls": _T(
                    100, "calls", "and called at least this often", "PgHero slow_query_calls"
                ),
                "critical_mean_ms": _T(
                    200, "ms", "critical from this mean: one call spends the API's p95 budget",
                    "runbook SLA: p95 < 200 ms",
                ),
            },
            f"{_DATABASE}.statements:slow_query_findings",
            _SLOW_QUERY_SQL,
            "share of all execution time",
            "evidence.share_of_total_time",
        ),
        Check(
            "table_bloat",
            "database",
            "a table whose bloat (measured, else estimated) is large in bytes and share",
            {
                "min_bytes": _T(10 * MIB, "bytes", "estimated bloat at least this", "dwcp-diag"),
                "min_ratio": _T(
                    0.3, "ratio", "and at least this share of the table (estimates count padding)",
                    "dwcp-diag",
                ),
                "critical_bytes": _T(
                    5 * GIB, "bytes", "critical from this bloat", "check_postgres bloat"
                ),
            },
            f"{_DATABASE}.space:bloat_findings",
            (
                "sql/space/table_bloat.sql",
                "sql/space/table_bloat_dead_tuples.sql",
                "sql/space/table_bloat_approx.sql",
                "sql/space/table_bloat_exact.sql",
                *_BLOAT_SCAN_SQL,
            ),
            "bytes of bloat",
            "value",
        ),
        Check(
            "index_bloat",
            "database",
            "a btree index whose bloat (measured, else estimated) is large in bytes, share",
            {
                "min_bytes": _T(
                    100 * MIB, "bytes", "estimated bloat at least this", "PgHero index_bloat_bytes"
                ),
                "min_ratio": _T(0.3, "ratio", "and at least this share of the index", "dwcp-diag"),
                "critical_bytes": _T(
                    5 * GIB, "bytes", "critical from this bloat", "check_postgres bloat"
                ),
            },
            f"{_DATABASE}.space:bloat_findings",
            ("sql/space/index_bloat.sql", "sql/space/index_bloat_exact.sql", *_BLOAT_SCAN_SQL),
            "bytes of bloat",
            "value",
        ),
        Check(
            "missing_index",
            "database",
            "a large table read mostly by sequential scans",
            {
                "min_rows": _T(
                    10_000, "rows", "tables with at least this many live rows",
                    "PgHero missing_indexes",
                ),
                "max_index_scan_share": _T(
                    0.95, "ratio", "and fewer of their scans using an index",
                    "PgHero missing_indexes",
                ),
                "min_seq_scans": _T(
                    100, "scans", "and at least this many sequential scans", "dwcp-diag"
                ),
                "min_rows_per_seq_scan": _T(
                    10_000, "rows", "each reading this many rows on average", "dwcp-diag"
                ),
            },
            f"{_DATABASE}.suggested_indexes:missing_index_findings",
            ("sql/maintenance/tables.sql", "sql/indexes/indexes.sql", *_SLOW_QUERY_SQL),
            "rows read by sequential scans",
            "evidence.seq_tup_read",
        ),
        Check(
            "unused_index",
            "database",
            "an index (not unique, not a constraint) scanned almost never",
            {
                "max_scans": _T(
                    50, "scans", "scanned at most this often since the stats reset",
                    "PgHero unused_indexes",
                ),
                "min_stats_age_days": _T(
                    7, "days", "younger statistics make findings info only", "dwcp-diag"
                ),
            },
            f"{_DATABASE}.indexes:unused_index_findings",
            ("sql/indexes/indexes.sql", "sql/system/server.sql"),
            "bytes of the unused index",
            "evidence.size_bytes",
        ),
        Check(
            "duplicate_index",
            "database",
            "an index whose columns another index already covers",
            {},
            f"{_DATABASE}.indexes:duplicate_index_findings",
            ("sql/indexes/duplicate_indexes.sql", "sql/indexes/indexes.sql"),
            "bytes of the redundant index",
            "value",
        ),
        Check(
            "vacuum_lag",
            "database",
            "dead tuples far past the table's autovacuum trigger",
            {
                "min_dead_tup": _T(
                    1000, "tuples", "dead tuples at least this (and past the autovacuum trigger)",
                    "runbook Tip 3: n_dead_tup > 1000",
                ),
                "trigger_factor": _T(
                    2.0, "ratio", "lagging when dead tuples reach this many triggers", "dwcp-diag"
                ),
                "warning_age_s": _T(
                    DAY_S, "s", "or the last (auto)vacuum is older than this",
                    "check_postgres last_vacuum",
                ),
                "critical_age_s": _T(
                    2 * DAY_S, "s", "critical when the last (auto)vacuum is older",
                    "check_postgres last_vacuum",
                ),
            },
            f"{_DATABASE}.maintenance:vacuum_lag_findings",
            ("sql/maintenance/tables.sql", "sql/system/settings.sql"),
            "dead tuples",
            "value",
        ),
        Check(
            "long_running_query",
            "database",
            "a statement active for longer than the threshold",
            {
                "warning_s": _T(
                    60, "s", "active query running at least this long",
                    "PgHero long_running_query_sec",
                ),
                "critical_s": _T(
                    300, "s", "critical from this age", "runbook Problem 3: 5 minutes"
                ),
            },
            f"{_DATABASE}.connections:activity_findings",
            ("sql/connections/activity.sql",),
            "age of the statement",
            "value",
        ),
        Check(
            "idle_in_transaction",
            "database",
            "a session idle inside an open transaction (holds locks and xmin)",
            {
                "warning_s": _T(
                    60, "s", "idle inside an open transaction at least this long",
                    "PgHero long_running_query_sec",
                ),
                "critical_s": _T(
                    300, "s", "critical from this age", "runbook Problem 3: 5 minutes"
                ),
            },
            f"{_DATABASE}.connections:activity_findings",
            ("sql/connections/activity.sql",),
            "age of the open transaction",
            "value",
        ),
        Check(
            "connection_saturation",
            "database",
            "client connections near max_connections (runbook KI-003)",
            {
                "warning_ratio": _T(
                    0.9, "ratio", "client connections / (max_connections - reserved)",
                    "check_postgres backends",
                ),
                "critical_ratio": _T(
                    0.95, "ratio", "critical from this share", "check_postgres backends"
                ),
            },
            f"{_DATABASE}.connections:activity_findings",
            ("sql/connections/activity.sql", "sql/system/settings.sql", *_PG_CONNECTIONS),
            "share of the usable connections",
            "value",
        ),
        Check(
            "xid_wraparound_risk",
            "database",
            "a database or table close to transaction-ID wraparound",
            {
                "warning_xid_age": _T(
                    1.3e9, "xids", "age(datfrozenxid) at least this",
                    "check_postgres txn_wraparound",
                ),
                "critical_xid_age": _T(
                    1.4e9, "xids", "critical from this age", "check_postgres txn_wraparound"
                ),
            },
            f"{_DATABASE}.maintenance:wraparound_findings",
            ("sql/maintenance/wraparound.sql",),
            "share of the transaction-ID space used",
            "value",
        ),
        Check(
            "sequence_exhaustion",
            "database",
            "a sequence (or its column's type) near its last value",
            {
                "warning_used_pct": _T(
                    90, "%", "share of the usable range consumed", "PgHero sequence_danger"
                ),
                "critical_used_pct": _T(95, "%", "critical from this share", "dwcp-diag"),
            },
            f"{_DATABASE}.maintenance:sequence_findings",
            ("sql/maintenance/sequences.sql",),
            "share of the sequence used",
            "value",
        ),
        Check(
            "low_cache_hit_ratio",
            "database",
            "shared-buffer hit ratio under 99 % for tables or indexes",
            {
                "min_ratio": _T(
                    0.99, "ratio", "table and index buffer hit ratio under this",
                    "PgHero cache_hit_rate_threshold",
                ),
                "critical_ratio": _T(0.90, "ratio", "critical under this", "dwcp-diag"),
                "min_blocks": _T(
                    10_000, "blocks", "judged only after this many block accesses", "dwcp-diag"
                ),
            },
            f"{_DATABASE}.system:cache_hit_findings",
            ("sql/system/cache_hit.sql",),
            "misses (1 - hit ratio)",
            "-value",
        ),
        Check(
            "stats_unavailable",
            "database",
            "a statistic this role may not read, with the grant or setting to fix",
            {},
            f"{_DATABASE}.system:stats_unavailable_findings",
            ("sql/system/availability.sql", "sql/statements/pg_stat_statements_probe.sql"),
            "a statistic could not be read",
            "none",
        ),
        # ------------------------------------------------------------------------- memory
        Check(
            "memory_leak",
            "memory",
            "steady working-set growth, with the projected time to the memory limit",
            {
                "min_growth_mib_per_h": _T(
                    1.0, "MiB/h", "combined growth at least this", "dwcp-diag"
                ),
                "min_confidence": _T(
                    0.5, "ratio", "confidence of the trend at least this (detect_leaks)",
                    "dwcp-diag",
                ),
                "min_span_h": _T(36.0, "h", "hours of growth the trend must persist", "dwcp-diag"),
                "drop_fraction": _T(
                    0.3, "ratio", "a fall by this share cuts a segment", "dwcp-diag"
                ),
                "min_segment_h": _T(0.5, "h", "shorter segments are not fitted", "dwcp-diag"),
                "critical_hours_to_limit": _T(
                    24.0, "h", "critical when the limit is nearer", "dwcp-diag"
                ),
            },
            f"{_MEMORY}:_leak_findings",
            (*_MEMORY_QUERIES, "promql.memory_growth_screen"),  # the push-down's leak screen
            "time to the memory limit, soonest first",
            "-evidence.hours_to_limit",
        ),
        Check(
            "oom_killed",
            "memory",
            "a container terminated by the OOM killer (exit code 137) in the window",
            {
                "critical_count": _T(
                    3.0, "kills", "warning from 1 kill, critical from this", "dwcp-diag"
                ),
            },
            f"{_MEMORY}:_restart_findings",
            ("promql.container_restarts", "promql.last_terminated_reason"),
            "OOM kills in the window",
            "value",
        ),
        Check(
            "memory_near_limit",
            "memory",
            "p99 working set at 85 % of the memory limit or more",
            {
                "share": _T(
                    0.85, "ratio", "working-set quantile / limit at least this",
                    "runbook: 85 % of the limit",
                ),
                "quantile": _T(0.99, "quantile", "which quantile of the working set", "dwcp-diag"),
                "critical_share": _T(0.95, "ratio", "critical from this share", "dwcp-diag"),
            },
            f"{_MEMORY}:_limit_findings",
            ("promql.container_memory_working_set", "promql.container_resources"),
            "working set / limit",
            "value",
        ),
        Check(
            "no_memory_limit",
            "memory",
            "a container without a memory limit",
            {},
            f"{_MEMORY}:_limit_findings",
            ("promql.container_memory_working_set", "promql.container_resources"),
            "bytes of working set without a limit",
            "value",
        ),
        Check(
            "frequent_restarts",
            "memory",
            "more than 5 restarts or CrashLoopBackOff, with the exit code's meaning",
            {
                "max_restarts": _T(
                    5.0, "restarts", "flagged above this", "runbook Tip 5: > 5 restarts"
                ),
                "critical_restarts": _T(
                    20.0, "restarts", "critical from this (or CrashLoopBackOff)", "dwcp-diag"
                ),
            },
            f"{_MEMORY}:_restart_findings",
            ("promql.container_restarts", "promql.last_terminated_reason"),
            "restarts in the window",
            "value",
        ),
        # --------------------------------------------------------------------------- cost
        Check(
            "overprovisioned_cpu",
            "cost",
            "CPU requested far above the p95 used, in dollars a month",
            {
                "cpu_percentile": _T(
                    95.0, "percentile", "percentile of the CPU rate recommended",
                    "KRR simple strategy",
                ),
                "min_cpu_cores": _T(
                    0.01, "cores", "recommendation floor (10m)", "KRR cpu_min_value"
                ),
                **_OVERPROVISIONED,
            },
            f"{_COST}:_overprovisioned",
            _COST_QUERIES,
            "$/month of idle request",
            "value",
        ),
        Check(
            "overprovisioned_memory",
            "cost",
            "memory requested far above the peak used, in dollars a month",
            {
                "memory_buffer_pct": _T(
                    15.0, "%", "added to the peak working set", "KRR memory_buffer_percentage"
                ),
                "min_memory_mib": _T(
                    100.0, "MiB", "recommendation floor", "KRR memory_min_value"
                ),
                "oom_buffer_pct": _T(
                    25.0, "%", "over the limit an OOM kill happened at",
                    "KRR oom_memory_buffer_percentage",
                ),
                **_OVERPROVISIONED,
            },
            f"{_COST}:_overprovisioned",
            (*_COST_QUERIES, "promql.container_restarts", "promql.last_terminated_reason"),
            "$/month of idle request",
            "value",
        ),
        Check(
            "idle_workload",
            "cost",
            "a workload using under 20 % of its CPU and memory requests",
            {
                "max_usage_share": _T(
                    0.2, "ratio", "usage below this share of every request",
                    "runbook Tip 7: under 20 %",
                ),
            },
            f"{_COST}:_idle",
            _COST_QUERIES,
            "$/month of the workload",
            "value",
        ),
        Check(
            "unused_pv",
            "cost",
            "a PersistentVolume released, unbound or mounted by no pod",
            {
                "min_monthly_usd": _T(
                    0.0, "$/month", "flag volumes costing at least this", "dwcp-diag"
                ),
            },
            f"{_COST}:_unused_pv",
            ("promql.pv_phase",),
            "$/month of the volume",
            "value",
        ),
        Check(
            "underprovisioned",
            "cost",
            "usage above the request: the scheduler reserved too little",
            {
                "tolerance_share": _T(
                    0.1, "ratio", "flag usage above request x (1 + this)", "dwcp-diag"
                ),
            },
            f"{_COST}:_underprovisioned",
            _COST_QUERIES,
            "$/month the missing request would cost",
            "evidence.extra_usd_per_month",
        ),
        # ----------------------------------------------------------------------- capacity
        Check(
            "capacity_exhaustion",
            "capacity",
            "a resource forecast to reach its limit within the horizon",
            {
                "critical_weeks": _T(
                    4.0, "weeks", "crossing sooner than this: critical", "dwcp-diag"
                ),
                "request_rate_limit_rps": _T(
                    12_000.0, "req/s", "request-rate limit", "runbook KI-002: Redis above 12k RPS"
                ),
                "pg_database_size_limit_bytes": _T(
                    math.nan, "bytes", "disk budget per database (none unless configured)",
                    "the platform's disk budget",
                ),
            },
            f"{_CAPACITY}:_exhaustion_findings",
            (
                "promql.container_cpu_usage",
                "promql.container_memory_working_set",
                "promql.node_allocatable",
                "promql.container_resources",
                *_PG_CONNECTIONS,
            ),
            "weeks to the limit, soonest first",
            "-value",
        ),
        Check(
            "headroom_low",
            "capacity",
            "CPU or memory requests at 80 % of the nodes' allocatable or more",
            {
                "requests_pct": _T(80.0, "%", "requests / allocatable: warning", "dwcp-diag"),
                "critical_requests_pct": _T(
                    95.0, "%", "requests / allocatable: critical", "dwcp-diag"
                ),
            },
            f"{_CAPACITY}:_headroom_findings",
            ("promql.node_allocatable", "promql.container_resources"),
            "share of allocatable requested",
            "value",
        ),
        Check(
            "growth_anomaly",
            "capacity",
            "a week-over-week change well beyond the series' normal variation",
            {
                "robust_z": _T(3.5, "z", "robust z-score of a weekly change", "Iglewicz-Hoaglin"),
                "min_change_pct": _T(
                    10.0, "pp", "and at least this many percentage points", "dwcp-diag"
                ),
            },
            f"{_CAPACITY}:_anomaly_findings",
            (
                "promql.container_cpu_usage",
                "promql.container_memory_working_set",
                *_PG_CONNECTIONS,
            ),
            "size of the change",
            "|value|",
        ),
        Check(
            "forecast_drift",
            "capacity",
            "an exhaustion forecast's date moving closer period after period",
            {
                "min_moves": _T(
                    2, "periods", "moved closer this many periods running", "dwcp-diag"
                ),
                "min_days": _T(3, "days", "each move at least this many days", "dwcp-diag"),
            },
            "dwcp_diag.report.trends:forecast_drift_findings",
            (),
            "days the exhaustion date moved closer",
            "value",
        ),
        # ----------------------------------------------------------------------- incident
        Check(
            "deployment_in_window",
            "incident",
            "a rollout or scaling inside (or just before) the incident window",
            {},
            f"{_INCIDENT}:change_findings",
            (),
            "in time order",
            "none",
        ),
        Check(
            "scaling_in_window",
            "incident",
            "a scale event (replicas changed) inside or just before the window",
            {},
            f"{_INCIDENT}:change_findings",
            ("promql.deployment_spec_replicas",),
            "in time order",
            "none",
        ),
        Check(
            "consumer_lag_spike",
            "incident",
            "Kafka consumer lag over the runbook's threshold (KI-001)",
            {
                "change_slack_s": _T(
                    600.0, "s", "changes this long before the spike are its candidates",
                    "runbook KI-001",
                ),
            },
            f"{_INCIDENT}:consumer_lag_spike",
            ("promql.consumer_lag",),
            "peak lag in messages",
            "value",
        ),
        # ------------------------------------------------------------------------ platform
        Check(
            "slow_startup",
            "platform",
            "a workload's pods take long from creation to Ready (p95), split into scheduling, "
            "init, image pull and readiness (runbook KI-005)",
            {
                "p95_warning_s": _T(
                    120.0, "s", "p95 creation -> Ready above this: warning",
                    "runbook KI-005: 3-5 minutes is the known problem",
                ),
            },
            f"{_PLATFORM}.startup:startup_findings",
            _STARTUP_QUERIES,
            "p95 start time",
            "value",
        ),
        Check(
            "rollout_slow",
            "platform",
            "a Deployment's rollout took long from the new ReplicaSet to its last pod Ready",
            {
                "warning_s": _T(
                    600.0, "s", "a rollout longer than this: warning",
                    "dwcp-diag: 4 pods started one after another at KI-005's pace",
                ),
            },
            f"{_PLATFORM}.startup:rollout_findings",
            _STARTUP_QUERIES,
            "rollout duration",
            "value",
        ),
        Check(
            "certificate_expiry",
            "platform",
            "a TLS certificate (cert-manager or a blackbox probe) expired, expires soon, or "
            "cert-manager reports it not Ready (runbook Problem 5)",
            {
                "warning_days": _T(
                    21.0, "days", "fewer days left than this: warning",
                    "issue 21 (cert-manager renews 30 days before expiry by default)",
                ),
                "critical_days": _T(
                    7.0, "days", "fewer days left (or expired): critical", "issue 21",
                ),
            },
            f"{_PLATFORM}.certificates:certificate_findings",
            (
                "promql.certificate_expiry_times",
                "promql.certificate_not_ready",
                "promql.probe_certificate_expiry_times",
            ),
            "days left, fewest first",
            "-value",
        ),
        Check(
            "consumer_lag_high",
            "platform",
            "Kafka consumer lag high over the window (p95) or growing hour after hour "
            "(consumers falling behind, not a rebalance blip; KI-001)",
            {
                "p95_warning_messages": _T(
                    10_000.0, "messages", "lag p95 over the window above this: warning",
                    "runbook KI-001: 10k+ during deployments is a spike; at p95 it is not",
                ),
                "growth_window_h": _T(
                    6.0, "h", "hours of hourly medians judged for growth", "dwcp-diag",
                ),
                "min_growth_messages": _T(
                    1_000.0, "messages", "growth over those hours at least this", "dwcp-diag",
                ),
                "rising_share": _T(
                    0.8, "ratio", "share of those hours that rose, at least", "dwcp-diag",
                ),
            },
            f"{_PLATFORM}.kafka:lag_findings",
            ("promql.consumer_lag",),
            "lag p95",
            "value",
        ),
        Check(
            "redis_saturation",
            "platform",
            "Redis near maxclients, rejecting connections, near maxmemory or slow, beside "
            "the API's peak rate against KI-002's 12k RPS",
            {
                "clients_warning_ratio": _T(
                    0.8, "ratio", "connected clients / maxclients at least this: warning",
                    "runbook KI-002: max connections reached",
                ),
                "clients_critical_ratio": _T(
                    0.95, "ratio", "connected clients / maxclients at least this: critical",
                    "runbook KI-002",
                ),
                "memory_warning_ratio": _T(
                    0.9, "ratio", "used memory / maxmemory at least this: warning", "dwcp-diag",
                ),
                "latency_warning_ms": _T(
                    2.0, "ms", "mean command latency p95 above this: warning",
                    "dwcp-diag (Redis answers in well under a millisecond)",
                ),
            },
            f"{_PLATFORM}.redis:redis_findings",
            (
                "promql.redis_clients_ratio",
                "promql.redis_memory_ratio",
                "promql.redis_counter_rate",
                "promql.redis_command_latency",
                "promql.request_rate_total",
            ),
            "connected clients / maxclients",
            "value",
        ),
        # ---------------------------------------------------------------------- any report
        Check(
            "source_unavailable",
            "all",
            "a source could not be reached; the rest of the report still renders",
            {},
            "dwcp_diag.analysis.findings:source_unavailable",
            (),
            "a source could not be read: always first",
            "none",
        ),
        Check(
            "no_data",
            "all",
            "data a report needs came back empty (an unknown metric name, a selector or "
            "window matching nothing): its checks could not run",
            {},
            "dwcp_diag.collect.area:UnreachableSources.findings",
            (),
            "an input came back empty: always first",
            "none",
        ),
        Check(
            "report_failed",
            "all",
            "a cell raised, so the report is incomplete: the cell (In [N]), the error, "
            "and the findings published before it, marked partial",
            {},
            "dwcp_diag.report.render:CellFailure.finding",
            (),
            "the report is incomplete: always first",
            "none",
        ),
    )
}  # fmt: skip
"""Every check id, in notebook order (latency, database, memory, cost, capacity, incident,
platform, all)."""

URGENCY: tuple[str, ...] = (
    "report_failed",
    "source_unavailable",
    "no_data",
    "stats_unavailable",
    "availability_breach",
    "error_budget_burn",
    "error_rate_breach",
    "latency_slo_breach",
    "certificate_expiry",
    "connection_saturation",
    "redis_saturation",
    "xid_wraparound_risk",
    "sequence_exhaustion",
    "oom_killed",
    "memory_leak",
    "memory_near_limit",
    "frequent_restarts",
    "capacity_exhaustion",
    "forecast_drift",
    "headroom_low",
    "underprovisioned",
    "consumer_lag_spike",
    "consumer_lag_high",
    "long_running_query",
    "idle_in_transaction",
    "vacuum_lag",
    "slow_query",
    "missing_index",
    "deployment_in_window",
    "scaling_in_window",
    "slow_startup",
    "rollout_slow",
    "table_bloat",
    "index_bloat",
    "low_cache_hit_ratio",
    "duplicate_index",
    "unused_index",
    "no_memory_limit",
    "overprovisioned_cpu",
    "overprovisioned_memory",
    "idle_workload",
    "unused_pv",
    "growth_anomaly",
)
"""Within one severity, checks in this order: what breaks production soonest first."""

SETTINGS_TABLES: dict[str, dict[str, Threshold]] = {
    "rollup": {
        "above": _T(30.0, "findings", "roll a check's findings up above this many", "dwcp-diag"),
        "floor_usd_per_month": _T(
            5.0, "$/month", "findings worth less are summarised (per namespace: see namespaces)",
            "dwcp-diag"
        ),
        "keep": _T(10.0, "findings", "the most severe kept per check, the rest summarised",
                   "dwcp-diag"),
        "floor_bytes": _T(float(2**20), "bytes",
                          "database objects smaller become one summary per schema", "dwcp-diag"),
        "namespaces": _T(3.0, "namespaces",
                         "the namespaces (schemas) with the most rolled-up findings summarised "
                         "one by one; the others in one summary per check", "dwcp-diag"),
    },
}  # fmt: skip
"""``[thresholds.X]`` tables that are not a check: settings shared by several checks."""


def notebook_checks(notebook: str) -> tuple[str, ...]:
    """The check ids a notebook (area) reports, in registry order (``all``: any report's).

    >>> notebook_checks("capacity")
    ('capacity_exhaustion', 'headroom_low', 'growth_anomaly', 'forecast_drift')
    """
    return tuple(c.id for c in CHECKS.values() if c.notebook == notebook)


def threshold_tables() -> dict[str, dict[str, Threshold]]:
    """Every valid ``[thresholds.X]`` table: each check's thresholds, then the shared tables."""
    return {**{c.id: c.thresholds for c in CHECKS.values()}, **SETTINGS_TABLES}


def _given(source: HasThresholds | Mapping[str, Mapping[str, float]] | None) -> Mapping:
    if source is None:
        return {}
    thresholds = getattr(source, "thresholds", source)  # a Profile, else the mapping itself
    return thresholds or {}


def check_thresholds(
    source: HasThresholds | Mapping[str, Mapping[str, float]] | None, check: str
) -> dict[str, float]:
    """The thresholds of ``check`` (or a shared table such as ``rollup``) in force: the
    registry's defaults overridden by ``source``, a :class:`~dwcp_diag.config.Profile` (its
    ``[thresholds.CHECK]`` tables), a mapping of the same shape, or None (the defaults).

    An unknown key is a :class:`ConfigError` naming the valid ones (a typo would otherwise
    pass silently); so is an unknown ``check``.

    >>> check_thresholds({"headroom_low": {"requests_pct": 70}}, "headroom_low")
    {'requests_pct': 70.0, 'critical_requests_pct': 95.0}
    >>> check_thresholds(None, "rollup")  # doctest: +NORMALIZE_WHITESPACE
    {'above': 30.0, 'floor_usd_per_month': 5.0, 'keep': 10.0, 'floor_bytes': 1048576.0,
     'namespaces': 3.0}
    """
    tables = threshold_tables()
    if check not in tables:
        raise ConfigError(f"unknown check id {check!r}; valid: {', '.join(tables)}")
    defaults = tables[check]
    overrides = dict(_given(source).get(check) or {})
    _reject_unknown_keys(check, overrides, defaults)
    return {key: float(overrides.get(key, t.default)) for key, t in defaults.items()}


def _reject_unknown_keys(table: str, given: Mapping, defaults: Mapping[str, Threshold]) -> None:
    unknown = set(given) - set(defaults)
    if unknown:
        valid = ", ".join(defaults) or "none"
        raise ConfigError(
            f"[thresholds.{table}]: unknown key(s) {sorted(unknown)}; valid keys: {valid}"
        )


def validate_thresholds(thresholds: Mapping[str, Mapping[str, object]]) -> None:
    """Raise :class:`ConfigError` for a ``[thresholds.X]`` table whose X is no check id (nor
    a shared table), or whose keys the check does not have; both name the valid ones.
    Profile loading calls it, so a typo fails at load, whichever area it concerns.

    >>> validate_thresholds({"slow_qery": {"mean_ms": 50}})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dwcp_diag.errors.ConfigError: [thresholds.slow_qery]: unknown check id; valid: ...
    """
    tables = threshold_tables()
    for table, given in thresholds.items():
        if table not in tables:
            raise ConfigError(
                f"[thresholds.{table}]: unknown check id; valid: {', '.join(sorted(tables))}"
            )
        _reject_unknown_keys(table, given, tables[table])
