-- relation_kind: what a relation name refers to, for bloat_exact to pick pgstattuple (tables)
-- or pgstatindex (btree indexes). Fails with SQLSTATE 42P01 when there is no such relation.
--   :relation  name, optionally schema-qualified
SELECT
    c.relkind,
    am.amname AS method
FROM pg_class AS c
LEFT JOIN pg_am AS am ON am.oid = c.relam
WHERE c.oid = CAST(:relation AS regclass)
/* dwcp-diag */
