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

The database report does the same per object (:func:`rollup_objects`): above ``above``
findings of ``unused_index``, ``duplicate_index``, ``index_bloat`` or ``table_bloat``, the
objects under ``floor_bytes`` (default 1 MiB) and those beyond the ``keep`` largest become one
finding per check and schema, every object listed in its evidence and their fix SQL folded.

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
from dwcp_diag.units import MIB, human_bytes

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


OBJECT_CHECKS = ("unused_index", "duplicate_index", "index_bloat", "table_bloat")
"""Database checks with one finding per object, which :func:`rollup_objects` folds."""


def _object_bytes(finding: Finding) -> float:
    """The bytes a per-object finding is about: its value when in bytes (duplicate, bloat),
    else the object's ``size_bytes`` (unused_index counts scans)."""
    value = finding.value if finding.unit == "bytes" else (finding.evidence or {}).get("size_bytes")
    return float(value) if isinstance(value, int | float) and value == value else 0.0


def _object_scans(finding: Finding) -> float | None:
    scans = finding.value if finding.unit == "scans" else (finding.evidence or {}).get("idx_scan")
    return float(scans) if isinstance(scans, int | float) and scans == scans else None


def rollup_objects(
    findings: Sequence[Finding],
    above: float = 30,
    keep: float = 10,
    floor_bytes: float = MIB,
) -> list[Finding]:
    """``findings`` with each of :data:`OBJECT_CHECKS` that fires more than ``above`` times
    folded: objects under ``floor_bytes``, and those beyond the ``keep`` largest, become one
    finding per check and schema (when more than one) whose value is their bytes together,
    whose evidence lists every object (``objects``: name, size_bytes, scans) and whose
    ``fix_sql`` is all of theirs, one statement per line. Other findings, and checks that
    fire less often, pass unchanged.

    >>> small = [Finding("unused_index", "warning", {"index": f"s.i{n}"}, "unused", 0, 50,
    ...                  "scans", {"size_bytes": 8192.0, "fix_sql": f"DROP INDEX s.i{n};"})
    ...          for n in range(40)]
    >>> [(f.subject, f.value, f.evidence["count"]) for f in rollup_objects(small)]
    [({'schema': 's', 'scope': 'rolled up'}, 327680.0, 40)]
    """
    out: list[Finding] = []
    by_check: dict[str, list[Finding]] = {}
    for finding in findings:
        if finding.check in OBJECT_CHECKS:
            by_check.setdefault(finding.check, []).append(finding)
        else:
            out.append(finding)
    for check, group in by_check.items():
        if len(group) <= above:
            out.extend(group)
            continue
        ranked = sorted(group, key=lambda f: (_SEVERITY_ORDER[f.severity], -_object_bytes(f)))
        large = [f for f in ranked if _object_bytes(f) >= floor_bytes]
        kept = large[: int(keep)]
        out.extend(kept)
        folded = [f for f in ranked if f not in kept]
        schemas: dict[str, list[Finding]] = {}
        for finding in folded:
            name = next(iter(finding.subject.values()), "")
            schemas.setdefault(name.split(".", 1)[0] if "." in name else "", []).append(finding)
        for schema, members in schemas.items():
            if len(members) == 1:  # a summary of one says less than the finding itself
                out.extend(members)
            else:
                out.append(_folded_objects(check, schema, members, floor_bytes, int(keep)))
    return out


def _folded_objects(
    check: str, schema: str, members: Sequence[Finding], floor_bytes: float, keep: int
) -> Finding:
    total = float(sum(_object_bytes(f) for f in members))
    objects = [
        {"name": next(iter(f.subject.values()), ""), "size_bytes": _object_bytes(f),
         "scans": _object_scans(f)}
        for f in members
    ]  # fmt: skip
    fixes = [str((f.evidence or {}).get("fix_sql") or "") for f in members]
    summary = (
        f"{len(members):,} more {check} findings in schema {schema or '?'} (each under "
        f"{human_bytes(floor_bytes)}, or beyond the {keep} largest), {human_bytes(total)} "
        "together; every one is listed in the evidence."
    )
    evidence: dict[str, Any] = {
        "count": len(members),
        "total_bytes": total,
        "size_bytes": total,  # what unused_index findings are ranked by
        "objects": objects,
    }
    if any(fixes):
        evidence["fix_sql"] = "\n".join(fix for fix in fixes if fix)
    return Finding(
        check,
        _worst(members).severity,
        {"schema": schema, "scope": "rolled up"},
        summary,
        total,
        floor_bytes,
        "bytes",
        evidence,
    )
