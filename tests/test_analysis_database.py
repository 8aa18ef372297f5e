"""Database health analysis on constructed loader frames whose answers are known (no server).

Frames carry the PostgreSQL loader's column names and dtypes (``conform`` to its ``*_SCHEMA``);
each check must fire on a planted row, stay silent on a healthy one, and honour its thresholds.
"""

from __future__ import annotations

import doctest
import importlib
import json
import pkgutil

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

import dwcp_diag.analysis.database as database_package
import dwcp_diag.plots.database as database_plots
from dwcp_diag.analysis.database.connections import (
    activity_findings,
    connections_by,
    peak_connection_hours,
)
from dwcp_diag.analysis.database.fix_sql import qualified, quote_ident
from dwcp_diag.analysis.database.indexes import duplicate_index_findings, unused_index_findings
from dwcp_diag.analysis.database.maintenance import (
    sequence_findings,
    vacuum_lag_findings,
    wraparound_findings,
)
from dwcp_diag.analysis.database.report import database_report
from dwcp_diag.analysis.database.space import bloat_findings, space_tree
from dwcp_diag.analysis.database.statements import (
    slow_query_basis,
    slow_query_findings,
    windowed_statements,
)
from dwcp_diag.analysis.database.suggested_indexes import (
    filtered_columns,
    missing_index_candidates,
    missing_index_findings,
)
from dwcp_diag.analysis.database.system import cache_hit_findings, stats_unavailable_findings
from dwcp_diag.analysis.findings import CHECKS_BY_NOTEBOOK, Findings
from dwcp_diag.config import Profile
from dwcp_diag.errors import ConfigError, SourceUnavailable, StatsUnavailable
from dwcp_diag.frames import conform
from dwcp_diag.plots.database import (
    bloat_figure,
    connections_figure,
    database_figures,
    hour_profile_figure,
    slow_query_figure,
    space_figure,
)
from dwcp_diag.queries.sql import load_sql, sql_concern, sql_names
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
from dwcp_diag.units import GIB, MIB

NOW = pd.Timestamp("2026-11-29 12:00", tz="UTC")
STATS_RESET = NOW - pd.Timedelta(days=30)
DATABASE_CHECKS = set(CHECKS_BY_NOTEBOOK["database"])


# --------------------------------------------------------------------------- frame builders


def frame(rows: list[dict], schema: dict) -> pd.DataFrame:
    """Rows as the loader returns them: its columns, its dtypes, NA for what a row omits."""
    return conform(pd.DataFrame(rows), schema)


def server_frame(**overrides) -> pd.DataFrame:
    row = {
        "version_num": 160004,
        "version": "PostgreSQL 16.4 on x86_64-pc-linux-gnu",
        "started_at": NOW - pd.Timedelta(days=40),
        "uptime_s": 40 * 86400.0,
        "dbname": "app_db",
        "database_size_bytes": 5 * GIB,
        "role_name": "dwcp_monitor",
        "is_superuser": False,
        "has_pg_read_all_stats": True,
        "has_pg_monitor": True,
        "is_in_recovery": False,
        "is_read_only": True,
        "extensions": "pg_stat_statements 1.10, plpgsql 1.0",
        "pg_stat_statements_version": "1.10",
        "stats_reset_at": STATS_RESET,
        "pg_stat_statements_reset_at": NOW - pd.Timedelta(days=7),
        "pg_stat_statements_dealloc": 0,
        "captured_at": NOW,
    }
    return frame([{**row, **overrides}], SERVER_SCHEMA)


def settings_frame(**overrides) -> pd.DataFrame:
    row = {
        "max_connections": 100,
        "superuser_reserved_connections": 3,
        "autovacuum": True,
        "autovacuum_vacuum_threshold": 50,
        "autovacuum_vacuum_scale_factor": 0.2,
        "autovacuum_freeze_max_age": 200_000_000,
        "block_size_bytes": 8192,
    }
    return frame([{**row, **overrides}], SETTINGS_SCHEMA)


def statement(queryid, query, calls, mean_ms, **overrides) -> dict:
    total = calls * mean_ms
    return {
        "userid": 10,
        "dbid": 5,
        "queryid": queryid,
        "toplevel": True,
        "role_name": "app",
        "dbname": "app_db",
        "query": query,
        "calls": calls,
        "total_exec_time_ms": total,
        "mean_exec_time_ms": mean_ms,
        "max_exec_time_ms": mean_ms * 3,
        "rows": calls,
        "shared_blks_hit": 99 * calls,
        "shared_blks_read": calls,
        "stats_reset_at": NOW - pd.Timedelta(days=7),
        "captured_at": NOW,
        **overrides,
    }


def statements_frame(rows: list[dict]) -> pd.DataFrame:
    out = frame(rows, SLOW_QUERIES_SCHEMA)
    total = out["total_exec_time_ms"].sum()
    out["share_of_total_time"] = out["total_exec_time_ms"] / total
    return out


def table_row(relname, live, **overrides) -> dict:
    return {
        "schemaname": "public",
        "relname": relname,
        "seq_scan": 5,
        "seq_tup_read": 5 * live,
        "idx_scan": 100_000,
        "n_live_tup": live,
        "n_dead_tup": 0,
        "dead_tup_ratio": 0.0,
        "last_autovacuum": NOW - pd.Timedelta(hours=3),
        "last_autoanalyze": NOW - pd.Timedelta(hours=3),
        "reltuples": float(live),
        "table_bytes": live * 100,
        "index_bytes": live * 30,
        "total_bytes": live * 130,
        "autovacuum_enabled": True,
        "autovacuum_vacuum_trigger_tup": 50 + 0.2 * live,
        "stats_reset": STATS_RESET,
        **overrides,
    }


def index_row(relname, indexrelname, columns, scans, **overrides) -> dict:
    return {
        "schemaname": "public",
        "relname": relname,
        "indexrelname": indexrelname,
        "method": "btree",
        "is_unique": False,
        "is_primary": False,
        "is_valid": True,
        "is_constraint": False,
        "columns": columns,
        "definition": f"CREATE INDEX {indexrelname} ON public.{relname} USING btree ({columns})",
        "idx_scan": scans,
        "size_bytes": 8 * MIB,
        "stats_reset": STATS_RESET,
        **overrides,
    }


def bloat_row(kind, relname, bloat_bytes, size_bytes, indexrelname=None, **overrides) -> dict:
    return {
        "kind": kind,
        "schemaname": "public",
        "relname": relname,
        "indexrelname": indexrelname,
        "size_bytes": size_bytes,
        "expected_bytes": size_bytes - bloat_bytes,
        "bloat_bytes": bloat_bytes,
        "bloat_ratio": bloat_bytes / size_bytes,
        "is_reliable": True,
        **overrides,
    }


def session(pid, state, app="api", **overrides) -> dict:
    return {
        "pid": pid,
        "datname": "app_db",
        "usename": "app",
        "application_name": app,
        "client_addr": "10.0.0.7",
        "backend_type": "client backend",
        "state": state,
        "backend_start": NOW - pd.Timedelta(hours=2),
        "query_start": NOW - pd.Timedelta(seconds=1),
        "state_change": NOW - pd.Timedelta(seconds=1),
        "query_age_s": 1.0,
        "state_age_s": 1.0,
        "query": "SELECT 1",
        **overrides,
    }


