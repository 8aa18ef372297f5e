"""Columns and dtypes of every frame :class:`~dwcp_diag.sources.postgres.loader.PostgresLoader`
returns (units in the column names); frames keep them when empty.
"""

from __future__ import annotations

from dwcp_diag.frames import Schema

SERVER_SCHEMA: Schema = {
    "version_num": "Int64",
    "version": "str",
    "started_at": "timestamp",
    "uptime_s": "float64",
    "dbname": "str",
    "database_size_bytes": "Int64",
    "role_name": "str",
    "is_superuser": "boolean",
    "has_pg_read_all_stats": "boolean",
    "has_pg_monitor": "boolean",
    "is_in_recovery": "boolean",
    "is_read_only": "boolean",
    "extensions": "str",
    "pg_stat_statements_version": "str",
    "pgstattuple_version": "str",
    "stats_reset_at": "timestamp",
    "pg_stat_statements_reset_at": "timestamp",
    "pg_stat_statements_dealloc": "Int64",
    "captured_at": "timestamp",
}

# (pg_settings name, column, kind): kind "bytes"/"ms" are converted to that unit.
SETTINGS_SPEC: tuple[tuple[str, str, str], ...] = (
    ("max_connections", "max_connections", "int"),
    ("superuser_reserved_connections", "superuser_reserved_connections", "int"),
    ("shared_buffers", "shared_buffers_bytes", "bytes"),
    ("effective_cache_size", "effective_cache_size_bytes", "bytes"),
    ("work_mem", "work_mem_bytes", "bytes"),
    ("maintenance_work_mem", "maintenance_work_mem_bytes", "bytes"),
    ("max_wal_size", "max_wal_size_bytes", "bytes"),
    ("checkpoint_timeout", "checkpoint_timeout_ms", "ms"),
    ("random_page_cost", "random_page_cost", "float"),
    ("autovacuum", "autovacuum", "bool"),
    ("autovacuum_max_workers", "autovacuum_max_workers", "int"),
    ("autovacuum_naptime", "autovacuum_naptime_ms", "ms"),
    ("autovacuum_vacuum_threshold", "autovacuum_vacuum_threshold", "int"),
    ("autovacuum_vacuum_scale_factor", "autovacuum_vacuum_scale_factor", "float"),
    ("autovacuum_vacuum_insert_threshold", "autovacuum_vacuum_insert_threshold", "int"),
    ("autovacuum_vacuum_insert_scale_factor", "autovacuum_vacuum_insert_scale_factor", "float"),
    ("autovacuum_analyze_threshold", "autovacuum_analyze_threshold", "int"),
    ("autovacuum_analyze_scale_factor", "autovacuum_analyze_scale_factor", "float"),
    ("autovacuum_freeze_max_age", "autovacuum_freeze_max_age", "int"),
    ("autovacuum_multixact_freeze_max_age", "autovacuum_multixact_freeze_max_age", "int"),
    ("autovacuum_vacuum_cost_limit", "autovacuum_vacuum_cost_limit", "int"),
    ("autovacuum_vacuum_cost_delay", "autovacuum_vacuum_cost_delay_ms", "ms"),
    ("track_activities", "track_activities", "bool"),
    ("track_counts", "track_counts", "bool"),
    ("track_io_timing", "track_io_timing", "bool"),
    ("track_activity_query_size", "track_activity_query_size_bytes", "bytes"),
    ("statement_timeout", "statement_timeout_ms", "ms"),
    ("lock_timeout", "lock_timeout_ms", "ms"),
    ("idle_in_transaction_session_timeout", "idle_in_transaction_session_timeout_ms", "ms"),
    ("log_min_duration_statement", "log_min_duration_statement_ms", "ms"),
    ("default_transaction_read_only", "default_transaction_read_only", "bool"),
    ("shared_preload_libraries", "shared_preload_libraries", "str"),
    ("pg_stat_statements.max", "pg_stat_statements_max", "int"),
    ("pg_stat_statements.track", "pg_stat_statements_track", "str"),
    ("block_size", "block_size_bytes", "int"),
)
_SETTING_DTYPES = {
    "int": "Int64", "bytes": "Int64", "float": "float64", "ms": "float64",
    "bool": "boolean", "str": "str",
}  # fmt: skip
SETTINGS_SCHEMA: Schema = {column: _SETTING_DTYPES[kind] for _, column, kind in SETTINGS_SPEC}

AVAILABILITY_SCHEMA: Schema = {
    "feature": "str",
    "available": "boolean",
    "required": "boolean",
    "needed_for": "str",
    "detail": "str",
    "fix": "str",
}

