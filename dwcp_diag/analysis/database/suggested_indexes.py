"""Missing indexes (``missing_index``): tables read by heavy sequential scans, and the
columns the statements filter them on, from the statement text.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from dwcp_diag.analysis.database.fix_sql import (
    IDENT_PATTERN,
    qualified,
    quote_ident,
    split_qualified,
    unquote_ident,
)
from dwcp_diag.analysis.database.statements import statement_stats
from dwcp_diag.analysis.database.values import (
    ThresholdSettings,
    as_text,
    bool_column,
    dotted_names,
    float_column,
    float_or_nan,
    is_missing,
)
from dwcp_diag.analysis.findings import Finding
from dwcp_diag.checks import check_thresholds
from dwcp_diag.frames import conform
from dwcp_diag.sources.postgres.schemas import INDEXES_SCHEMA, TABLES_SCHEMA

_SINGLE_TABLE = re.compile(
    rf"\b(?:FROM|UPDATE)\s+(?P<table>{IDENT_PATTERN}(?:\s*\.\s*{IDENT_PATTERN})?)"
    rf"(?:\s+(?:AS\s+)?(?P<alias>{IDENT_PATTERN}))?\s+(?:SET\s+.*?\s+)?WHERE\s+(?P<where>.*?)\s*"
    r"(?:\b(?:GROUP\s+BY|ORDER\s+BY|LIMIT|OFFSET|FETCH|FOR|RETURNING|HAVING|WINDOW)\b|;|$)",
    re.IGNORECASE | re.DOTALL,
)
_VALUE = r"(?:\$\d+|-?\d+(?:\.\d+)?|'(?:[^']|'')*'|TRUE|FALSE)"
_VALUES = rf"\(\s*{_VALUE}(?:\s*,\s*{_VALUE})*\s*\)"
_CONJUNCT = re.compile(
    rf"^(?:(?P<qualifier>{IDENT_PATTERN})\s*\.\s*)?(?P<column>{IDENT_PATTERN})\s*"
    rf"(?:(?P<eq>=\s*{_VALUE}|IN\s*{_VALUES}|=\s*ANY\s*\(\s*\$\d+\s*\)|IS\s+NULL)"
    rf"|(?P<range>(?:<=|>=|<|>)\s*{_VALUE}|BETWEEN\s+{_VALUE}\s+{_VALUE})"
    rf"|(?P<other>(?:<>|!=)\s*{_VALUE}|IS\s+NOT\s+NULL))$",
    re.IGNORECASE | re.DOTALL,
)
_NOT_SIMPLE = re.compile(r"\b(?:JOIN|UNION|INTERSECT|EXCEPT|OR|NOT\s+IN|EXISTS)\b|\(\s*SELECT\b",
                         re.IGNORECASE)  # fmt: skip
_IN_LIST = re.compile(rf"\bIN\s*{_VALUES}|=\s*ANY\s*\(\s*\$\d+\s*\)", re.IGNORECASE)
_MAX_INDEX_COLUMNS = 3


def filtered_columns(
    query: str, schemaname: str, relname: str, allow_unqualified: bool = True
) -> list[str]:
    """The columns a statement filters table ``schemaname.relname`` on, for an index, or ``[]``
    when the statement does not say so plainly. An unqualified table name counts only with
    ``allow_unqualified`` (the caller knows the name is unique across schemas).

    Only statements reading that one table (no join, subquery, set operation or OR) whose WHERE
    clause is an AND of ``column <op> value`` terms count; equality terms (``=``, ``IN``,
    ``= ANY``, ``IS NULL``) come first in their order, then the first range term (``<``, ``>``,
    ``BETWEEN``), at most three columns. A term on an expression (``lower(email) = $1``) or
    another column gives up rather than guess.

    >>> filtered_columns("SELECT * FROM public.events e WHERE e.created_at > $2 AND "
    ...                  "e.account_id = $1 ORDER BY id", "public", "events")
    ['account_id', 'created_at']
    >>> filtered_columns('DELETE FROM "Weird Name" WHERE "Kind" = $1', "public", "Weird Name")
    ['Kind']
    >>> filtered_columns("SELECT * FROM events WHERE lower(kind) = $1", "public", "events")
    []
    """
    text = re.sub(r"--[^\n]*|/\*.*?\*/", " ", as_text(query), flags=re.DOTALL)
    if _NOT_SIMPLE.search(text) or len(re.findall(r"\bFROM\b", text, re.IGNORECASE)) > 1:
        return []
    match = _SINGLE_TABLE.search(text)
    if match is None:
        return []
    schema, table = split_qualified(match["table"])
    if table != relname or (schema is not None and schema != schemaname):
        return []
    if schema is None and not allow_unqualified:
        return []
    aliases = {table, f"{schema}.{table}" if schema else table}
    if match["alias"]:
        aliases.add(unquote_ident(match["alias"]))
    where = re.sub(r"\s+", " ", match["where"]).strip()
    if "(" in _IN_LIST.sub("", where):
        return []
    where = re.sub(rf"\bBETWEEN\s+({_VALUE})\s+AND\s+({_VALUE})", r"BETWEEN \1 \2", where,
                   flags=re.IGNORECASE)  # fmt: skip
    equal: list[str] = []
    ranged: list[str] = []
    for term in re.split(r"\s+AND\s+", where, flags=re.IGNORECASE):
        found = _CONJUNCT.match(term.strip())
        if found is None:
            return []
        if found["qualifier"] and unquote_ident(found["qualifier"]) not in aliases:
            return []
        column = unquote_ident(found["column"])
        if found["eq"] and column not in equal:
            equal.append(column)
        elif found["range"] and column not in ranged:
            ranged.append(column)
    columns = equal + [c for c in ranged[:1] if c not in equal]
    return columns[:_MAX_INDEX_COLUMNS]


def _leading_columns(indexes: pd.DataFrame | None) -> dict[str, set[str]]:
    """Per ``schema.table``: the first key column of each valid index (quotes removed)."""
    if indexes is None or indexes.empty:
        return {}
    frame = conform(indexes, INDEXES_SCHEMA)
    frame = frame[bool_column(frame, "is_valid", default=True)]
    leading: dict[str, set[str]] = {}
    for table, columns in zip(dotted_names(frame, "relname"), frame["columns"], strict=True):
        first = as_text(columns).split(",")[0].strip()
        if first:
            leading.setdefault(table, set()).add(
                first[1:-1].replace('""', '"') if first.startswith('"') else first
            )
    return leading


MISSING_INDEX_COLUMNS = [
    "table",
    "n_live_tup",
    "seq_scan",
    "seq_tup_read",
    "rows_per_seq_scan",
    "idx_scan",
    "index_scan_share",
    "total_bytes",
    "columns",
    "columns_from_queryid",
    "fix_sql",
    "schemaname",
    "relname",
]


def missing_index_candidates(
    tables: pd.DataFrame,
    slow_queries: pd.DataFrame | None = None,
    indexes: pd.DataFrame | None = None,
    thresholds: ThresholdSettings = None,
) -> pd.DataFrame:
    """Tables that want an index: at least ``min_rows`` live rows, fewer than
    ``max_index_scan_share`` of their scans using an index (PgHero's rule), and heavy
    sequential scans (``min_seq_scans`` of them, ``min_rows_per_seq_scan`` rows each).

    Statistics do not say which column those scans filter on. The statements do: the
    heaviest statement of ``slow_queries`` (the loader's, or its delta) that plainly filters
    the table (:func:`filtered_columns`) on columns no valid index of ``indexes`` starts with
    gives ``columns`` and a ``CREATE INDEX CONCURRENTLY`` in ``fix_sql``; otherwise both are NA.

    >>> tables = pd.DataFrame({"schemaname": ["public"], "relname": ["events"],
    ...     "seq_scan": [102], "seq_tup_read": [30_300_000], "idx_scan": [20],
    ...     "n_live_tup": [300_000]})
    >>> missing_index_candidates(tables)[["table", "index_scan_share", "columns"]].values.tolist()
    [['public.events', 0.16393442622950818, nan]]
    """
    limits = check_thresholds(thresholds, "missing_index")
    frame = conform(tables, TABLES_SCHEMA)
    frame["table"] = dotted_names(frame, "relname")
    seq, idx = (
        float_column(frame, "seq_scan").fillna(0.0),
        float_column(frame, "idx_scan").fillna(0.0),
    )
    scans = seq + idx
    frame["index_scan_share"] = idx / scans.where(scans > 0)
    frame["rows_per_seq_scan"] = float_column(frame, "seq_tup_read") / seq.where(seq > 0)
    wanted = (
        (float_column(frame, "n_live_tup") >= limits["min_rows"])
        & (frame["index_scan_share"].fillna(0.0) < limits["max_index_scan_share"])
        & (seq >= limits["min_seq_scans"])
        & (frame["rows_per_seq_scan"] >= limits["min_rows_per_seq_scan"])
    )
    name_counts = frame["relname"].astype("str").value_counts()
    frame = frame[wanted].copy()
    stats = statement_stats(slow_queries) if slow_queries is not None else None
    leading = _leading_columns(indexes)
    columns, sources, fixes = [], [], []
    for row in frame.itertuples(index=False):
        found: tuple[list[str], Any] = ([], None)
        unique = name_counts.get(row.relname, 0) == 1
        if stats is not None:
            for statement in stats.itertuples(index=False):
                cols = filtered_columns(statement.query, row.schemaname, row.relname, unique)
                if cols and cols[0] not in leading.get(row.table, set()):
                    found = (cols, statement.queryid)
                    break
        cols, queryid = found
        columns.append(", ".join(cols) if cols else None)
        sources.append(None if queryid is None else str(queryid))
        target = qualified(row.schemaname, row.relname)
        column_list = ", ".join(quote_ident(c) for c in cols)
        fixes.append(f"CREATE INDEX CONCURRENTLY ON {target} ({column_list});" if cols else None)
    frame["columns"] = pd.Series(columns, index=frame.index, dtype="str")
    frame["columns_from_queryid"] = pd.Series(sources, index=frame.index, dtype="str")
    frame["fix_sql"] = pd.Series(fixes, index=frame.index, dtype="str")
    frame = frame.sort_values(["seq_tup_read", "table"], ascending=[False, True])
    return frame[MISSING_INDEX_COLUMNS].reset_index(drop=True)


def missing_index_findings(
    tables: pd.DataFrame,
    slow_queries: pd.DataFrame | None = None,
    indexes: pd.DataFrame | None = None,
    thresholds: ThresholdSettings = None,
) -> list[Finding]:
    """``missing_index`` for each of :func:`missing_index_candidates` (same arguments); when
    no statement names the filtered column, the summary says so and there is no ``fix_sql``.

    >>> tables = pd.DataFrame({"schemaname": ["public"], "relname": ["events"],
    ...     "seq_scan": [102], "seq_tup_read": [30_300_000], "idx_scan": [20],
    ...     "n_live_tup": [300_000]})
    >>> "not say which column" in missing_index_findings(tables)[0].summary
    True
    """
    limits = check_thresholds(thresholds, "missing_index")
    findings = []
    for row in missing_index_candidates(tables, slow_queries, indexes, thresholds).itertuples(
        index=False
    ):
        share = float_or_nan(row.index_scan_share)
        share = 0.0 if is_missing(share) else share
        scans = (
            f"Table {row.table} ({int(float_or_nan(row.n_live_tup)):,} rows) was read by "
            f"{int(float_or_nan(row.seq_scan)):,} sequential scans of "
            f"~{float_or_nan(row.rows_per_seq_scan):,.0f} rows each; {share:.0%} of its scans "
            "used an index"
        )
        evidence: dict[str, Any] = {
            "seq_scan": float_or_nan(row.seq_scan),
            "seq_tup_read": float_or_nan(row.seq_tup_read),
            "idx_scan": float_or_nan(row.idx_scan),
            "n_live_tup": float_or_nan(row.n_live_tup),
            "total_bytes": float_or_nan(row.total_bytes),
        }
        if is_missing(row.columns):
            summary = (
                f"{scans}; the statistics do not say which column those scans filter on: "
                "EXPLAIN the statements that read it before adding an index."
            )
        else:
            summary = f"{scans}; statement {row.columns_from_queryid} filters it on {row.columns}."
            evidence.update(
                columns=row.columns.split(", "),
                columns_from_queryid=row.columns_from_queryid,
                fix_sql=row.fix_sql,
            )
        findings.append(
            Finding(
                "missing_index",
                "warning",
                {"table": row.table},
                summary,
                round(share * 100, 2),
                limits["max_index_scan_share"] * 100,
                "% of scans using an index",
                evidence,
            )
        )
    return findings
