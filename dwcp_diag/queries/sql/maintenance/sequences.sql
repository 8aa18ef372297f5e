-- sequences: how much of its range each sequence has used. The limit is the sequence's own
-- max_value (min_value when descending) or, when it feeds a column (serial, identity, or a
-- DEFAULT nextval(...)), that column's type if narrower: a bigint sequence feeding an integer
-- column fails at 2^31 - 1. last_value (pg_sequences) is NULL until the sequence is first used
-- and for roles without SELECT or USAGE on it (is_readable = false): pg_monitor does not give it.
WITH feeds AS (
    -- serial and identity columns: the sequence depends on the column
    SELECT d.objid AS seqid, d.refobjid AS relid, d.refobjsubid AS attnum
    FROM pg_depend AS d
    WHERE d.classid = 'pg_class'::regclass
      AND d.refclassid = 'pg_class'::regclass
      AND d.deptype IN ('a', 'i')
      AND d.refobjsubid > 0
    UNION
    -- DEFAULT nextval('...'): the column default depends on the sequence
    SELECT d.refobjid, ad.adrelid, ad.adnum
    FROM pg_depend AS d
    JOIN pg_attrdef AS ad ON ad.oid = d.objid
    WHERE d.classid = 'pg_attrdef'::regclass
      AND d.refclassid = 'pg_class'::regclass
),
columns AS (
    SELECT DISTINCT ON (f.seqid)
        f.seqid,
        format('%I.%I', n.nspname, c.relname) AS table_name,
        a.attname::text AS column_name,
        format_type(a.atttypid, a.atttypmod) AS column_type,
        CASE a.atttypid
            WHEN 'int2'::regtype THEN 32767::numeric
            WHEN 'int4'::regtype THEN 2147483647::numeric
            WHEN 'int8'::regtype THEN 9223372036854775807::numeric
        END AS column_max,
        CASE a.atttypid
            WHEN 'int2'::regtype THEN -32768::numeric
            WHEN 'int4'::regtype THEN -2147483648::numeric
            WHEN 'int8'::regtype THEN -9223372036854775808::numeric
        END AS column_min
    FROM feeds AS f
    JOIN pg_class AS c ON c.oid = f.relid
    JOIN pg_namespace AS n ON n.oid = c.relnamespace
    JOIN pg_attribute AS a ON a.attrelid = f.relid AND a.attnum = f.attnum
    JOIN pg_class AS sc ON sc.oid = f.seqid AND sc.relkind = 'S'
    -- the narrowest column first
    ORDER BY f.seqid, a.attlen, c.relname, a.attname
),
limits AS (
    SELECT
        s.*,
        sc.oid AS seqid,
        col.table_name,
        col.column_name,
        col.column_type,
        has_sequence_privilege(sc.oid, 'SELECT,USAGE') AS is_readable,
        least(s.max_value::numeric, coalesce(col.column_max, s.max_value)) AS effective_max,
        greatest(s.min_value::numeric, coalesce(col.column_min, s.min_value)) AS effective_min
    FROM pg_sequences AS s
    JOIN pg_namespace AS sn ON sn.nspname = s.schemaname
    JOIN pg_class AS sc ON sc.relnamespace = sn.oid AND sc.relname = s.sequencename
    LEFT JOIN columns AS col ON col.seqid = sc.oid
)
SELECT
    l.schemaname,
    l.sequencename,
    l.data_type::text AS data_type,
    l.table_name,
    l.column_name,
    l.column_type,
    l.start_value,
    l.min_value,
    l.max_value,
    l.increment_by,
    l.cycle,
    l.last_value,
    l.is_readable,
    l.effective_max::float8 AS effective_max_value,
    l.effective_min::float8 AS effective_min_value,
    CASE
        WHEN NOT l.is_readable THEN NULL
        WHEN l.last_value IS NULL THEN 0
        WHEN l.increment_by > 0
            THEN 100 * (l.last_value::numeric - l.min_value) / nullif(l.effective_max - l.min_value, 0)
        ELSE 100 * (l.max_value::numeric - l.last_value) / nullif(l.max_value - l.effective_min, 0)
    END::float8 AS used_pct,
    CASE
        WHEN NOT l.is_readable THEN NULL
        WHEN l.increment_by > 0
            THEN floor((l.effective_max - coalesce(l.last_value, l.start_value::numeric - l.increment_by))
                       / l.increment_by)
        ELSE floor((coalesce(l.last_value, l.start_value::numeric - l.increment_by) - l.effective_min)
                   / -l.increment_by)
    END::float8 AS remaining_values
FROM limits AS l
ORDER BY used_pct DESC NULLS LAST, l.schemaname, l.sequencename
/* dwcp-diag */
