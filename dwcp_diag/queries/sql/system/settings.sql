-- settings: the named server settings, each with its value converted to the base unit of its
-- kind (bytes for memory, milliseconds for time) in value_base. Negative values (-1 = disabled,
-- or "use the other setting") are kept as they are. Settings the role may not read are absent.
SELECT
    s.name,
    s.setting,
    s.unit,
    s.vartype,
    s.source,
    s.pending_restart,
    CASE
        WHEN s.vartype NOT IN ('integer', 'real') THEN NULL
        WHEN s.setting::float8 < 0 THEN s.setting::float8
        ELSE s.setting::float8
            * coalesce(nullif(substring(s.unit FROM '^[0-9]+'), '')::float8, 1)
            * CASE substring(s.unit FROM '[A-Za-z]+$')
                WHEN 'B' THEN 1
                WHEN 'kB' THEN 1024
                WHEN 'MB' THEN 1024 ^ 2
                WHEN 'GB' THEN 1024 ^ 3
                WHEN 'TB' THEN 1024 ^ 4
                WHEN 'us' THEN 0.001
                WHEN 'ms' THEN 1
                WHEN 's' THEN 1000
                WHEN 'min' THEN 60000
                WHEN 'h' THEN 3600000
                WHEN 'd' THEN 86400000
                ELSE 1
            END
    END AS value_base
FROM pg_settings AS s
WHERE s.name = ANY(:names)
ORDER BY s.name
/* dwcp-diag */
