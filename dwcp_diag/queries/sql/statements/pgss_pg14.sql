-- pgss_pg14: pg_stat_statements rows in the common column set, extension versions 1.9 and 1.10
-- (PostgreSQL 14, 15, 16). 1.9 added toplevel and the pg_stat_statements_info view (time of
-- the last reset, count of evicted entries); block I/O times are still blk_read/write_time.
SELECT
    s.userid,
    s.dbid,
    s.queryid,
    s.toplevel,
    s.query,
    s.calls,
    s.total_exec_time,
    s.mean_exec_time,
    s.max_exec_time,
    s.stddev_exec_time,
    s.total_plan_time,
    s.rows,
    s.shared_blks_hit,
    s.shared_blks_read,
    s.shared_blks_dirtied,
    s.shared_blks_written,
    s.temp_blks_written,
    s.blk_read_time AS shared_blk_read_time,
    s.blk_write_time AS shared_blk_write_time,
    NULL::timestamptz AS stats_since,
    i.stats_reset,
    i.dealloc
FROM pg_stat_statements AS s
CROSS JOIN pg_stat_statements_info AS i
/* dwcp-diag */
