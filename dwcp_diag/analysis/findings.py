"""Findings: the contract between analysis, reports and whoever reads ``NAME.findings.json``.

Each finding has a stable ``check`` id (DESIGN.md), a ``severity`` (critical|warning|info), a
``subject`` (labels naming what it is about), a one-sentence ``summary``, the measured
``value``, the ``threshold`` it was compared with, the ``unit``, optional ``evidence``, and in
its JSON form ``value_text`` (the value in human units, :func:`dwcp_diag.units.human_value`)
and ``fix`` when there is one (the SQL, command or config change; ``evidence["fix_sql"]``).
Within a severity, findings are ordered by :data:`IMPACT`: the check's urgency, then its own
measure of impact (time to exhaustion, $/month, bytes, ...).

>>> f = Finding("oom_killed", "critical", {"namespace": "production", "pod": "w-1"},
...             "w-1 was OOM-killed 3 times.", 3, 0, "count")
>>> record = Findings([f]).to_records()[0]
>>> record["check"], record["value_text"]
('oom_killed', '3')
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from dwcp_diag.errors import DwcpDiagError
from dwcp_diag.units import human_value

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
    "capacity": ("capacity_exhaustion", "headroom_low", "growth_anomaly", "forecast_drift"),
    "incident": ("deployment_in_window", "scaling_in_window", "consumer_lag_spike"),
    "platform": (
        "slow_startup",
        "rollout_slow",
        "certificate_expiry",
        "consumer_lag_high",
        "redis_saturation",
    ),
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
    "forecast_drift": "an exhaustion forecast's date moving closer period after period",
    "deployment_in_window": "a rollout or scaling inside (or just before) the incident window",
    "scaling_in_window": "a scale event (replicas changed) inside or just before the window",
    "consumer_lag_spike": "Kafka consumer lag over the runbook's threshold (KI-001)",
    "slow_startup": "a workload's pods slow from creation to Ready (p95; KI-005)",
    "rollout_slow": "a Deployment's rollout slow from new ReplicaSet to last pod Ready",
    "certificate_expiry": "a TLS certificate expired, expiring soon or not Ready (Problem 5)",
    "consumer_lag_high": "Kafka consumer lag high (p95) or growing over the window (KI-001)",
    "redis_saturation": "Redis near maxclients or maxmemory, rejecting or slow (KI-002)",
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
    fix: str | None = None  # the SQL, command or config change; else evidence["fix_sql"]
    value_text: str | None = None  # else human_value(value, unit)

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
            "value_text": self.value_text or human_value(_json_number(self.value), self.unit),
        }
        if self.evidence is not None:
            evidence = json.loads(json.dumps(self.evidence, default=_json_default))
            record["evidence"] = _finite(evidence)
        fix = self.fix or (self.evidence or {}).get("fix_sql") or _derived_fix(record)
        if fix:
            record["fix"] = str(fix)
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
            fix=record.get("fix"),
            value_text=record.get("value_text"),
        )


def _quantity(resource: str, amount: float) -> str:
    """A Kubernetes quantity: CPU in millicores, memory in MiB, rounded up."""
    if resource == "cpu":
        return f"{math.ceil(amount * 1000)}m"
    return f"{math.ceil(amount / 2**20)}Mi"


def _derived_fix(record: Mapping[str, Any]) -> str | None:
    """The command that resolves a finding, for checks whose subject and evidence say it
    all (right-sizing a workload's request, releasing an unused volume); None otherwise.

    >>> _derived_fix({"check": "overprovisioned_cpu", "subject": {"namespace": "shop",
    ...     "workload": "api", "workload_kind": "Deployment", "container": "app"},
    ...     "evidence": {"recommended": 0.3945}})
    'kubectl -n shop set resources deployment/api -c app --requests=cpu=395m'
    """
    check, subject = record.get("check"), record.get("subject") or {}
    evidence = record.get("evidence") or {}
    resource = {"overprovisioned_cpu": "cpu", "overprovisioned_memory": "memory"}.get(
        str(check), subject.get("resource")
    )
    amount = evidence.get("recommended" if check != "underprovisioned" else "usage")
    workload = [subject.get(k) for k in ("namespace", "workload_kind", "workload", "container")]
    if (
        check in ("overprovisioned_cpu", "overprovisioned_memory", "underprovisioned")
        and all(workload)
        and resource in ("cpu", "memory")
        and isinstance(amount, int | float)
    ):
        namespace, kind, name, container = workload
        return (
            f"kubectl -n {namespace} set resources {str(kind).lower()}/{name} -c {container} "
            f"--requests={resource}={_quantity(str(resource), float(amount))}"
        )
    if check == "unused_pv" and subject.get("pv"):
        claim, namespace = evidence.get("claim_name"), evidence.get("claim_namespace")
        delete = (
            f"kubectl -n {namespace} delete pvc {claim}"
            if claim and namespace
            else f"kubectl delete pv {subject['pv']}"
        )
        return f"# after making sure nothing needs its data (a snapshot first?)\n{delete}"
    return None


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


# A measure is NaN when the finding lacks it: such findings sort after the others of the check.
def _evidence(key: str) -> Callable[[Mapping[str, Any]], float]:
    def measure(record: Mapping[str, Any]) -> float:
        value = (record.get("evidence") or {}).get(key)
        return float(value) if isinstance(value, int | float) else math.nan

    return measure


def _value(record: Mapping[str, Any]) -> float:
    value = record.get("value")
    return float(value) if isinstance(value, int | float) else math.nan


def _none(record: Mapping[str, Any]) -> float:
    return 0.0


def _sooner(measure: Callable[[Mapping[str, Any]], float]) -> Callable[[Mapping[str, Any]], float]:
    """Less time left is more urgent (0 = now, first)."""
    return lambda record: -measure(record)


# Within a severity: checks in this order (what breaks production soonest first), then each
# check's findings by its measure, largest first. (check, how its findings are ranked, measure)
IMPACT: tuple[tuple[str, str, Callable[[Mapping[str, Any]], float]], ...] = (
    ("report_failed", "the report is incomplete: always first", _none),
    ("source_unavailable", "a source could not be read: always first", _none),
    ("no_data", "an input came back empty: always first", _none),
    ("stats_unavailable", "a statistic could not be read", _none),
    ("availability_breach", "availability lost (100 % - availability)", lambda r: -_value(r)),
    ("error_budget_burn", "burn rate", _value),
    ("error_rate_breach", "5xx share of requests", _value),
    ("latency_slo_breach", "time over the target", _evidence("over_target_s")),
    ("certificate_expiry", "days left, fewest first", _sooner(_value)),
    ("connection_saturation", "share of the usable connections", _value),
    ("redis_saturation", "connected clients / maxclients", _value),
    ("xid_wraparound_risk", "share of the transaction-ID space used", _value),
    ("sequence_exhaustion", "share of the sequence used", _value),
    ("oom_killed", "OOM kills in the window", _value),
    (
        "memory_leak",
        "time to the memory limit, soonest first",
        _sooner(_evidence("hours_to_limit")),
    ),
    ("memory_near_limit", "working set / limit", _value),
    ("frequent_restarts", "restarts in the window", _value),
    ("capacity_exhaustion", "weeks to the limit, soonest first", _sooner(_value)),
    ("forecast_drift", "days the exhaustion date moved closer", _value),
    ("headroom_low", "share of allocatable requested", _value),
    (
        "underprovisioned",
        "$/month the missing request would cost",
        _evidence("extra_usd_per_month"),
    ),
    ("consumer_lag_spike", "peak lag in messages", _value),
    ("consumer_lag_high", "lag p95", _value),
    ("long_running_query", "age of the statement", _value),
    ("idle_in_transaction", "age of the open transaction", _value),
    ("vacuum_lag", "dead tuples", _value),
    ("slow_query", "share of all execution time", _evidence("share_of_total_time")),
    ("missing_index", "rows read by sequential scans", _evidence("seq_tup_read")),
    ("deployment_in_window", "in time order", _none),
    ("scaling_in_window", "in time order", _none),
    ("slow_startup", "p95 start time", _value),
    ("rollout_slow", "rollout duration", _value),
    ("table_bloat", "bytes of bloat", _value),
    ("index_bloat", "bytes of bloat", _value),
    ("low_cache_hit_ratio", "misses (1 - hit ratio)", lambda r: -_value(r)),
    ("duplicate_index", "bytes of the redundant index", _value),
    ("unused_index", "bytes of the unused index", _evidence("size_bytes")),
    ("no_memory_limit", "bytes of working set without a limit", _value),
    ("overprovisioned_cpu", "$/month of idle request", _value),
    ("overprovisioned_memory", "$/month of idle request", _value),
    ("idle_workload", "$/month of the workload", _value),
    ("unused_pv", "$/month of the volume", _value),
    ("growth_anomaly", "size of the change", lambda r: abs(_value(r))),
)
"""Per check: its rank among checks of one severity, and how its own findings are ordered."""
_URGENCY = {check: (rank, measure) for rank, (check, _, measure) in enumerate(IMPACT)}


def impact_rank(check: str) -> int:
    """A check's place among the checks of one severity (:data:`IMPACT` order)."""
    return _URGENCY.get(check, (len(IMPACT), _value))[0]


def impact_key(record: Mapping[str, Any]) -> tuple[int, int, float, str]:
    """Sort key of a finding's JSON record: severity, check urgency, then impact (largest
    first), then subject for a stable order. Checks not in :data:`IMPACT` follow, by value."""
    rank, measure = _URGENCY.get(record.get("check", ""), (len(IMPACT), _value))
    impact = measure(record)
    return (
        SEVERITY_RANK.get(record.get("severity", ""), len(SEVERITIES)),
        rank,
        math.inf if math.isnan(impact) else -impact,
        _subject_text(record.get("subject") or {}),
    )


def _sort_key(finding: Finding) -> tuple[int, int, float, str]:
    return impact_key(finding.to_dict())


# Findings about one object that one fix resolves: (kept, merged into it). The kept finding's
# summary gains the merged one's and its evidence lists it under "also".
OVERLAPS = (("duplicate_index", "unused_index"),)


def merge_overlapping(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per object and fix: an index both duplicate and unused is one
    ``duplicate_index`` finding (one ``DROP INDEX``), the more severe of the two severities.

    >>> dup = Finding("duplicate_index", "warning", {"index": "i"}, "i duplicates j.", 8192,
    ...               unit="bytes", evidence={"fix_sql": "DROP INDEX i;"})
    >>> unused = Finding("unused_index", "warning", {"index": "i"}, "i was never scanned.", 0)
    >>> [(f.check, f.summary, f.evidence["also"]) for f in merge_overlapping([unused, dup])]
    [('duplicate_index', 'i duplicates j. Also unused: i was never scanned.', ['unused_index'])]
    """
    findings = list(findings)
    merged: set[int] = set()
    for kept_check, merged_check in OVERLAPS:
        keepers = {
            _subject_text(f.subject): i for i, f in enumerate(findings) if f.check == kept_check
        }
        for i, finding in enumerate(findings):
            target = keepers.get(_subject_text(finding.subject))
            if finding.check != merged_check or target is None:
                continue
            kept = findings[target]
            also = [*(kept.evidence or {}).get("also", []), merged_check]
            findings[target] = Finding(
                kept.check,
                min(kept.severity, finding.severity, key=SEVERITY_RANK.__getitem__),
                kept.subject,
                f"{kept.summary} Also {merged_check.split('_')[0]}: {finding.summary}",
                kept.value,
                kept.threshold,
                kept.unit,
                {**(finding.evidence or {}), **(kept.evidence or {}), "also": also},
                kept.fix,
                kept.value_text,
            )
            merged.add(i)
    return [f for i, f in enumerate(findings) if i not in merged]


def _subject_text(subject: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in subject.items())


def findings_table_html(records: list[dict[str, Any]]) -> str:
    """The coloured findings table shown in notebooks and at the top of every report: the
    value in human units, and each finding's fix (SQL, command, config) folded beneath it.

    >>> page = findings_table_html([Finding("unused_index", "warning", {"index": "i"},
    ...     "i is unused.", 0, 50, "scans", {"fix_sql": "DROP INDEX i;"}).to_dict()])
    >>> "<details" in page and "DROP INDEX i;" in page and "0 scans" in page
    True
    """
    if not records:
        return '<p class="dwcp-findings-none">No findings: every check passed.</p>'
    rows = []
    for r in records:
        colour = _COLOURS.get(r["severity"], "#555")
        value = r.get("value_text")
        if value is None:
            value = human_value(r.get("value"), r.get("unit"))
        status = r.get("status")
        badge = f'<br><span class="dwcp-status">{html.escape(status)}</span>' if status else ""
        fix = r.get("fix") or (r.get("evidence") or {}).get("fix_sql")
        fold = (
            f'<details class="dwcp-fix"><summary>fix</summary><pre>{html.escape(str(fix))}</pre>'
            "</details>"
            if fix
            else ""
        )
        rows.append(
            "<tr>"
            f'<td class="dwcp-severity" style="color:#fff;background:{colour};font-weight:600">'
            f"{html.escape(r['severity'])}{badge}</td>"
            f"<td><code>{html.escape(r['check'])}</code></td>"
            f'<td class="dwcp-subject">{html.escape(_subject_text(r.get("subject", {})))}</td>'
            f"<td>{html.escape(r.get('summary', ''))}{fold}</td>"
            f'<td class="dwcp-value">{html.escape(value)}</td>'
            "</tr>"
        )
    head = "".join(
        f"<th>{name}</th>" for name in ("severity", "check", "subject", "summary and fix", "value")
    )
    head = f"<tr>{head}</tr>"
    return f'<table class="dwcp-findings">{head}{"".join(rows)}</table>'
