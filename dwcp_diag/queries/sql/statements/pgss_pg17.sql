-- pgss_pg17: pg_stat_statements rows in the common column set, extension version 1.11+
-- (PostgreSQL 17+). 1.11 renamed blk_read/write_time to shared_blk_read/write_time and added
-- stats_since: when this entry started counting (tells an evicted-and-readded entry apart).
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
    s.shared_blk_read_time,
    s.shared_blk_write_time,
    s.stats_since,
    i.stats_reset,
    i.dealloc
FROM pg_stat_statements AS s
CROSS JOIN pg_stat_statements_info AS i
/* dwcp-diag */
