"""What this role and server let the loader see: the pg_stat_statements variant to read,
and one availability row per feature with the statement that fixes a gap.

>>> rows = availability_rows({"pg_stat_statements_version": None, "dbname_ident": "app",
...     "role_ident": "monitor", "has_pg_read_all_stats": True, "pgstattuple_version": "1.5",
...     "can_execute_pgstattuple": True, "track_counts": True, "track_io_timing": False,
...     "unreadable_tables": 0, "schemas_with_unreadable_tables": None,
...     "unreadable_sequences": 0, "schemas_with_unreadable_sequences": None}, None)
>>> [(r["feature"], r["available"]) for r in rows][:3]
[('pg_stat_statements', False), ('pg_read_all_stats', True), ('pgstattuple', True)]
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from dwcp_diag.errors import StatsUnavailable

MIN_PG_STAT_STATEMENTS = (1, 8)  # PostgreSQL 13: *_exec_time


def parse_extension_version(version: str) -> tuple[int, ...]:
    """``"1.10"`` -> ``(1, 10)`` (so that 1.10 sorts after 1.9).

    >>> parse_extension_version("1.10") > parse_extension_version("1.9")
    True
    """
    return tuple(int(part) for part in re.findall(r"\d+", version))


def pg_stat_statements_variant(version_num: int, extension_version: str) -> str:
    """Name of the ``pgss_*.sql`` file that reads this pg_stat_statements.

    The columns depend on the extension's version in the database (an upgraded server keeps
    the old one until ``ALTER EXTENSION pg_stat_statements UPDATE``), so that decides:
    1.8 (PG13) -> ``pgss_pg13``; 1.9-1.10 (PG14-16) -> ``pgss_pg14``; 1.11+ (PG17+) ->
    ``pgss_pg17``. Servers before 13 and extensions before 1.8 raise :class:`StatsUnavailable`.

    >>> pg_stat_statements_variant(130011, "1.8"), pg_stat_statements_variant(170002, "1.11")
    ('pgss_pg13', 'pgss_pg17')
    """
    if version_num < 130000:
        raise StatsUnavailable(
            "pg_stat_statements",
            f"PostgreSQL {version_num // 10000} is not supported (13 or later is needed)",
            fix="upgrade PostgreSQL to 13 or later",
        )
    version = parse_extension_version(extension_version)
    if version < MIN_PG_STAT_STATEMENTS:
        raise StatsUnavailable(
            "pg_stat_statements",
            f"pg_stat_statements {extension_version} is older than 1.8 (PostgreSQL 13)",
            fix="ALTER EXTENSION pg_stat_statements UPDATE;",
        )
    if version >= (1, 11):
        return "pgss_pg17"
    if version >= (1, 9):
        return "pgss_pg14"
    return "pgss_pg13"


def _feature(
    feature: str, available: bool, required: bool, needed_for: str, detail: str, fix: str
) -> dict[str, Any]:
    """One availability row; ``fix`` is kept only when the feature is missing."""
    return {
        "feature": feature,
        "available": bool(available),
        "required": required,
        "needed_for": needed_for,
        "detail": detail,
        "fix": None if available else fix,
    }


def _pg_stat_statements_row(facts: Mapping[str, Any], loaded: bool | None) -> dict[str, Any]:
    version, db = facts["pg_stat_statements_version"], facts["dbname_ident"]
    if version is None:
        detail = f"extension pg_stat_statements is not created in database {db}"
        fix = (
            f"CREATE EXTENSION pg_stat_statements;  -- in database {db}, as its owner or a "
            "superuser; the library must be in shared_preload_libraries (restart)"
        )
    elif parse_extension_version(version) < MIN_PG_STAT_STATEMENTS:
        detail = f"pg_stat_statements {version} is older than 1.8 (PostgreSQL 13)"
        fix = f"ALTER EXTENSION pg_stat_statements UPDATE;  -- in database {db}"
    elif loaded is False:
        detail = "the pg_stat_statements library is not loaded (shared_preload_libraries)"
        fix = (
            "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements';  -- add it to "
            "any libraries already listed, then restart PostgreSQL"
        )
    else:
        return _feature("pg_stat_statements", True, True, "slow_queries", f"version {version}", "")
    return _feature("pg_stat_statements", False, True, "slow_queries", detail, fix)


def _read_all_stats_row(facts: Mapping[str, Any]) -> dict[str, Any]:
    role, granted = facts["role_ident"], bool(facts["has_pg_read_all_stats"])
    seen = (
        "reads every role's statistics"
        if granted
        else ("sees other roles' queries as <insufficient privilege> and no queryid")
    )
    return _feature(
        "pg_read_all_stats", granted, True,
        "slow_queries, activity: other roles' query text, queryid and state",
        f"role {role} {seen}",
        f"GRANT pg_monitor TO {role};  -- deploy/postgres-monitoring-role.sql",
    )  # fmt: skip


_PGSTATTUPLE_NEEDED_FOR = "bloat: measured (approx_scan, pgstatindex), not estimated; bloat_exact"


def _pgstattuple_row(facts: Mapping[str, Any]) -> dict[str, Any]:
    version, role, db = facts["pgstattuple_version"], facts["role_ident"], facts["dbname_ident"]
    if version is None:
        return _feature(
            "pgstattuple", False, False, _PGSTATTUPLE_NEEDED_FOR,
            f"extension pgstattuple is not created in database {db}",
            f"CREATE EXTENSION pgstattuple;  -- in database {db}",
        )  # fmt: skip
    allowed = bool(facts["can_execute_pgstattuple"])
    return _feature(
        "pgstattuple", allowed, False, _PGSTATTUPLE_NEEDED_FOR,
        f"version {version}" + ("" if allowed else f"; role {role} may not execute it"),
        f"GRANT pg_stat_scan_tables TO {role};  -- included in pg_monitor",
    )  # fmt: skip


def _setting_row(
    facts: Mapping[str, Any], name: str, required: bool, needed_for: str
) -> dict[str, Any]:
    on = bool(facts[name])
    return _feature(
        name, on, required, needed_for, f"{name} is {'on' if on else 'off'}",
        f"ALTER SYSTEM SET {name} = on; SELECT pg_reload_conf();",
    )  # fmt: skip


def _unreadable_row(
    facts: Mapping[str, Any], feature: str, objects: str, needed_for: str, hidden: str, note: str
) -> dict[str, Any]:
    count, role = int(facts[f"unreadable_{objects}"] or 0), facts["role_ident"]
    schemas = facts[f"schemas_with_unreadable_{objects}"] or "public"
    return _feature(
        feature, count == 0, False, needed_for,
        f"{count} {objects} role {role} may not SELECT: {hidden}",
        f"GRANT SELECT ON ALL {objects.upper()} IN SCHEMA {schemas} TO {role};{note}",
    )  # fmt: skip


def availability_rows(facts: Mapping[str, Any], pgss_loaded: bool | None) -> list[dict[str, Any]]:
    """Rows of :data:`AVAILABILITY_SCHEMA` from availability.sql's facts.

    ``pgss_loaded``: whether reading pg_stat_statements worked (None: not tried).
    """
    return [
        _pg_stat_statements_row(facts, pgss_loaded),
        _read_all_stats_row(facts),
        _pgstattuple_row(facts),
        _setting_row(facts, "track_counts", True, "tables, indexes, cache_hit; autovacuum"),
        _setting_row(facts, "track_io_timing", False, "slow_queries: shared_blk_*_time_ms"),
        _unreadable_row(
            facts, "table_statistics", "tables", "bloat: variable-width column estimates",
            "their pg_stats rows are hidden", "  -- also lets the role read the data: weigh it",
        ),
        _unreadable_row(
            facts, "sequence_values", "sequences", "sequences: last_value, used_pct",
            "their last_value is hidden", "",
        ),
    ]  # fmt: skip
