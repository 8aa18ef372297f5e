-- indexes: every user index with its use since the statistics were last reset (stats_reset,
-- the database's), size, kind and definition. columns lists the key columns (expressions
-- included) in order; include_columns the INCLUDE (non-key) columns. is_constraint: the index
-- backs a primary key, unique or exclusion constraint (not droppable on its own).
SELECT
    s.schemaname,
    s.relname,
    s.indexrelname,
    am.amname AS method,
    i.indisunique AS is_unique,
    i.indisprimary AS is_primary,
    i.indisvalid AS is_valid,
    EXISTS (SELECT 1 FROM pg_constraint AS k WHERE k.conindid = i.indexrelid) AS is_constraint,
    (
        SELECT string_agg(pg_get_indexdef(i.indexrelid, k, true), ', ' ORDER BY k)
        FROM generate_series(1, i.indnkeyatts) AS k
    ) AS columns,
    (
        SELECT string_agg(pg_get_indexdef(i.indexrelid, k, true), ', ' ORDER BY k)
        FROM generate_series(i.indnkeyatts + 1, i.indnatts) AS k
    ) AS include_columns,
    pg_get_expr(i.indpred, i.indrelid, true) AS predicate,
    pg_get_indexdef(i.indexrelid) AS definition,
    s.idx_scan,
    s.idx_tup_read,
    s.idx_tup_fetch,
    pg_relation_size(i.indexrelid) AS size_bytes,
    d.stats_reset
FROM pg_stat_user_indexes AS s
JOIN pg_index AS i ON i.indexrelid = s.indexrelid
JOIN pg_class AS ic ON ic.oid = i.indexrelid
JOIN pg_am AS am ON am.oid = ic.relam
CROSS JOIN pg_stat_database AS d
WHERE d.datname = current_database()
ORDER BY s.schemaname, s.relname, s.indexrelname
/* dwcp-diag */
