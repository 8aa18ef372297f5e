"""Findings at fleet scale: many findings of one check become a few a person can read.

Applied by the memory and cost reports only when a check fires more than ``above`` times
(``[thresholds.rollup] above``, default 30), so a small cluster's report is unchanged:

1. per workload: the findings of one check on the pods of one Deployment/StatefulSet/
   DaemonSet (named from the pod: ``NAME-HASH-XXXXX``, ``NAME-XXXXX``, ``NAME-N``) become one,
   the worst (most severe, then largest value) as the summary, the count and the sum of
   ``$/month`` values in ``evidence``;
2. below a floor: findings worth less than ``floor_usd_per_month`` (``$/month`` findings,
   default 5) become one summary per check and namespace, listing them in ``evidence``;
3. beyond the ``keep`` (default 10) most severe and largest of a check, the rest become one
   summary per check and namespace as well: a check's findings are bounded by ``keep`` plus
   the number of namespaces, whatever the fleet's size.

>>> from dwcp_diag.analysis.findings import Finding
>>> found = [Finding("no_memory_limit", "warning",
...                  {"namespace": "n", "pod": f"web-7d9f8c6b5d-x2x9{i}", "container": "app"},
...                  "no limit", 100.0 + i, None, "bytes") for i in range(3)]
>>> [f.subject for f in rollup(found, above=2)]
[{'namespace': 'n', 'workload': 'web', 'container': 'app'}]
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from dwcp_diag.analysis.findings import Finding

_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
_POD_SUFFIX = re.compile(r"-[a-z0-9]{5}$")
_REPLICASET_HASH = re.compile(r"-[bcdfghjklmnpqrstvwxz2456789]{5,10}$")
_ORDINAL = re.compile(r"-\d+$")
LISTED = 10  # subjects listed in a rolled-up finding's evidence


def workload_from_pod(pod: str) -> str:
    """The controller's name a pod name was made from (Deployment, DaemonSet, StatefulSet).

    >>> workload_from_pod("web-7d9f8c6b5d-x2x9k"), workload_from_pod("db-2")
    ('web', 'db')
    """
    if _ORDINAL.search(pod):
        return _ORDINAL.sub("", pod)
    name = _POD_SUFFIX.sub("", pod)
    return _REPLICASET_HASH.sub("", name) if name != pod else pod


def _worst(findings: Sequence[Finding]) -> Finding:
    return min(findings, key=_rank)


def _money(findings: Sequence[Finding]) -> float | None:
    values = [f.value for f in findings if f.unit == "$/month" and isinstance(f.value, float)]
    return float(sum(values)) if values else None


def _merged(findings: Sequence[Finding], subject: dict[str, str], summary: str) -> Finding:
    worst = _worst(findings)
    evidence: dict[str, Any] = {
        "count": len(findings),
        "worst": dict(worst.subject),
        "subjects": [dict(f.subject) for f in findings[:LISTED]],
    }
    total = _money(findings)
    if total is not None:
        evidence["sum_usd_per_month"] = total
    value = total if total is not None else worst.value
    return Finding(
        worst.check, worst.severity, subject, summary, value, worst.threshold, worst.unit, evidence
    )


def rollup(
    findings: Sequence[Finding],
    above: float = 30,
    floor_usd_per_month: float = 5.0,
    keep: float = 10,
) -> list[Finding]:
    """``findings`` with each check that fires more than ``above`` times rolled up (module
    docstring); checks that fire less often are returned as they are, in order."""
    by_check: dict[str, list[Finding]] = {}
    for finding in findings:
        by_check.setdefault(finding.check, []).append(finding)
    out: list[Finding] = []
    for check, group in by_check.items():
        if len(group) <= above:
            out.extend(group)
            continue
        small = [f for f in group if f.unit == "$/month" and isinstance(f.value, float)
                 and f.value < floor_usd_per_month]  # fmt: skip
        workloads: dict[tuple, list[Finding]] = {}
        for finding in (f for f in group if f not in small):
            subject = dict(finding.subject)
            if "pod" in subject:
                subject = {"namespace": subject.get("namespace", ""),
                           "workload": workload_from_pod(subject.pop("pod")),
                           **{k: v for k, v in subject.items() if k != "namespace"}}  # fmt: skip
            workloads.setdefault(tuple(subject.items()), []).append(finding)
        merged = []
        for key, members in workloads.items():
            if len(members) == 1:
                merged.append(members[0])
                continue
            subject = dict(key)
            summary = (
                f"{len(members)} containers of {subject.get('workload', '?')} in "
                f"{subject.get('namespace', '?')}; the worst: {_worst(members).summary}"
            )
            merged.append(_merged(members, subject, summary))
        merged.sort(key=_rank)
        out.extend(merged[: int(keep)])
        out.extend(_per_namespace(check, small, f"under ${floor_usd_per_month:g}/month each"))
        out.extend(_per_namespace(check, merged[int(keep) :], f"beyond the {int(keep)} largest"))
    return out


def _rank(finding: Finding) -> tuple:
    value = finding.value
    number = float(value) if isinstance(value, int | float) and value == value else 0.0
    return (_SEVERITY_ORDER[finding.severity], -number)


def _per_namespace(check: str, findings: Sequence[Finding], why: str) -> list[Finding]:
    """One summary finding per namespace of ``findings`` (all of one ``check``)."""
    namespaces: dict[str, list[Finding]] = {}
    for finding in findings:
        namespaces.setdefault(finding.subject.get("namespace", ""), []).append(finding)
    out = []
    for namespace, members in namespaces.items():
        total = _money(members)
        worth = f", ${total:,.2f}/month together" if total is not None else ""
        summary = f"{len(members)} more {check} findings in {namespace} ({why}{worth})."
        subject = {"namespace": namespace, "scope": "rolled up"}
        out.append(_merged(sorted(members, key=_rank), subject, summary))
    return out
