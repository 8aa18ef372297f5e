"""Trends across periods read from disk: cost per namespace/workload, forecast drift."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from dwcp_diag.cli import main
from dwcp_diag.config import Profile
from dwcp_diag.report.trends import (
    cost_history,
    crossing_history,
    drift_days,
    forecast_drift_findings,
)

pytestmark = pytest.mark.server  # every test here renders (kernels) or runs a server


def exhaustion(crossing: str, **subject) -> dict:
    return {
        "check": "capacity_exhaustion",
        "severity": "warning",
        "subject": subject,
        "summary": "s",
        "value": 5.0,
        "evidence": {"crossing": crossing},
    }


def write_period(root: Path, label: str, findings=None, cost=None) -> Path:
    folder = root / label
    folder.mkdir(parents=True)
    if findings is not None:
        (folder / "capacity.findings.json").write_text(json.dumps(findings))
    if cost is not None:
        (folder / "cost.trend.json").write_text(json.dumps({"cost": cost}))
    return folder


def test_drift_needs_every_recent_move_to_come_closer_by_min_days():
    assert drift_days({"a": "2027-03-01", "b": "2027-02-20", "c": "2027-02-10"}) == 19.0
    assert drift_days({"a": "2027-03-01", "b": "2027-02-20"}) == 0.0  # one move only
    assert drift_days({"a": "2027-03-01", "b": "2027-03-10", "c": "2027-02-10"}) == 0.0
    assert drift_days({"a": "2027-03-01", "b": "2027-02-27", "c": "2027-02-20"}) == 0.0  # 2 d
    assert drift_days({"a": "2027-03-01", "b": "2027-02-27", "c": "2027-02-20"}, 2, 1) == 9.0


def test_forecast_drift_fires_only_for_the_forecast_that_keeps_moving_closer(tmp_path):
    w45 = write_period(
        tmp_path,
        "2026-W45",
        [
            exhaustion("2027-03-01", resource="pg_connections"),
            exhaustion("2027-03-01", resource="cluster_cpu"),
            exhaustion("2027-03-01", resource="pv_usage", pv="data-kafka-0"),
        ],
    )
    w46 = write_period(
        tmp_path,
        "2026-W46",
        [
            exhaustion("2027-02-15", resource="pg_connections"),
            exhaustion("2027-03-08", resource="cluster_cpu"),  # moved away, then closer
            exhaustion("2027-03-01", resource="pv_usage", pv="data-kafka-0"),  # steady
        ],
    )
    current = [
        exhaustion("2027-02-01", resource="pg_connections"),
        exhaustion("2027-02-20", resource="cluster_cpu"),
        exhaustion("2027-03-01", resource="pv_usage", pv="data-kafka-0"),
        {"check": "headroom_low", "severity": "warning", "subject": {"zone": "a"}},
    ]
    frame = crossing_history([str(w45), str(w46)], current, "2026-W47")
    assert sorted(frame["period"].unique()) == ["2026-W45", "2026-W46", "2026-W47"]
    (drift,) = forecast_drift_findings(frame)
    record = drift.to_dict()
    assert record["check"] == "forecast_drift" and record["severity"] == "warning"
    assert record["subject"] == {"resource": "pg_connections"}
    assert record["value"] == 28.0 and record["unit"] == "days"
    assert record["evidence"]["crossings"][-1] == "2026-W47: 2027-02-01"
    # a profile can ask for more evidence before warning
    strict = Profile(thresholds={"forecast_drift": {"min_moves": 3}})
    assert list(forecast_drift_findings(frame, strict)) == []


def test_cost_history_reads_earlier_periods_and_skips_unreadable_ones(tmp_path):
    w45 = write_period(tmp_path, "2026-W45", cost={"namespace": {"data": 100.0}, "workload": {}})
    w46 = write_period(tmp_path, "2026-W46")
    (w46 / "cost.trend.json").write_text("{not json")
    now = {"namespace": {"data": 120.0, "staging": 40.0}, "workload": {"data/kafka": 90.0}}
    frame = cost_history([str(w45), str(w46)], now, "2026-W47")
    by_namespace = frame[frame["level"] == "namespace"]
    assert by_namespace[["period", "group", "cost_usd_per_month"]].values.tolist() == [
        ["2026-W45", "data", 100.0],
        ["2026-W47", "data", 120.0],
        ["2026-W47", "staging", 40.0],
    ]


@pytest.mark.slow
def test_cost_and_capacity_trends_read_the_earlier_weeks_from_disk(rendered_demo, tmp_path):
    # this week's cost and capacity reports from the demo: the session's `dwcp-diag demo`
    assert rendered_demo.exit_code == 0
    first = tmp_path / "first"
    first.mkdir()
    for path in [*rendered_demo.out_dir.glob("cost.*"), *rendered_demo.out_dir.glob("capacity.*")]:
        shutil.copy2(path, first / path.name)
    trend = json.loads((first / "cost.trend.json").read_text())["cost"]
    assert trend["namespace"] and all(v > 0 for v in trend["namespace"].values())
    assert set(trend["workload"]) >= {"data/kafka", "production/dwcp-api"}
    findings = json.loads((first / "capacity.findings.json").read_text())
    crossings = [
        f for f in findings if f["check"] == "capacity_exhaustion" and f["evidence"]["crossing"]
    ]
    assert crossings, "the demo's capacity growth gives exhaustion forecasts"
    # two earlier weeks on disk: costs at half and three quarters of this week's; every
    # exhaustion date 30 and 15 days later than this week's, so each keeps moving closer
    weekly = tmp_path / "reports" / "weekly"
    for label, cost_share, later_days in (("2026-W44", 0.5, 30), ("2026-W45", 0.75, 15)):
        folder = weekly / label
        shutil.copytree(first, folder)
        shifted = {
            level: {k: v * cost_share for k, v in values.items()} for level, values in trend.items()
        }
        (folder / "cost.trend.json").write_text(json.dumps({"cost": shifted}))
        moved = []
        for f in findings:
            if f["check"] == "capacity_exhaustion" and f["evidence"].get("crossing"):
                day = pd.Timestamp(f["evidence"]["crossing"]) + pd.Timedelta(days=later_days)
                f = {**f, "evidence": {**f["evidence"], "crossing": f"{day:%Y-%m-%d}"}}
            moved.append(f)
        (folder / "capacity.findings.json").write_text(json.dumps(moved))
    now = weekly / "2026-W46"
    assert main(["render", "cost", "capacity", "--source", "demo", "--out", str(now),
                 "--compare", str(weekly / "2026-W45")]) == 0  # fmt: skip
    drift = [
        f for f in json.loads((now / "capacity.findings.json").read_text())
        if f["check"] == "forecast_drift"
    ]  # fmt: skip
    assert sorted(json.dumps(f["subject"]) for f in drift) == sorted(
        json.dumps(c["subject"]) for c in crossings
    )
    assert all(f["value"] == 30.0 and f["status"] == "new" for f in drift)
    cost_trend = json.loads((now / "cost.trend.json").read_text())["cost"]
    assert cost_trend == trend  # this week's own figures, not the earlier ones
    page = (now / "cost.html").read_text()
    # the figure's JSON may escape "/" (plotly's own) or not (the compact embed)
    assert re.search(r"Cost per namespace, \$(\\u002f|/)month, week by week", page)
    for label in ("2026-W44", "2026-W45", "2026-W46"):
        assert label in page
    capacity_page = (now / "capacity.html").read_text()
    assert "Forecast exhaustion date, period by period" in capacity_page
    assert "since 2026-W45" in capacity_page
