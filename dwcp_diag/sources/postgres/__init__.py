"""PostgreSQL source: read-only ``pg_stat_*`` views and catalogs as tidy frames.

- :mod:`.loader`: :class:`~dwcp_diag.sources.postgres.loader.PostgresLoader`, one method per
  frame (the SQL is in :mod:`dwcp_diag.queries.sql`), recorded and replayed alike;
- :mod:`.schemas`: the columns and dtypes of each frame;
- :mod:`.access`: what this role and server allow (availability rows and their fixes, the
  pg_stat_statements variant).

What the frames mean for the database's health is :mod:`dwcp_diag.analysis.database`.
"""
