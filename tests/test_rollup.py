"""Findings at fleet scale (dwcp_diag/analysis/rollup.py): a synthetic fleet of 10,000
containers in 25 (or 100) namespaces, with the memory and cost checks firing on a share of
them as they did on the 10,000-container scale fleet (``benchmarks/scale.py``), rolls up to a
bounded number of findings and a findings file under 100 KB; nothing is lost (the counts in
evidence add up, per check and per namespace, to what was found, and so do the dollars); a
small cluster's findings are unchanged.

The findings are built with the shapes the reports give them (subjects, summaries, evidence
and fix commands of about the real length), deterministically (a seeded generator).
"""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest

from dwcp_diag.analysis.findings import Finding, Findings, findings_file_text
from dwcp_diag.analysis.rollup import rollup, subject_name, workload_from_pod

CONTAINERS = 10_000
KEEP, NAMESPACES = 10, 3
# check -> (share of the fleet's containers it fires on, unit); a leak or an OOM kill is rare,
# a CPU request above usage is common (the 10,000-container fleet had 3,000 such findings)
FIRING = {
    "no_memory_limit": (0.03, "bytes"),
    "memory_leak": (0.01, "MiB/h"),
    "memory_near_limit": (0.03, "ratio"),
    "oom_killed": (0.02, "count"),
    "frequent_restarts": (0.02, "count"),
    "overprovisioned_cpu": (0.30, "$/month"),
    "overprovisioned_memory": (0.10, "$/month"),
    "underprovisioned": (0.10, "x request"),
}
MEMORY_CHECKS = ("no_memory_limit", "memory_leak", "memory_near_limit", "oom_killed",
                 "frequent_restarts")  # fmt: skip


def _pod(rng: random.Random, workload: str) -> str:
    letters = "bcdfghjklmnpqrstvwxz2456789"
    return f"{workload}-{''.join(rng.choices(letters, k=9))}-{''.join(rng.choices(letters, k=5))}"


def fleet(namespaces: int, seed: int = 23) -> list[Finding]:
    """Findings of every check in :data:`FIRING` on a fleet of :data:`CONTAINERS` containers
    in ``namespaces`` namespaces (the memory checks' per pod, three pods per workload; the
    cost checks' per workload and container)."""
    rng = random.Random(seed)
    found = []
    for check, (share, unit) in FIRING.items():
        for i in rng.sample(range(CONTAINERS), int(CONTAINERS * share)):
            workload = f"svc-{i // 3:05d}"  # three containers in a row share a workload
            namespace = f"team-{i // 3 % namespaces:02d}"
            cost = unit in ("$/month", "x request")  # per workload and container
            subject = (
                {"namespace": namespace, "workload_kind": "Deployment", "workload": workload,
                 "container": f"app-{i % 3}"}
                if cost
                else {"namespace": namespace, "pod": _pod(rng, workload), "container": "app"}
            )  # fmt: skip
            if check == "underprovisioned":
                subject["resource"] = rng.choice(["cpu", "memory"])
            value = round(rng.lognormvariate(2.5, 1.2), 2) if unit == "$/month" else (
                rng.uniform(1.0, 40.0))  # fmt: skip
            severity = rng.choice(["critical", "warning"] if not cost else ["warning", "info"])
            name = subject_name(subject)
            found.append(
                Finding(
                    check,
                    severity,
                    subject,
                    f"app in {name} {check.replace('_', ' ')}: {value:.1f} {unit} "
                    "(p99 1347 MiB of 297 MiB; it can take its node's memory).",
                    value,
                    1.0,
                    unit,
                    {
                        "working_set_bytes": rng.uniform(1e8, 2e9),
                        "memory_limit_bytes": 6.6e8,
                        "last_reason": "OOMKilled",
                        "restarts_scope": "window",
                    },
                    f"# new limit 832Mi: the limit it hit x 1.25, rounded up to 64 Mi\n"
                    f"kubectl -n {namespace} set resources deployment/{workload} -c app "
                    "--limits=memory=832Mi",
                )
            )
    return found


def _represented(finding: Finding) -> int:
    """How many original findings a finding stands for (the inputs have no ``count``)."""
    return int((finding.evidence or {}).get("count", 1))


def _by_check(findings: list[Finding]) -> dict[str, list[Finding]]:
    out: dict[str, list[Finding]] = {}
    for finding in findings:
        out.setdefault(finding.check, []).append(finding)
    return out


@pytest.mark.parametrize("namespaces", [25, 100])
def test_a_10000_container_fleet_rolls_up_to_a_bounded_readable_set(namespaces):
    found = fleet(namespaces)
    rolled = rollup(found, above=30, floor_usd_per_month=5, keep=KEEP, namespaces=NAMESPACES)
    per_check = Counter(f.check for f in rolled)
    assert set(per_check) == set(FIRING)
    # the bound: keep + namespaces + 1 per check, whatever the number of namespaces
    assert max(per_check.values()) <= KEEP + NAMESPACES + 1, per_check
    records = Findings(rolled).to_records()
    memory = findings_file_text([r for r in records if r["check"] in MEMORY_CHECKS])
    cost = findings_file_text([r for r in records if r["check"] not in MEMORY_CHECKS])
    # the target, both files together, with eight checks firing (the 10,000-container
    # scale fleet fires seven); measured: 80.9 KB at 25 namespaces, 87.9 KB at 100
    assert len(memory.encode()) + len(cost.encode()) < 100_000
    assert json.loads(memory) == [r for r in records if r["check"] in MEMORY_CHECKS]
    summaries = [f for f in rolled if f.subject.get("scope") == "rolled up"]
    for summary in summaries:  # a summary is short: 5 names, and a count per other namespace
        listed = len(summary.evidence.get("by_namespace", {}))
        assert len(json.dumps(summary.to_dict())) < 1_000 + 20 * listed


