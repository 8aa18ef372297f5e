"""Space and bloat (``table_bloat``, ``index_bloat``): sizes, the space tree, bloat figures.

The loader's ``bloat`` frame carries, per table and btree index, the best figure its role and
server allow (``method``); :func:`bloat_findings` judges the reliable ones and writes the
``VACUUM (FULL)`` or ``REINDEX CONCURRENTLY`` that returns the space.
"""

from __future__ import annotations

import pandas as pd

from dwcp_diag.analysis.database.fix_sql import qualified
from dwcp_diag.analysis.database.values import (
    ThresholdSettings,
    as_text,
    bool_column,
    dotted_names,
    float_column,
    float_or_nan,
    warning_or_critical,
)
from dwcp_diag.analysis.findings import Finding
from dwcp_diag.checks import check_thresholds
from dwcp_diag.frames import conform
from dwcp_diag.sources.postgres.schemas import (
    BLOAT_SCHEMA,
    ESTIMATE_DETAIL,
    INDEXES_SCHEMA,
    TABLES_SCHEMA,
)
from dwcp_diag.units import human_bytes

BLOAT_COLUMNS = [
    "kind",
    "name",
    "table",
    "method",
    "size_bytes",
    "expected_bytes",
    "bloat_bytes",
    "bloat_ratio",
    "is_reliable",
    "unreliable_reason",
    "method_detail",
    "estimate_bloat_ratio",
    "dead_tuple_bloat_ratio",
    "schemaname",
    "relname",
    "indexrelname",
]
MEASURED_BLOAT_METHODS = ("approx_scan", "pgstatindex")


def bloat_table(bloat: pd.DataFrame) -> pd.DataFrame:
    """The loader's ``bloat`` frame, labelled (``name``: ``schema.table`` or ``schema.index``)
    and sorted by bloat, reliable figures first within equal sizes. ``method`` is NA in frames
    recorded before it existed: those figures are planner-statistics estimates.

    >>> frame = pd.DataFrame({"kind": ["table"], "schemaname": ["public"],
    ...     "relname": ["audit_log"], "indexrelname": [None], "bloat_bytes": [15187968]})
    >>> bloat_table(frame)[["name", "method"]].values.tolist()
    [['public.audit_log', 'estimate']]
    """
    frame = conform(bloat, BLOAT_SCHEMA)
    is_index = frame["kind"].astype("str") == "index"
    frame["table"] = dotted_names(frame, "relname")
    frame["name"] = frame["table"].where(~is_index, dotted_names(frame, "indexrelname"))
    frame["is_reliable"] = bool_column(frame, "is_reliable")
    recorded_before_methods = frame["method"].isna()
    frame["method"] = frame["method"].where(~recorded_before_methods, "estimate")
    frame["method_detail"] = frame["method_detail"].where(~recorded_before_methods, ESTIMATE_DETAIL)
    frame = frame.sort_values(
        ["bloat_bytes", "is_reliable", "name"], ascending=[False, False, True], na_position="last"
    )
    return frame[BLOAT_COLUMNS].reset_index(drop=True)