def healthy_frames() -> dict[str, pd.DataFrame]:
    """A database with nothing wrong: every check must stay silent on it."""
    return {
        "server": server_frame(),
        "settings": settings_frame(),
        "availability": frame(
            [
                {
                    "feature": f,
                    "available": True,
                    "required": True,
                    "needed_for": "x",
                    "detail": "ok",
                }
                for f in ("pg_stat_statements", "pg_read_all_stats", "track_counts")
            ],
            AVAILABILITY_SCHEMA,
        ),
        "slow_queries": statements_frame(
            [
                statement(1, "SELECT * FROM users WHERE id = $1", 50_000, 0.05),
                statement(2, "SELECT * FROM tasks WHERE user_id = $1", 20_000, 1.5),
                statement(3, "SELECT count(*) FROM events WHERE kind = $1", 40, 350.0),
            ]
        ),
        "activity": frame(
            [
                session(101, "active", query_age_s=0.2, state_age_s=0.2),
                session(102, "idle", state_age_s=900.0),
                session(103, "idle in transaction", state_age_s=2.0, xact_age_s=2.5),
                {"pid": 5, "backend_type": "checkpointer"},
                session(104, None, app="other role", backend_type="client backend"),
            ],
            ACTIVITY_SCHEMA,
        ),
        "tables": frame(
            [
                table_row("users", 20_000, n_dead_tup=900),
                table_row("tasks", 200_000, n_dead_tup=30_000),
                table_row("feature_flags", 40, seq_scan=5000, idx_scan=0, seq_tup_read=200_000),
                table_row("events", 300_000, seq_scan=400, seq_tup_read=400 * 50, idx_scan=10),
            ],
            TABLES_SCHEMA,
        ),
        "indexes": frame(
            [
                index_row(
                    "users",
                    "users_pkey",
                    "id",
                    50_000,
                    is_unique=True,
                    is_primary=True,
                    is_constraint=True,
                ),
                index_row("tasks", "tasks_user_id_idx", "user_id", 20_000),
                index_row(
                    "feature_flags",
                    "feature_flags_name_key",
                    "name",
                    0,
                    is_unique=True,
                    is_constraint=True,
                ),
            ],
            INDEXES_SCHEMA,
        ),
        "duplicate_indexes": frame([], DUPLICATE_INDEXES_SCHEMA),
        "bloat": frame(
            [
                bloat_row("table", "tasks", 3 * MIB, 30 * MIB),
                bloat_row(
                    "table",
                    "feature_flags",
                    8192,
                    16384,
                    is_reliable=False,
                    unreliable_reason="under 10 pages",
                ),
                bloat_row("index", "tasks", 20 * MIB, 400 * MIB, "tasks_user_id_idx"),
                bloat_row("table", "events", 200 * MIB, 2 * GIB),
            ],
            BLOAT_SCHEMA,
        ),
        "wraparound": frame(
            [
                {"level": "database", "dbname": "app_db", "xid_age": 150_000_000},
                {
                    "level": "table",
                    "dbname": "app_db",
                    "schemaname": "public",
                    "relname": "events",
                    "xid_age": 150_000_000,
                },
            ],
            WRAPAROUND_SCHEMA,
        ),
        "sequences": frame(
            [
                {
                    "schemaname": "public",
                    "sequencename": "users_id_seq",
                    "data_type": "bigint",
                    "table_name": "public.users",
                    "column_name": "id",
                    "column_type": "bigint",
                    "last_value": 20_000,
                    "is_readable": True,
                    "used_pct": 0.0002,
                },
                {
                    "schemaname": "public",
                    "sequencename": "secret_seq",
                    "data_type": "integer",
                    "is_readable": False,
                },
            ],
            SEQUENCES_SCHEMA,
        ),
        "cache_hit": frame(
            [
                {"scope": "database", "blks_hit": 10_000_000, "blks_read": 10_000},
                {"scope": "tables", "blks_hit": 5_000_000, "blks_read": 20_000},
                {"scope": "indexes", "blks_hit": 200, "blks_read": 4},
            ],
            CACHE_HIT_SCHEMA,
        ),
    }


def planted_frames() -> dict[str, pd.DataFrame]:
    """The healthy database with one problem planted per check (as the demo scenario has)."""
    frames = healthy_frames()
    frames["slow_queries"] = statements_frame(
        [
            *frames["slow_queries"].to_dict("records"),
            statement(-4966331136905039747,
                      "SELECT account_id, count(*) FROM events WHERE account_id = $1 "
                      "GROUP BY account_id", 150, 145.8),
        ]
    )  # fmt: skip
    frames["activity"] = frame(
        [
            *frames["activity"].to_dict("records"),
            session(201, "active", app="report", query_age_s=95.0,
                    query_start=NOW - pd.Timedelta(seconds=95), query="SELECT pg_sleep($1)"),
            session(202, "idle in transaction", app="worker", state_age_s=400.0,
                    xact_age_s=420.0, state_change=NOW - pd.Timedelta(seconds=400)),
        ],
        ACTIVITY_SCHEMA,
    )  # fmt: skip
    tables = frames["tables"].to_dict("records")
    tables[3].update(seq_scan=102, seq_tup_read=102 * 300_000, idx_scan=20)  # events
    tables.append(
        table_row("audit_log", 150_000, n_dead_tup=110_000, autovacuum_enabled=False,
                  last_autovacuum=None, last_autoanalyze=None,
                  autovacuum_vacuum_trigger_tup=30_050.0)
    )  # fmt: skip
    frames["tables"] = frame(tables, TABLES_SCHEMA)
    frames["indexes"] = frame(
        [
            *frames["indexes"].to_dict("records"),
            index_row("tasks", "tasks_updated_at_idx", "updated_at", 0),
        ],
        INDEXES_SCHEMA,
    )
    frames["duplicate_indexes"] = frame(
        [
            {"schemaname": "public", "relname": "tasks", "indexrelname": "tasks_user_id_idx",
             "covering_indexrelname": "tasks_user_id_status_idx", "match": "prefix",
             "size_bytes": 2 * MIB, "idx_scan": 500},
        ],
        DUPLICATE_INDEXES_SCHEMA,
    )  # fmt: skip
    frames["bloat"] = frame(
        [
            *frames["bloat"].to_dict("records"),
            bloat_row("table", "audit_log", 15 * MIB, 35 * MIB),
            bloat_row("index", "events", 300 * MIB, 500 * MIB, "events_pkey"),
        ],
        BLOAT_SCHEMA,
    )
    frames["wraparound"] = frame(
        [
            {"level": "database", "dbname": "legacy_db", "xid_age": 1_350_000_000},
            *frames["wraparound"].to_dict("records"),
        ],
        WRAPAROUND_SCHEMA,
    )
    frames["sequences"] = frame(
        [
            *frames["sequences"].to_dict("records"),
            {"schemaname": "public", "sequencename": "invoices_id_seq", "data_type": "integer",
             "table_name": "public.invoices", "column_name": "id", "column_type": "integer",
             "last_value": 2_040_110_464, "is_readable": True, "used_pct": 95.00005,
             "remaining_values": 107_373_183.0},
        ],
        SEQUENCES_SCHEMA,
    )  # fmt: skip
    frames["cache_hit"] = frame(
        [
            {"scope": "database", "blks_hit": 10_000_000, "blks_read": 10_000},
            {"scope": "tables", "blks_hit": 1_489_985, "blks_read": 61_305},
            {"scope": "indexes", "blks_hit": 191_093, "blks_read": 505},
        ],
        CACHE_HIT_SCHEMA,
    )
    frames["availability"] = frame(
        [
            *frames["availability"].to_dict("records"),
            {"feature": "pgstattuple", "available": False, "required": False,
             "needed_for": "bloat_exact", "detail": "not created",
             "fix": "CREATE EXTENSION pgstattuple;"},
        ],
        AVAILABILITY_SCHEMA,
    )  # fmt: skip
    return frames


