"""notebooks/capacity.ipynb rendered against the live fixture servers (``rendered_live``).

The simulator plants compound traffic growth that reaches KI-002's 12,000 rps a few weeks
after the end of the data (``simulate().truth["capacity_growth"]``): the report must forecast
that crossing within its default 12-week horizon, near the planted date, and nothing else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from dwcp_diag.analysis.findings import CHECKS_BY_NOTEBOOK
from dwcp_diag.demo import DEMO_END

pytestmark = pytest.mark.slow
HORIZON_WEEKS = 12  # the notebook's default


@pytest.fixture(scope="module")
def truth(demo_cluster: Any) -> dict[str, Any]:
    return demo_cluster.truth


@pytest.fixture(scope="module")
def capacity(rendered_live: Any) -> Any:
    result = rendered_live.results["capacity"]
    assert result.ok, result.error
    return rendered_live


def test_renders_with_every_source_and_only_capacity_checks(capacity):
    assert capacity.findings("capacity", "source_unavailable") == []
    checks = {f["check"] for f in capacity.findings("capacity")}
    assert checks <= set(CHECKS_BY_NOTEBOOK["capacity"])


def test_planted_traffic_growth_reaches_ki_002_within_the_horizon(capacity, truth):
    traffic = truth["capacity_growth"]["traffic"]
    found = capacity.findings("capacity", "capacity_exhaustion")
    assert [f["subject"] for f in found] == [{"resource": "request_rate"}]  # and nothing else
    finding = found[0]
    assert finding["evidence"]["limit"] == traffic["limit_rps"]
    assert finding["severity"] in ("critical", "warning")  # the forecast itself crosses
    assert 0 < finding["value"] <= HORIZON_WEEKS
    crossing = pd.Timestamp(finding["evidence"]["crossing"], tz="UTC")
    assert DEMO_END < crossing <= DEMO_END + pd.Timedelta(weeks=HORIZON_WEEKS)
    # 10 days: the report forecasts the daily p95 (the peak hour), the truth projects the
    # instantaneous weekday peak, which reaches the limit a few days earlier
    planted = pd.Timestamp(traffic["projected_limit_date"])
    assert abs(crossing - planted) <= pd.Timedelta(days=10)


def test_backtest_error_is_printed_in_the_report(capacity):
    page = Path(capacity.results["capacity"].html).read_text()
    assert "Backtest of request_rate: forecasting the last 14 days from the first 14" in page
    assert "not within horizon" in page.lower()  # series that do not reach their limit say so
