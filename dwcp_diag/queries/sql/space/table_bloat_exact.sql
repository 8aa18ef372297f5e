-- table_bloat_exact: measured bloat of one table with pgstattuple, which READS THE WHOLE TABLE
-- (opt-in; runs under statement_timeout). Needs the pgstattuple extension and pg_stat_scan_tables
-- (part of pg_monitor), and its schema on the search_path (extension_search_path.sql).
-- bloat_bytes = dead tuples + free space - the free space fillfactor reserves on purpose, so it
-- compares with table_bloat.sql's estimate.
--   :relation  table name, optionally schema-qualified
SELECT
    'table' AS kind,
    n.nspname AS schemaname,
    c.relname,
    NULL::text AS indexrelname,
    f.fillfactor,
    p.table_len AS size_bytes,
    p.tuple_count AS live_tuples,
    p.tuple_len AS live_tuple_bytes,
    p.dead_tuple_count AS dead_tuples,
    p.dead_tuple_len AS dead_tuple_bytes,
    p.free_space AS free_bytes,
    NULL::float8 AS avg_leaf_density_pct,
    greatest(p.dead_tuple_len + p.free_space - p.table_len * (100 - f.fillfactor) / 100, 0)::bigint
        AS bloat_bytes,
    (greatest(p.dead_tuple_len + p.free_space - p.table_len * (100 - f.fillfactor) / 100, 0)::float8
        / nullif(p.table_len, 0)) AS bloat_ratio
FROM pg_class AS c
JOIN pg_namespace AS n ON n.oid = c.relnamespace
CROSS JOIN LATERAL (
    SELECT coalesce(
        (SELECT o.option_value::integer FROM pg_options_to_table(c.reloptions) AS o
         WHERE o.option_name = 'fillfactor'),
        100
    ) AS fillfactor
) AS f
CROSS JOIN LATERAL pgstattuple(c.oid::regclass) AS p
WHERE c.oid = CAST(:relation AS regclass)
/* dwcp-diag */