PLANTED = {
    ("slow_query", (("queryid", "-4966331136905039747"),)),
    ("long_running_query", (("pid", "201"), ("application", "report"))),
    ("idle_in_transaction", (("pid", "202"), ("application", "worker"))),
    ("missing_index", (("table", "public.events"),)),
    ("unused_index", (("index", "public.tasks_updated_at_idx"),)),
    ("duplicate_index", (("index", "public.tasks_user_id_idx"),)),
    ("table_bloat", (("table", "public.audit_log"),)),
    ("index_bloat", (("index", "public.events_pkey"),)),
    ("vacuum_lag", (("table", "public.audit_log"),)),
    ("xid_wraparound_risk", (("database", "legacy_db"),)),
    ("sequence_exhaustion", (("sequence", "public.invoices_id_seq"),)),
    ("low_cache_hit_ratio", (("database", "app_db"), ("scope", "tables"))),
    ("stats_unavailable", (("feature", "pgstattuple"),)),
}


def keyed(findings) -> set[tuple[str, tuple]]:
    return {(f.check, tuple(f.subject.items())) for f in findings}


def fix_lines(finding) -> list[str]:
    return finding.evidence["fix_sql"].split("\n")


# --------------------------------------------------------------------------- the whole report


def test_healthy_database_has_no_findings():
    report = database_report(healthy_frames())
    assert list(report["findings"]) == []


def test_every_planted_problem_is_found_with_its_subject_and_nothing_else():
    report = database_report(planted_frames())
    assert keyed(report["findings"]) == PLANTED


def test_planted_report_covers_every_database_check_but_saturation():
    checks = {check for check, _ in PLANTED}
    assert checks == DATABASE_CHECKS - {"connection_saturation"}


def test_findings_are_contract_records_and_json_serialisable():
    findings = database_report(planted_frames())["findings"]
    assert isinstance(findings, Findings)
    records = json.loads(json.dumps(findings.to_records()))
    assert {r["check"] for r in records} <= DATABASE_CHECKS
    assert records[0]["severity"] == "critical"  # most severe first
    for record in records:
        assert record["summary"].endswith((".", ")")) or ":" in record["summary"]
        assert all(isinstance(v, str) for v in record["subject"].values())


def test_every_fix_is_statements_ending_in_semicolons():
    for finding in database_report(planted_frames())["findings"]:
        if finding.evidence and "fix_sql" in finding.evidence:
            for line in fix_lines(finding):
                assert line.rstrip().split("--")[0].rstrip().endswith(";"), line


def test_report_tables_for_the_notebook():
    report = database_report(planted_frames())
    assert report["statements_basis"].startswith("since pg_stat_statements was reset at")
    assert report["top_by_total"]["queryid"].tolist()[:2] == [2, -4966331136905039747]
    assert report["top_by_mean"]["queryid"].iloc[0] == -4966331136905039747
    assert report["top_by_mean"]["calls"].min() >= 100
    assert report["missing_indexes"]["columns"].tolist() == ["account_id"]
    assert report["unused_indexes"]["index"].tolist() == ["public.tasks_updated_at_idx"]
    assert report["vacuum"]["table"].iloc[0] == "public.audit_log"
    assert report["bloat"]["name"].iloc[0] == "public.events_pkey"
    assert report["max_connections"] == 100
    by_state = dict(report["connections_by_state"].itertuples(index=False, name=None))
    assert by_state == {"active": 2, "idle in transaction": 2, "idle": 1, "hidden": 1}
    summary = report["server"].set_index("item")["value"]
    assert summary["PostgreSQL"] == "PostgreSQL 16.4"
    assert summary["table/index statistics since"] == "2026-10-30 12:00 UTC (4w2d ago)"
    assert summary["role cannot see"] == "pgstattuple"


def test_missing_frames_and_loader_errors_still_render():
    frames = {
        "server": server_frame(),
        "slow_queries": StatsUnavailable(
            "pg_stat_statements", "not preloaded", "ALTER SYSTEM SET shared_preload_libraries"
        ),
        "activity": SourceUnavailable("postgres", "connection refused"),
    }
    report = database_report(frames)
    assert keyed(report["findings"]) == {
        ("source_unavailable", (("source", "postgres"),)),
        ("stats_unavailable", (("feature", "pg_stat_statements"),)),
    }
    stats = next(f for f in report["findings"] if f.check == "stats_unavailable")
    assert stats.evidence["fix_sql"].startswith("ALTER SYSTEM")
    assert len(report["notes"]) == 2
    assert report["top_by_total"].empty and report["vacuum"].empty


def test_empty_report_has_every_key():
    report = database_report({})
    assert list(report["findings"]) == []
    assert report["peaks"].peak_hour is None
    for key in ("statements", "space_tree", "bloat", "connection_series", "sequences"):
        assert isinstance(report[key], pd.DataFrame)


# --------------------------------------------------------------------------- thresholds


def test_thresholds_default_from_pghero_and_check_postgres():
    resolved = database_report({})["thresholds"]
    assert resolved["slow_query"] == {"mean_ms": 20.0, "calls": 100.0, "critical_mean_ms": 200.0}
    assert resolved["unused_index"]["max_scans"] == 50
    assert resolved["low_cache_hit_ratio"]["min_ratio"] == 0.99
    assert resolved["sequence_exhaustion"]["warning_used_pct"] == 90
    assert resolved["xid_wraparound_risk"]["warning_xid_age"] == 1.3e9
    assert set(resolved) == DATABASE_CHECKS


def test_thresholds_come_from_the_profile():
    profile = Profile(thresholds={"slow_query": {"mean_ms": 500}, "memory_leak": {"x": 1}})
    report = database_report(planted_frames(), profile)
    assert report["thresholds"]["slow_query"]["mean_ms"] == 500
    assert "slow_query" not in {f.check for f in report["findings"]}


def test_unknown_threshold_key_is_an_error():
    with pytest.raises(ConfigError, match=r"mean_msec.*valid keys: mean_ms"):
        database_report({}, {"slow_query": {"mean_msec": 5}})
    with pytest.raises(ConfigError, match=r"warning_sec.*valid keys: warning_s"):
        activity_findings(pd.DataFrame(), thresholds={"idle_in_transaction": {"warning_sec": 5}})


# --------------------------------------------------------------------------- quoting


@pytest.mark.parametrize(
    ("name", "quoted"),
    [("events", '"events"'), ("Weird Name", '"Weird Name"'), ('a"b', '"a""b"'),
     ("select", '"select"')],
)  # fmt: skip
def test_quote_ident(name, quoted):
    assert quote_ident(name) == quoted


def test_qualified_names():
    assert qualified("Odd Schema", "Weird Name") == '"Odd Schema"."Weird Name"'
    assert qualified(None, "t") == '"t"'


