-- activity: every server process but our own, with the age of its current query, of its
-- current state and of its open transaction in seconds (NULL when there is none).
-- A role without pg_read_all_stats sees other roles' sessions with state and query hidden.
--   :max_query_chars  query text cut to this length
--   :own_application  dwcp-diag's own sessions' application_name: left out
SELECT
    a.pid,
    a.datname,
    a.usename,
    a.application_name,
    host(a.client_addr) AS client_addr,
    a.backend_type,
    a.state,
    a.wait_event_type,
    a.wait_event,
    a.backend_start,
    a.xact_start,
    a.query_start,
    a.state_change,
    extract(epoch FROM now() - a.query_start)::float8 AS query_age_s,
    extract(epoch FROM now() - a.state_change)::float8 AS state_age_s,
    extract(epoch FROM now() - a.xact_start)::float8 AS xact_age_s,
    age(a.backend_xmin)::bigint AS backend_xmin_age,
    nullif(array_to_string(pg_blocking_pids(a.pid), ','), '') AS blocked_by,
    left(a.query, :max_query_chars) AS query
FROM pg_stat_activity AS a
WHERE a.pid <> pg_backend_pid()
  AND a.application_name IS DISTINCT FROM :own_application
ORDER BY a.xact_start NULLS LAST, a.query_start NULLS LAST, a.pid
/* dwcp-diag */
