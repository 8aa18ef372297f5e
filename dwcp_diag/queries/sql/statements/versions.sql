-- versions: the server's version number and the pg_stat_statements extension's version in this
-- database (NULL when not created), which together pick the pgss_*.sql variant.
SELECT
    current_setting('server_version_num')::integer AS version_num,
    (
        SELECT e.extversion FROM pg_extension AS e WHERE e.extname = 'pg_stat_statements'
    ) AS pg_stat_statements_version
/* dwcp-diag */