# --------------------------------------------------------------------------- slow queries


def test_slow_query_fires_at_pghero_boundary_and_not_below():
    frame_ = statements_frame(
        [
            statement(1, "SELECT a", 100, 20.0),  # exactly PgHero's >= 20 ms and >= 100 calls
            statement(2, "SELECT b", 99, 500.0),  # too few calls
            statement(3, "SELECT c", 10_000, 19.9),  # fast enough
            statement(4, "SELECT d", 300, 250.0),  # critical: over the 200 ms p95 budget
        ]
    )
    found = {f.subject["queryid"]: f.severity for f in slow_query_findings(frame_)}
    assert found == {"1": "warning", "4": "critical"}


def test_slow_query_thresholds_are_configurable():
    frame_ = statements_frame([statement(1, "SELECT a", 40, 30.0)])
    assert slow_query_findings(frame_) == []
    found = slow_query_findings(frame_, {"slow_query": {"calls": 10, "mean_ms": 25}})
    assert [f.subject for f in found] == [{"queryid": "1"}]


def test_slow_query_evidence_and_summary():
    frame_ = statements_frame(
        [statement(7, "SELECT  *\n FROM t WHERE x = $1", 200, 50.0), statement(8, "q", 10, 1.0)]
    )
    (finding,) = slow_query_findings(frame_)
    assert finding.value == 50.0 and finding.threshold == 20 and finding.unit == "ms"
    assert finding.evidence["query"] == "SELECT * FROM t WHERE x = $1"
    assert finding.evidence["share_of_total_time"] == pytest.approx(10_000 / 10_010)
    assert "100% of all execution time" in finding.summary
    assert "since pg_stat_statements was reset at 2026-11-22 12:00 UTC" in finding.summary


def test_slow_query_sums_a_statement_over_roles_and_ignores_hidden_ones():
    frame_ = statements_frame(
        [
            statement(5, "SELECT x", 60, 30.0, role_name="app"),
            statement(5, "SELECT x", 60, 30.0, role_name="batch", userid=11),
            statement(None, "<insufficient privilege>", 5000, 900.0, role_name="other"),
        ]
    )
    (finding,) = slow_query_findings(frame_)
    assert finding.evidence["calls"] == 120
    assert finding.evidence["role_name"] == "app, batch"


def test_slow_queries_over_a_window_use_the_delta_of_two_captures():
    before = statements_frame(
        [statement(9, "SELECT w", 1000, 1.0, captured_at=NOW - pd.Timedelta(days=7))]
    )
    after = statements_frame([statement(9, "SELECT w", 1150, 1.0 + 150 * 40.0 / 1150)])
    after["total_exec_time_ms"] = 1000 * 1.0 + 150 * 40.0
    windowed, basis = windowed_statements(after, before)
    assert basis.startswith("between 2026-11-22 12:00 UTC and 2026-11-29 12:00 UTC")
    (finding,) = slow_query_findings(windowed, basis=basis)
    assert finding.evidence["calls"] == 150
    assert finding.value == pytest.approx(40.0)
    assert "between 2026-11-22 12:00 UTC" in finding.summary
    # since the reset, the same statement averages 6 ms: not slow
    assert slow_query_findings(after) == []


def test_slow_query_basis_without_a_reset_time():
    frame_ = statements_frame([statement(1, "q", 1, 1.0, stats_reset_at=None)])
    assert "not recorded before PostgreSQL 14" in slow_query_basis(frame_)
    pg17 = statements_frame(
        [statement(1, "q", 1, 1.0, stats_reset_at=None, stats_since=NOW - pd.Timedelta(days=2))]
    )
    assert slow_query_basis(pg17).startswith("since 2026-11-27 12:00 UTC")


# --------------------------------------------------------------------------- bloat


def test_table_bloat_fires_on_reliable_large_share_only():
    rows = frame(
        [
            bloat_row("table", "audit_log", 15 * MIB, 35 * MIB),
            bloat_row("table", "big_but_tight", 500 * MIB, 10 * GIB),  # 5 %: padding noise
            bloat_row("table", "tiny", 5 * MIB, 8 * MIB),  # under 10 MiB
            bloat_row("table", "guess", 50 * MIB, 60 * MIB, is_reliable=False,
                      unreliable_reason="2 variable-width column(s) without statistics"),
        ],
        BLOAT_SCHEMA,
    )  # fmt: skip
    (finding,) = bloat_findings(rows)
    assert finding.check == "table_bloat" and finding.subject == {"table": "public.audit_log"}
    assert finding.severity == "warning" and finding.unit == "bytes"
    assert finding.evidence["fix_sql"] == 'VACUUM (FULL, ANALYZE) "public"."audit_log";'
    assert "ACCESS EXCLUSIVE" in finding.summary


def test_bloat_critical_from_check_postgres_5_gb_and_index_fix():
    rows = frame(
        [
            bloat_row("table", "huge", 6 * GIB, 12 * GIB),
            bloat_row("index", "Weird Name", 150 * MIB, 300 * MIB, "Odd \"Idx\"",
                      schemaname="Odd Schema"),
            bloat_row("index", "t", 50 * MIB, 100 * MIB, "t_small_idx"),  # under PgHero's 100 MB
        ],
        BLOAT_SCHEMA,
    )  # fmt: skip
    found = {f.check: f for f in bloat_findings(rows)}
    assert found["table_bloat"].severity == "critical"
    index = found["index_bloat"]
    assert index.subject == {"index": 'Odd Schema.Odd "Idx"'}
    assert index.evidence["fix_sql"] == 'REINDEX INDEX CONCURRENTLY "Odd Schema"."Odd ""Idx""";'


def test_bloat_thresholds_are_configurable():
    rows = frame([bloat_row("table", "t", 5 * MIB, 8 * MIB)], BLOAT_SCHEMA)
    assert bloat_findings(rows) == []
    assert len(bloat_findings(rows, {"table_bloat": {"min_bytes": MIB}})) == 1


# --------------------------------------------------------------------------- missing indexes


def events_table(**overrides) -> pd.DataFrame:
    row = table_row("events", 300_000, seq_scan=102, seq_tup_read=102 * 300_000, idx_scan=20)
    return frame([{**row, **overrides}], TABLES_SCHEMA)


def test_missing_index_names_the_filtered_column_from_the_statement():
    slow = statements_frame(
        [
            statement(1, "SELECT * FROM events WHERE id = $1", 20, 0.1),  # has an index
            statement(
                2, "SELECT count(*) FROM events WHERE account_id = $1 GROUP BY 1", 100, 145.0
            ),
        ]
    )
    indexes = frame([index_row("events", "events_pkey", "id", 20, is_primary=True)], INDEXES_SCHEMA)
    (finding,) = missing_index_findings(events_table(), slow, indexes)
    assert finding.subject == {"table": "public.events"}
    assert finding.value == pytest.approx(100 * 20 / 122, abs=0.01)
    assert finding.threshold == 95.0
    assert finding.evidence["columns"] == ["account_id"]
    assert finding.evidence["columns_from_queryid"] == "2"
    assert finding.evidence["fix_sql"] == (
        'CREATE INDEX CONCURRENTLY ON "public"."events" ("account_id");'
    )