SLOW_QUERIES_SCHEMA: Schema = {
    "userid": "Int64",
    "dbid": "Int64",
    "queryid": "Int64",
    "toplevel": "boolean",
    "role_name": "str",
    "dbname": "str",
    "query": "str",
    "calls": "Int64",
    "total_exec_time_ms": "float64",
    "mean_exec_time_ms": "float64",
    "max_exec_time_ms": "float64",
    "stddev_exec_time_ms": "float64",
    "total_plan_time_ms": "float64",
    "rows": "Int64",
    "shared_blks_hit": "Int64",
    "shared_blks_read": "Int64",
    "shared_blks_dirtied": "Int64",
    "shared_blks_written": "Int64",
    "temp_blks_written": "Int64",
    "shared_blk_read_time_ms": "float64",
    "shared_blk_write_time_ms": "float64",
    "cache_hit_ratio": "float64",
    "share_of_total_time": "float64",
    "stats_since": "timestamp",
    "stats_reset_at": "timestamp",
    "dealloc_count": "Int64",
    "captured_at": "timestamp",
}

SLOW_QUERIES_DELTA_SCHEMA: Schema = {
    "userid": "Int64",
    "dbid": "Int64",
    "queryid": "Int64",
    "toplevel": "boolean",
    "role_name": "str",
    "dbname": "str",
    "query": "str",
    "status": "str",
    "calls": "Int64",
    "total_exec_time_ms": "float64",
    "mean_exec_time_ms": "float64",
    "max_exec_time_ms": "float64",
    "rows": "Int64",
    "shared_blks_hit": "Int64",
    "shared_blks_read": "Int64",
    "cache_hit_ratio": "float64",
    "share_of_total_time": "float64",
    "interval_start": "timestamp",
    "interval_end": "timestamp",
    "interval_s": "float64",
}

ACTIVITY_SCHEMA: Schema = {
    "pid": "Int64",
    "datname": "str",
    "usename": "str",
    "application_name": "str",
    "client_addr": "str",
    "backend_type": "str",
    "state": "str",
    "wait_event_type": "str",
    "wait_event": "str",
    "backend_start": "timestamp",
    "xact_start": "timestamp",
    "query_start": "timestamp",
    "state_change": "timestamp",
    "query_age_s": "float64",
    "state_age_s": "float64",
    "xact_age_s": "float64",
    "backend_xmin_age": "Int64",
    "blocked_by": "str",
    "query": "str",
}

CONNECTION_COUNTS_SCHEMA: Schema = {
    "state": "str",
    "connections": "Int64",
    "total_connections": "Int64",
    "max_connections": "Int64",
    "superuser_reserved_connections": "Int64",
    "used_ratio": "float64",
}

TABLES_SCHEMA: Schema = {
    "schemaname": "str",
    "relname": "str",
    "seq_scan": "Int64",
    "seq_tup_read": "Int64",
    "idx_scan": "Int64",
    "idx_tup_fetch": "Int64",
    "n_tup_ins": "Int64",
    "n_tup_upd": "Int64",
    "n_tup_del": "Int64",
    "n_tup_hot_upd": "Int64",
    "n_live_tup": "Int64",
    "n_dead_tup": "Int64",
    "dead_tup_ratio": "float64",
    "n_mod_since_analyze": "Int64",
    "n_ins_since_vacuum": "Int64",
    "last_vacuum": "timestamp",
    "last_autovacuum": "timestamp",
    "last_analyze": "timestamp",
    "last_autoanalyze": "timestamp",
    "vacuum_count": "Int64",
    "autovacuum_count": "Int64",
    "analyze_count": "Int64",
    "autoanalyze_count": "Int64",
    "reltuples": "float64",
    "table_bytes": "Int64",
    "index_bytes": "Int64",
    "total_bytes": "Int64",
    "autovacuum_enabled": "boolean",
    "autovacuum_vacuum_trigger_tup": "float64",
    "autovacuum_analyze_trigger_tup": "float64",
    "stats_reset": "timestamp",
}

INDEXES_SCHEMA: Schema = {
    "schemaname": "str",
    "relname": "str",
    "indexrelname": "str",
    "method": "str",
    "is_unique": "boolean",
    "is_primary": "boolean",
    "is_valid": "boolean",
    "is_constraint": "boolean",
    "columns": "str",
    "include_columns": "str",
    "predicate": "str",
    "definition": "str",
    "idx_scan": "Int64",
    "idx_tup_read": "Int64",
    "idx_tup_fetch": "Int64",
    "size_bytes": "Int64",
    "stats_reset": "timestamp",
}

