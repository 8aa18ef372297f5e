-- cache_hit: share of block reads served from shared_buffers since the statistics were reset,
-- for the whole database, user tables' heap and user indexes (PgHero warns under 0.99).
-- Blocks found in the operating system's page cache still count as reads here.
SELECT
    c.scope,
    c.blks_hit,
    c.blks_read,
    c.blks_hit::float8 / nullif(c.blks_hit + c.blks_read, 0) AS hit_ratio
FROM (
    SELECT 'database' AS scope, d.blks_hit::bigint AS blks_hit, d.blks_read::bigint AS blks_read
    FROM pg_stat_database AS d
    WHERE d.datname = current_database()
    UNION ALL
    SELECT 'tables', sum(t.heap_blks_hit)::bigint, sum(t.heap_blks_read)::bigint
    FROM pg_statio_user_tables AS t
    UNION ALL
    SELECT 'indexes', sum(i.idx_blks_hit)::bigint, sum(i.idx_blks_read)::bigint
    FROM pg_statio_user_indexes AS i
) AS c
/* dwcp-diag */