def test_missing_index_without_a_telling_statement_says_so_instead_of_guessing():
    slow = statements_frame([statement(1, "SELECT * FROM events e JOIN users u ON u.id = e.uid "
                                              "WHERE u.email = $1", 100, 80.0)])  # fmt: skip
    (finding,) = missing_index_findings(events_table(), slow)
    assert "do not say which column" in finding.summary
    assert "fix_sql" not in finding.evidence


def test_missing_index_skips_columns_an_index_already_leads_with():
    slow = statements_frame([statement(1, "SELECT * FROM events WHERE account_id = $1", 100, 9.0)])
    indexes = frame([index_row("events", "events_account_idx", "account_id, kind", 0)],
                    INDEXES_SCHEMA)  # fmt: skip
    candidates = missing_index_candidates(events_table(), slow, indexes)
    assert candidates["table"].tolist() == ["public.events"]
    assert candidates["fix_sql"].isna().all()


@pytest.mark.parametrize(
    "overrides",
    [
        {"n_live_tup": 9_000},  # small table: a sequential scan is the right plan
        {"idx_scan": 5_000},  # 98 % of scans use an index
        {"seq_scan": 10, "seq_tup_read": 3_000_000},  # a few scans (a nightly dump)
        {"seq_tup_read": 102 * 50},  # scans stop early (LIMIT): not full reads
    ],
)
def test_missing_index_silent_on_healthy_tables(overrides):
    assert missing_index_findings(events_table(**overrides)) == []


def test_missing_index_column_needs_an_unambiguous_table_name():
    tables = frame(
        [
            table_row("events", 300_000, seq_scan=102, seq_tup_read=102 * 300_000, idx_scan=20),
            table_row("events", 10, schemaname="archive"),
        ],
        TABLES_SCHEMA,
    )
    bare = statements_frame([statement(1, "SELECT * FROM events WHERE kind = $1", 100, 9.0)])
    assert missing_index_candidates(tables, bare)["columns"].isna().all()
    named = statements_frame(
        [statement(1, "SELECT * FROM public.events WHERE kind = $1", 100, 9.0)]
    )
    assert missing_index_candidates(tables, named)["columns"].tolist() == ["kind"]


def test_missing_index_thresholds_and_odd_identifiers():
    table = frame(
        [table_row("Weird Name", 50_000, schemaname="Odd Schema", seq_scan=60,
                   seq_tup_read=60 * 50_000, idx_scan=0)],
        TABLES_SCHEMA,
    )  # fmt: skip
    slow = statements_frame(
        [statement(3, 'SELECT * FROM "Odd Schema"."Weird Name" w WHERE w."Kind" = $1 '
                      'AND "select" > $2', 60, 30.0)]
    )  # fmt: skip
    assert missing_index_findings(table, slow) == []
    (finding,) = missing_index_findings(
        table, slow, thresholds={"missing_index": {"min_seq_scans": 50}}
    )
    assert finding.subject == {"table": "Odd Schema.Weird Name"}
    assert finding.evidence["fix_sql"] == (
        'CREATE INDEX CONCURRENTLY ON "Odd Schema"."Weird Name" ("Kind", "select");'
    )


@pytest.mark.parametrize(
    ("query", "columns"),
    [
        ("SELECT * FROM events WHERE account_id = $1", ["account_id"]),
        ("select * from public.events where kind in ($1, $2) and account_id = $3 limit $4",
         ["kind", "account_id"]),
        ("SELECT * FROM events WHERE created_at BETWEEN $1 AND $2 AND account_id = ANY($3)",
         ["account_id", "created_at"]),
        ("UPDATE events SET kind = $1 WHERE account_id = $2", ["account_id"]),
        ("DELETE FROM events WHERE created_at < $1 RETURNING id", ["created_at"]),
        ("SELECT * FROM events WHERE kind <> $1 AND account_id = $2", ["account_id"]),
        ("SELECT * FROM events WHERE a = $1 OR b = $2", []),
        ("SELECT * FROM events e JOIN users u ON u.id = e.user_id WHERE u.x = $1", []),
        ("SELECT * FROM events, users WHERE events.user_id = users.id", []),
        ("SELECT * FROM events WHERE account_id IN (SELECT id FROM accounts)", []),
        ("SELECT * FROM events WHERE lower(kind) = $1", []),
        ("SELECT * FROM other.events WHERE account_id = $1", []),
        ("SELECT * FROM events_archive WHERE account_id = $1", []),
        ("SELECT * FROM events e WHERE x.account_id = $1", []),
        ("SELECT * FROM events WHERE a = b", []),
        ("SELECT 1", []),
    ],
)  # fmt: skip
def test_filtered_columns(query, columns):
    assert filtered_columns(query, "public", "events") == columns


# --------------------------------------------------------------------------- unused and duplicate


def unused_candidates(**overrides) -> pd.DataFrame:
    return frame(
        [
            index_row("tasks", "tasks_updated_at_idx", "updated_at", 0, **overrides),
            index_row("tasks", "tasks_pkey", "id", 0, is_unique=True, is_primary=True,
                      is_constraint=True),
            index_row("users", "users_email_key", "email", 0, is_unique=True, is_constraint=True),
            index_row("tasks", "tasks_half_built", "title", 0, is_valid=False),
            index_row("tasks", "tasks_user_id_idx", "user_id", 20_000),
        ],
        INDEXES_SCHEMA,
    )  # fmt: skip


def test_unused_index_fires_with_its_age_and_drop():
    (finding,) = unused_index_findings(unused_candidates(), server_frame())
    assert finding.subject == {"index": "public.tasks_updated_at_idx"}
    assert finding.severity == "warning" and finding.value == 0 and finding.threshold == 50
    assert "since 2026-10-30 12:00 UTC (4w2d ago)" in finding.summary
    assert finding.evidence["fix_sql"] == 'DROP INDEX CONCURRENTLY "public"."tasks_updated_at_idx";'


def test_unused_index_is_info_when_statistics_are_young_and_flags_replicas():
    young = unused_candidates(stats_reset=NOW - pd.Timedelta(days=2))
    (finding,) = unused_index_findings(young, server_frame(is_in_recovery=True))
    assert finding.severity == "info"
    assert "too young" in finding.summary and "replica" in finding.summary


def test_unused_index_thresholds_and_odd_names():
    indexes = frame(
        [index_row("Weird Name", 'Odd "Idx"', "x", 40, schemaname="Odd Schema")], INDEXES_SCHEMA
    )
    (finding,) = unused_index_findings(indexes, now=NOW)
    assert finding.evidence["fix_sql"] == 'DROP INDEX CONCURRENTLY "Odd Schema"."Odd ""Idx""";'
    assert unused_index_findings(indexes, thresholds={"unused_index": {"max_scans": 10}}) == []


