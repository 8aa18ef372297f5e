-- wraparound: transaction-ID age of every database, and of the :table_limit oldest tables of the
-- current database (the table's or its TOAST table's relfrozenxid), against
-- autovacuum_freeze_max_age (past it, autovacuum forces an anti-wraparound vacuum; a table's
-- own reloption can only lower it) and against 2^31, where XIDs wrap (the server refuses new
-- XIDs a few million before that). mxid_age: the same for multixact IDs.
WITH settings AS (
    SELECT
        current_setting('autovacuum_freeze_max_age')::bigint AS freeze_max_age,
        2147483648::float8 AS wraparound_xids
),
databases AS (
    SELECT
        'database' AS level,
        d.datname AS dbname,
        NULL::text AS schemaname,
        NULL::text AS relname,
        age(d.datfrozenxid)::bigint AS xid_age,
        mxid_age(d.datminmxid)::bigint AS mxid_age,
        s.freeze_max_age
    FROM pg_database AS d
    CROSS JOIN settings AS s
),
tables AS (
    SELECT
        'table' AS level,
        current_database() AS dbname,
        n.nspname AS schemaname,
        c.relname,
        greatest(age(c.relfrozenxid), age(toast.relfrozenxid))::bigint AS xid_age,
        mxid_age(c.relminmxid)::bigint AS mxid_age,
        least(
            (SELECT o.option_value::bigint FROM pg_options_to_table(c.reloptions) AS o
             WHERE o.option_name = 'autovacuum_freeze_max_age'),
            s.freeze_max_age
        ) AS freeze_max_age
    FROM pg_class AS c
    JOIN pg_namespace AS n ON n.oid = c.relnamespace
    LEFT JOIN pg_class AS toast ON toast.oid = c.reltoastrelid
    CROSS JOIN settings AS s
    WHERE c.relkind IN ('r', 'm')
    ORDER BY xid_age DESC, n.nspname, c.relname
    LIMIT :table_limit
)
SELECT
    w.level,
    w.dbname,
    w.schemaname,
    w.relname,
    w.xid_age,
    w.mxid_age,
    w.freeze_max_age,
    100.0 * w.xid_age / w.freeze_max_age AS pct_of_freeze_max_age,
    100.0 * w.xid_age / s.wraparound_xids AS pct_of_wraparound
FROM (SELECT * FROM databases UNION ALL SELECT * FROM tables) AS w
CROSS JOIN settings AS s
ORDER BY w.level, w.xid_age DESC, w.dbname, w.schemaname, w.relname
/* dwcp-diag */
