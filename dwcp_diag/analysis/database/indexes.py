"""Indexes to drop: ``unused_index`` (scanned too rarely) and ``duplicate_index`` (made
redundant by another), each with the ``DROP INDEX CONCURRENTLY`` (or ``DROP CONSTRAINT``).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from dwcp_diag.analysis.database.fix_sql import qualified, quote_ident
from dwcp_diag.analysis.database.values import (
    ThresholdSettings,
    ages_s,
    as_bool,
    as_text,
    bool_column,
    dotted_names,
    first_value,
    float_or_nan,
    is_missing,
    report_now,
    utc_text,
)
from dwcp_diag.analysis.findings import Finding
from dwcp_diag.checks import check_thresholds
from dwcp_diag.frames import conform
from dwcp_diag.sources.postgres.schemas import DUPLICATE_INDEXES_SCHEMA, INDEXES_SCHEMA
from dwcp_diag.units import DAY_S, human_bytes, human_duration


def find_unused_indexes(indexes: pd.DataFrame, max_scans: int = 50) -> pd.DataFrame:
    """Indexes scanned at most ``max_scans`` times since the statistics were reset.

    Unique, primary-key and constraint indexes are left out (they enforce something even when
    never scanned), as are invalid ones (an unfinished CREATE INDEX CONCURRENTLY). Largest
    first. ``max_scans=50`` is PgHero's default. Read ``stats_reset`` before acting: a recent
    reset (or a replica, which counts its own scans) makes any index look unused.

    >>> cols = ["relname", "indexrelname", "is_unique", "is_primary", "is_constraint",
    ...         "is_valid", "idx_scan", "size_bytes"]
    >>> frame = pd.DataFrame([["t", "t_pkey", True, True, True, True, 0, 8192],
    ...                       ["t", "t_a_idx", False, False, False, True, 3, 16384]], columns=cols)
    >>> find_unused_indexes(frame)["indexrelname"].tolist()
    ['t_a_idx']
    """
    frame = conform(indexes, INDEXES_SCHEMA)
    keep = (
        (frame["idx_scan"].fillna(0) <= max_scans)
        & ~frame["is_unique"].fillna(False)
        & ~frame["is_primary"].fillna(False)
        & ~frame["is_constraint"].fillna(False)
        & frame["is_valid"].fillna(True)
    )
    result = frame[keep].sort_values(
        ["size_bytes", "schemaname", "relname", "indexrelname"],
        ascending=[False, True, True, True],
    )
    return result.reset_index(drop=True)


UNUSED_INDEX_COLUMNS = [
    "index",
    "table",
    "idx_scan",
    "size_bytes",
    "stats_reset",
    "stats_age_s",
    "unused_since",
    "definition",
    "fix_sql",
    "schemaname",
    "relname",
    "indexrelname",
]


def unused_indexes(
    indexes: pd.DataFrame, thresholds: ThresholdSettings = None, now: Any = None
) -> pd.DataFrame:
    """Droppable indexes scanned at most ``max_scans`` times since the statistics were reset
    (the loader's :func:`find_unused_indexes`: unique, primary-key, constraint and invalid
    indexes never count), largest first, with ``unused_since`` in words and the DROP.

    >>> idx = pd.DataFrame({"schemaname": ["public"], "relname": ["tasks"],
    ...     "indexrelname": ["tasks_updated_at_idx"], "idx_scan": [0], "is_unique": [False],
    ...     "size_bytes": [4513792]})
    >>> unused = unused_indexes(idx)
    >>> unused.loc[0, "unused_since"]
    'statistics began (never reset)'
    >>> unused.loc[0, "fix_sql"]
    'DROP INDEX CONCURRENTLY "public"."tasks_updated_at_idx";'
    """
    limits = check_thresholds(thresholds, "unused_index")
    frame = find_unused_indexes(indexes, max_scans=int(limits["max_scans"])).copy()
    now = report_now(now, None)
    frame["index"] = dotted_names(frame, "indexrelname")
    frame["table"] = dotted_names(frame, "relname")
    frame["stats_age_s"] = ages_s(frame["stats_reset"], now)
    frame["unused_since"] = pd.Series(
        [
            "statistics began (never reset)"
            if is_missing(reset)
            else f"{utc_text(reset)}" + ("" if is_missing(age) else f" ({human_duration(age)} ago)")
            for reset, age in zip(frame["stats_reset"], frame["stats_age_s"], strict=True)
        ],
        index=frame.index,
        dtype="str",
    )
    frame["fix_sql"] = pd.Series(
        [
            f"DROP INDEX CONCURRENTLY {qualified(s, i)};"
            for s, i in zip(frame["schemaname"], frame["indexrelname"], strict=True)
        ],
        index=frame.index,
        dtype="str",
    )
    return frame[UNUSED_INDEX_COLUMNS].reset_index(drop=True)


def unused_index_findings(
    indexes: pd.DataFrame,
    server: pd.DataFrame | None = None,
    thresholds: ThresholdSettings = None,
    now: Any = None,
) -> list[Finding]:
    """``unused_index`` for each of :func:`unused_indexes` (the loader's ``indexes`` or
    ``unused_indexes`` frame). Statistics reset less than ``min_stats_age_days`` ago make the
    finding ``info``: too short to tell. ``server`` supplies ``now`` (its ``captured_at``) and
    whether this is a replica, whose scans are not the primary's.

    >>> idx = pd.DataFrame({"schemaname": ["public"], "relname": ["tasks"],
    ...     "indexrelname": ["tasks_updated_at_idx"], "idx_scan": [0], "size_bytes": [4513792],
    ...     "stats_reset": [pd.Timestamp("2026-11-28", tz="UTC")]})
    >>> f = unused_index_findings(idx, now="2026-11-29")[0]
    >>> f.subject, f.severity
    ({'index': 'public.tasks_updated_at_idx'}, 'info')
    """
    limits = check_thresholds(thresholds, "unused_index")
    now = report_now(now, server)
    replica = as_bool(first_value(server, "is_in_recovery"))
    findings = []
    for row in unused_indexes(indexes, thresholds, now).itertuples(index=False):
        young = (
            not is_missing(row.stats_age_s)
            and row.stats_age_s < limits["min_stats_age_days"] * DAY_S
        )
        caveats = []
        if young:
            caveats.append("statistics are too young to be sure")
        if replica:
            caveats.append("this is a replica: check the primary's scans too")
        caveat = f" ({'; '.join(caveats)})" if caveats else ""
        scans = 0.0 if is_missing(row.idx_scan) else float(row.idx_scan)
        findings.append(
            Finding(
                "unused_index",
                "info" if young else "warning",
                {"index": row.index},
                f"Index {row.index} on {row.table} ({human_bytes(float_or_nan(row.size_bytes))}) "
                f"was scanned {scans:,.0f} times since {row.unused_since}{caveat}.",
                scans,
                limits["max_scans"],
                "scans",
                {
                    "table": row.table,
                    "size_bytes": float_or_nan(row.size_bytes),
                    "stats_reset": row.stats_reset,
                    "definition": as_text(row.definition),
                    "fix_sql": row.fix_sql,
                },
            )
        )
    return findings


DUPLICATE_INDEX_COLUMNS = [
    "index",
    "covering_index",
    "table",
    "match",
    "size_bytes",
    "idx_scan",
    "definition",
    "covering_definition",
    "fix_sql",
    "schemaname",
    "relname",
    "indexrelname",
]


def duplicate_index_table(
    duplicates: pd.DataFrame, indexes: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The loader's ``duplicate_indexes`` with labels and the SQL that drops the redundant
    index: ``DROP INDEX CONCURRENTLY``, or ``ALTER TABLE ... DROP CONSTRAINT`` when
    ``indexes`` says the index backs a constraint (its name is the constraint's).

    >>> dup = pd.DataFrame({"schemaname": ["public"], "relname": ["users"],
    ...     "indexrelname": ["users_email_idx"], "covering_indexrelname": ["users_email_key"],
    ...     "match": ["identical"]})
    >>> duplicate_index_table(dup)["fix_sql"].tolist()
    ['DROP INDEX CONCURRENTLY "public"."users_email_idx";']
    """
    frame = conform(duplicates, DUPLICATE_INDEXES_SCHEMA)
    frame["index"] = dotted_names(frame, "indexrelname")
    frame["covering_index"] = dotted_names(frame, "covering_indexrelname")
    frame["table"] = dotted_names(frame, "relname")
    constraint_backed: set[str] = set()
    if indexes is not None and not indexes.empty:
        known = conform(indexes, INDEXES_SCHEMA)
        backed = bool_column(known, "is_constraint")
        constraint_backed = set(dotted_names(known, "indexrelname")[backed])
    fixes = []
    for row in frame.itertuples(index=False):
        if row.index in constraint_backed:
            fixes.append(
                f"ALTER TABLE {qualified(row.schemaname, row.relname)} "
                f"DROP CONSTRAINT {quote_ident(row.indexrelname)};"
            )
        else:
            fixes.append(f"DROP INDEX CONCURRENTLY {qualified(row.schemaname, row.indexrelname)};")
    frame["fix_sql"] = pd.Series(fixes, index=frame.index, dtype="str")
    frame = frame.sort_values(["size_bytes", "index"], ascending=[False, True])
    return frame[DUPLICATE_INDEX_COLUMNS].reset_index(drop=True)