def test_duplicate_index_drop_or_drop_constraint():
    duplicates = frame(
        [
            {"schemaname": "public", "relname": "users", "indexrelname": "users_email_idx",
             "covering_indexrelname": "users_email_key", "match": "identical",
             "size_bytes": 827_392, "idx_scan": 0},
            {"schemaname": "Odd Schema", "relname": "U", "indexrelname": "U a 2",
             "covering_indexrelname": "U a", "match": "identical", "size_bytes": 8192},
        ],
        DUPLICATE_INDEXES_SCHEMA,
    )  # fmt: skip
    indexes = frame(
        [index_row("U", "U a 2", "a", 0, schemaname="Odd Schema", is_unique=True,
                   is_constraint=True)],
        INDEXES_SCHEMA,
    )  # fmt: skip
    found = {f.subject["index"]: f for f in duplicate_index_findings(duplicates, indexes)}
    assert found["public.users_email_idx"].evidence["fix_sql"] == (
        'DROP INDEX CONCURRENTLY "public"."users_email_idx";'
    )
    assert "is identical to public.users_email_key" in found["public.users_email_idx"].summary
    assert found["Odd Schema.U a 2"].evidence["fix_sql"] == (
        'ALTER TABLE "Odd Schema"."U" DROP CONSTRAINT "U a 2";'
    )


def test_duplicate_index_silent_without_duplicates():
    assert duplicate_index_findings(frame([], DUPLICATE_INDEXES_SCHEMA)) == []


# --------------------------------------------------------------------------- vacuum


def vacuum_tables(*rows: dict) -> pd.DataFrame:
    return frame([table_row(**row) for row in rows], TABLES_SCHEMA)


def test_vacuum_lag_disabled_table_gets_autovacuum_back():
    tables = vacuum_tables(
        {"relname": "audit_log", "live": 150_000, "n_dead_tup": 110_000,
         "autovacuum_enabled": False, "last_autovacuum": None,
         "autovacuum_vacuum_trigger_tup": 30_050.0},
    )  # fmt: skip
    (finding,) = vacuum_lag_findings(tables, settings_frame(), now=NOW)
    assert finding.subject == {"table": "public.audit_log"}
    assert finding.severity == "critical"  # never vacuumed
    assert "3.7x its autovacuum trigger" in finding.summary
    assert fix_lines(finding) == [
        'ALTER TABLE "public"."audit_log" RESET (autovacuum_enabled);',
        'VACUUM (ANALYZE) "public"."audit_log";',
    ]


def test_vacuum_lag_with_autovacuum_off_server_wide():
    tables = vacuum_tables(
        {"relname": "t", "live": 10_000, "n_dead_tup": 5_000, "autovacuum_enabled": False,
         "autovacuum_vacuum_trigger_tup": 2_050.0},
    )  # fmt: skip
    (finding,) = vacuum_lag_findings(tables, settings_frame(autovacuum=False), now=NOW)
    assert fix_lines(finding)[0] == "ALTER SYSTEM SET autovacuum = on;"


def test_vacuum_lag_severity_follows_check_postgres_ages():
    tables = vacuum_tables(
        # 2.5 triggers, vacuumed 3 hours ago: behind, but recently worked on
        {"relname": "busy", "live": 100_000, "n_dead_tup": 50_000,
         "autovacuum_vacuum_trigger_tup": 20_050.0},
        # past the trigger, last vacuumed 3 days ago: critical
        {"relname": "stuck", "live": 100_000, "n_dead_tup": 25_000,
         "autovacuum_vacuum_trigger_tup": 20_050.0,
         "last_autovacuum": NOW - pd.Timedelta(days=3)},
        # just past the trigger, vacuumed an hour ago: autovacuum will come
        {"relname": "due", "live": 100_000, "n_dead_tup": 21_000,
         "autovacuum_vacuum_trigger_tup": 20_050.0,
         "last_autovacuum": NOW - pd.Timedelta(hours=1)},
        # tiny table far past its trigger but under the runbook's 1000 dead tuples
        {"relname": "tiny", "live": 100, "n_dead_tup": 900,
         "autovacuum_vacuum_trigger_tup": 70.0, "last_autovacuum": None},
    )  # fmt: skip
    found = {f.subject["table"]: f.severity for f in vacuum_lag_findings(tables, now=NOW)}
    assert found == {"public.busy": "warning", "public.stuck": "critical"}
    assert vacuum_lag_findings(tables, None, {"vacuum_lag": {"min_dead_tup": 30_000}}, NOW)[
        0
    ].subject == {"table": "public.busy"}


# --------------------------------------------------------------------------- sessions


def test_long_running_and_idle_in_transaction_with_guarded_fixes():
    activity = frame(
        [
            session(201, "active", app="report", query_age_s=95.0,
                    query_start=pd.Timestamp("2026-11-29 11:58:25", tz="UTC")),
            session(202, "idle in transaction", app="worker", state_age_s=400.0,
                    xact_age_s=420.0, state_change=pd.Timestamp("2026-11-29 11:53:20", tz="UTC")),
            session(203, "active", query_age_s=30.0),
            {"pid": 9, "backend_type": "autovacuum worker", "state": "active",
             "query_age_s": 5000.0},
        ],
        ACTIVITY_SCHEMA,
    )  # fmt: skip
    found = {f.check: f for f in activity_findings(activity, settings_frame())}
    assert set(found) == {"long_running_query", "idle_in_transaction"}
    running, idle = found["long_running_query"], found["idle_in_transaction"]
    assert running.subject == {"pid": "201", "application": "report"}
    assert running.severity == "warning" and running.value == 95.0
    assert running.evidence["fix_sql"] == (
        "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE pid = 201 AND "
        "state = 'active' AND query_start = timestamptz '2026-11-29T11:58:25+00:00';"
    )
    assert idle.subject == {"pid": "202", "application": "worker"}
    assert idle.severity == "critical"  # over the runbook's 5 minutes
    assert idle.evidence["fix_sql"].startswith("SELECT pg_terminate_backend(pid)")
    assert "state = 'idle in transaction'" in idle.evidence["fix_sql"]


def test_session_fix_without_a_start_time_is_a_plain_call():
    activity = frame(
        [session(77, "idle in transaction", state_age_s=120.0, state_change=None)],
        ACTIVITY_SCHEMA,
    )
    (finding,) = activity_findings(activity)
    assert finding.evidence["fix_sql"] == "SELECT pg_terminate_backend(77);"


def test_session_thresholds_are_configurable():
    activity = frame([session(7, "active", query_age_s=20.0)], ACTIVITY_SCHEMA)
    assert activity_findings(activity) == []
    found = activity_findings(activity, thresholds={"long_running_query": {"warning_s": 10}})
    assert [f.subject["pid"] for f in found] == ["7"]


def test_connection_saturation_now_against_the_usable_limit():
    activity = frame(
        [session(1000 + i, "idle", app=f"api-{i % 3}") for i in range(93)], ACTIVITY_SCHEMA
    )
    (finding,) = activity_findings(activity, settings_frame(), database="app_db")
    assert finding.check == "connection_saturation"
    assert finding.subject == {"database": "app_db"}
    assert finding.value == pytest.approx(93 / 97, abs=1e-4)
    assert finding.severity == "critical"  # check_postgres: >= 95 %
    quieter = activity.iloc[:80]
    assert activity_findings(quieter, settings_frame()) == []


def ki003_series(days: int = 7, peak: float = 2.6) -> pd.DataFrame:
    """postgres_exporter series with the runbook's evening spike (17:00-19:00 UTC)."""
    t = pd.date_range("2026-11-20", periods=days * 24 * 12, freq="5min", tz="UTC")
    boost = np.where((t.hour >= 17) & (t.hour < 19), peak, 1.0)
    rows = [
        pd.DataFrame(
            {"datname": db, "state": state, "instance": "pg-0", "timestamp": t,
             "value": np.round(base * share * boost)}
        )
        for state, base in (("active", 10.0), ("idle", 40.0), ("idle in transaction", 2.0))
        for db, share in (("app_db", 1.0), ("postgres", 0.05))
    ]  # fmt: skip
    return pd.concat(rows, ignore_index=True)


