"""SQL text for the fix-it statements: identifiers and literals quoted, names parsed back.

Where a fix applies, a finding's ``evidence["fix_sql"]`` holds it: one statement per line, each
to be run on its own by a human (VACUUM, CONCURRENTLY and ALTER SYSTEM refuse to run inside a
transaction block), identifiers always double-quoted. Reports never run it.

>>> qualified("public", "Weird Name"), split_qualified('public."Weird Name"')
('"public"."Weird Name"', ('public', 'Weird Name'))
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pandas as pd

from dwcp_diag.analysis.database.values import is_missing
from dwcp_diag.analysis.findings import Finding


def quote_ident(name: str) -> str:
    """``name`` as a PostgreSQL identifier: always double-quoted, inner quotes doubled.

    Always quoting (unlike ``quote_ident()``, which leaves plain lower-case names bare) is
    valid on every version whatever its keywords, and keeps case and spaces as they are.

    >>> quote_ident("events"), quote_ident("Weird Name"), quote_ident('a"b')
    ('"events"', '"Weird Name"', '"a""b"')
    """
    return '"' + str(name).replace('"', '""') + '"'


def qualified(schema: str | None, name: str) -> str:
    """A schema-qualified, quoted name for SQL.

    >>> qualified("public", "Weird Name")
    '"public"."Weird Name"'
    """
    return quote_ident(name) if is_missing(schema) else f"{quote_ident(schema)}.{quote_ident(name)}"


def sql_literal(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def sql_timestamptz(value: pd.Timestamp) -> str:
    return f"timestamptz {sql_literal(pd.Timestamp(value).isoformat())}"


IDENT_PATTERN = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'


def unquote_ident(identifier: str) -> str:
    identifier = identifier.strip()
    if identifier.startswith('"'):
        return identifier[1:-1].replace('""', '"')
    return identifier.lower()


def split_qualified(text: str) -> tuple[str | None, str]:
    parts = re.findall(IDENT_PATTERN, text)
    names = [unquote_ident(part) for part in parts]
    return (None, names[0]) if len(names) == 1 else (names[0], names[1])


def fix_sql_text(findings: Sequence[Finding], *checks: str) -> str:
    """The fix-it SQL of these checks' findings, one commented block each, for a human to
    review and run by hand (reports never run it).

    >>> f = Finding("unused_index", "warning", {"index": "public.i"}, "unused", 0, 50, "scans",
    ...             {"fix_sql": 'DROP INDEX CONCURRENTLY "public"."i";'})
    >>> print(fix_sql_text([f], "unused_index"))
    -- unused_index: index=public.i
    DROP INDEX CONCURRENTLY "public"."i";
    """
    blocks = [
        f"-- {f.check}: {', '.join(f'{k}={v}' for k, v in f.subject.items())}\n"
        f"{f.evidence['fix_sql']}"
        for f in findings
        if f.check in checks and (f.evidence or {}).get("fix_sql")
    ]
    return "\n\n".join(blocks) or "-- no fix-it SQL: no finding here has one"
