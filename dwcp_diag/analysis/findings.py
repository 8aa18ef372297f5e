"""Findings: the contract between analysis, reports and whoever reads ``NAME.findings.json``.

Each finding has a stable ``check`` id (DESIGN.md), a ``severity`` (critical|warning|info), a
``subject`` (labels naming what it is about), a one-sentence ``summary``, the measured
``value``, the ``threshold`` it was compared with, the ``unit``, and optional ``evidence``.

>>> f = Finding("oom_killed", "critical", {"namespace": "production", "pod": "w-1"},
...             "w-1 was OOM-killed 3 times.", 3, 0, "count")
>>> Findings([f]).to_records()[0]["check"]
'oom_killed'
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from dwcp_diag.errors import DwcpDiagError

SEVERITIES = ("critical", "warning", "info")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}
CHECKS_BY_NOTEBOOK: dict[str, tuple[str, ...]] = {
    "latency": (
        "latency_slo_breach",
        "error_rate_breach",
        "error_budget_burn",
        "availability_breach",
    ),
    "database": (
        "slow_query",
        "table_bloat",
        "index_bloat",
        "missing_index",
        "unused_index",
        "duplicate_index",
        "vacuum_lag",
        "long_running_query",
        "idle_in_transaction",
        "connection_saturation",
        "xid_wraparound_risk",
        "sequence_exhaustion",
        "low_cache_hit_ratio",
        "stats_unavailable",
    ),
    "memory": (
        "memory_leak",
        "oom_killed",
        "memory_near_limit",
        "no_memory_limit",
        "frequent_restarts",
    ),
    "cost": (
        "overprovisioned_cpu",
        "overprovisioned_memory",
        "idle_workload",
        "unused_pv",
        "underprovisioned",
    ),
    "capacity": ("capacity_exhaustion", "headroom_low", "growth_anomaly"),
    "incident": ("deployment_in_window", "scaling_in_window", "consumer_lag_spike"),
    "all": ("source_unavailable", "no_data", "report_failed"),
}
CHECK_IDS = frozenset(c for checks in CHECKS_BY_NOTEBOOK.values() for c in checks)
CHECK_DESCRIPTIONS: dict[str, str] = {
    "latency_slo_breach": "an endpoint's p95 latency over the target for 5 minutes or more",
    "error_rate_breach": "the 5xx share of requests over the target, overall or per endpoint",
    "error_budget_burn": "a burn-rate window pair (1h/5m, 6h/30m, 3d/6h) over its threshold",
    "availability_breach": "availability (1 - 5xx share) under the SLO over the window",
    "slow_query": "a statement slow on average and called often (pg_stat_statements)",
    "table_bloat": "a table whose bloat (measured, else estimated) is large in bytes and share",
    "index_bloat": "a btree index whose bloat (measured, else estimated) is large in bytes, share",
    "missing_index": "a large table read mostly by sequential scans",
    "unused_index": "an index (not unique, not a constraint) scanned almost never",
    "duplicate_index": "an index whose columns another index already covers",
    "vacuum_lag": "dead tuples far past the table's autovacuum trigger",
    "long_running_query": "a statement active for longer than the threshold",
    "idle_in_transaction": "a session idle inside an open transaction (holds locks and xmin)",
    "connection_saturation": "client connections near max_connections (runbook KI-003)",
    "xid_wraparound_risk": "a database or table close to transaction-ID wraparound",
    "sequence_exhaustion": "a sequence (or its column's type) near its last value",
    "low_cache_hit_ratio": "shared-buffer hit ratio under 99 % for tables or indexes",
    "stats_unavailable": "a statistic this role may not read, with the grant or setting to fix",
    "memory_leak": "steady working-set growth, with the projected time to the memory limit",
    "oom_killed": "a container terminated by the OOM killer (exit code 137) in the window",
    "memory_near_limit": "p99 working set at 85 % of the memory limit or more",
    "no_memory_limit": "a container without a memory limit",
    "frequent_restarts": "more than 5 restarts or CrashLoopBackOff, with the exit code's meaning",
    "overprovisioned_cpu": "CPU requested far above the p95 used, in dollars a month",
    "overprovisioned_memory": "memory requested far above the peak used, in dollars a month",
    "idle_workload": "a workload using under 20 % of its CPU and memory requests",
    "unused_pv": "a PersistentVolume released, unbound or mounted by no pod",
    "underprovisioned": "usage above the request: the scheduler reserved too little",
    "capacity_exhaustion": "a resource forecast to reach its limit within the horizon",
    "headroom_low": "CPU or memory requests at 80 % of the nodes' allocatable or more",
    "growth_anomaly": "a week-over-week change well beyond the series' normal variation",
    "deployment_in_window": "a rollout or scaling inside (or just before) the incident window",
    "scaling_in_window": "a scale event (replicas changed) inside or just before the window",
    "consumer_lag_spike": "Kafka consumer lag over the runbook's threshold (KI-001)",
    "source_unavailable": "a source could not be reached; the rest of the report still renders",
    "no_data": "data a report needs came back empty (an unknown metric name, a selector or "
    "window matching nothing): its checks could not run",
    "report_failed": "a cell raised, so the report is incomplete: the cell (In [N]), the error, "
    "and the findings published before it, marked partial",
}
"""One line per check id: what it flags (the reference pages and ``dwcp-diag`` docs use it)."""
# Notebooks publish their findings as a display output of this type; the renderer collects them.
FINDINGS_MIMETYPE = "application/vnd.dwcp-diag.findings+json"
# The window a report covers: published by report.notebook.open_session, shown in the header.
WINDOW_MIMETYPE = "application/vnd.dwcp-diag.window+json"
_COLOURS = {"critical": "#c62828", "warning": "#ef6c00", "info": "#1565c0"}


class FindingError(DwcpDiagError, ValueError):
    """A finding does not follow the contract (unknown check id or severity)."""


@dataclass(frozen=True)
class Finding:
    """One thing a report wants a human to look at."""

    check: str
    severity: str
    subject: Mapping[str, str]
    summary: str
    value: float | str | None = None
    threshold: float | str | None = None
    unit: str = ""
    evidence: Mapping[str, Any] | None = field(default=None)

    def __post_init__(self) -> None:
        if self.check not in CHECK_IDS:
            raise FindingError(f"unknown check id {self.check!r}; known: {sorted(CHECK_IDS)}")
        if self.severity not in SEVERITIES:
            raise FindingError(
                f"finding {self.check}: severity {self.severity!r} is not one of {SEVERITIES}"
            )

    def to_dict(self) -> dict[str, Any]:
        record = {
            "check": self.check,
            "severity": self.severity,
            "subject": {str(k): str(v) for k, v in self.subject.items()},
            "summary": self.summary,
            "value": _json_number(self.value),
            "threshold": _json_number(self.threshold),
            "unit": self.unit,
        }
        if self.evidence is not None:
            evidence = json.loads(json.dumps(self.evidence, default=_json_default))
            record["evidence"] = _finite(evidence)
        return record

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Finding:
        return cls(
            check=record["check"],
            severity=record["severity"],
            subject=dict(record.get("subject", {})),
            summary=record.get("summary", ""),
            value=record.get("value"),
            threshold=record.get("threshold"),
            unit=record.get("unit", ""),
            evidence=record.get("evidence"),
        )


def source_unavailable(source: str, message: str) -> Finding:
    """The finding every report emits when one of its sources could not be reached."""
    return Finding(
        "source_unavailable",
        "critical",
        {"source": source},
        f"{source} could not be reached: {message}",
        unit="",
    )


def _json_number(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    number = float(value)
    return None if math.isnan(number) or math.isinf(number) else number


def _finite(value: Any) -> Any:
    """NaN and infinities as None, as strict JSON (and so ``NAME.findings.json``) has them."""
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return str(value)


class Findings(list):
    """A list of :class:`Finding`, most severe first, that renders as a table in Jupyter."""

    def __init__(self, items: Iterable[Finding] = ()) -> None:
        super().__init__(sorted(items, key=_sort_key))

    def to_records(self) -> list[dict[str, Any]]:
        return [f.to_dict() for f in self]

    def to_frame(self) -> pd.DataFrame:
        columns = ["severity", "check", "subject", "summary", "value", "threshold", "unit"]
        rows = [{**r, "subject": _subject_text(r["subject"])} for r in self.to_records()]
        return pd.DataFrame(rows, columns=columns)

    def worst_severity(self) -> str | None:
        return self[0].severity if self else None

    def _repr_html_(self) -> str:
        return findings_table_html(self.to_records())

    def publish(self) -> None:
        """Display in a notebook so the report renderer can collect them (call once per cell)."""
        from IPython.display import display

        bundle = {
            FINDINGS_MIMETYPE: self.to_records(),
            "text/html": self._repr_html_(),
            "text/plain": f"{len(self)} finding(s)",
        }
        display(bundle, raw=True)


def _sort_key(finding: Finding) -> tuple[int, str, str]:
    return (SEVERITY_RANK[finding.severity], finding.check, _subject_text(finding.subject))


def _subject_text(subject: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in subject.items())


def findings_table_html(records: list[dict[str, Any]]) -> str:
    """The coloured findings table shown in notebooks and at the top of every report."""
    if not records:
        return '<p class="dwcp-findings-none">No findings: every check passed.</p>'
    rows = []
    for r in records:
        colour = _COLOURS.get(r["severity"], "#555")
        value = (
            ""
            if r.get("value") is None
            else f"{r['value']:.4g}"
            if isinstance(r["value"], float)
            else html.escape(str(r["value"]))
        )
        rows.append(
            "<tr>"
            f'<td style="color:#fff;background:{colour};font-weight:600">'
            f"{html.escape(r['severity'])}</td>"
            f"<td><code>{html.escape(r['check'])}</code></td>"
            f"<td>{html.escape(_subject_text(r.get('subject', {})))}</td>"
            f"<td>{html.escape(r.get('summary', ''))}</td>"
            f"<td>{value} {html.escape(r.get('unit') or '')}</td>"
            "</tr>"
        )
    head = "<tr><th>severity</th><th>check</th><th>subject</th><th>summary</th><th>value</th></tr>"
    return f'<table class="dwcp-findings">{head}{"".join(rows)}</table>'
