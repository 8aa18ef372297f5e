"""notebooks/latency.ipynb rendered against the live fixture servers (``rendered_live``).

The simulator's seeded latency incident and error burst (``simulate().truth``) must come out as
findings on the right endpoint at a time inside the seeded window; its healthy endpoints must
not breach; the report must carry its figures.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from dwcp_diag.analysis.findings import CHECKS_BY_NOTEBOOK
from dwcp_diag.analysis.latency import error_rate_findings
from dwcp_diag.config import SLOTargets

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def seeded_incident(demo_cluster: Any) -> dict[str, Any]:
    return demo_cluster.truth["latency_incident"]


@pytest.fixture(scope="module")
def latency(rendered_live: Any) -> Any:
    result = rendered_live.results["latency"]
    assert result.ok, result.error
    return rendered_live


def inside(finding: dict[str, Any], seeded: dict[str, Any]) -> bool:
    """The finding's moment (its evidence ``time``) lies in the seeded window."""
    moment = pd.Timestamp(finding["evidence"]["time"])
    return pd.Timestamp(seeded["start"]) <= moment <= pd.Timestamp(seeded["end"])


def test_renders_with_prometheus_and_only_latency_checks(latency):
    assert latency.findings("latency", "source_unavailable") == []
    checks = {f["check"] for f in latency.findings("latency")}
    assert checks <= set(CHECKS_BY_NOTEBOOK["latency"])


def test_seeded_latency_incident_is_a_breach_of_its_endpoint_inside_the_window(
    latency, seeded_incident
):
    seeded = seeded_incident["latency"]
    found = latency.findings("latency", "latency_slo_breach")
    assert [f["subject"] for f in found] == [{"path": seeded["subject"]["path"]}]
    breach = found[0]
    assert inside(breach, seeded), breach["evidence"]
    started = pd.Timestamp(breach["evidence"]["start"])
    assert pd.Timestamp(seeded["start"]) <= started <= pd.Timestamp(seeded["end"])
    assert breach["threshold"] == seeded_incident["slo"]["p95_s"] * 1000
    assert breach["value"] == pytest.approx(seeded["p95_s"] * 1000, rel=0.1)


def test_seeded_error_burst_is_an_error_rate_breach_of_its_endpoint_inside_the_window(
    latency, seeded_incident
):
    seeded = seeded_incident["errors"]
    found = latency.findings("latency", "error_rate_breach")
    by_path = [f for f in found if "path" in f["subject"]]
    assert [f["subject"] for f in by_path] == [{"path": seeded["subject"]["path"]}]
    burst = by_path[0]
    assert inside(burst, seeded), burst["evidence"]
    assert burst["evidence"]["peak_step_pct"] == pytest.approx(
        seeded["server_error_ratio"] * 100, rel=0.2
    )
    # the burst lasts minutes in a week: it shows as a burst, not as the week's average
    assert burst["evidence"]["window_pct"] < burst["threshold"] < burst["value"]


def test_healthy_endpoints_have_no_latency_breach(latency, seeded_incident):
    healthy = set(seeded_incident["normal_p95_s_at_peak"]) - {
        seeded_incident["latency"]["subject"]["path"]
    }
    assert "/healthz" in healthy
    breached = {f["subject"].get("path") for f in latency.findings("latency", "latency_slo_breach")}
    assert healthy.isdisjoint(breached)
    erroring = {f["subject"].get("path") for f in latency.findings("latency", "error_rate_breach")}
    assert (healthy - {seeded_incident["errors"]["subject"]["path"]}).isdisjoint(erroring)


def test_every_burn_rate_pair_was_evaluated_over_the_whole_window(latency):
    # the request counter is read from 3 days before the window: no pair is skipped
    skipped = [
        f for f in latency.findings("latency", "error_budget_burn") if f["severity"] == "info"
    ]
    assert skipped == []


def test_report_has_its_figures_inline(latency):
    page = Path(latency.results["latency"].html).read_text()
    assert page.count("plotly.js (cartesian - minified) v") == 1  # embedded once, no CDN
    assert len(re.findall(r'class="plotly-graph-div"', page)) >= 9
    for title in (
        "Latency quantiles",
        "p95 latency by endpoint",
        "Latency distribution",
        "Request rate, top",
        "Error rate (5xx) by endpoint",
        "Error budget burn rate",
    ):
        assert title in page, title
    assert '"type":"heatmap"' in page
    assert "SLO ratio vs interpolated p95" in page and "Slowest endpoints" in page


def test_a_burst_diluted_by_the_window_is_still_an_error_rate_breach():
    """A 15-minute 5 % burst in a day of traffic: under 0.1 % on average, over it for 15 min."""
    times = pd.date_range("2026-11-12T00:01Z", periods=24 * 60, freq="1min")
    burst = (times >= "2026-11-12T14:10Z") & (times < "2026-11-12T14:25Z")
    counts = pd.DataFrame(
        {"path": "/orders", "timestamp": times, "requests": 6000.0, "errors": 6000.0 * 0.0002}
    )
    counts.loc[burst, "errors"] = 6000.0 * 0.05
    found = error_rate_findings(counts, SLOTargets(), step_s=60.0)
    by_path = [f for f in found if f.subject == {"path": "/orders"}]
    assert len(by_path) == 1 and by_path[0].severity == "critical"
    assert by_path[0].value == pytest.approx(5.0)
    assert by_path[0].evidence["window_pct"] < 0.1
    assert by_path[0].evidence["over_target_s"] == 15 * 60.0
    steady = counts.assign(errors=6000.0 * 0.0002)
    assert error_rate_findings(steady, SLOTargets(), step_s=60.0) == []