def test_peak_connection_hours_finds_the_ki003_evening_peak():
    peaks = peak_connection_hours(ki003_series())
    assert peaks.peak_hour in (17, 18)
    assert peaks.peak_window == (17, 18)
    assert peaks.window_text() == "17:00-19:00 UTC"
    assert len(peaks.daily) == 7 and set(peaks.daily["peak_hour"]) <= {17, 18}
    assert peaks.profile["hour"].tolist() == list(range(24))
    assert peaks.profile.loc[3, "mean"] == 54.0  # rounded: 10 + 40 + 2 + 0 + 2 + 0


def test_peak_connection_hours_in_local_time_and_without_data():
    peaks = peak_connection_hours(ki003_series(), tz="Europe/Berlin")
    assert peaks.peak_window == (18, 19)  # UTC+1 in November
    empty = peak_connection_hours(pd.DataFrame())
    assert empty.peak_hour is None and empty.window_text() == "unknown"


def test_connection_saturation_over_the_window_from_prometheus():
    series = ki003_series(peak=2.6)  # 141 connections from 17:00 to 19:00
    max_connections = pd.DataFrame({"instance": "pg-0", "timestamp": [NOW], "value": [150.0]})
    found = activity_findings(
        frame([], ACTIVITY_SCHEMA), None, None, series, max_connections, "app_db"
    )
    (finding,) = found
    assert finding.subject == {"database": "app_db"}
    assert finding.severity == "warning"
    assert "17:00-19:00 UTC" in finding.summary and "KI-003" in finding.summary
    assert finding.evidence["window_peak_connections"] == 141.0
    calm = ki003_series(peak=1.2)
    assert activity_findings(frame([], ACTIVITY_SCHEMA), None, None, calm, max_connections) == []


def test_connections_by_application_and_client():
    activity = frame(
        [session(1, "idle", app="api"), session(2, "active", app="api"),
         session(3, "idle", app="cron", client_addr="10.0.0.9")],
        ACTIVITY_SCHEMA,
    )  # fmt: skip
    counts = connections_by(activity, ["application_name", "client_addr"])
    assert counts.values.tolist() == [["api", "10.0.0.7", 2], ["cron", "10.0.0.9", 1]]


# --------------------------------------------------------------------------- horizons and cache


def test_wraparound_per_database_with_check_postgres_defaults():
    wrap = frame(
        [
            {"level": "database", "dbname": "app_db", "xid_age": 1_450_000_000},
            {"level": "database", "dbname": "legacy_db", "xid_age": 1_310_000_000},
            {"level": "database", "dbname": "young_db", "xid_age": 900_000_000},
            {"level": "table", "dbname": "app_db", "schemaname": "Odd Schema",
             "relname": "Weird Name", "xid_age": 1_450_000_000},
            {"level": "table", "dbname": "app_db", "schemaname": "public", "relname": "t",
             "xid_age": 10_000},
        ],
        WRAPAROUND_SCHEMA,
    )  # fmt: skip
    found = {f.subject["database"]: f for f in wraparound_findings(wrap)}
    assert set(found) == {"app_db", "legacy_db"}
    assert found["app_db"].severity == "critical" and found["legacy_db"].severity == "warning"
    assert found["app_db"].evidence["fix_sql"] == (
        'VACUUM (FREEZE, VERBOSE) "Odd Schema"."Weird Name";'
    )
    assert found["app_db"].evidence["xids_left"] == 2**31 - 3_000_000 - 1_450_000_000
    assert found["legacy_db"].evidence["fix_sql"] == "VACUUM (FREEZE, VERBOSE);"
    assert "connected to database legacy_db" in found["legacy_db"].summary
    relaxed = {"xid_wraparound_risk": {"warning_xid_age": 2e9, "critical_xid_age": 2.1e9}}
    assert wraparound_findings(wrap, relaxed) == []


def sequence_row(name, data_type, column_type, used_pct, **overrides) -> dict:
    return {
        "schemaname": "public",
        "sequencename": name,
        "data_type": data_type,
        "table_name": "public.invoices" if column_type else None,
        "column_name": "id" if column_type else None,
        "column_type": column_type,
        "is_readable": True,
        "used_pct": used_pct,
        "remaining_values": 1e8,
        **overrides,
    }


def test_sequence_exhaustion_widens_what_is_narrow():
    seqs = frame(
        [
            sequence_row("invoices_id_seq", "integer", "integer", 95.00005),
            sequence_row("order_number_seq", "integer", None, 92.0),
            sequence_row("wide_seq", "bigint", "integer", 91.0,
                         table_name='"Odd Schema"."Weird Name"', column_name="Id"),
            sequence_row("huge_seq", "bigint", "bigint", 93.0),
            sequence_row("fine_seq", "integer", "integer", 40.0),
            sequence_row("hidden_seq", "integer", "integer", None, is_readable=False),
        ],
        SEQUENCES_SCHEMA,
    )  # fmt: skip
    found = {f.subject["sequence"]: f for f in sequence_findings(seqs)}
    assert set(found) == {"public.invoices_id_seq", "public.order_number_seq",
                          "public.wide_seq", "public.huge_seq"}  # fmt: skip
    assert found["public.invoices_id_seq"].severity == "critical"
    assert fix_lines(found["public.invoices_id_seq"]) == [
        'ALTER TABLE "public"."invoices" ALTER COLUMN "id" TYPE bigint;',
        'ALTER SEQUENCE "public"."invoices_id_seq" AS bigint;',
    ]
    assert fix_lines(found["public.order_number_seq"]) == [
        'ALTER SEQUENCE "public"."order_number_seq" AS bigint;'
    ]
    assert fix_lines(found["public.wide_seq"]) == [
        'ALTER TABLE "Odd Schema"."Weird Name" ALTER COLUMN "Id" TYPE bigint;'
    ]
    assert "fix_sql" not in found["public.huge_seq"].evidence
    assert "already bigint" in found["public.huge_seq"].summary
    assert len(sequence_findings(seqs, {"sequence_exhaustion": {"warning_used_pct": 94}})) == 1


def test_cache_hit_ratio_by_pghero_rate_with_enough_blocks():
    hits = frame(
        [
            {"scope": "database", "blks_hit": 50, "blks_read": 50},
            {"scope": "tables", "blks_hit": 850_000, "blks_read": 150_000},
            {"scope": "indexes", "blks_hit": 202, "blks_read": 4},  # too few to judge
        ],
        CACHE_HIT_SCHEMA,
    )
    (finding,) = cache_hit_findings(hits, database="app_db")
    assert finding.subject == {"database": "app_db", "scope": "tables"}
    assert finding.value == pytest.approx(0.85)
    assert finding.severity == "critical"
    stricter = {"low_cache_hit_ratio": {"min_blocks": 100}}
    assert {f.subject["scope"] for f in cache_hit_findings(hits, stricter)} == {
        "tables",
        "indexes",
    }


