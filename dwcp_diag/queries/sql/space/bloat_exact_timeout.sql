-- bloat_exact_timeout: a longer statement_timeout for the rest of the current transaction only,
-- for a pgstattuple/pgstatindex scan the caller asked for explicitly.
--   :statement_timeout_ms  milliseconds
SELECT set_config('statement_timeout', CAST(:statement_timeout_ms AS text), true) AS statement_timeout
/* dwcp-diag */
