"""Named queries: PromQL templates (:mod:`dwcp_diag.queries.promql`) and SQL files per concern.

>>> from dwcp_diag.config import MetricNames
>>> from dwcp_diag.queries import promql
>>> promql.pg_max_connections(MetricNames())
'pg_settings_max_connections'
"""
