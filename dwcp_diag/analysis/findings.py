"""Findings: the contract between analysis, reports and whoever reads ``NAME.findings.json``.

Each finding has a stable ``check`` id (one of :data:`dwcp_diag.checks.CHECKS`), a
``severity`` (critical|warning|info), a ``subject`` (labels naming what it is about), a
one-sentence ``summary``, the measured ``value``, the ``threshold`` it was compared with, the
``unit``, optional ``evidence``, and in its JSON form ``value_text`` (the value in human units,
:func:`dwcp_diag.units.human_value`) and ``fix`` when there is one (the SQL, command or config
change; ``evidence["fix_sql"]``).
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
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from dwcp_diag.checks import CHECKS, URGENCY, measure_spec, notebook_checks
from dwcp_diag.errors import DwcpDiagError
from dwcp_diag.units import MIB, human_value

SEVERITIES = ("critical", "warning", "info")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}
CHECKS_BY_NOTEBOOK: dict[str, tuple[str, ...]] = {
    notebook: notebook_checks(notebook)
    for notebook in dict.fromkeys(c.notebook for c in CHECKS.values())
}
"""The check ids each notebook reports (``all``: any report), from the registry."""
CHECK_IDS = frozenset(CHECKS)
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
    if check in MEMORY_FIX_CHECKS and all(subject.get(k) for k in ("namespace", "container")):
        return _memory_fix(str(check), subject, evidence)
    if check == "unused_pv" and subject.get("pv"):
        claim, namespace = evidence.get("claim_name"), evidence.get("claim_namespace")
        delete = (
            f"kubectl -n {namespace} delete pvc {claim}"
            if claim and namespace
            else f"kubectl delete pv {subject['pv']}"
        )
        return f"# after making sure nothing needs its data (a snapshot first?)\n{delete}"
    return None


MEMORY_HEADROOM = 1.25  # a new memory limit: the usage it must hold x 1.25 ...
MEMORY_LIMIT_STEP_MIB = 64  # ... rounded up to a multiple of 64 Mi
LEAK_RESTART_H = 24  # a leaking container's limit holds this many hours of growth (daily restart)
MEMORY_FIX_CHECKS = (
    "memory_near_limit",
    "oom_killed",
    "no_memory_limit",
    "frequent_restarts",
    "memory_leak",
)
# `kubectl set resources` / `rollout restart` change these controllers' pod templates.
_TEMPLATED_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet")


def memory_limit_mib(usage_bytes: float, floor_bytes: float = 0.0) -> int:
    """A memory limit in MiB that holds ``usage_bytes``: usage x 1.25, at least
    ``floor_bytes`` (the request, or just above the limit it replaces), rounded up to 64 Mi.

    >>> memory_limit_mib(900 * MIB), memory_limit_mib(100 * MIB, floor_bytes=1024 * MIB + 1)
    (1152, 1088)
    """
    needed = max(float(usage_bytes) * MEMORY_HEADROOM, float(floor_bytes)) / MIB
    return math.ceil(needed / MEMORY_LIMIT_STEP_MIB) * MEMORY_LIMIT_STEP_MIB


def _number(value: Any) -> float | None:
    """``value`` as a finite float, else None (missing evidence is no evidence)."""
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def _new_memory_limit(check: str, evidence: Mapping[str, Any]) -> tuple[int, str] | None:
    """The memory limit (MiB) a memory finding calls for and the rule that gave it."""
    limit = _number(evidence.get("memory_limit_bytes"))
    above = limit + 1 if limit else 0.0  # a finding about the limit never lowers it
    rule = f"x {MEMORY_HEADROOM:g}, rounded up to {MEMORY_LIMIT_STEP_MIB} Mi"
    if check == "memory_near_limit":
        usage = _number(evidence.get("working_set_bytes"))
        if usage is not None:
            return memory_limit_mib(usage, above), f"p99 working set {rule}, above the old limit"
    if check == "oom_killed" and limit:
        usage = max(limit, _number(evidence.get("working_set_bytes")) or 0.0)
        return memory_limit_mib(usage, above), f"the limit it hit {rule}"
    if check == "no_memory_limit":
        peak = _number(evidence.get("memory_max_bytes"))
        request = _number(evidence.get("memory_request_bytes")) or 0.0
        if peak is not None:
            return memory_limit_mib(peak, request), f"peak working set {rule}, at least the request"
    if check == "memory_leak":
        level = _number(evidence.get("level_bytes"))
        growth = _number(evidence.get("growth_mib_per_h"))
        if level is not None and growth is not None:
            usage = level + LEAK_RESTART_H * growth * MIB
            return (
                memory_limit_mib(usage, above),
                f"today's level + {LEAK_RESTART_H} h of growth {rule}, never lower",
            )
    return None


def _memory_fix(check: str, subject: Mapping[str, Any], evidence: Mapping[str, Any]) -> str | None:
    """The commands for a memory finding: the workload's new limit (from its evidence, rule
    in a comment), the previous container's logs for restarts, an investigation for leaks.

    >>> print(_memory_fix("memory_near_limit", {"namespace": "shop", "pod": "api-7d-x",
    ...     "container": "api"}, {"working_set_bytes": 900 * MIB, "memory_limit_bytes":
    ...     1024 * MIB, "workload_kind": "Deployment", "workload": "api"}))
    # new limit 1152Mi: p99 working set x 1.25, rounded up to 64 Mi, above the old limit
    kubectl -n shop set resources deployment/api -c api --limits=memory=1152Mi
    """
    q = shlex.quote
    namespace, pod, container = (str(subject.get(k) or "") for k in KEYS_POD)
    kind = evidence.get("workload_kind") or subject.get("workload_kind")
    name = evidence.get("workload") or subject.get("workload")
    owned = kind in _TEMPLATED_KINDS and bool(name)
    target = f"{str(kind).lower()}/{name}" if owned else ""
    lines: list[str] = []
    if check == "frequent_restarts":
        if not pod:
            return None
        lines.append(f"kubectl -n {q(namespace)} logs {q(pod)} -c {q(container)} --previous")
        meaning = str(evidence.get("exit_meaning") or "")
        if meaning and meaning != "unknown":
            lines.append(f"# last exit: {meaning}")
        return "\n".join(lines)
    if check == "memory_leak":
        lines.append(
            "# find what grows: heap profiles an hour apart, diffed (pprof, jmap -histo, "
            "tracemalloc, heaptrack)"
        )
        if owned and kind != "ReplicaSet":
            lines.append(
                "# stopgap until it is fixed: restart it daily, e.g. a CronJob running "
                f"`kubectl -n {q(namespace)} rollout restart {q(target)}`"
            )
    limit = _new_memory_limit(check, evidence)
    if limit is None:
        return "\n".join(lines) or None
    mib, rule = limit
    lines.append(f"# new limit {mib}Mi: {rule}")
    if owned:
        lines.append(
            f"kubectl -n {q(namespace)} set resources {q(target)} -c {q(container)} "
            f"--limits=memory={mib}Mi"
        )
    elif kind and name:
        lines.append(f"# owned by {kind} {name}: set container {container}'s limit in its spec")
    elif pod:
        lines.append("# its owner is not in the Kubernetes inventory; find it with")
        lines.append(
            f"kubectl -n {q(namespace)} get pod {q(pod)} -o "
            + q("jsonpath={.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}")
        )
        lines.append(f"# and set container {container}'s limit there")
    return "\n".join(lines)


KEYS_POD = ("namespace", "pod", "container")


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


def findings_file_text(records: Sequence[Mapping[str, Any]]) -> str:
    """``NAME.findings.json``: a JSON array with one finding per line (compact, still one
    valid JSON document; ``grep`` finds a finding's whole line, ``jq`` reads it as before).

    >>> print(findings_file_text([{"check": "oom_killed", "value": 2.0}, {"check": "x"}]))
    [
    {"check": "oom_killed", "value": 2.0},
    {"check": "x"}
    ]
    <BLANKLINE>
    >>> findings_file_text([])
    '[]\\n'
    """
    if not records:
        return "[]\n"
    return "[\n" + ",\n".join(json.dumps(record) for record in records) + "\n]\n"


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


def _measure(spec: str) -> Callable[[Mapping[str, Any]], float]:
    """A check's ``measure`` (:func:`dwcp_diag.checks.measure_spec`) as a function of a
    finding's record; NaN when the finding lacks it (such findings sort after the others).

    >>> _measure("-evidence.hours_to_limit")({"evidence": {"hours_to_limit": 5}})
    -5.0
    """
    source, key, sign = measure_spec(spec)

    def measure(record: Mapping[str, Any]) -> float:
        if source == "none":
            return 0.0
        value = record.get("value") if key is None else (record.get("evidence") or {}).get(key)
        if not isinstance(value, int | float):
            return math.nan
        return abs(float(value)) if sign == 0 else sign * float(value)

    return measure


def _value(record: Mapping[str, Any]) -> float:
    value = record.get("value")
    return float(value) if isinstance(value, int | float) else math.nan


# Within a severity: checks in the registry's URGENCY order (what breaks production soonest
# first), then each check's findings by its measure, largest first.
IMPACT: tuple[tuple[str, str, Callable[[Mapping[str, Any]], float]], ...] = tuple(
    (check, CHECKS[check].ranked_by, _measure(CHECKS[check].measure)) for check in URGENCY
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
