-- extension_search_path: put an extension's schema (wherever it was created) behind pg_catalog
-- on the search_path, for the rest of the current transaction only.
SELECT set_config('search_path', format('pg_catalog, %I', n.nspname), true) AS search_path
FROM pg_extension AS e
JOIN pg_namespace AS n ON n.oid = e.extnamespace
WHERE e.extname = :extension
/* dwcp-diag */
