-- tables: access, churn and vacuum state of each user table (pg_stat_user_tables: relname,
-- never "tablename"), with sizes, and the dead-tuple count at which autovacuum will vacuum it:
--   autovacuum_vacuum_trigger_tup = vacuum threshold + vacuum scale factor x reltuples
-- taking the table's own reloptions over the server settings (reltuples -1, "never vacuumed
-- or analyzed", counts as 0, as autovacuum does). Same for analyze (changes since analyze).
-- autovacuum_enabled is false when autovacuum is off server-wide or for the table.
WITH options AS (
    SELECT
        c.oid AS relid,
        max(o.option_value) FILTER (WHERE o.option_name = 'autovacuum_enabled') AS enabled,
        max(o.option_value) FILTER (WHERE o.option_name = 'autovacuum_vacuum_threshold') AS vacuum_threshold,
        max(o.option_value) FILTER (WHERE o.option_name = 'autovacuum_vacuum_scale_factor') AS vacuum_scale_factor,
        max(o.option_value) FILTER (WHERE o.option_name = 'autovacuum_analyze_threshold') AS analyze_threshold,
        max(o.option_value) FILTER (WHERE o.option_name = 'autovacuum_analyze_scale_factor') AS analyze_scale_factor
    FROM pg_class AS c
    CROSS JOIN LATERAL pg_options_to_table(c.reloptions) AS o
    WHERE c.reloptions IS NOT NULL
    GROUP BY c.oid
)
SELECT
    t.schemaname,
    t.relname,
    t.seq_scan,
    t.seq_tup_read,
    t.idx_scan,
    t.idx_tup_fetch,
    t.n_tup_ins,
    t.n_tup_upd,
    t.n_tup_del,
    t.n_tup_hot_upd,
    t.n_live_tup,
    t.n_dead_tup,
    t.n_dead_tup::float8 / nullif(t.n_live_tup + t.n_dead_tup, 0) AS dead_tup_ratio,
    t.n_mod_since_analyze,
    t.n_ins_since_vacuum,
    t.last_vacuum,
    t.last_autovacuum,
    t.last_analyze,
    t.last_autoanalyze,
    t.vacuum_count,
    t.autovacuum_count,
    t.analyze_count,
    t.autoanalyze_count,
    nullif(c.reltuples, -1)::float8 AS reltuples,
    pg_table_size(t.relid) AS table_bytes,
    pg_indexes_size(t.relid) AS index_bytes,
    pg_total_relation_size(t.relid) AS total_bytes,
    current_setting('autovacuum') = 'on'
        AND coalesce(o.enabled, 'true')::boolean AS autovacuum_enabled,
    coalesce(o.vacuum_threshold::float8, current_setting('autovacuum_vacuum_threshold')::float8)
        + coalesce(o.vacuum_scale_factor::float8, current_setting('autovacuum_vacuum_scale_factor')::float8)
        * greatest(c.reltuples, 0) AS autovacuum_vacuum_trigger_tup,
    coalesce(o.analyze_threshold::float8, current_setting('autovacuum_analyze_threshold')::float8)
        + coalesce(o.analyze_scale_factor::float8, current_setting('autovacuum_analyze_scale_factor')::float8)
        * greatest(c.reltuples, 0) AS autovacuum_analyze_trigger_tup,
    d.stats_reset
FROM pg_stat_user_tables AS t
JOIN pg_class AS c ON c.oid = t.relid
LEFT JOIN options AS o ON o.relid = t.relid
CROSS JOIN pg_stat_database AS d
WHERE d.datname = current_database()
ORDER BY t.schemaname, t.relname
/* dwcp-diag */
