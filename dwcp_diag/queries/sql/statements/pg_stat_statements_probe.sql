-- pg_stat_statements_probe: fails with SQLSTATE 55000 when the extension exists in the database
-- but the library is not in shared_preload_libraries (a setting only pg_read_all_settings may
-- read, so reading the function is the portable test). showtext = false: no query texts read.
SELECT count(*) AS entries
FROM (SELECT 1 FROM pg_stat_statements(false) LIMIT 1) AS one_entry
/* dwcp-diag */
