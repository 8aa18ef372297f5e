-- server: one row about the server, the current database and the connected role.
-- PostgreSQL 13+. pg_stat_statements_info (reset time, evictions) is read by
-- pg_stat_statements_info.sql, since it exists only from extension version 1.9 (PG14).
SELECT
    current_setting('server_version_num')::integer AS version_num,
    version() AS version,
    pg_postmaster_start_time() AS started_at,
    extract(epoch FROM now() - pg_postmaster_start_time())::float8 AS uptime_s,
    current_database() AS dbname,
    pg_database_size(current_database()) AS database_size_bytes,
    current_user AS role_name,
    r.rolsuper AS is_superuser,
    pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS has_pg_read_all_stats,
    pg_has_role(current_user, 'pg_monitor', 'USAGE') AS has_pg_monitor,
    pg_is_in_recovery() AS is_in_recovery,
    current_setting('transaction_read_only') = 'on' AS is_read_only,
    (
        SELECT string_agg(e.extname || ' ' || e.extversion, ', ' ORDER BY e.extname)
        FROM pg_extension AS e
    ) AS extensions,
    (
        SELECT e.extversion FROM pg_extension AS e WHERE e.extname = 'pg_stat_statements'
    ) AS pg_stat_statements_version,
    (SELECT e.extversion FROM pg_extension AS e WHERE e.extname = 'pgstattuple') AS pgstattuple_version,
    d.stats_reset AS stats_reset_at,
    now() AS captured_at
FROM pg_roles AS r
CROSS JOIN pg_stat_database AS d
WHERE r.rolname = current_user
  AND d.datname = current_database()
/* dwcp-diag */
