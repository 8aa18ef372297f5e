-- availability: the facts behind each feature the loaders need (privileges, extensions,
-- settings), and the statement that fixes each one, with the role name quoted.
SELECT
    current_user AS role_name,
    current_database() AS dbname,
    format('%I', current_user) AS role_ident,
    format('%I', current_database()) AS dbname_ident,
    r.rolsuper AS is_superuser,
    pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS has_pg_read_all_stats,
    pg_has_role(current_user, 'pg_stat_scan_tables', 'USAGE') AS has_pg_stat_scan_tables,
    (
        SELECT e.extversion FROM pg_extension AS e WHERE e.extname = 'pg_stat_statements'
    ) AS pg_stat_statements_version,
    (SELECT e.extversion FROM pg_extension AS e WHERE e.extname = 'pgstattuple') AS pgstattuple_version,
    (
        SELECT has_function_privilege(format('%I.pgstattuple(regclass)', n.nspname), 'EXECUTE')
        FROM pg_extension AS e
        JOIN pg_namespace AS n ON n.oid = e.extnamespace
        WHERE e.extname = 'pgstattuple'
    ) AS can_execute_pgstattuple,
    current_setting('track_counts') = 'on' AS track_counts,
    current_setting('track_io_timing') = 'on' AS track_io_timing,
    (
        SELECT string_agg(DISTINCT format('%I', t.schemaname), ', ')
        FROM pg_stat_user_tables AS t
        WHERE NOT has_table_privilege(t.relid, 'SELECT')
    ) AS schemas_with_unreadable_tables,
    (
        SELECT count(*) FROM pg_stat_user_tables AS t WHERE NOT has_table_privilege(t.relid, 'SELECT')
    ) AS unreadable_tables,
    (
        SELECT string_agg(DISTINCT format('%I', n.nspname), ', ')
        FROM pg_class AS c
        JOIN pg_namespace AS n ON n.oid = c.relnamespace
        -- CASE: has_sequence_privilege() fails on a non-sequence, whatever the WHERE order
        WHERE CASE WHEN c.relkind = 'S' THEN NOT has_sequence_privilege(c.oid, 'SELECT') END
    ) AS schemas_with_unreadable_sequences,
    (
        SELECT count(*) FROM pg_class AS c
        WHERE CASE WHEN c.relkind = 'S' THEN NOT has_sequence_privilege(c.oid, 'SELECT') END
    ) AS unreadable_sequences
FROM pg_roles AS r
WHERE r.rolname = current_user
/* dwcp-diag */
