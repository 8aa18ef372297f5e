"""Maintenance horizons: ``vacuum_lag`` (autovacuum behind), ``xid_wraparound_risk``
(transaction-ID age) and ``sequence_exhaustion`` (sequences running out of values).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from dwcp_diag.analysis.database.fix_sql import qualified, quote_ident, split_qualified
from dwcp_diag.analysis.database.values import (
    ThresholdSettings,
    ages_s,
    as_bool,
    as_text,
    bool_column,
    dotted_names,
    first_value,
    float_column,
    float_or_nan,
    is_missing,
    report_now,
    utc_text,
    warning_or_critical,
)
from dwcp_diag.analysis.findings import Finding
from dwcp_diag.checks import check_thresholds
from dwcp_diag.frames import conform
from dwcp_diag.sources.postgres.schemas import SEQUENCES_SCHEMA, TABLES_SCHEMA, WRAPAROUND_SCHEMA
from dwcp_diag.units import human_duration

XID_WRAP = 2**31  # transaction IDs wrap around 2^31 after the oldest unfrozen one
XID_STOP_MARGIN = 3_000_000  # PostgreSQL 14+ refuses new XIDs this close to wraparound


VACUUM_COLUMNS = [
    "table",
    "n_live_tup",
    "n_dead_tup",
    "dead_tup_ratio",
    "autovacuum_vacuum_trigger_tup",
    "dead_to_trigger",
    "tuples_until_autovacuum",
    "autovacuum_enabled",
    "last_vacuum_at",
    "last_vacuum_age_s",
    "last_analyze_at",
    "last_analyze_age_s",
    "n_mod_since_analyze",
    "total_bytes",
    "schemaname",
    "relname",
]


def vacuum_status(tables: pd.DataFrame, now: Any = None) -> pd.DataFrame:
    """Per table: dead tuples against the autovacuum trigger, last (auto)vacuum and analyze.

    ``dead_to_trigger`` is ``n_dead_tup`` / the dead-tuple count at which autovacuum vacuums
    the table (1 = due now); ``tuples_until_autovacuum`` what is left before that (0 when due).
    Ages are seconds before ``now`` (NaN without ``now``, or when never done). Most due first.

    >>> tables = pd.DataFrame({"schemaname": ["public"], "relname": ["t"], "n_dead_tup": [500],
    ...                        "autovacuum_vacuum_trigger_tup": [250.0]})
    >>> status = vacuum_status(tables)
    >>> status[["table", "dead_to_trigger", "tuples_until_autovacuum"]].values.tolist()
    [['public.t', 2.0, 0.0]]
    """
    frame = conform(tables, TABLES_SCHEMA)
    now = report_now(now, None)
    frame["table"] = dotted_names(frame, "relname")
    dead, trigger = (
        float_column(frame, "n_dead_tup"),
        float_column(frame, "autovacuum_vacuum_trigger_tup"),
    )
    frame["dead_to_trigger"] = dead / trigger.where(trigger > 0)
    frame["tuples_until_autovacuum"] = (trigger - dead).clip(lower=0)
    frame["last_vacuum_at"] = frame[["last_vacuum", "last_autovacuum"]].max(axis=1)
    frame["last_analyze_at"] = frame[["last_analyze", "last_autoanalyze"]].max(axis=1)
    frame["last_vacuum_age_s"] = ages_s(frame["last_vacuum_at"], now)
    frame["last_analyze_age_s"] = ages_s(frame["last_analyze_at"], now)
    frame = frame.sort_values(["dead_to_trigger", "table"], ascending=[False, True])
    return frame[VACUUM_COLUMNS].reset_index(drop=True)


def vacuum_lag_findings(
    tables: pd.DataFrame,
    settings: pd.DataFrame | None = None,
    thresholds: ThresholdSettings = None,
    now: Any = None,
) -> list[Finding]:
    """``vacuum_lag``: tables whose dead tuples (at least ``min_dead_tup``) are past the
    autovacuum trigger and stay there: autovacuum is off for them, or they reach
    ``trigger_factor`` triggers, or the last (auto)vacuum is older than ``warning_age_s``.
    Critical when the last (auto)vacuum is older than ``critical_age_s`` (or never ran).

    ``settings`` (the loader's) tells a table's own ``autovacuum_enabled = false`` from the
    server's ``autovacuum = off``, which changes the fix.

    >>> t = pd.DataFrame({"schemaname": ["public"], "relname": ["audit_log"],
    ...     "n_live_tup": [150000], "n_dead_tup": [110000], "autovacuum_enabled": [False],
    ...     "autovacuum_vacuum_trigger_tup": [30050.0]})
    >>> print(vacuum_lag_findings(t)[0].evidence["fix_sql"])
    ALTER TABLE "public"."audit_log" RESET (autovacuum_enabled);
    VACUUM (ANALYZE) "public"."audit_log";
    """
    limits = check_thresholds(thresholds, "vacuum_lag")
    status = vacuum_status(tables, now)
    server_autovacuum = first_value(settings, "autovacuum")
    dead, trigger = (
        float_column(status, "n_dead_tup"),
        float_column(status, "autovacuum_vacuum_trigger_tup"),
    )
    age = float_column(status, "last_vacuum_age_s")
    never = status["last_vacuum_at"].isna()
    old_for_warning = never | (age >= limits["warning_age_s"])
    disabled = ~bool_column(status, "autovacuum_enabled", default=True)
    over = dead >= np.fmax(trigger.fillna(0.0), limits["min_dead_tup"])
    lagging = over & (disabled | (dead >= limits["trigger_factor"] * trigger) | old_for_warning)
    critical = never | (age >= limits["critical_age_s"])
    findings = []
    for position in np.flatnonzero(lagging.to_numpy()):
        row = status.iloc[position]
        target = qualified(row["schemaname"], row["relname"])
        vacuum = f"VACUUM (ANALYZE) {target};"
        if bool(disabled.iloc[position]) and not as_bool(server_autovacuum, default=True):
            why = "autovacuum is off for the whole server"
            fix = f"ALTER SYSTEM SET autovacuum = on;\nSELECT pg_reload_conf();\n{vacuum}"
        elif bool(disabled.iloc[position]):
            why = "autovacuum is disabled for this table (autovacuum_enabled = false)"
            fix = f"ALTER TABLE {target} RESET (autovacuum_enabled);\n{vacuum}"
        else:
            why = "autovacuum has not caught up"
            fix = vacuum
        last = (
            "never vacuumed"
            if never.iloc[position]
            else f"last vacuumed {utc_text(row['last_vacuum_at'])}"
            + (
                ""
                if is_missing(age.iloc[position])
                else f", {human_duration(age.iloc[position])} ago"
            )
        )
        findings.append(
            Finding(
                "vacuum_lag",
                warning_or_critical(bool(critical.iloc[position])),
                {"table": row["table"]},
                f"Table {row['table']} has {int(dead.iloc[position]):,} dead tuples, "
                f"{float_or_nan(row['dead_to_trigger']):.1f}x its autovacuum trigger of "
                f"{float_or_nan(trigger.iloc[position]):,.0f} ({last}): {why}.",
                float(dead.iloc[position]),
                float(max(float_or_nan(trigger.iloc[position]), limits["min_dead_tup"])),
                "tuples",
                {
                    "n_live_tup": float_or_nan(row["n_live_tup"]),
                    "dead_tup_ratio": float_or_nan(row["dead_tup_ratio"]),
                    "autovacuum_vacuum_trigger_tup": float_or_nan(trigger.iloc[position]),
                    "autovacuum_enabled": not bool(disabled.iloc[position]),
                    "last_vacuum_at": row["last_vacuum_at"],
                    "last_analyze_at": row["last_analyze_at"],
                    "fix_sql": fix,
                },
            )
        )
    return findings


def wraparound_findings(
    wraparound: pd.DataFrame, thresholds: ThresholdSettings = None
) -> list[Finding]:
    """``xid_wraparound_risk`` per database whose ``age(datfrozenxid)`` reaches
    ``warning_xid_age`` (check_postgres's defaults), with the transactions left before
    PostgreSQL stops assigning XIDs and, for the current database (whose oldest tables the
    loader lists), a ``VACUUM (FREEZE)`` of its oldest table.

    >>> wrap = pd.DataFrame({"level": ["database", "table"], "dbname": ["app", "app"],
    ...     "schemaname": [None, "public"], "relname": [None, "events"],
    ...     "xid_age": [1_350_000_000, 1_350_000_000]})
    >>> f = wraparound_findings(wrap)[0]
    >>> f.subject, f.evidence["fix_sql"]
    ({'database': 'app'}, 'VACUUM (FREEZE, VERBOSE) "public"."events";')
    """
    limits = check_thresholds(thresholds, "xid_wraparound_risk")
    frame = conform(wraparound, WRAPAROUND_SCHEMA)
    level = frame["level"].astype("str")
    databases, tables = frame[level == "database"], frame[level == "table"]
    findings = []
    for row in databases.itertuples(index=False):
        age = float_or_nan(row.xid_age)
        if is_missing(age) or age < limits["warning_xid_age"]:
            continue
        left = XID_WRAP - XID_STOP_MARGIN - age
        oldest = tables[tables["dbname"].astype("str") == row.dbname]
        oldest = oldest.sort_values("xid_age", ascending=False).head(5)
        if oldest.empty:
            fix = "VACUUM (FREEZE, VERBOSE);"
            where = f" (connected to database {row.dbname})"
        else:
            first = oldest.iloc[0]
            fix = f"VACUUM (FREEZE, VERBOSE) {qualified(first['schemaname'], first['relname'])};"
            where = f"; its oldest table is {first['schemaname']}.{first['relname']}"
        findings.append(
            Finding(
                "xid_wraparound_risk",
                warning_or_critical(age >= limits["critical_xid_age"]),
                {"database": str(row.dbname)},
                f"Database {row.dbname} is {age:,.0f} transactions old "
                f"({age / XID_WRAP:.0%} of the wraparound horizon, {left:,.0f} left before "
                f"PostgreSQL stops assigning transaction IDs){where}: freeze it now.",
                age,
                limits["warning_xid_age"],
                "xids",
                {
                    "xids_left": left,
                    "mxid_age": float_or_nan(row.mxid_age),
                    "pct_of_freeze_max_age": float_or_nan(row.pct_of_freeze_max_age),
                    "oldest_tables": [
                        {"table": f"{t.schemaname}.{t.relname}", "xid_age": float_or_nan(t.xid_age)}
                        for t in oldest.itertuples(index=False)
                    ],
                    "fix_sql": fix,
                },
            )
        )
    return findings


def _widen_sequence_sql(row: Any) -> str | None:
    """Statements that give a sequence (and the column it feeds) room: both to bigint."""
    statements = []
    sequence = qualified(row.schemaname, row.sequencename)
    column_type = as_text(row.column_type)
    if not is_missing(row.table_name) and column_type in ("smallint", "integer"):
        schema, table = split_qualified(row.table_name)
        statements.append(
            f"ALTER TABLE {qualified(schema, table)} "
            f"ALTER COLUMN {quote_ident(row.column_name)} TYPE bigint;"
        )
    if as_text(row.data_type) in ("smallint", "integer"):
        statements.append(f"ALTER SEQUENCE {sequence} AS bigint;")
    return "\n".join(statements) or None


def sequence_findings(
    sequences: pd.DataFrame, thresholds: ThresholdSettings = None
) -> list[Finding]:
    """``sequence_exhaustion``: sequences that used ``warning_used_pct`` of their range (limited
    by the column they feed when that is narrower). Fix: widen the column and the sequence to
    bigint (``ALTER TABLE ... TYPE bigint`` rewrites the table under an exclusive lock).

    >>> seq = pd.DataFrame({"schemaname": ["public"], "sequencename": ["invoices_id_seq"],
    ...     "data_type": ["integer"], "table_name": ["public.invoices"], "column_name": ["id"],
    ...     "column_type": ["integer"], "used_pct": [95.0], "remaining_values": [1e8]})
    >>> print(sequence_findings(seq)[0].evidence["fix_sql"])
    ALTER TABLE "public"."invoices" ALTER COLUMN "id" TYPE bigint;
    ALTER SEQUENCE "public"."invoices_id_seq" AS bigint;
    """
    limits = check_thresholds(thresholds, "sequence_exhaustion")
    frame = conform(sequences, SEQUENCES_SCHEMA)
    frame = frame[float_column(frame, "used_pct") >= limits["warning_used_pct"]]
    findings = []
    for row in frame.itertuples(index=False):
        name = f"{row.schemaname}.{row.sequencename}"
        feeds = (
            ""
            if is_missing(row.table_name)
            else f" feeding {row.table_name}.{row.column_name} ({row.column_type})"
        )
        fix = _widen_sequence_sql(row)
        advice = (
            "widen to bigint (the ALTER TABLE rewrites the table under an exclusive lock: plan "
            "a maintenance window)"
            if fix
            else "it is already bigint: find out what consumes it so fast"
        )
        evidence: dict[str, Any] = {
            "data_type": as_text(row.data_type),
            "table": as_text(row.table_name),
            "column": as_text(row.column_name),
            "column_type": as_text(row.column_type),
            "last_value": float_or_nan(row.last_value),
            "effective_max_value": float_or_nan(row.effective_max_value),
            "remaining_values": float_or_nan(row.remaining_values),
        }
        if fix:
            evidence["fix_sql"] = fix
        findings.append(
            Finding(
                "sequence_exhaustion",
                warning_or_critical(float_or_nan(row.used_pct) >= limits["critical_used_pct"]),
                {"sequence": name},
                f"Sequence {name} ({row.data_type}){feeds} has used {row.used_pct:.1f} % of its "
                f"range ({float_or_nan(row.remaining_values):,.0f} values left): {advice}.",
                round(float(row.used_pct), 4),
                limits["warning_used_pct"],
                "%",
                evidence,
            )
        )
    return findings
