-- pg_stat_statements_info (extension 1.9+, PostgreSQL 14+): when the statement statistics were
-- last reset as a whole, and how many entries were evicted (deallocated) since, for lack of
-- room (pg_stat_statements.max). Needs the extension's schema on the search_path.
SELECT
    i.stats_reset AS pg_stat_statements_reset_at,
    i.dealloc AS pg_stat_statements_dealloc
FROM pg_stat_statements_info AS i
/* dwcp-diag */
