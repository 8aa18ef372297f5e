"""The findings contract (DESIGN.md): ids, severities, order, JSON and notebook display."""

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
    source_unavailable,
)


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
    }


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
