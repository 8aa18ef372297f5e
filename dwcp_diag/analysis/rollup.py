"""Findings at fleet scale: many findings of one check become a few a person can read.

Applied by the memory and cost reports only when a check fires more than ``above`` times
(``[thresholds.rollup] above``, default 30), so a small cluster's report is unchanged:

1. per workload: the findings of one check on the pods of one Deployment/StatefulSet/
   DaemonSet (the owner the Kubernetes inventory named in the finding's evidence, else the
   one the pod's name was made from: ``NAME-HASH-XXXXX``, ``NAME-XXXXX``, ``NAME-N``) become one,
   the worst (most severe, then largest value) as the summary, the count and the sum of
   ``$/month`` values in ``evidence``;
2. the ``keep`` (default 10) most severe and largest of a check stay as they are;
3. the rest, and whatever is worth less than ``floor_usd_per_month`` (``$/month`` findings,
   default 5), become one summary per check and namespace for the ``namespaces`` (default 3)
   namespaces with the most of them, and ONE summary per check (subject
   ``{"scope": "rolled up"}``) for all other namespaces, with the count per namespace in
   ``evidence.by_namespace``. A check yields at most ``keep + namespaces + 1`` findings,
   whatever the fleet's size or its number of namespaces.

A summary's ``evidence.count`` is the number of the check's original (per-container)
findings it stands for, so the counts of one check's findings add up to what it found;
``evidence.worst`` and ``evidence.top`` name the worst and the first few of them
(``namespace/workload-or-pod/container[/resource]``), and its summary quotes the worst's.

The database report does the same per object (:func:`rollup_objects`): above ``above``
findings of ``unused_index``, ``duplicate_index``, ``index_bloat`` or ``table_bloat``, the
objects under ``floor_bytes`` (default 1 MiB) and those beyond the ``keep`` largest become one
finding per check and schema (the ``namespaces`` schemas with the most; the others one
finding per check), every object listed in its evidence and their fix SQL folded.

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
LISTED = 5  # subjects named in a rolled-up finding's evidence ("top"), the worst first
_NAME_ORDER = ("namespace", "workload", "pod", "container")
_UNNAMED = ("workload_kind", "scope")  # labels a short name leaves out


def workload_from_pod(pod: str) -> str:
    """The controller's name a pod name was made from (Deployment, DaemonSet, StatefulSet).

    >>> workload_from_pod("web-7d9f8c6b5d-x2x9k"), workload_from_pod("db-2")
    ('web', 'db')
    """
    if _ORDINAL.search(pod):
        return _ORDINAL.sub("", pod)
    name = _POD_SUFFIX.sub("", pod)
    return _REPLICASET_HASH.sub("", name) if name != pod else pod


def subject_name(subject: dict[str, str] | Any) -> str:
    """A subject as one short name: namespace, workload or pod, container, then any other
    label (the workload's kind left out), joined by ``/``.

    >>> subject_name({"container": "app", "namespace": "shop", "resource": "memory",
    ...               "workload_kind": "Deployment", "workload": "web"})
    'shop/web/app/memory'
    """
    first = [str(subject[k]) for k in _NAME_ORDER if k in subject]
    rest = [str(v) for k, v in subject.items() if k not in _NAME_ORDER and k not in _UNNAMED]
    return "/".join(first + rest)


def _worst(findings: Sequence[Finding]) -> Finding:
    return min(findings, key=_rank)


def _number(value: Any) -> float | None:
    """``value`` as a float, or None when it is not a number (or NaN)."""
    return float(value) if isinstance(value, int | float) and value == value else None


def _money(findings: Sequence[Finding]) -> float | None:
    values = [f.value for f in findings if f.unit == "$/month" and isinstance(f.value, float)]
    return float(sum(values)) if values else None


def _rolled_up(
    originals: Sequence[Finding],
    subject: dict[str, str],
    headline: str,
    listed: Sequence[Finding],
    extra: dict[str, Any] | None = None,
) -> Finding:
    """One finding for ``originals`` (of one check): ``headline``, then the worst's summary;
    in evidence their count, the worst's and the first ``listed`` names, their ``$`` sum."""
    worst = _worst(originals)
    evidence: dict[str, Any] = {
        "count": len(originals),
        "worst": subject_name(worst.subject),
        "top": [subject_name(f.subject) for f in listed[:LISTED]],
    }
    total = _money(originals)
    if total is not None:
        evidence["sum_usd_per_month"] = total
    evidence.update(extra or {})
    value = total if total is not None else worst.value
    summary = f"{headline}; the worst: {worst.summary}"
    return Finding(
        worst.check, worst.severity, subject, summary, value, worst.threshold, worst.unit, evidence
    )


Shown = tuple[Finding, list[Finding]]
"""A finding as the report shows it, and the original findings it stands for."""


def rollup(
    findings: Sequence[Finding],
    above: float = 30,
    floor_usd_per_month: float = 5.0,
    keep: float = 10,
    namespaces: float = 3,
) -> list[Finding]:
    """``findings`` with each check that fires more than ``above`` times rolled up (module
    docstring); checks that fire less often are returned as they are, in order.

    >>> slack = [Finding("overprovisioned_cpu", "info", {"namespace": f"ns-{i % 8}",
    ...                  "workload": f"w{i}", "container": "app"}, "s", 10.0 + i, 1.0, "$/month")
    ...          for i in range(100)]
    >>> rolled = rollup(slack, keep=2, namespaces=1)
    >>> [(subject_name(f.subject), f.evidence and f.evidence["count"]) for f in rolled]
    [('ns-3/w99/app', None), ('ns-2/w98/app', None), ('ns-1', 13), ('', 85)]
    >>> rolled[-1].evidence["by_namespace"]["ns-0"], rolled[-1].summary[:60]
    (13, '85 more overprovisioned_cpu findings in 7 other namespaces (')
    """
    by_check: dict[str, list[Finding]] = {}
    for finding in findings:
        by_check.setdefault(finding.check, []).append(finding)
    out: list[Finding] = []
    for check, group in by_check.items():
        if len(group) <= above:
            out.extend(group)
            continue
        workloads: dict[tuple, list[Finding]] = {}
        shown: list[Shown] = []
        for finding in group:
            if _below(finding, floor_usd_per_month):
                shown.append((finding, [finding]))
                continue
            workloads.setdefault(tuple(_workload_subject(finding).items()), []).append(finding)
        for key, members in workloads.items():
            if len(members) == 1:
                shown.append((members[0], members))
                continue
            subject = dict(key)
            headline = (
                f"{len(members)} containers of {subject.get('workload', '?')} in "
                f"{subject.get('namespace', '?')}"
            )
            ranked = sorted(members, key=_rank)
            shown.append((_rolled_up(members, subject, headline, ranked), members))
        shown.sort(key=lambda s: _rank(s[0]))
        kept = [s for s in shown if not _below(s[0], floor_usd_per_month)][: int(keep)]
        out.extend(finding for finding, _ in kept)
        kept_ids = {id(finding) for finding, _ in kept}
        rest = [s for s in shown if id(s[0]) not in kept_ids]
        out.extend(_summaries(check, rest, int(namespaces), int(keep), floor_usd_per_month))
    return out


def _workload_subject(finding: Finding) -> dict[str, str]:
    """The subject a pod's finding is merged under: its workload, the owner the Kubernetes
    inventory named (``evidence["workload"]``), else the one its name was made from.

    >>> owned = Finding("no_memory_limit", "warning", {"namespace": "n", "pod": "db-7",
    ...                 "container": "c"}, "s", evidence={"workload_kind": "StatefulSet",
    ...                 "workload": "orders-db"})
    >>> _workload_subject(owned)
    {'namespace': 'n', 'workload_kind': 'StatefulSet', 'workload': 'orders-db', 'container': 'c'}
    """
    subject = dict(finding.subject)
    if "pod" not in subject:
        return subject
    pod = subject.pop("pod")
    evidence = finding.evidence or {}
    owner = {"workload": workload_from_pod(pod)}
    if evidence.get("workload"):
        owner = {"workload_kind": str(evidence.get("workload_kind") or ""),
                 "workload": str(evidence["workload"])}  # fmt: skip
        owner = {k: v for k, v in owner.items() if v}
    rest = {k: v for k, v in subject.items() if k != "namespace"}
    return {"namespace": subject.get("namespace", ""), **owner, **rest}


def _below(finding: Finding, floor_usd_per_month: float) -> bool:
    return (
        finding.unit == "$/month"
        and isinstance(finding.value, float)
        and finding.value < floor_usd_per_month
    )


def _rank(finding: Finding) -> tuple:
    return (_SEVERITY_ORDER[finding.severity], -(_number(finding.value) or 0.0))


def _summaries(
    check: str, rest: Sequence[Shown], namespaces: int, keep: int, floor_usd_per_month: float
) -> list[Finding]:
    """The summaries of ``rest`` (of one ``check``, ranked): one per namespace for the
    ``namespaces`` namespaces with the most original findings (then the most ``$``, then by
    name), one for all the others; a group of one is shown as it is."""
    groups: dict[str, list[Shown]] = {}
    for entry in rest:
        groups.setdefault(entry[0].subject.get("namespace", ""), []).append(entry)

    def weight(namespace: str) -> tuple:
        originals = [f for _, members in groups[namespace] for f in members]
        return (-len(originals), -(_money(originals) or 0.0), namespace)

    ranked = sorted(groups, key=weight)
    out = []
    for namespace in ranked[:namespaces]:
        subject = {"namespace": namespace, "scope": "rolled up"}
        out.append(_summary(check, groups[namespace], subject, f"in {namespace}", keep,
                            floor_usd_per_month))  # fmt: skip
    others = ranked[namespaces:]
    if others:
        entries = sorted((e for n in others for e in groups[n]), key=lambda s: _rank(s[0]))
        where = f"in {len(others)} other namespace{'s' if len(others) > 1 else ''}"
        by_namespace = {"by_namespace": {n: sum(len(m) for _, m in groups[n]) for n in others}}
        summary = _summary(check, entries, {"scope": "rolled up"}, where, keep,
                           floor_usd_per_month, by_namespace)  # fmt: skip
        out.append(summary)
    return out


def _summary(
    check: str,
    entries: Sequence[Shown],
    subject: dict[str, str],
    where: str,
    keep: int,
    floor_usd_per_month: float,
    extra: dict[str, Any] | None = None,
) -> Finding:
    """One finding for ``entries`` (ranked), or the one entry's own finding."""
    if len(entries) == 1:  # a summary of one says less than the finding itself
        return entries[0][0]
    originals = [f for _, members in entries for f in members]
    under = sum(len(m) for f, m in entries if _below(f, floor_usd_per_month))
    beyond, floor = f"beyond the {keep} largest", f"under ${floor_usd_per_month:g}/month each"
    if under in (0, len(originals)):
        why = [beyond if not under else floor]
    else:
        why = [f"{len(originals) - under:,} {beyond}", f"{under:,} {floor}"]
    total = _money(originals)
    worth = f", ${total:,.2f}/month together" if total is not None else ""
    headline = f"{len(originals):,} more {check} findings {where} ({'; '.join(why)}{worth})"
    return _rolled_up(originals, subject, headline, [f for f, _ in entries], extra)


OBJECT_CHECKS = ("unused_index", "duplicate_index", "index_bloat", "table_bloat")
"""Database checks with one finding per object, which :func:`rollup_objects` folds."""


def _object_bytes(finding: Finding) -> float:
    """The bytes a per-object finding is about: its value when in bytes (duplicate, bloat),
    else the object's ``size_bytes`` (unused_index counts scans)."""
    value = finding.value if finding.unit == "bytes" else (finding.evidence or {}).get("size_bytes")
    return _number(value) or 0.0


def _object_scans(finding: Finding) -> float | None:
    scans = finding.value if finding.unit == "scans" else (finding.evidence or {}).get("idx_scan")
    return _number(scans)


def rollup_objects(
    findings: Sequence[Finding],
    above: float = 30,
    keep: float = 10,
    floor_bytes: float = MIB,
    namespaces: float = 3,
) -> list[Finding]:
    """``findings`` with each of :data:`OBJECT_CHECKS` that fires more than ``above`` times
    folded: objects under ``floor_bytes``, and those beyond the ``keep`` largest, become one
    finding per check and schema (when more than one) whose value is their bytes together,
    whose evidence lists every object (``objects``: name, size_bytes, scans) and whose
    ``fix_sql`` is all of theirs, one statement per line. Only the ``namespaces`` schemas
    with the most such objects get a finding each; the objects of all other schemas are one
    finding per check (subject ``{"scope": "rolled up"}``, ``evidence.by_schema`` their
    count per schema). Other findings, and checks that fire less often, pass unchanged.

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
            schemas.setdefault(_schema(finding), []).append(finding)
        ranked_schemas = sorted(schemas, key=lambda n: (-len(schemas[n]), n))
        groups = [({"schema": n, "scope": "rolled up"}, f"schema {n or '?'}", schemas[n], {})
                  for n in ranked_schemas[: int(namespaces)]]  # fmt: skip
        others = ranked_schemas[int(namespaces) :]
        if others:
            where = f"{len(others)} other schema{'s' if len(others) > 1 else ''}"
            members = [f for f in folded if _schema(f) in others]
            by_schema = {"by_schema": {n: len(schemas[n]) for n in others}}
            groups.append(({"scope": "rolled up"}, where, members, by_schema))
        for subject, where, members, extra in groups:
            if len(members) == 1:  # a summary of one says less than the finding itself
                out.extend(members)
            else:
                out.append(_folded_objects(check, subject, where, members, extra, floor_bytes,
                                           int(keep)))  # fmt: skip
    return out


def _schema(finding: Finding) -> str:
    """The schema of a per-object finding's object (``schema.name``), else ``""``."""
    name = next(iter(finding.subject.values()), "")
    return name.split(".", 1)[0] if "." in name else ""


def _folded_objects(
    check: str,
    subject: dict[str, str],
    where: str,
    members: Sequence[Finding],
    extra: dict[str, Any],
    floor_bytes: float,
    keep: int,
) -> Finding:
    total = float(sum(_object_bytes(f) for f in members))
    objects = [
        {"name": next(iter(f.subject.values()), ""), "size_bytes": _object_bytes(f),
         "scans": _object_scans(f)}
        for f in members
    ]  # fmt: skip
    fixes = [str((f.evidence or {}).get("fix_sql") or "") for f in members]
    summary = (
        f"{len(members):,} more {check} findings in {where} (each under "
        f"{human_bytes(floor_bytes)}, or beyond the {keep} largest), {human_bytes(total)} "
        "together; every one is listed in the evidence."
    )
    evidence: dict[str, Any] = {
        "count": len(members),
        "total_bytes": total,
        "size_bytes": total,  # what unused_index findings are ranked by
        "objects": objects,
        **extra,
    }
    if any(fixes):
        evidence["fix_sql"] = "\n".join(fix for fix in fixes if fix)
    return Finding(
        check,
        _worst(members).severity,
        subject,
        summary,
        total,
        floor_bytes,
        "bytes",
        evidence,
    )
