-- slow_queries: statements from pg_stat_statements, ranked. Runs behind a CTE named pgss: one of
-- pgss_pg13.sql, pgss_pg14.sql, pgss_pg17.sql (chosen by extension version), which give the
-- same columns on every version. Times are milliseconds, as pg_stat_statements counts them.
--   :min_calls        keep statements called at least this often
--   :all_databases    false: only statements run in the current database
--   :order_by         mean_exec_time_ms | total_exec_time_ms | max_exec_time_ms | calls
--   :row_limit        at most this many rows (NULL: all)
--   :max_query_chars  query text cut to this length (bounds memory with long texts)
-- share_of_total_time is this statement's part (0..1) of the execution time of all statements
-- in scope (before the limit). Roles without pg_read_all_stats see other roles' statements
-- with queryid NULL and query '<insufficient privilege>'.
--   :own_marker       dwcp-diag's own statements end with this comment: left out
SELECT
    q.userid,
    q.dbid,
    q.queryid,
    q.toplevel,
    q.rolname AS role_name,
    q.datname AS dbname,
    left(q.query, :max_query_chars) AS query,
    q.calls,
    q.total_exec_time AS total_exec_time_ms,
    q.mean_exec_time AS mean_exec_time_ms,
    q.max_exec_time AS max_exec_time_ms,
    q.stddev_exec_time AS stddev_exec_time_ms,
    q.total_plan_time AS total_plan_time_ms,
    q.rows,
    q.shared_blks_hit,
    q.shared_blks_read,
    q.shared_blks_dirtied,
    q.shared_blks_written,
    q.temp_blks_written,
    q.shared_blk_read_time AS shared_blk_read_time_ms,
    q.shared_blk_write_time AS shared_blk_write_time_ms,
    q.shared_blks_hit::float8 / nullif(q.shared_blks_hit + q.shared_blks_read, 0) AS cache_hit_ratio,
    q.total_exec_time / nullif(q.all_exec_time, 0) AS share_of_total_time,
    q.stats_since,
    q.stats_reset AS stats_reset_at,
    q.dealloc AS dealloc_count,
    now() AS captured_at
FROM (
    SELECT
        pgss.*,
        r.rolname,
        d.datname,
        sum(pgss.total_exec_time) OVER () AS all_exec_time
    FROM pgss
    LEFT JOIN pg_roles AS r ON r.oid = pgss.userid
    LEFT JOIN pg_database AS d ON d.oid = pgss.dbid
    WHERE pgss.calls >= :min_calls
      AND strpos(pgss.query, :own_marker) = 0
      AND (:all_databases OR d.datname = current_database())
) AS q
ORDER BY
    CASE :order_by
        WHEN 'mean_exec_time_ms' THEN q.mean_exec_time
        WHEN 'total_exec_time_ms' THEN q.total_exec_time
        WHEN 'max_exec_time_ms' THEN q.max_exec_time
        WHEN 'calls' THEN q.calls::float8
    END DESC NULLS LAST,
    q.queryid,
    q.userid,
    q.dbid,
    q.toplevel
LIMIT :row_limit
/* dwcp-diag */