def test_stats_unavailable_from_availability_and_errors():
    avail = frame(
        [
            {"feature": "pg_stat_statements", "available": False, "required": True,
             "needed_for": "slow_queries", "detail": "not created",
             "fix": "CREATE EXTENSION pg_stat_statements;"},
            {"feature": "track_io_timing", "available": False, "required": False,
             "needed_for": "slow_queries: shared_blk_*_time_ms", "detail": "off",
             "fix": "ALTER SYSTEM SET track_io_timing = on; SELECT pg_reload_conf();"},
            {"feature": "track_counts", "available": True, "required": True},
        ],
        AVAILABILITY_SCHEMA,
    )  # fmt: skip
    errors = {
        "slow_queries": StatsUnavailable("pg_stat_statements", "missing", "CREATE EXTENSION"),
        "bloat": StatsUnavailable("bloat", "permission denied", "GRANT pg_monitor TO x;"),
    }
    found = {f.subject["feature"]: f for f in stats_unavailable_findings(avail, errors)}
    assert set(found) == {"pg_stat_statements", "track_io_timing", "bloat"}
    assert found["pg_stat_statements"].severity == "warning"
    assert found["track_io_timing"].severity == "info"
    assert found["pg_stat_statements"].evidence["fix_sql"] == (
        "CREATE EXTENSION pg_stat_statements;"
    )
    assert found["bloat"].evidence["fix_sql"] == "GRANT pg_monitor TO x;"


# --------------------------------------------------------------------------- space and figures


def test_space_tree_sums_children():
    tables = frame([table_row("a", 1000), table_row("b", 500, schemaname="audit")], TABLES_SCHEMA)
    indexes = frame([index_row("a", "a_pkey", "id", 5, size_bytes=20_000)], INDEXES_SCHEMA)
    tree = space_tree(tables, indexes).set_index("id")
    assert tree.loc["public.a", "bytes"] == 100_000 + 20_000
    assert tree.loc["audit.b/data", "bytes"] == 50_000
    assert tree.loc["database", "bytes"] == tree.loc[["public", "audit"], "bytes"].sum()
    assert tree.loc["public.a/a_pkey", "parent"] == "public.a"


def no_webgl(fig: go.Figure) -> bool:
    return all(trace.type != "scattergl" for trace in fig.data)


def test_figures_from_the_planted_report():
    frames = planted_frames()
    frames["pg_activity_count"] = ki003_series()
    report = database_report(frames)
    figures = database_figures(report)
    assert all(no_webgl(fig) for fig in figures.values())
    connections = figures["connections"]
    assert [trace.name for trace in connections.data] == ["active", "idle in transaction", "idle"]
    assert all(trace.stackgroup == "connections" for trace in connections.data)
    rects = [s for s in connections.layout.shapes if s.type == "rect"]
    lines = [s for s in connections.layout.shapes if s.type == "line"]
    assert len(rects) == 7 and pd.Timestamp(rects[0].x0).hour == 17
    assert [line.y0 for line in lines] == [100.0, 97.0]
    space = figures["space"]
    assert [t.name for t in space.data] == ["table data", "indexes"]
    assert space.layout.barmode == "stack"


def test_bloat_figure_greys_out_unreliable_estimates():
    bloat = database_report(planted_frames())["bloat"]
    fig = bloat_figure(bloat)
    names = {trace.name: trace for trace in fig.data}
    assert set(names) == {"table", "index", "unreliable estimate"}
    assert names["unreliable estimate"].marker.color == database_plots.UNRELIABLE_COLOUR
    assert list(names["unreliable estimate"].y) == ["public.feature_flags"]


def test_slow_query_and_hour_profile_figures():
    report = database_report(planted_frames())
    fig = slow_query_figure(report["top_by_total"])
    assert fig.data[0].orientation == "h"
    assert fig.data[0].x[-1] == pytest.approx(
        100 * report["top_by_total"]["share_of_total_time"][0]
    )
    profile = hour_profile_figure(peak_connection_hours(ki003_series()))
    colours = profile.data[0].marker.color
    assert [
        hour for hour, colour in enumerate(colours) if colour == database_plots.TARGET_COLOUR
    ] == [
        17,
        18,
    ]


def test_empty_figures_render():
    figures = database_figures(database_report({}))
    assert len(figures) == 6
    assert connections_figure(database_report({})["connection_series"]).data == ()
    assert [t.x for t in space_figure(space_tree(frame([], TABLES_SCHEMA))).data] == [(), ()]


DATABASE_MODULES = [
    database_package,
    *(
        importlib.import_module(f"{database_package.__name__}.{info.name}")
        for info in pkgutil.iter_modules(database_package.__path__)
    ),
]


def test_sql_files_sit_in_folders_named_after_the_database_concerns():
    concerns = {info.name for info in pkgutil.iter_modules(database_package.__path__)}
    folders = {sql_concern(name) for name in sql_names()}
    assert folders <= concerns and {"statements", "space", "indexes", "system"} <= folders
    for name in sql_names():
        assert load_sql(name).startswith(f"-- {name}"), f"{name}.sql names itself first"


@pytest.mark.parametrize("module", [*DATABASE_MODULES, database_plots], ids=lambda m: m.__name__)
def test_doctests(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0


def test_window_peak_is_compared_with_the_exporters_own_max_connections():
    # The live server allows 30; the exporter's history is of a server allowing 200.
    times = pd.date_range("2026-11-15T17:00Z", periods=3, freq="1h")
    counts = pd.DataFrame(
        {"state": ["active"] * 3, "timestamp": times, "value": [120.0, 190.0, 100.0]}
    )
    exporter_max = pd.DataFrame({"timestamp": times, "value": [200.0] * 3})
    settings = pd.DataFrame({"max_connections": [30], "superuser_reserved_connections": [3]})
    activity = pd.DataFrame(
        {
            "pid": [1, 2],
            "backend_type": ["client backend"] * 2,
            "state": ["idle", "active"],
            "application_name": ["a", "b"],
            "state_age_s": [1.0, 1.0],
        }
    )
    (finding,) = activity_findings(
        activity,
        settings,
        pg_activity_count=counts,
        pg_max_connections=exporter_max,
        database="app_db",
    )
    assert finding.check == "connection_saturation"
    assert finding.value == pytest.approx(190 / 197, abs=1e-4)
    assert "of the 197 available (max_connections 200" in finding.summary


def test_the_report_shows_one_max_connections_in_table_chart_and_finding():
    """Issue 18: the server table said 30 (this server) and the finding 200 (the exporter's
    server, which the connection history measures): the report now shows one number."""
    times = pd.date_range("2026-11-15T17:00Z", periods=3, freq="1h")
    counts = pd.DataFrame(
        {"state": ["active"] * 3, "timestamp": times, "value": [120.0, 199.0, 100.0]}
    )
    exporter_max = pd.DataFrame({"timestamp": times, "value": [200.0] * 3})
    frames = {
        "settings": pd.DataFrame({"max_connections": [30], "superuser_reserved_connections": [3]}),
        "pg_activity_count": counts,
        "pg_max_connections": exporter_max,
    }
    report = database_report(frames)
    (finding,) = [f for f in report["findings"] if f.check == "connection_saturation"]
    row = report["server"].set_index("item").loc["max_connections", "value"]
    assert "max_connections 200" in finding.summary
    assert report["max_connections"] == 200
    assert row.startswith("200 ") and "30" in row
    chart = database_figures(report)["connections"]
    assert next(s.y0 for s in chart.layout.shapes if s.type == "line") == 200