def duplicate_index_findings(
    duplicates: pd.DataFrame, indexes: pd.DataFrame | None = None
) -> list[Finding]:
    """``duplicate_index`` for each index another makes redundant (the loader's
    ``duplicate_indexes``; ``indexes`` as for :func:`duplicate_index_table`).

    >>> dup = pd.DataFrame({"schemaname": ["public"], "relname": ["tasks"],
    ...     "indexrelname": ["tasks_user_id_idx"], "match": ["prefix"], "size_bytes": [8192],
    ...     "covering_indexrelname": ["tasks_user_id_status_idx"]})
    >>> duplicate_index_findings(dup)[0].subject
    {'index': 'public.tasks_user_id_idx'}
    """
    findings = []
    for row in duplicate_index_table(duplicates, indexes).itertuples(index=False):
        how = "is identical to" if row.match == "identical" else "is a prefix of"
        findings.append(
            Finding(
                "duplicate_index",
                "warning",
                {"index": row.index},
                f"Index {row.index} on {row.table} ({human_bytes(float_or_nan(row.size_bytes))}) "
                f"{how} {row.covering_index}, which serves the same lookups: drop it.",
                float_or_nan(row.size_bytes),
                None,
                "bytes",
                {
                    "covering_index": row.covering_index,
                    "match": as_text(row.match),
                    "definition": as_text(row.definition),
                    "covering_definition": as_text(row.covering_definition),
                    "idx_scan": float_or_nan(row.idx_scan),
                    "fix_sql": row.fix_sql,
                },
            )
        )
    return findings
