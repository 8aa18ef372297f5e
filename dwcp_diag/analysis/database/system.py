"""The server itself: ``low_cache_hit_ratio`` (shared_buffers), ``stats_unavailable``
(what this role or server does not let the report see, with the fix) and the server summary.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from dwcp_diag.analysis.database.values import (
    ThresholdSettings,
    ages_s,
    as_bool,
    as_text,
    bool_column,
    first_value,
    float_or_nan,
    is_missing,
    report_now,
    utc_text,
    warning_or_critical,
)
from dwcp_diag.analysis.findings import Finding
from dwcp_diag.checks import check_thresholds
from dwcp_diag.errors import QueryTimeout, SourceUnavailable, StatsUnavailable
from dwcp_diag.frames import conform
from dwcp_diag.sources.postgres.schemas import AVAILABILITY_SCHEMA, CACHE_HIT_SCHEMA, SERVER_SCHEMA
from dwcp_diag.units import human_bytes, human_duration


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
    limits = check_thresholds(thresholds, "low_cache_hit_ratio")
    frame = conform(cache_hit, CACHE_HIT_SCHEMA)
    findings = []
    for row in frame.itertuples(index=False):
        hit, read = float_or_nan(row.blks_hit), float_or_nan(row.blks_read)
        if row.scope not in ("tables", "indexes") or is_missing(hit) or is_missing(read):
            continue
        if hit + read < limits["min_blocks"] or hit / (hit + read) >= limits["min_ratio"]:
            continue
        ratio = hit / (hit + read)
        findings.append(
            Finding(
                "low_cache_hit_ratio",
                warning_or_critical(ratio < limits["critical_ratio"]),
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
    missing = frame[~bool_column(frame, "available", default=True)]
    findings, named = [], set()
    for row in missing.itertuples(index=False):
        named.add(str(row.feature))
        findings.append(
            Finding(
                "stats_unavailable",
                "warning" if as_bool(row.required) else "info",
                {"feature": str(row.feature)},
                f"{row.feature} is unavailable ({as_text(row.detail)}); it is needed for "
                f"{as_text(row.needed_for)}.",
                None,
                None,
                "",
                {"needed_for": as_text(row.needed_for), "fix_sql": as_text(row.fix)},
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
    now = report_now(now, server)
    row = server.iloc[0] if len(server) else pd.Series(dtype=object)

    def get(column: str) -> Any:
        value = row.get(column)
        return None if is_missing(value) else value

    def since(column: str) -> str:
        at = get(column)
        if at is None:
            return "never reset"
        age = ages_s(pd.Series([at]), now).iloc[0]
        return f"{utc_text(at)}" + ("" if is_missing(age) else f" ({human_duration(age)} ago)")

    privileges = (
        ("superuser", "is_superuser"),
        ("pg_monitor", "has_pg_monitor"),
        ("pg_read_all_stats", "has_pg_read_all_stats"),
    )
    roles = [name for name, column in privileges if get(column)]
    items = [
        ("PostgreSQL", as_text(get("version")).split(" on ")[0] or "unknown"),
        (
            "uptime",
            f"{human_duration(float_or_nan(get('uptime_s')))} "
            f"(since {utc_text(get('started_at'))})",
        ),
        ("database", f"{as_text(get('dbname'), '?')}, {human_bytes(get('database_size_bytes'))}"),
        ("role", f"{as_text(get('role_name'), '?')} ({', '.join(roles) or 'no monitoring roles'})"),
        ("replica", "yes (in recovery)" if get("is_in_recovery") else "no"),
        ("session read-only", "yes" if get("is_read_only") else "no"),
        ("extensions", as_text(get("extensions"), "none")),
        ("table/index statistics since", since("stats_reset_at")),
        ("pg_stat_statements since", since("pg_stat_statements_reset_at")),
    ]
    dealloc = float_or_nan(get("pg_stat_statements_dealloc"))
    if not is_missing(dealloc):
        note = " (raise pg_stat_statements.max: entries were evicted)" if dealloc > 0 else ""
        items.append(("pg_stat_statements evictions", f"{dealloc:,.0f}{note}"))
    maximum = float_or_nan(first_value(settings, "max_connections"))
    if not is_missing(max_connections) and max_connections != maximum:
        # the report's one value (connection_limit); this server's own setting beside it
        setting = "" if is_missing(maximum) else f"; this server's setting: {maximum:,.0f}"
        items.append(("max_connections", f"{max_connections:,.0f} (postgres_exporter{setting})"))
    elif not is_missing(maximum):
        items.append(("max_connections", f"{maximum:,.0f}"))
    if availability is not None and not availability.empty:
        avail = conform(availability, AVAILABILITY_SCHEMA)
        ok = bool_column(avail, "available", default=True)
        items.append(("role can see", ", ".join(avail["feature"][ok].astype(str)) or "nothing"))
        items.append(("role cannot see", ", ".join(avail["feature"][~ok].astype(str)) or "-"))
    return pd.DataFrame(items, columns=["item", "value"])