def bloat_findings(bloat: pd.DataFrame, thresholds: ThresholdSettings = None) -> list[Finding]:
    """``table_bloat`` and ``index_bloat``: reliable figures (see the loader's ``bloat``), by
    whichever ``method`` gave them, with at least ``min_bytes`` and ``min_ratio`` of bloat;
    critical from ``critical_bytes``. The evidence names the method and what it rests on.

    Fix: ``VACUUM (FULL, ANALYZE)`` for a table (it rewrites the table under an ACCESS EXCLUSIVE
    lock: off-peak, or pg_repack online), ``REINDEX INDEX CONCURRENTLY`` for an index.

    >>> frame = pd.DataFrame({"kind": ["index"], "schemaname": ["public"], "relname": ["t"],
    ...     "indexrelname": ["t_pkey"], "size_bytes": [300 * 2**20], "bloat_bytes": [200 * 2**20],
    ...     "bloat_ratio": [2 / 3], "is_reliable": [True]})
    >>> [(f.evidence["method"], f.evidence["fix_sql"]) for f in bloat_findings(frame)]
    [('estimate', 'REINDEX INDEX CONCURRENTLY "public"."t_pkey";')]
    """
    findings = []
    for row in bloat_table(bloat).itertuples(index=False):
        kind = "index" if row.kind == "index" else "table"
        limits = check_thresholds(thresholds, f"{kind}_bloat")
        wasted, size, ratio = (
            float_or_nan(row.bloat_bytes),
            float_or_nan(row.size_bytes),
            float_or_nan(row.bloat_ratio),
        )
        if not (row.is_reliable and wasted >= limits["min_bytes"] and ratio >= limits["min_ratio"]):
            continue
        if kind == "index":
            fix = f"REINDEX INDEX CONCURRENTLY {qualified(row.schemaname, row.indexrelname)};"
            how = "REINDEX CONCURRENTLY rebuilds it without blocking writes"
        else:
            fix = f"VACUUM (FULL, ANALYZE) {qualified(row.schemaname, row.relname)};"
            how = (
                "VACUUM FULL returns the space but locks the table (ACCESS EXCLUSIVE) while it "
                "rewrites it: run it off-peak, or use pg_repack online"
            )
        measured = row.method in MEASURED_BLOAT_METHODS
        figure = "a measured" if measured else "an estimated"
        evidence = {
            "size_bytes": size,
            "expected_bytes": float_or_nan(row.expected_bytes),
            "bloat_ratio": ratio,
            "table": row.table,
            "method": row.method,
            "method_detail": as_text(row.method_detail, ESTIMATE_DETAIL),
        }
        if not measured:
            evidence["verify"] = (
                f"PostgresLoader.bloat_exact({str(row.name)!r}) measures it with pgstattuple "
                "(reads the whole relation) before you act"
            )
        findings.append(
            Finding(
                f"{kind}_bloat",
                warning_or_critical(wasted >= limits["critical_bytes"]),
                {kind: row.name},
                f"{kind.capitalize()} {row.name} carries {figure} {human_bytes(wasted)} of "
                f"bloat ({ratio:.0%} of {human_bytes(size)}, by {row.method}); {how}.",
                wasted,
                limits["min_bytes"],
                "bytes",
                {**evidence, "fix_sql": fix},
            )
        )
    return findings


SPACE_TREE_COLUMNS = ["id", "parent", "label", "kind", "bytes"]


