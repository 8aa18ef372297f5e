"""Database health: PostgreSQL findings, tables and fix-it SQL from the loader's frames.

Pure functions: the frames of :class:`dwcp_diag.sources.postgres.loader.PostgresLoader` (their
columns are :mod:`dwcp_diag.sources.postgres.schemas`) and postgres_exporter series in, frames,
:class:`Finding` lists and SQL text out; nothing here connects to anything or runs the SQL it
writes. One module per concern, as PgHero's ``methods/``:

========================= ================================ ==================================
module                    checks (function)                loader frame(s)
========================= ================================ ==================================
:mod:`.statements`        slow_query                       slow_queries (or its delta)
                          (:func:`slow_query_findings`)
:mod:`.space`             table_bloat, index_bloat         bloat (tables, indexes: sizes)
                          (:func:`bloat_findings`)
:mod:`.indexes`           unused_index                     indexes (+ server)
                          (:func:`unused_index_findings`),
                          duplicate_index                  duplicate_indexes (+ indexes)
                          (:func:`duplicate_index_findings`)
:mod:`.suggested_indexes` missing_index                    tables (+ slow_queries, indexes:
                          (:func:`missing_index_findings`) the column)
:mod:`.maintenance`       vacuum_lag                       tables (+ settings)
                          (:func:`vacuum_lag_findings`),
                          xid_wraparound_risk              wraparound
                          (:func:`wraparound_findings`),
                          sequence_exhaustion              sequences
                          (:func:`sequence_findings`)
:mod:`.connections`       long_running_query,              activity, settings (+
                          idle_in_transaction,             pg_stat_activity_count and
                          connection_saturation            pg_settings_max_connections)
                          (:func:`activity_findings`)
:mod:`.system`            low_cache_hit_ratio              cache_hit
                          (:func:`cache_hit_findings`),
                          stats_unavailable                availability (+ errors)
                          (:func:`stats_unavailable_findings`)
:mod:`.report`            all of them:                     every frame of ``postgres_frames``
                          :func:`database_report`
========================= ================================ ==================================

:mod:`.fix_sql` quotes the fix-it SQL a finding carries in ``evidence["fix_sql"]`` (one
statement per line, each to be run on its own by a human); :mod:`.values` reads the frames'
cells. Each check reads its thresholds from the registry
(:func:`dwcp_diag.checks.check_thresholds`: defaults, overridden by a profile's
``[thresholds.CHECK]`` tables).

>>> import pandas as pd
>>> from dwcp_diag.analysis.database.suggested_indexes import missing_index_findings
>>> tables = pd.DataFrame({"schemaname": ["public"], "relname": ["events"],
...     "seq_scan": [120], "seq_tup_read": [36_000_000], "idx_scan": [20],
...     "n_live_tup": [300_000]})
>>> statements = pd.DataFrame({"queryid": [7], "calls": [100], "total_exec_time_ms": [2500.0],
...     "query": ["SELECT count(*) FROM events WHERE account_id = $1"]})
>>> [f.evidence["fix_sql"] for f in missing_index_findings(tables, statements)]
['CREATE INDEX CONCURRENTLY ON "public"."events" ("account_id");']
"""
