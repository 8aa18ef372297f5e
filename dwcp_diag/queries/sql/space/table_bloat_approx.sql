-- table_bloat_approx: measured bloat of one table with pgstattuple_approx, for the budgeted scan
-- of PostgresLoader.bloat. It reads only the pages the visibility map does not mark
-- all-visible: dead tuples and their bytes are exact, live tuples and free space of the skipped
-- (all-visible) pages come from the free space map, which VACUUM keeps (scanned_pct says how much
-- was read). So it is cheap on a well-vacuumed table and a full read of one never vacuumed.
-- Needs pgstattuple and pg_stat_scan_tables (part of pg_monitor), with the extension's schema on
-- the search_path (extension_search_path.sql). Only the main fork is read (no TOAST).
-- bloat_bytes = dead tuples + free space - the free space fillfactor reserves on purpose, as in
-- table_bloat_exact.sql, so the two compare.
--   :relation  the table's name or OID, as text
SELECT
    'table' AS kind,
    n.nspname AS schemaname,
    c.relname,
    NULL::text AS indexrelname,
    f.fillfactor,
    p.table_len AS size_bytes,
    p.scanned_percent AS scanned_pct,
    p.approx_tuple_count AS live_tuples,
    p.dead_tuple_count AS dead_tuples,
    p.dead_tuple_len AS dead_tuple_bytes,
    p.approx_free_space AS free_bytes,
    NULL::float8 AS avg_leaf_density_pct,
    greatest(p.dead_tuple_len + p.approx_free_space - p.table_len * (100 - f.fillfactor) / 100, 0)::bigint
        AS bloat_bytes,
    (greatest(p.dead_tuple_len + p.approx_free_space - p.table_len * (100 - f.fillfactor) / 100, 0)::float8
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
CROSS JOIN LATERAL pgstattuple_approx(c.oid::regclass) AS p
WHERE c.oid = CAST(:relation AS regclass)
/* dwcp-diag */