def space_tree(tables: pd.DataFrame, indexes: pd.DataFrame | None = None) -> pd.DataFrame:
    """Space as a tree for a treemap: database → schema → table → its data and each index.

    ``bytes`` of a parent is the sum of its children (plotly's ``branchvalues="total"``).
    Table data is ``table_bytes`` (heap + TOAST + maps); indexes are listed one by one from
    ``indexes`` when given, else as one ``indexes`` node of ``index_bytes``.

    >>> tables = pd.DataFrame({"schemaname": ["public"], "relname": ["t"],
    ...                        "table_bytes": [800], "index_bytes": [200]})
    >>> space_tree(tables)[["id", "bytes"]].values.tolist()  # doctest: +NORMALIZE_WHITESPACE
    [['database', 1000.0], ['public', 1000.0], ['public.t', 1000.0],
     ['public.t/data', 800.0], ['public.t/indexes', 200.0]]
    """
    frame = conform(tables, TABLES_SCHEMA)
    frame["table"] = dotted_names(frame, "relname")
    leaves = [
        pd.DataFrame(
            {
                "id": frame["table"] + "/data",
                "parent": frame["table"],
                "label": "data",
                "kind": "table data",
                "bytes": float_column(frame, "table_bytes"),
            }
        )
    ]
    index_frame = conform(indexes, INDEXES_SCHEMA) if indexes is not None else None
    if index_frame is not None and not index_frame.empty:
        index_frame = index_frame[dotted_names(index_frame, "relname").isin(set(frame["table"]))]
        leaves.append(
            pd.DataFrame(
                {
                    "id": dotted_names(index_frame, "relname") + "/" + index_frame["indexrelname"],
                    "parent": dotted_names(index_frame, "relname"),
                    "label": index_frame["indexrelname"].astype("str"),
                    "kind": "index",
                    "bytes": float_column(index_frame, "size_bytes"),
                }
            )
        )
    else:
        leaves.append(
            pd.DataFrame(
                {
                    "id": frame["table"] + "/indexes",
                    "parent": frame["table"],
                    "label": "indexes",
                    "kind": "index",
                    "bytes": float_column(frame, "index_bytes"),
                }
            )
        )
    leaf = pd.concat(leaves, ignore_index=True)
    leaf["bytes"] = leaf["bytes"].fillna(0.0)
    per_table = leaf.groupby("parent", sort=False)["bytes"].sum()
    table_nodes = pd.DataFrame(
        {
            "id": frame["table"],
            "parent": frame["schemaname"].astype("str"),
            "label": frame["relname"].astype("str"),
            "kind": "table",
            "bytes": frame["table"].map(per_table).fillna(0.0).astype("float64"),
        }
    )
    per_schema = table_nodes.groupby("parent", sort=True)["bytes"].sum()
    schema_nodes = pd.DataFrame(
        {
            "id": per_schema.index.astype("str"),
            "parent": "database",
            "label": per_schema.index.astype("str"),
            "kind": "schema",
            "bytes": per_schema.to_numpy(dtype="float64"),
        }
    )
    root = pd.DataFrame(
        {"id": ["database"], "parent": [""], "label": ["database"], "kind": ["database"],
         "bytes": [float(per_schema.sum())]}
    )  # fmt: skip
    ordered = [root, schema_nodes, table_nodes.sort_values("id"), leaf.sort_values("id")]
    return pd.concat(ordered, ignore_index=True)[SPACE_TREE_COLUMNS]


def largest_tables(tables: pd.DataFrame, limit: int = 15) -> pd.DataFrame:
    """The ``limit`` largest tables by total size (table + TOAST + indexes).

    >>> tables = pd.DataFrame({"schemaname": ["s", "s"], "relname": ["a", "b"],
    ...                        "total_bytes": [10, 20]})
    >>> largest_tables(tables)["table"].tolist()
    ['s.b', 's.a']
    """
    frame = conform(tables, TABLES_SCHEMA)
    frame.insert(0, "table", dotted_names(frame, "relname"))
    columns = ["table", "total_bytes", "table_bytes", "index_bytes", "n_live_tup", "n_dead_tup",
               "seq_scan", "idx_scan"]  # fmt: skip
    ordered = frame.sort_values(["total_bytes", "table"], ascending=[False, True])
    return ordered[columns].head(limit).reset_index(drop=True)


def largest_indexes(indexes: pd.DataFrame, limit: int = 15) -> pd.DataFrame:
    """The ``limit`` largest indexes, with their scans and definition.

    >>> idx = pd.DataFrame({"schemaname": ["s"], "relname": ["t"], "indexrelname": ["i"],
    ...                     "size_bytes": [8192]})
    >>> largest_indexes(idx)["index"].tolist()
    ['s.i']
    """
    frame = conform(indexes, INDEXES_SCHEMA)
    frame.insert(0, "index", dotted_names(frame, "indexrelname"))
    frame.insert(1, "table", dotted_names(frame, "relname"))
    columns = ["index", "table", "size_bytes", "idx_scan", "is_unique", "is_primary",
               "definition"]  # fmt: skip
    ordered = frame.sort_values(["size_bytes", "index"], ascending=[False, True])
    return ordered[columns].head(limit).reset_index(drop=True)
