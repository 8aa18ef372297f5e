"""The database report: every check of :mod:`dwcp_diag.analysis.database` on one dict of
the loader's frames (:func:`database_report`), keyed as
:func:`dwcp_diag.collect.database.postgres_frames` loads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from dwcp_diag.analysis.database.connections import (
    activity_findings,
    connection_limit,
    connection_series,
    connections_by,
    idle_in_transaction_sessions,
    long_running_queries,
    max_and_reserved_connections,
    peak_connection_hours,
)
from dwcp_diag.analysis.database.indexes import (
    duplicate_index_findings,
    duplicate_index_table,
    unused_index_findings,
    unused_indexes,
)
from dwcp_diag.analysis.database.maintenance import (
    sequence_findings,
    vacuum_lag_findings,
    vacuum_status,
    wraparound_findings,
)
from dwcp_diag.analysis.database.space import (
    bloat_findings,
    bloat_table,
    largest_indexes,
    largest_tables,
    space_tree,
)
from dwcp_diag.analysis.database.statements import (
    slow_query_findings,
    statement_stats,
    top_statements,
    windowed_statements,
)
from dwcp_diag.analysis.database.suggested_indexes import (
    missing_index_candidates,
    missing_index_findings,
)
from dwcp_diag.analysis.database.system import (
    cache_hit_findings,
    server_summary,
    stats_unavailable_findings,
)
from dwcp_diag.analysis.database.values import ThresholdSettings, as_text, first_value, report_now
from dwcp_diag.analysis.findings import Finding, Findings, merge_overlapping, source_unavailable
from dwcp_diag.analysis.rollup import rollup_objects
from dwcp_diag.checks import check_thresholds, notebook_checks
from dwcp_diag.errors import SourceUnavailable
from dwcp_diag.frames import conform
from dwcp_diag.sources.postgres.schemas import (
    ACTIVITY_SCHEMA,
    AVAILABILITY_SCHEMA,
    BLOAT_SCHEMA,
    CACHE_HIT_SCHEMA,
    DUPLICATE_INDEXES_SCHEMA,
    INDEXES_SCHEMA,
    SEQUENCES_SCHEMA,
    SERVER_SCHEMA,
    SETTINGS_SCHEMA,
    SLOW_QUERIES_SCHEMA,
    TABLES_SCHEMA,
    WRAPAROUND_SCHEMA,
)

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

    ``frames`` maps the keys of ``collect.database.postgres_frames`` (plus ``slow_queries_before``,
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

        frames = postgres_frames(pg)  # dwcp_diag.collect.database: errors kept as values
        report = database_report(frames, profile)
        report["findings"].publish()

    >>> report = database_report({"tables": pd.DataFrame({"schemaname": ["public"],
    ...     "relname": ["t"], "n_live_tup": [10], "n_dead_tup": [0]})})
    >>> list(report["findings"]), report["vacuum"]["table"].tolist()
    ([], ['public.t'])
    """
    resolved = {check: check_thresholds(profile, check) for check in notebook_checks("database")}
    got, errors = _split_frames(frames)

    def frame(key: str) -> pd.DataFrame:
        return (
            conform(got[key], _SCHEMAS[key])
            if key in got
            else conform(pd.DataFrame(), _SCHEMAS[key])
        )

    server, settings = frame("server"), frame("settings")
    now = report_now(now, server)
    database = as_text(first_value(server, "dbname"), "current")
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

    _, reserved = max_and_reserved_connections(settings, pg_max)
    maximum = connection_limit(settings, pg_max, pg_count)
    activity = frame("activity")
    fleet = check_thresholds(profile, "rollup")
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
        "findings": Findings(
            rollup_objects(
                findings,
                above=fleet["above"],
                keep=fleet["keep"],
                floor_bytes=fleet["floor_bytes"],
                namespaces=fleet["namespaces"],
            )
        ),
    }
