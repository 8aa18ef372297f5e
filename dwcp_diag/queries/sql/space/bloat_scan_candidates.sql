-- bloat_scan_candidates: the tables (and materialized views) and btree indexes worth measuring
-- with pgstattuple_approx / pgstatindex, largest first, so that a time budget spends itself
-- where the space is. Size is the main fork (what both functions read); relations under
-- :min_pages pages are left out (their bloat cannot matter). Reading sizes needs no privilege.
--   :min_pages  smallest relation, in pages, worth a scan
SELECT
    c.oid::bigint AS relid,
    CASE WHEN c.relkind = 'i' THEN 'index' ELSE 'table' END AS kind,
    n.nspname AS schemaname,
    coalesce(t.relname, c.relname) AS relname,
    CASE WHEN c.relkind = 'i' THEN c.relname END AS indexrelname,
    pg_relation_size(c.oid) AS size_bytes
FROM pg_class AS c
JOIN pg_namespace AS n ON n.oid = c.relnamespace
LEFT JOIN pg_index AS i ON i.indexrelid = c.oid
LEFT JOIN pg_class AS t ON t.oid = i.indrelid
WHERE (c.relkind IN ('r', 'm')
       OR c.relkind = 'i' AND c.relam = (SELECT oid FROM pg_am WHERE amname = 'btree'))
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname !~ '^pg_toast'
  AND n.nspname !~ '^pg_temp'
  AND pg_relation_size(c.oid) >= :min_pages * current_setting('block_size')::bigint
ORDER BY pg_relation_size(c.oid) DESC, c.oid
/* dwcp-diag */
