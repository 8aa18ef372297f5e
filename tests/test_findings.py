"""The findings contract (README "Findings", dwcp_diag/checks.py): ids, severities, order, JSON
and notebook display."""

from __future__ import annotations

import json
import math

import pytest

from dwcp_diag.analysis.findings import (
    CHECK_IDS,
    FINDINGS_MIMETYPE,
    Finding,
    FindingError,
    Findings,
    findings_table_html,
    memory_limit_mib,
    merge_overlapping,
    source_unavailable,
)
from dwcp_diag.units import MIB


def test_every_design_check_id_is_known():
    for check in (
        "latency_slo_breach",
        "error_budget_burn",
        "slow_query",
        "xid_wraparound_risk",
        "memory_leak",
        "frequent_restarts",
        "unused_pv",
        "capacity_exhaustion",
        "consumer_lag_spike",
        "source_unavailable",
        "stats_unavailable",
    ):
        assert check in CHECK_IDS


def test_unknown_check_or_severity_is_refused():
    with pytest.raises(FindingError, match="unknown check id 'slow'"):
        Finding("slow", "warning", {}, "x")
    with pytest.raises(FindingError, match="severity 'high'"):
        Finding("slow_query", "high", {}, "x")


def test_most_severe_first_and_json_safe_values():
    items = Findings(
        [
            Finding("unused_index", "info", {"index": "i"}, "unused", 0, 0, "scans"),
            Finding("oom_killed", "critical", {"pod": "p"}, "killed", 3, 0, "count"),
            Finding("slow_query", "warning", {"queryid": "1"}, "slow", math.nan, 20, "ms"),
        ]
    )
    assert [f.severity for f in items] == ["critical", "warning", "info"]
    assert items.worst_severity() == "critical"
    records = json.loads(json.dumps(items.to_records()))
    assert records[1]["value"] is None  # NaN is not JSON: it becomes null
    assert set(records[0]) == {
        "check",
        "severity",
        "subject",
        "summary",
        "value",
        "threshold",
        "unit",
        "value_text",
    }
    assert records[1]["value_text"] == ""  # no value, nothing to show


def test_publish_emits_the_findings_mimetype(capsys, monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, raw=False: shown.append(obj))
    Findings([source_unavailable("postgres", "connection refused")]).publish()
    bundle = shown[0]
    assert bundle[FINDINGS_MIMETYPE][0]["check"] == "source_unavailable"
    assert "connection refused" in bundle["text/html"]
    assert "#c62828" in bundle["text/html"]  # critical is red


def test_empty_findings_render_a_reassuring_line():
    assert "No findings" in Findings()._repr_html_()


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (1901000.0, "bytes", "1.8 MiB"),
        (1932750848.0, "bytes", "1.8 GiB"),
        (110000.0, "tuples", "110,000 tuples"),
        (12000.0, "rps", "12,000 rps"),
        (2.0, "$/month", "$2.00/month"),
        (55.93475929999742, "$/month", "$55.93/month"),
        (89.860853, "s", "1m30s"),
        (69.34019851, "ms", "69.3 ms"),
        (99.71933385082306, "%", "99.72 %"),
        (1.0102, "ratio", "101 %"),
        (25.001420454545453, "MiB/h", "25 MiB/h"),
        (1.9999923706054688, "x request", "2.0× request"),
        (0.000012, "ratio", "0.0012 %"),
        (3.2e15, "bytes", "2910.4 TiB"),
    ],
)
def test_value_text_is_in_human_units_never_scientific(value, unit, text):
    record = Finding("oom_killed", "warning", {}, "s", value, None, unit).to_dict()
    assert record["value"] == value  # the raw number stays (contract)
    assert record["value_text"] == text
    assert "e+" not in record["value_text"] and "e-" not in record["value_text"]


