-- dwcp-diag monitoring role: pg_monitor, nothing more.
--
-- Run once per cluster as a superuser (or a role with CREATEROLE that holds pg_monitor with
-- ADMIN OPTION), e.g.  psql -d postgres -f deploy/postgres-monitoring-role.sql
-- It is idempotent. It sets no password: set one from your secret store, e.g. in psql
--   \password dwcp_monitor
-- and give dwcp-diag the DSN by reference (DWCP_PG_DSN, or dsn = { env = "..." } in a profile).
--
-- pg_monitor (PostgreSQL 10+) bundles pg_read_all_settings, pg_read_all_stats and
-- pg_stat_scan_tables: every session's query text and state, all of pg_stat_statements,
-- every setting, and the pgstattuple functions. It grants no access to table data.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'dwcp_monitor') THEN
        CREATE ROLE dwcp_monitor LOGIN;
    END IF;
END
$$;

-- CONNECTION LIMIT: diagnostics must never be what exhausts max_connections (runbook KI-003);
-- each dwcp-diag process holds at most 3 connections, so 10 covers a few reports at once.
ALTER ROLE dwcp_monitor
    LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT
    CONNECTION LIMIT 10;

GRANT pg_monitor TO dwcp_monitor;

-- The same limits dwcp-diag sets on every session, enforced by the server as well, so that any
-- other client using this role cannot write or hold locks for long either.
ALTER ROLE dwcp_monitor SET default_transaction_read_only = on;
ALTER ROLE dwcp_monitor SET statement_timeout = '5s';
ALTER ROLE dwcp_monitor SET lock_timeout = '1s';
ALTER ROLE dwcp_monitor SET idle_in_transaction_session_timeout = '60s';

-- Extensions: not created here (creating one needs the database owner or a superuser, and
-- pg_stat_statements a restart). In each database dwcp-diag looks at:
--   pg_stat_statements (slow queries) needs, in postgresql.conf, then a restart:
--       shared_preload_libraries = 'pg_stat_statements'   -- add to any existing list
--     and then, in the database:
--       CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
--   pgstattuple (optional, recommended: measured table and index bloat):
--       CREATE EXTENSION IF NOT EXISTS pgstattuple;
--     pg_monitor (through pg_stat_scan_tables) may then execute its functions; they read
--     pages (sizes, tuple counts, free space, leaf density), never column values, under an
--     ACCESS SHARE lock. Each report runs pgstattuple_approx (visibility-map based: it skips
--     all-visible pages, so it is cheap on vacuumed tables) on tables and pgstatindex (reads
--     the whole index) on btree indexes, largest first, for at most
--     [postgres] bloat_scan_budget_s (10 s by default; 0: never). pgstattuple itself (reads
--     the whole relation) runs only when asked (PostgresLoader.bloat_exact). See SECURITY.md.
-- `dwcp-diag check` and PostgresLoader.availability() list what is missing, with these fixes.
--
-- Optional, deliberately NOT granted (each also lets the role read data, beyond pg_monitor):
--   GRANT SELECT ON ALL TABLES IN SCHEMA public TO dwcp_monitor;
--       pg_stats then shows the role the statistics that table bloat estimates need for
--       variable-width columns. Not needed with pgstattuple (measured instead); without
--       either, bloat falls back to pg_stat_user_tables' dead-tuple counts.
--   GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO dwcp_monitor;
--       pg_sequences then shows last_value, which sequence exhaustion checks need.
