-- index_bloat: estimated bloat of each btree index from planner statistics alone (no scan),
-- after the method of ioguix/pgsql-bloat-estimation:
--   tuple_bytes    = 4 (line pointer) + MAXALIGN(8-byte IndexTupleData, + 4-byte null bitmap
--                    when a key column has nulls) + MAXALIGN(data)
--   data           = sum of avg_width x (1 - null_frac) of the key and INCLUDE columns (the
--                    table's pg_stats; the index's own for expression columns)
--   leaf capacity  = floor((block_size - 24-byte page header - 16-byte btree special space)
--                    x fillfactor (default 90) / 100 / tuple_bytes)
--   expected_pages = 1 (metapage) + ceil(reltuples / leaf capacity)
-- Upper btree levels are not counted and deduplication (PostgreSQL 13+) stores repeated keys in
-- less space than this, so low-cardinality indexes come out less bloated than they are.
-- is_reliable as for tables: never vacuumed/analyzed, under :min_pages pages, a variable-width
-- column without statistics, a column of type name, or under 80 % of the estimated size
-- (typically deduplicated keys: the estimate cannot see bloat there).
WITH constants AS (
    SELECT
        current_setting('block_size')::numeric AS block_size,
        24 AS page_header_bytes,
        16 AS btree_special_bytes,
        CASE WHEN version() ~ '64-bit|x86_64|aarch64|arm64|ppc64|s390x' THEN 8 ELSE 4 END AS max_align
),
indexes AS (
    SELECT
        i.indexrelid,
        i.indrelid,
        n.nspname AS schemaname,
        t.relname,
        ic.relname AS indexrelname,
        ic.reltuples,
        ic.relpages,
        coalesce(
            (SELECT o.option_value::integer FROM pg_options_to_table(ic.reloptions) AS o
             WHERE o.option_name = 'fillfactor'),
            90
        ) AS fillfactor,
        string_to_array(i.indkey::text, ' ')::integer[] AS attnums
    FROM pg_index AS i
    JOIN pg_class AS ic ON ic.oid = i.indexrelid
    JOIN pg_class AS t ON t.oid = i.indrelid
    JOIN pg_namespace AS n ON n.oid = t.relnamespace
    WHERE ic.relam = (SELECT oid FROM pg_am WHERE amname = 'btree')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname !~ '^pg_toast'
),
index_columns AS (
    -- one row per index column: a table column, or an expression (attnum 0) whose statistics
    -- ANALYZE keeps under the index's own name
    SELECT
        x.indexrelid,
        coalesce(ta.atttypid, ia.atttypid) AS atttypid,
        coalesce(ta.attlen, ia.attlen) AS attlen,
        s.avg_width,
        s.null_frac
    FROM indexes AS x
    CROSS JOIN LATERAL unnest(x.attnums) WITH ORDINALITY AS k(attnum, position)
    JOIN pg_attribute AS ia ON ia.attrelid = x.indexrelid AND ia.attnum = k.position
    LEFT JOIN pg_attribute AS ta ON k.attnum <> 0 AND ta.attrelid = x.indrelid AND ta.attnum = k.attnum
    LEFT JOIN pg_stats AS s
      ON s.schemaname = x.schemaname
     AND NOT s.inherited
     AND (k.attnum <> 0 AND s.tablename = x.relname AND s.attname = ta.attname
          OR k.attnum = 0 AND s.tablename = x.indexrelname AND s.attname = ia.attname)
),
widths AS (
    SELECT
        c.indexrelid,
        coalesce(sum(coalesce(c.avg_width * (1 - c.null_frac),
                              CASE WHEN c.attlen > 0 THEN c.attlen END)), 0) AS data_bytes,
        max(coalesce(c.null_frac, 0)) > 0 AS has_nulls,
        count(*) FILTER (WHERE c.avg_width IS NULL AND c.attlen < 0) AS varlena_without_stats,
        bool_or(c.atttypid = 'pg_catalog.name'::regtype) AS has_name_column
    FROM index_columns AS c
    GROUP BY c.indexrelid
),
estimates AS (
    SELECT
        x.*,
        w.varlena_without_stats,
        w.has_name_column,
        k.block_size,
        1 + ceil(greatest(x.reltuples, 0) / greatest(floor(
            (k.block_size - k.page_header_bytes - k.btree_special_bytes) * x.fillfactor / 100
            / (4 + k.max_align * ceil((8 + CASE WHEN w.has_nulls THEN 4 ELSE 0 END)::numeric / k.max_align)
                 + k.max_align * ceil(w.data_bytes / k.max_align))
        ), 1)) AS expected_pages
    FROM indexes AS x
    LEFT JOIN widths AS w ON w.indexrelid = x.indexrelid
    CROSS JOIN constants AS k
)
SELECT
    'index' AS kind,
    e.schemaname,
    e.relname,
    e.indexrelname,
    e.fillfactor,
    nullif(e.reltuples, -1)::float8 AS reltuples,
    e.relpages::bigint AS relpages,
    (e.relpages * e.block_size)::bigint AS size_bytes,
    (e.expected_pages * e.block_size)::bigint AS expected_bytes,
    (greatest(e.relpages - e.expected_pages, 0) * e.block_size)::bigint AS bloat_bytes,
    (greatest(e.relpages - e.expected_pages, 0) / nullif(e.relpages, 0))::float8 AS bloat_ratio,
    e.reltuples >= 0
        AND e.relpages >= :min_pages
        AND coalesce(e.varlena_without_stats, 1) = 0
        AND NOT coalesce(e.has_name_column, false)
        AND e.relpages >= 0.8 * e.expected_pages AS is_reliable,
    nullif(concat_ws('; ',
        CASE WHEN e.reltuples < 0 THEN 'never vacuumed or analyzed' END,
        CASE WHEN e.relpages < :min_pages THEN format('under %s pages', :min_pages) END,
        CASE WHEN e.varlena_without_stats > 0
            THEN format('%s variable-width column(s) without statistics', e.varlena_without_stats) END,
        CASE WHEN e.has_name_column THEN 'column of type name' END,
        CASE WHEN e.relpages < 0.8 * e.expected_pages
            THEN 'smaller than estimated for its rows (deduplicated keys?)' END
    ), '') AS unreliable_reason
FROM estimates AS e
ORDER BY e.schemaname, e.relname, e.indexrelname
/* dwcp-diag */
