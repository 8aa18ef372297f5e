-- connection_counts: client connections by state, against max_connections (the runbook's
-- KI-003 "connection pool exhausted"). used_ratio = all client connections / max_connections;
-- superuser_reserved_connections of those are kept for superusers only.
SELECT
    coalesce(a.state, 'insufficient privilege') AS state,
    count(*)::bigint AS connections,
    (sum(count(*)) OVER ())::bigint AS total_connections,
    current_setting('max_connections')::integer AS max_connections,
    current_setting('superuser_reserved_connections')::integer AS superuser_reserved_connections,
    (sum(count(*)) OVER ())::float8 / current_setting('max_connections')::float8 AS used_ratio
FROM pg_stat_activity AS a
WHERE a.backend_type = 'client backend'
GROUP BY coalesce(a.state, 'insufficient privilege')
ORDER BY connections DESC, state
/* dwcp-diag */