DUPLICATE_INDEXES_SCHEMA: Schema = {
    "schemaname": "str",
    "relname": "str",
    "indexrelname": "str",
    "covering_indexrelname": "str",
    "match": "str",
    "definition": "str",
    "covering_definition": "str",
    "size_bytes": "Int64",
    "idx_scan": "Int64",
}

BLOAT_SCHEMA: Schema = {
    "kind": "str",
    "schemaname": "str",
    "relname": "str",
    "indexrelname": "str",
    "fillfactor": "Int64",
    "reltuples": "float64",
    "relpages": "Int64",
    "size_bytes": "Int64",
    "expected_bytes": "Int64",
    "bloat_bytes": "Int64",
    "bloat_ratio": "float64",
    "is_reliable": "boolean",
    "unreliable_reason": "str",
    "method": "str",
    "method_detail": "str",
    "estimate_bloat_ratio": "float64",
    "estimate_is_reliable": "boolean",
    "dead_tuple_bloat_ratio": "float64",
    "n_live_tup": "Int64",
    "n_dead_tup": "Int64",
    "stats_age_s": "float64",
    "scanned_pct": "float64",
    "avg_leaf_density_pct": "float64",
}
"""``bloat``: one row per table and btree index, measured or estimated by the best ``method``
available: ``approx_scan`` (pgstattuple_approx), ``pgstatindex`` (indexes), ``estimate`` (planner
statistics, pg_stats) or ``dead_tuples`` (pg_stat_user_tables counters); the other methods'
figures stay beside it (``estimate_bloat_ratio``, ``dead_tuple_bloat_ratio``)."""

BLOAT_METHODS = ("approx_scan", "pgstatindex", "estimate", "dead_tuples")
ESTIMATE_DETAIL = "planner statistics (pg_stats; ioguix/pgsql-bloat-estimation)"

DEAD_TUPLE_BLOAT_SCHEMA: Schema = {
    "kind": "str",
    "schemaname": "str",
    "relname": "str",
    "indexrelname": "str",
    "fillfactor": "Int64",
    "reltuples": "float64",
    "relpages": "Int64",
    "size_bytes": "Int64",
    "n_live_tup": "Int64",
    "n_dead_tup": "Int64",
    "bloat_bytes": "Int64",
    "bloat_ratio": "float64",
    "stats_age_s": "float64",
    "is_reliable": "boolean",
    "unreliable_reason": "str",
}

BLOAT_SCAN_SCHEMA: Schema = {
    "kind": "str",
    "schemaname": "str",
    "relname": "str",
    "indexrelname": "str",
    "function": "str",
    "status": "str",
    "size_bytes": "Int64",
    "scanned_pct": "float64",
    "dead_tuples": "Int64",
    "dead_tuple_bytes": "Int64",
    "free_bytes": "Int64",
    "avg_leaf_density_pct": "float64",
    "bloat_bytes": "Int64",
    "bloat_ratio": "float64",
    "elapsed_ms": "float64",
}
"""``bloat_scan``: one row per candidate relation, largest first; ``status`` is ``measured`` or
``not scanned: WHY`` (budget spent, statement timeout, no privilege, ...)."""

BLOAT_EXACT_SCHEMA: Schema = {
    "kind": "str",
    "schemaname": "str",
    "relname": "str",
    "indexrelname": "str",
    "fillfactor": "Int64",
    "size_bytes": "Int64",
    "live_tuples": "Int64",
    "live_tuple_bytes": "Int64",
    "dead_tuples": "Int64",
    "dead_tuple_bytes": "Int64",
    "free_bytes": "Int64",
    "avg_leaf_density_pct": "float64",
    "bloat_bytes": "Int64",
    "bloat_ratio": "float64",
}

WRAPAROUND_SCHEMA: Schema = {
    "level": "str",
    "dbname": "str",
    "schemaname": "str",
    "relname": "str",
    "xid_age": "Int64",
    "mxid_age": "Int64",
    "freeze_max_age": "Int64",
    "pct_of_freeze_max_age": "float64",
    "pct_of_wraparound": "float64",
}

SEQUENCES_SCHEMA: Schema = {
    "schemaname": "str",
    "sequencename": "str",
    "data_type": "str",
    "table_name": "str",
    "column_name": "str",
    "column_type": "str",
    "start_value": "Int64",
    "min_value": "Int64",
    "max_value": "Int64",
    "increment_by": "Int64",
    "cycle": "boolean",
    "last_value": "Int64",
    "is_readable": "boolean",
    "effective_max_value": "float64",
    "effective_min_value": "float64",
    "used_pct": "float64",
    "remaining_values": "float64",
}

CACHE_HIT_SCHEMA: Schema = {
    "scope": "str",
    "blks_hit": "Int64",
    "blks_read": "Int64",
    "hit_ratio": "float64",
}
