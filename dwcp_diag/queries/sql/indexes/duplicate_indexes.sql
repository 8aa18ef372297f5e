-- duplicate_indexes: indexes another index of the same table makes redundant. The covering
-- index has the same access method, the same predicate (or none), and key columns that start
-- with all of the redundant index's key columns, each with the same operator class, collation
-- and ordering (match = 'identical' when the keys are the same, else 'prefix').
-- Never reported as redundant: a primary key; a unique index, unless covered by an identical
-- unique one; an index with INCLUDE columns; an index with expressions (unless identical);
-- an invalid index. Of two identical indexes the one with the greater name is reported.
WITH idx AS (
    SELECT
        i.indexrelid,
        i.indrelid,
        ic.relam,
        ic.relname AS indexrelname,
        i.indisunique,
        i.indisprimary,
        i.indisvalid,
        i.indnatts,
        i.indnkeyatts,
        -- (column, opclass, collation, ordering) of each key column, 1-based
        (string_to_array(i.indkey::text, ' ')::integer[])[1:i.indnkeyatts] AS keys,
        (string_to_array(i.indclass::text, ' ')::oid[])[1:i.indnkeyatts] AS opclasses,
        (string_to_array(i.indcollation::text, ' ')::oid[])[1:i.indnkeyatts] AS collations,
        (string_to_array(i.indoption::text, ' ')::integer[])[1:i.indnkeyatts] AS options,
        pg_get_expr(i.indexprs, i.indrelid) AS expressions,
        pg_get_expr(i.indpred, i.indrelid) AS predicate
    FROM pg_index AS i
    JOIN pg_class AS ic ON ic.oid = i.indexrelid
    JOIN pg_namespace AS n ON n.oid = ic.relnamespace
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname !~ '^pg_toast'
),
pairs AS (
    SELECT
        a.indexrelid AS redundant_oid,
        b.indexrelid AS covering_oid,
        CASE WHEN a.keys = b.keys THEN 'identical' ELSE 'prefix' END AS match,
        row_number() OVER (PARTITION BY a.indexrelid ORDER BY b.indisprimary DESC,
            b.indisunique DESC, cardinality(b.keys), b.indexrelname) AS preference
    FROM idx AS a
    JOIN idx AS b
      ON b.indrelid = a.indrelid
     AND b.indexrelid <> a.indexrelid
     AND b.relam = a.relam
     AND b.indisvalid
     AND a.indisvalid
     AND NOT a.indisprimary
     AND a.indnatts = a.indnkeyatts
     AND b.predicate IS NOT DISTINCT FROM a.predicate
     AND b.keys[1:cardinality(a.keys)] = a.keys
     AND b.opclasses[1:cardinality(a.keys)] = a.opclasses
     AND b.collations[1:cardinality(a.keys)] = a.collations
     AND b.options[1:cardinality(a.keys)] = a.options
    WHERE (a.expressions IS NULL AND b.expressions IS NULL
           OR a.keys = b.keys AND a.expressions = b.expressions)
      AND (
          -- a strictly shorter, non-unique index
          cardinality(a.keys) < cardinality(b.keys) AND NOT a.indisunique
          -- or identical keys: keep the primary/unique one, else the one with the lesser name
          OR a.keys = b.keys AND (
              b.indisprimary
              OR b.indisunique AND NOT a.indisunique
              OR b.indisunique = a.indisunique AND a.indexrelname > b.indexrelname
          )
      )
)
SELECT
    n.nspname AS schemaname,
    t.relname,
    ra.relname AS indexrelname,
    rb.relname AS covering_indexrelname,
    p.match,
    pg_get_indexdef(p.redundant_oid) AS definition,
    pg_get_indexdef(p.covering_oid) AS covering_definition,
    pg_relation_size(p.redundant_oid) AS size_bytes,
    s.idx_scan
FROM pairs AS p
JOIN pg_class AS ra ON ra.oid = p.redundant_oid
JOIN pg_class AS rb ON rb.oid = p.covering_oid
JOIN pg_index AS i ON i.indexrelid = p.redundant_oid
JOIN pg_class AS t ON t.oid = i.indrelid
JOIN pg_namespace AS n ON n.oid = t.relnamespace
LEFT JOIN pg_stat_user_indexes AS s ON s.indexrelid = p.redundant_oid
WHERE p.preference = 1
ORDER BY schemaname, t.relname, indexrelname
/* dwcp-diag */
