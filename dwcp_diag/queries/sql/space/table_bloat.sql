-- table_bloat: estimated bloat of each table and materialized view from planner statistics
-- alone (no scan), after the method of ioguix/pgsql-bloat-estimation:
--   tuple_bytes     = 4 (line pointer) + MAXALIGN(23-byte header + null bitmap) + MAXALIGN(data)
--   data            = sum of avg_width x (1 - null_frac) over the columns (pg_stats); the type's
--                     length for a fixed-width column without statistics
--   tuples_per_page = floor((block_size - 24-byte page header - fillfactor reserve) / tuple_bytes)
--   expected_pages  = ceil(reltuples / tuples_per_page) + ceil(toast rows / 4)
--   bloat_bytes     = (relpages + toast relpages - expected_pages) x block_size, at least 0
-- so it is as fresh as the last VACUUM/ANALYZE, and counts alignment padding between columns as
-- bloat. is_reliable is false, with the reason, when the table was never vacuumed or analyzed
-- (reltuples -1), has fewer than :min_pages pages, has a variable-width column without
-- statistics (pg_stats shows only tables the role may SELECT), a column of type name, or is
-- under 80 % of the size estimated for its rows (the model does not fit: compressed values,
-- stale statistics), where "no bloat" means nothing.
WITH constants AS (
    SELECT
        current_setting('block_size')::numeric AS block_size,
        24 AS page_header_bytes,
        -- MAXALIGN: 8 on 64-bit platforms
        CASE WHEN version() ~ '64-bit|x86_64|aarch64|arm64|ppc64|s390x' THEN 8 ELSE 4 END AS max_align
),
relations AS (
    SELECT
        c.oid AS relid,
        n.nspname AS schemaname,
        c.relname,
        c.reltuples,
        c.relpages,
        coalesce(toast.relpages, 0) AS toast_pages,
        greatest(coalesce(toast.reltuples, 0), 0) AS toast_tuples,
        coalesce(
            (SELECT o.option_value::integer FROM pg_options_to_table(c.reloptions) AS o
             WHERE o.option_name = 'fillfactor'),
            100
        ) AS fillfactor
    FROM pg_class AS c
    JOIN pg_namespace AS n ON n.oid = c.relnamespace
    LEFT JOIN pg_class AS toast ON toast.oid = c.reltoastrelid
    WHERE c.relkind IN ('r', 'm')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname !~ '^pg_toast'
),
widths AS (
    SELECT
        r.relid,
        count(*) AS column_count,
        coalesce(sum(coalesce(s.avg_width * (1 - s.null_frac),
                              CASE WHEN a.attlen > 0 THEN a.attlen END)), 0) AS data_bytes,
        max(coalesce(s.null_frac, 0)) > 0 AS has_nulls,
        count(*) FILTER (WHERE s.attname IS NULL AND a.attlen < 0) AS varlena_without_stats,
        bool_or(a.atttypid = 'pg_catalog.name'::regtype) AS has_name_column
    FROM relations AS r
    JOIN pg_attribute AS a ON a.attrelid = r.relid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_stats AS s
      ON s.schemaname = r.schemaname AND s.tablename = r.relname
     AND s.attname = a.attname AND NOT s.inherited
    GROUP BY r.relid
),
sizes AS (
    SELECT
        r.*,
        w.varlena_without_stats,
        w.has_name_column,
        k.block_size,
        -- MAXALIGN(header + null bitmap) + MAXALIGN(data) + line pointer
        4 + k.max_align * ceil((23 + CASE WHEN w.has_nulls THEN ceil(w.column_count / 8.0) ELSE 0 END)
                               / k.max_align)
          + k.max_align * ceil(w.data_bytes / k.max_align) AS tuple_bytes,
        k.block_size - k.page_header_bytes - k.block_size * (100 - r.fillfactor) / 100 AS usable_bytes,
        floor((k.block_size - k.page_header_bytes) / (4 + k.max_align * ceil(23.0 / k.max_align)))
            AS max_tuples_per_page
    FROM relations AS r
    LEFT JOIN widths AS w ON w.relid = r.relid
    CROSS JOIN constants AS k
),
estimates AS (
    SELECT
        s.*,
        ceil(greatest(s.reltuples, 0)
             / greatest(least(floor(s.usable_bytes / s.tuple_bytes), s.max_tuples_per_page), 1))
          + ceil(s.toast_tuples / 4) AS expected_pages
    FROM sizes AS s
)
SELECT
    'table' AS kind,
    e.schemaname,
    e.relname,
    NULL::text AS indexrelname,
    e.fillfactor,
    nullif(e.reltuples, -1)::float8 AS reltuples,
    (e.relpages + e.toast_pages)::bigint AS relpages,
    ((e.relpages + e.toast_pages) * e.block_size)::bigint AS size_bytes,
    (e.expected_pages * e.block_size)::bigint AS expected_bytes,
    (greatest(e.relpages + e.toast_pages - e.expected_pages, 0) * e.block_size)::bigint AS bloat_bytes,
    (greatest(e.relpages + e.toast_pages - e.expected_pages, 0)
        / nullif(e.relpages + e.toast_pages, 0))::float8 AS bloat_ratio,
    e.reltuples >= 0
        AND e.relpages >= :min_pages
        AND coalesce(e.varlena_without_stats, 1) = 0
        AND NOT coalesce(e.has_name_column, false)
        AND e.relpages + e.toast_pages >= 0.8 * e.expected_pages AS is_reliable,
    nullif(concat_ws('; ',
        CASE WHEN e.reltuples < 0 THEN 'never vacuumed or analyzed' END,
        CASE WHEN e.relpages < :min_pages THEN format('under %s pages', :min_pages) END,
        CASE WHEN e.varlena_without_stats > 0
            THEN format('%s variable-width column(s) without statistics', e.varlena_without_stats) END,
        CASE WHEN e.varlena_without_stats IS NULL THEN 'no columns' END,
        CASE WHEN e.has_name_column THEN 'column of type name' END,
        CASE WHEN e.relpages + e.toast_pages < 0.8 * e.expected_pages
            THEN 'smaller than estimated for its rows' END
    ), '') AS unreliable_reason
FROM estimates AS e
ORDER BY e.schemaname, e.relname
/* dwcp-diag */
