"""notebooks/platform.ipynb rendered against the live fixture servers (``rendered_live``).

The simulator plants one case of each platform check (``simulate().truth["platform"]``,
see dwcp_diag/demo/platform.py) beside healthy controls: the report must find exactly the
planted ones, show each section's table and chart, and keep every cell thin.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dwcp_diag.checks import notebook_checks

pytestmark = pytest.mark.slow
NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "platform.ipynb"


@pytest.fixture(scope="module")
def truth(demo_cluster: Any) -> dict[str, Any]:
    return demo_cluster.truth["platform"]


@pytest.fixture(scope="module")
def platform(rendered_live: Any) -> Any:
    result = rendered_live.results["platform"]
    assert result.ok, result.error
    return rendered_live


def subjects(found: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [f["subject"] for f in found]


def test_renders_with_every_source_and_only_platform_checks(platform):
    assert platform.findings("platform", "source_unavailable") == []
    assert platform.findings("platform", "no_data") == []
    assert {f["check"] for f in platform.findings("platform")} == set(notebook_checks("platform"))


def test_each_planted_case_and_no_healthy_control(platform, truth):
    assert subjects(platform.findings("platform", "slow_startup")) == [
        truth["slow_startup"]["subject"]
    ]
    assert subjects(platform.findings("platform", "rollout_slow")) == [
        truth["rollout_slow"]["subject"]
    ]
    certificates = {
        tuple(sorted(f["subject"].items())): f["severity"]
        for f in platform.findings("platform", "certificate_expiry")
    }
    expected = {tuple(sorted(truth["certificate_expiry"]["critical"].items())): "critical"}
    expected |= {
        tuple(sorted(s.items())): "warning" for s in truth["certificate_expiry"]["warning"]
    }
    assert certificates == expected
    assert subjects(platform.findings("platform", "consumer_lag_high")) == [
        truth["consumer_lag_high"]["subject"]
    ]
    assert subjects(platform.findings("platform", "redis_saturation")) == [
        truth["redis_saturation"]["subject"]
    ]


def test_findings_lead_with_the_expired_soonest_and_carry_fixes(platform):
    found = platform.findings("platform")
    assert (found[0]["check"], found[0]["severity"]) == ("certificate_expiry", "critical")
    assert all(f.get("fix") for f in found)
    slow = platform.findings("platform", "slow_startup")[0]
    assert slow["value_text"] == "4m" and "pre-pull DaemonSet" in slow["fix"]


def test_report_shows_each_section(platform):
    page = Path(platform.results["platform"].html).read_text(encoding="utf-8")
    for text in (
        "Pod start: median phases",
        "Days until each certificate expires",
        "Consumer lag (messages)",
        "Redis clients, % of maxclients",
        "KI-002 limit 12,000 rps",
    ):
        assert text in page, text


def test_notebook_is_thin_and_stripped():
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert all(len(c["source"]) < 10 and not c["outputs"] for c in code)
    assert all(c["execution_count"] is None for c in code)