def test_within_a_severity_the_most_urgent_check_then_the_largest_impact_comes_first():
    items = Findings(
        [
            Finding("vacuum_lag", "critical", {"table": "t"}, "dead", 110000, 0, "tuples"),
            Finding("table_bloat", "warning", {"table": "small"}, "b", 2**20, 0, "bytes"),
            Finding("table_bloat", "warning", {"table": "big"}, "b", 2**30, 0, "bytes"),
            Finding("sequence_exhaustion", "critical", {"sequence": "s"}, "seq", 95, 80, "%"),
            Finding("connection_saturation", "critical", {"database": "d"}, "c", 1.01, 0.9),
            Finding("memory_leak", "warning", {"pod": "late"}, "l", 5, 0, "MiB/h",
                    {"hours_to_limit": 300.0}),
            Finding("memory_leak", "warning", {"pod": "soon"}, "l", 1, 0, "MiB/h",
                    {"hours_to_limit": 3.0}),
            Finding("memory_leak", "warning", {"pod": "no limit"}, "l", 9, 0, "MiB/h", {}),
            Finding("memory_leak", "warning", {"pod": "now"}, "l", 1, 0, "MiB/h",
                    {"hours_to_limit": 0.0}),
        ]
    )  # fmt: skip
    assert [(f.check, next(iter(f.subject.values()))) for f in items] == [
        ("connection_saturation", "d"),  # new connections fail now
        ("sequence_exhaustion", "s"),
        ("vacuum_lag", "t"),
        ("memory_leak", "now"),  # at its limit already
        ("memory_leak", "soon"),  # 3 h to the limit before 300 h
        ("memory_leak", "late"),
        ("memory_leak", "no limit"),  # no time to the limit known: after those with one
        ("table_bloat", "big"),  # 1 GiB before 1 MiB
        ("table_bloat", "small"),
    ]


def test_an_index_both_unused_and_duplicate_is_one_finding_with_one_fix():
    drop = 'DROP INDEX CONCURRENTLY "public"."users_email_idx";'
    unused = Finding(
        "unused_index",
        "info",
        {"index": "public.users_email_idx"},
        "Index users_email_idx was scanned 0 times.",
        0,
        50,
        "scans",
        {"fix_sql": drop, "size_bytes": 827392},
    )
    duplicate = Finding(
        "duplicate_index",
        "warning",
        {"index": "public.users_email_idx"},
        "Index users_email_idx is identical to users_email_key.",
        827392,
        None,
        "bytes",
        {"fix_sql": drop},
    )
    other = Finding(
        "unused_index",
        "warning",
        {"index": "public.other_idx"},
        "unused",
        0,
        50,
        "scans",
        {"fix_sql": "DROP INDEX other_idx;"},
    )
    merged = Findings(merge_overlapping([unused, other, duplicate]))
    assert [(f.check, f.subject["index"]) for f in merged] == [
        ("duplicate_index", "public.users_email_idx"),
        ("unused_index", "public.other_idx"),
    ]
    assert "scanned 0 times" in merged[0].summary and merged[0].severity == "warning"
    page = findings_table_html(merged.to_records())
    assert page.count(drop.replace('"', "&quot;")) == 1  # one fix, shown once


def test_findings_table_shows_value_text_and_folds_each_fix_beside_its_finding():
    records = Findings(
        [
            Finding("table_bloat", "warning", {"table": "a"}, "bloated", 15187968.0, 0, "bytes",
                    {"fix_sql": "VACUUM FULL a;"}),
            Finding("oom_killed", "critical", {"pod": "p"}, "killed", 6, 0, "count",
                    fix="kubectl -n shop set resources deploy/p --limits=memory=1Gi"),
        ]
    ).to_records()  # fmt: skip
    page = findings_table_html(records)
    assert "14.5 MiB" in page and "1.519e+07" not in page
    rows = page.split("<tr>")[2:]
    assert "kubectl -n shop set resources" in rows[0] and "<details" in rows[0]
    assert "VACUUM FULL a;" in rows[1] and "<details" in rows[1]


