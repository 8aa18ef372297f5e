-- pgss_pg13: pg_stat_statements rows in the common column set, extension version 1.8
-- (PostgreSQL 13, or a later server whose extension was never updated).
-- 1.8 renamed total_time/mean_time to *_exec_time and added planning time; it has no
-- toplevel flag and no pg_stat_statements_info, so those come out NULL.
SELECT
    s.userid,
    s.dbid,
    s.queryid,
    NULL::boolean AS toplevel,
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
    NULL::timestamptz AS stats_reset,
    NULL::bigint AS dealloc
FROM pg_stat_statements AS s
/* dwcp-diag */
