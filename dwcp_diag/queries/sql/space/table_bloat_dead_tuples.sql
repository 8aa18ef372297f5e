-- table_bloat_dead_tuples: the last-resort bloat figure of each table, from the cumulative
-- statistics alone (pg_stat_user_tables, which every role may read; no pg_stats, no scan):
--   bloat_ratio = n_dead_tup / (n_live_tup + n_dead_tup), bloat_bytes = that x the heap's size
-- It sees the dead rows UPDATE and DELETE left behind since the last VACUUM. It does not see
-- space VACUUM (or page pruning) already turned into free space inside the file, nor width
-- differences between dead and live rows, and it is only as fresh as the counters:
-- stats_age_s is the time since the last (auto)vacuum or (auto)analyze re-based n_live_tup
-- (NA: never, the counters run since the table was created or statistics were reset).
-- is_reliable is false, with the reason, under :min_pages pages or without any tuple counted.
--   :min_pages  smallest relation, in pages, whose figure counts
WITH constants AS (
    SELECT current_setting('block_size')::bigint AS block_size
),
tables AS (
    SELECT
        s.relid,
        s.schemaname,
        s.relname,
        c.reltuples,
        coalesce(
            (SELECT o.option_value::integer FROM pg_options_to_table(c.reloptions) AS o
             WHERE o.option_name = 'fillfactor'),
            100
        ) AS fillfactor,
        pg_relation_size(s.relid) AS size_bytes,
        s.n_live_tup,
        s.n_dead_tup,
        greatest(s.last_vacuum, s.last_autovacuum, s.last_analyze, s.last_autoanalyze) AS based_at
    FROM pg_stat_user_tables AS s
    JOIN pg_class AS c ON c.oid = s.relid
)
SELECT
    'table' AS kind,
    t.schemaname,
    t.relname,
    NULL::text AS indexrelname,
    t.fillfactor,
    nullif(t.reltuples, -1)::float8 AS reltuples,
    (t.size_bytes / k.block_size)::bigint AS relpages,
    t.size_bytes,
    t.n_live_tup,
    t.n_dead_tup,
    round(t.size_bytes * t.n_dead_tup::numeric / nullif(t.n_live_tup + t.n_dead_tup, 0))::bigint
        AS bloat_bytes,
    (t.n_dead_tup::float8 / nullif(t.n_live_tup + t.n_dead_tup, 0)) AS bloat_ratio,
    extract(epoch FROM now() - t.based_at)::float8 AS stats_age_s,
    t.size_bytes >= :min_pages * k.block_size AND t.n_live_tup + t.n_dead_tup > 0 AS is_reliable,
    nullif(concat_ws('; ',
        CASE WHEN t.size_bytes < :min_pages * k.block_size
            THEN format('under %s pages', :min_pages) END,
        CASE WHEN t.n_live_tup + t.n_dead_tup = 0 THEN 'no tuples counted (statistics reset?)' END
    ), '') AS unreliable_reason
FROM tables AS t
CROSS JOIN constants AS k
ORDER BY t.schemaname, t.relname
/* dwcp-diag */