def test_rolling_up_a_fleet_loses_no_finding_no_namespace_and_no_dollar():
    found = fleet(25)
    pods = Counter((f.check, workload_from_pod(f.subject["pod"])) for f in found
                   if "pod" in f.subject)  # fmt: skip
    assert max(pods.values()) > 1  # some pods of one workload merge first: counted as theirs
    rolled = rollup(found, above=30, floor_usd_per_month=5, keep=KEEP, namespaces=NAMESPACES)
    for check, originals in _by_check(found).items():
        out = _by_check(rolled)[check]
        assert sum(_represented(f) for f in out) == len(originals), check
        per_namespace = Counter(f.subject["namespace"] for f in originals)
        seen: Counter = Counter()
        for finding in out:
            if "namespace" in finding.subject:
                seen[finding.subject["namespace"]] += _represented(finding)
            else:  # the one summary of all other namespaces
                assert finding.subject == {"scope": "rolled up"}
                seen.update(finding.evidence["by_namespace"])
        assert seen == per_namespace, check
        if originals[0].unit == "$/month":
            assert sum(f.value for f in out) == pytest.approx(sum(f.value for f in originals))
        worst = min(originals, key=lambda f: ("critical", "warning", "info").index(f.severity))
        assert {f.severity for f in out} >= {worst.severity}  # the worst severity survives


def test_the_summaries_name_the_worst_and_the_namespaces_with_the_most():
    found = fleet(25)
    rolled = rollup(found, above=30, floor_usd_per_month=5, keep=KEEP, namespaces=NAMESPACES)
    leaks = [f for f in rolled if f.check == "memory_leak"]
    kept, summaries = leaks[:KEEP], leaks[KEEP:]
    assert all("scope" not in f.subject for f in kept)
    own, (rest,) = summaries[:NAMESPACES], summaries[NAMESPACES:]
    counts = [f.evidence["count"] for f in own]
    assert counts == sorted(counts, reverse=True)  # the namespaces with the most, in order
    assert min(counts) >= max(rest.evidence["by_namespace"].values())
    assert sum(rest.evidence["by_namespace"].values()) == rest.evidence["count"]
    assert f"in {len(rest.evidence['by_namespace'])} other namespaces" in rest.summary
    for summary in summaries:
        worst = summary.evidence["worst"]
        assert worst.startswith("team-") and f"the worst: app in {worst} " in summary.summary
        assert len(summary.evidence["top"]) <= 5
    below = [f for f in rolled if f.check == "overprovisioned_cpu" and "under $5" in f.summary]
    assert below  # the findings under the floor are said to be, with their count


def test_a_small_cluster_s_findings_are_unchanged():
    found = [f for f in fleet(5) if f.check in ("memory_leak", "underprovisioned")]
    small = [f for f in found if f.check == "memory_leak"][:30] + [
        f for f in found if f.check == "underprovisioned"
    ][:30]
    assert rollup(small, above=30, keep=KEEP, namespaces=NAMESPACES) == small


def test_pods_roll_up_under_the_owner_the_inventory_named_not_a_guess_from_their_names():
    # a StatefulSet whose pods are named like a Deployment's, a Deployment's canary whose
    # pods share the stable one's prefix, and pods of no known owner (named by guess)
    def no_limit(pod: str, owner: tuple[str, str] | None) -> Finding:
        evidence = {"workload_kind": owner[0], "workload": owner[1]} if owner else {}
        subject = {"namespace": "shop", "pod": pod, "container": "app"}
        return Finding("no_memory_limit", "warning", subject, f"{pod} has no limit",
                       1.0, None, "bytes", evidence)  # fmt: skip

    found = [no_limit(f"orders-{i}", ("StatefulSet", "orders-db")) for i in range(12)]
    found += [no_limit(f"api-7d9f8c6b5d-x2x{i}k", ("Deployment", "api")) for i in range(10)]
    found += [no_limit(f"api-7d9f8c6b5d-q7w{i}k", ("Deployment", "api-canary")) for i in range(5)]
    found += [no_limit(f"batch-5f6d7c8b9d-z{i}z9k", None) for i in range(6)]
    rolled = rollup(found, above=30, keep=10)
    by_workload = {f.subject.get("workload"): f for f in rolled}
    assert set(by_workload) == {"orders-db", "api", "api-canary", "batch"}
    assert by_workload["orders-db"].subject["workload_kind"] == "StatefulSet"
    assert by_workload["api-canary"].evidence["count"] == 5
    assert by_workload["api"].evidence["count"] == 10
    assert "workload_kind" not in by_workload["batch"].subject  # guessed from the pod names
    assert sum(f.evidence["count"] for f in rolled) == len(found)
