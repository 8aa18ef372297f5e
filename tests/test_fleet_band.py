"""At fleet scale the memory chart draws the top containers and the fleet's quantile band."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dwcp_diag.plots.memory import limit_share_figure

KEYS = ["namespace", "pod", "container"]


def fleet(containers: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``containers`` containers at n % of a 1 GB limit (n = 1..containers), 12 points each."""
    times = pd.date_range("2026-01-01", periods=12, freq="5min", tz="UTC")
    rows = [
        {"namespace": "ns", "pod": f"web-{n}", "container": "app", "timestamp": t,
         "value": n * 1e7 * (1 + 0.01 * i)}
        for n in range(1, containers + 1)
        for i, t in enumerate(times)
    ]  # fmt: skip
    working_set = pd.DataFrame(rows)
    limits = working_set[KEYS].drop_duplicates().assign(memory_limit_bytes=1e9)
    return working_set, limits


def test_a_fleet_is_its_top_containers_over_its_quantile_band():
    working_set, limits = fleet(80)
    fig = limit_share_figure(working_set, limits, top=5)
    names = [trace.name for trace in fig.data]
    assert names[:3] == [
        "all 80 containers: p50",
        "all 80 containers: p90",
        "all 80 containers: p99",
    ]
    assert names[3:] == [f"web-{n}" for n in range(76, 81)]  # the five highest, no others
    shares = 100 * working_set["value"] / 1e9
    first = shares[working_set["timestamp"] == working_set["timestamp"].min()]
    for trace, quantile in zip(fig.data[:3], (0.5, 0.9, 0.99), strict=True):
        assert np.isclose(trace.y[0], np.quantile(first, quantile))
    assert [trace.fill for trace in fig.data[:4]] == [None, "tonexty", "tonexty", None]


def test_a_small_cluster_has_a_line_per_container_and_no_band():
    working_set, limits = fleet(6)
    fig = limit_share_figure(working_set, limits, top=12)
    assert [trace.name for trace in fig.data] == [f"web-{n}" for n in range(1, 7)]
