-- index_bloat_exact: measured bloat of one btree index with pgstatindex, which READS THE WHOLE
-- INDEX (opt-in; runs under statement_timeout). Needs pgstattuple, as table_bloat_exact.sql.
-- bloat_bytes = the leaf space below the fillfactor's density (default 90) plus empty and
-- deleted pages, so it compares with index_bloat.sql's estimate. Entries of dead rows count as
-- used until VACUUM removes them: on a table that is not vacuumed this is lower than the
-- estimate (which sizes the index for live rows only).
-- bloat_ratio = bloat_bytes / size_bytes.
--   :relation  index name, optionally schema-qualified
SELECT
    'index' AS kind,
    n.nspname AS schemaname,
    t.relname,
    c.relname AS indexrelname,
    f.fillfactor,
    p.index_size AS size_bytes,
    NULL::bigint AS live_tuples,
    NULL::bigint AS live_tuple_bytes,
    NULL::bigint AS dead_tuples,
    NULL::bigint AS dead_tuple_bytes,
    NULL::bigint AS free_bytes,
    p.avg_leaf_density AS avg_leaf_density_pct,
    b.bloat_bytes::bigint AS bloat_bytes,
    b.bloat_bytes::float8 / nullif(p.index_size, 0) AS bloat_ratio
FROM pg_class AS c
JOIN pg_namespace AS n ON n.oid = c.relnamespace
JOIN pg_index AS i ON i.indexrelid = c.oid
JOIN pg_class AS t ON t.oid = i.indrelid
CROSS JOIN LATERAL (
    SELECT coalesce(
        (SELECT o.option_value::integer FROM pg_options_to_table(c.reloptions) AS o
         WHERE o.option_name = 'fillfactor'),
        90
    ) AS fillfactor
) AS f
CROSS JOIN LATERAL pgstatindex(c.oid::regclass) AS p
CROSS JOIN LATERAL (
    SELECT greatest(
        p.leaf_pages * (1 - coalesce(p.avg_leaf_density, 0) / f.fillfactor)
            + p.empty_pages + p.deleted_pages,
        0
    ) * current_setting('block_size')::numeric AS bloat_bytes
) AS b
WHERE c.oid = CAST(:relation AS regclass)
/* dwcp-diag */