def test_right_sizing_and_unused_volume_findings_carry_the_command_that_fixes_them():
    workload = {"namespace": "production", "workload": "dwcp-worker",
                "workload_kind": "Deployment", "container": "worker"}  # fmt: skip
    under = Finding(
        "underprovisioned",
        "warning",
        {**workload, "resource": "memory"},
        "u",
        2.0,
        1.0,
        "x request",
        {"usage": 1073737728.0, "request": 536870912.0},
    )
    over = Finding(
        "overprovisioned_cpu",
        "warning",
        workload,
        "o",
        55.9,
        0,
        "$/month",
        {"recommended": 0.3945, "request": 1.0},
    )
    released = Finding(
        "unused_pv",
        "warning",
        {"pv": "pv-archive"},
        "p",
        2.0,
        0,
        "$/month",
        {"claim_name": None, "claim_namespace": None},
    )
    bound = Finding(
        "unused_pv",
        "warning",
        {"pv": "pvc-1"},
        "p",
        4.0,
        0,
        "$/month",
        {"claim_name": "scratch", "claim_namespace": "production"},
    )
    idle = Finding("idle_workload", "warning", workload, "i", 117.0, 0, "$/month", {})
    fixes = [f.to_dict().get("fix") for f in (under, over, released, bound, idle)]
    assert fixes[0] == (
        "kubectl -n production set resources deployment/dwcp-worker -c worker "
        "--requests=memory=1024Mi"
    )
    assert fixes[1].endswith("-c worker --requests=cpu=395m")
    assert fixes[2].endswith("kubectl delete pv pv-archive")
    assert fixes[3].endswith("kubectl -n production delete pvc scratch")
    assert fixes[4] is None  # no command known to be right: none shown


def test_every_check_has_an_impact_rank():
    """A check added without one would sort after every other check of its severity."""
    from dwcp_diag.analysis.findings import CHECK_IDS, IMPACT

    ranked = {check for check, _, _ in IMPACT}
    assert sorted(CHECK_IDS - ranked) == []


def test_memory_limit_quantity_is_usage_times_1_25_rounded_up_to_64_mi():
    assert memory_limit_mib(1024 * MIB) == 1280  # exactly on a 64 Mi step: not one more
    assert memory_limit_mib(1024 * MIB + 1) == 1344  # a byte over: the next step
    assert memory_limit_mib(10 * MIB, floor_bytes=300 * MIB) == 320  # the floor, rounded up


def test_memory_fixes_never_lower_a_limit_and_stay_silent_without_evidence():
    pod = {"namespace": "shop", "pod": "api-1", "container": "api"}
    owner = {"workload_kind": "Deployment", "workload": "api"}
    # a profile with a low share threshold: p99 512 of 1024 Mi x 1.25 = 640 would lower it
    near = Finding("memory_near_limit", "warning", pod, "n", 0.5, 0.5, "ratio",
                   {"working_set_bytes": 512.0 * MIB, "memory_limit_bytes": 1024.0 * MIB,
                    **owner})  # fmt: skip
    assert near.to_dict()["fix"].endswith(
        "kubectl -n shop set resources deployment/api -c api --limits=memory=1088Mi"
    )
    # a CronJob's Job is not a template `kubectl set resources` can change: no command
    job = Finding("oom_killed", "warning", pod, "o", 1, 1, "count",
                  {"memory_limit_bytes": 256.0 * MIB, "workload_kind": "Job",
                   "workload": "backup-29012345"})  # fmt: skip
    assert "set resources" not in job.to_dict()["fix"]
    assert "Job backup-29012345" in job.to_dict()["fix"] and "320Mi" in job.to_dict()["fix"]
    # no limit known for an OOM kill, no peak for a missing limit: nothing to compute
    assert (
        Finding("oom_killed", "warning", pod, "o", 1, 1, "count", owner).to_dict().get("fix")
        is None
    )
    missing = Finding("no_memory_limit", "warning", pod, "m", None, None, "bytes", owner)
    assert missing.to_dict().get("fix") is None
