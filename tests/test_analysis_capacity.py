"""Capacity analysis on constructed series whose answers are known (no servers).

Tolerances: crossing dates within ``CROSSING_TOLERANCE_DAYS`` (3 days) of the true date on
series with noise; slopes within 3 %; hand-computed headroom exactly (to float rounding).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from dwcp_diag.analysis.capacity import (
    FORECAST_COLUMNS,
    anomaly_table,
    backtest,
    capacity_findings,
    capacity_report,
    containers_from_prometheus,
    daily_peaks,
    forecast_crossing,
    forecast_table,
    growth_anomalies,
    headroom,
    latest_values,
    nodes_from_prometheus,
)
from dwcp_diag.config import Profile
from dwcp_diag.frames import conform
from dwcp_diag.plots.capacity import demand_figure, forecast_figure, headroom_figure

START = pd.Timestamp("2026-01-05T00:00:00Z")  # a Monday
DAY = pd.Timedelta(days=1)
CROSSING_TOLERANCE_DAYS = 3
# a Wednesday peak: a robust line without weekday offsets sits near the median day and would
# cross 14 days late ((600 - -100) / 50 per day)
WEEKLY_PROFILE = np.array([-100.0, 0.0, 600.0, 0.0, -100.0, -200.0, -200.0])


def days(n: int) -> pd.DatetimeIndex:
    return pd.date_range(START, periods=n, freq="D")


def series(values: np.ndarray) -> pd.Series:
    return pd.Series(values, index=days(len(values)))


def tidy(timestamps, values, **labels) -> pd.DataFrame:
    """A tidy Prometheus frame (categorical labels, UTC timestamps, float values)."""
    frame = pd.DataFrame({**labels, "timestamp": timestamps, "value": values})
    schema = {k: "category" for k in labels} | {"timestamp": "timestamp", "value": "float64"}
    return conform(frame, schema)


def every(minutes: int, n_days: float, start: pd.Timestamp = START) -> pd.DatetimeIndex:
    return pd.date_range(start, periods=int(n_days * 24 * 60 / minutes), freq=f"{minutes}min")


def first_future_day(values: np.ndarray, future: pd.DatetimeIndex, limit: float) -> pd.Timestamp:
    return future[np.flatnonzero(values >= limit)[0]]


# --------------------------------------------------------------------------- daily peaks


def test_daily_peaks_quantile_and_max_per_series():
    ts = every(60, 2)
    a = np.arange(48.0)
    frame = pd.concat([tidy(ts, a, path="/a"), tidy(ts, 100.0 - a, path="/b")])
    p95 = daily_peaks(frame, 0.95)
    peaks = daily_peaks(frame, "max")
    assert list(p95.columns) == ["path", "timestamp", "value"]
    assert str(p95["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert isinstance(p95["path"].dtype, pd.CategoricalDtype)
    got = p95.set_index(["path", "timestamp"])["value"]
    assert got[("/a", START)] == pytest.approx(np.quantile(np.arange(24.0), 0.95))
    assert got[("/a", START + DAY)] == pytest.approx(np.quantile(np.arange(24.0, 48.0), 0.95))
    assert got[("/b", START)] == pytest.approx(np.quantile(100.0 - np.arange(24.0), 0.95))
    assert peaks.set_index(["path", "timestamp"])["value"].tolist() == [23.0, 47.0, 100.0, 76.0]


def test_daily_peaks_takes_the_peak_of_the_sum_not_the_sum_of_peaks():
    ts = every(60, 1)
    a = np.where(np.arange(24) == 3, 10.0, 0.0)  # the two series peak at different hours
    b = np.where(np.arange(24) == 15, 10.0, 0.0)
    frame = pd.concat([tidy(ts, a, path="/a", status="200"), tidy(ts, b, path="/b", status="200")])
    total = daily_peaks(frame, "max", by=[])
    by_status = daily_peaks(frame, "max", by=["status"])
    assert total["value"].tolist() == [10.0]
    assert list(total.columns) == ["timestamp", "value"]
    assert by_status["value"].tolist() == [10.0]
    assert daily_peaks(frame, "max")["value"].sum() == 20.0  # per series: 10 each


def test_daily_peaks_drops_partial_days_and_non_finite_values():
    ts = every(60, 2.5, start=START + pd.Timedelta(hours=6))  # 18 h, 24 h, 18 h of samples
    values = np.ones(len(ts))
    values[30] = np.inf
    values[31] = np.nan
    out = daily_peaks(tidy(ts, values), "max")
    assert out["timestamp"].tolist() == [START + DAY]  # 22 finite of 24: kept; 18/24 < 0.8
    assert out["value"].tolist() == [1.0]
    assert len(daily_peaks(tidy(ts, values), "max", min_coverage=0.7)) == 3


def test_daily_peaks_rejects_unknown_labels():
    with pytest.raises(ValueError, match="namespace"):
        daily_peaks(tidy(every(60, 1), np.ones(24)), by=["namespace"])


# --------------------------------------------------------------------------- forecast


def test_linear_growth_crosses_on_the_known_date():
    rng = np.random.default_rng(1)
    t = np.arange(56)
    history = series(1000.0 + 50.0 * t + rng.normal(0.0, 20.0, 56))
    limit = 1000.0 + 50.0 * (55 + 30)  # the true line reaches it 30 days after the last day
    fc = forecast_crossing(history, limit)
    truth = history.index[-1] + 30 * DAY
    assert abs((fc.crossing - truth) / DAY) <= CROSSING_TOLERANCE_DAYS
    assert fc.weeks_left == pytest.approx(30 / 7, abs=CROSSING_TOLERANCE_DAYS / 7)
    assert fc.slope_per_week == pytest.approx(350.0, rel=0.03)
    assert fc.crossing_earliest <= fc.crossing <= fc.crossing_latest
    assert fc.as_of == history.index[-1]
    assert len(fc.projection) == 84
    assert list(fc.projection.columns) == ["forecast", "lower", "upper"]
    assert (fc.projection["lower"] <= fc.projection["upper"]).all()
    assert "Reaches" in fc.describe("rps")


def test_growth_with_weekly_cycle_crosses_on_the_known_weekday():
    rng = np.random.default_rng(2)
    n = 56
    index = days(n)
    t = np.arange(n)
    history = pd.Series(
        1000.0 + 50.0 * t + WEEKLY_PROFILE[index.day_of_week] + rng.normal(0.0, 30.0, n),
        index=index,
    )
    limit = 1000.0 + 50.0 * (n - 1 + 30)
    future = pd.date_range(index[-1] + DAY, periods=84, freq="D")
    tf = np.arange(n, n + 84)
    truth = first_future_day(1000.0 + 50.0 * tf + WEEKLY_PROFILE[future.day_of_week], future, limit)
    unadjusted = first_future_day(1000.0 + 50.0 * tf + np.median(WEEKLY_PROFILE), future, limit)
    assert abs((unadjusted - truth) / DAY) > CROSSING_TOLERANCE_DAYS  # the cycle matters here
    fc = forecast_crossing(history, limit)
    assert abs((fc.crossing - truth) / DAY) <= CROSSING_TOLERANCE_DAYS
    assert fc.crossing.day_of_week == 2  # the Wednesday peak crosses first
    assert "weekday" in fc.method
    assert fc.slope_per_week == pytest.approx(350.0, rel=0.03)


def test_flat_series_with_noise_never_crosses_within_the_horizon():
    rng = np.random.default_rng(3)
    history = series(5000.0 + rng.normal(0.0, 200.0, 42))
    fc = forecast_crossing(history, limit=7000.0, horizon_days=84)
    assert fc.crossing is None
    assert fc.weeks_left is None
    assert fc.crossing_latest is None
    assert fc.crossing_earliest is None
    assert not fc.within_horizon
    assert abs(fc.slope_per_week) < 200.0 / 7  # under a day's noise per week
    # the band holds the day-to-day scatter: 80 % of N(0, 200) is +-256, so about 512 wide
    first_day_width = fc.projection["upper"].iloc[0] - fc.projection["lower"].iloc[0]
    assert 400.0 < first_day_width < 800.0
    assert fc.describe().startswith("Not within horizon (84 days)")


def test_trend_ignores_outlier_days():
    t = np.arange(42)
    values = 100.0 + 2.0 * t
    values[[5, 17, 30]] = 2000.0  # incidents: a least-squares line would tilt a lot
    fc = forecast_crossing(series(values), limit=300.0)
    assert fc.slope_per_week == pytest.approx(14.0, rel=0.01)
    assert fc.crossing == START + 100 * DAY


def test_limit_already_exceeded_crosses_today():
    fc = forecast_crossing(series(500.0 + np.arange(28.0)), limit=510.0)
    assert fc.crossing == fc.as_of == START + 27 * DAY
    assert fc.weeks_left == 0.0


def test_no_limit_gives_a_trend_only():
    fc = forecast_crossing(series(10.0 + np.arange(28.0)), limit=None)
    assert fc.limit is None and fc.crossing is None
    assert fc.slope_per_week == pytest.approx(7.0)
    assert fc.describe().startswith("No limit given")


def test_band_is_wider_for_noisier_history():
    rng = np.random.default_rng(4)
    t = np.arange(56)
    noise = rng.normal(0.0, 1.0, 56)
    widths = []
    for sd in (5.0, 100.0):
        fc = forecast_crossing(series(1000.0 + 10.0 * t + sd * noise), limit=2000.0)
        widths.append(float((fc.projection["upper"] - fc.projection["lower"]).iloc[-1]))
    assert widths[1] > 10 * widths[0]
    # the upper bound reaches the limit first, the lower bound last
    assert fc.crossing_earliest < fc.crossing < fc.crossing_latest
    assert (fc.crossing_latest - fc.crossing_earliest) / DAY >= 7


def test_forecast_is_reproducible_and_rejects_bad_input():
    history = series(100.0 + np.random.default_rng(5).normal(0.0, 5.0, 28))
    a, b = forecast_crossing(history, 200.0), forecast_crossing(history, 200.0)
    pd.testing.assert_frame_equal(a.projection, b.projection)
    with pytest.raises(ValueError, match="need 7"):
        forecast_crossing(series(np.ones(6)), 2.0)
    with pytest.raises(ValueError, match="one value per day"):
        forecast_crossing(pd.Series(1.0, index=days(8).append(days(1))), 2.0)
    with pytest.raises(TypeError):
        forecast_crossing(pd.Series(np.ones(10)), 2.0)


# --------------------------------------------------------------------------- backtest


def test_backtest_errors_small_on_clean_data_and_larger_on_noisy():
    rng = np.random.default_rng(6)
    t = np.arange(56)
    limit = 1000.0 + 50.0 * 45  # reached on day 45, inside the second half
    clean = backtest(series(1000.0 + 50.0 * t + rng.normal(0.0, 5.0, 56)), limit=limit)
    noisy = backtest(series(1000.0 + 50.0 * t + rng.normal(0.0, 400.0, 56)), limit=limit)
    assert (clean.train_days, clean.test_days) == (28, 28)
    assert clean.mape_pct < 1.0
    assert abs(clean.bias_pct) < 0.5
    assert clean.crossing_actual == START + 45 * DAY
    assert abs(clean.crossing_error_days) <= 1
    assert noisy.mape_pct > 5.0
    assert noisy.mape_pct > 10 * clean.mape_pct
    assert "Backtest" in clean.describe()


def test_backtest_bias_is_positive_when_growth_stops():
    t = np.arange(56)
    values = np.where(t < 28, 1000.0 + 20.0 * t, 1000.0 + 20.0 * 27)  # plateau in the 2nd half
    bt = backtest(series(values))
    assert bt.bias_pct > 5.0
    assert bt.crossing_error_days is None
    faster = np.where(t < 28, 1000.0 + 20.0 * t, 1540.0 + 80.0 * (t - 27))  # growth speeds up
    bt = backtest(series(faster + np.random.default_rng(11).normal(0.0, 10.0, 56)))
    assert bt.bias_pct < -5.0
    assert bt.coverage_pct < 20.0  # the actuals left the band upwards


def test_backtest_needs_two_weeks():
    with pytest.raises(ValueError, match="need 14"):
        backtest(series(np.ones(13)))


# --------------------------------------------------------------------------- growth anomalies


def steady_growth(seed: int, n: int = 56) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 1000.0 * 1.02 ** (np.arange(n) / 7.0) * (1.0 + rng.normal(0.0, 0.03, n))


def test_planted_growth_anomaly_is_found_in_its_week():
    values = steady_growth(7)
    values[35:] *= 1.4  # a 40 % jump from day 35 (week 6 of 8)
    weeks = growth_anomalies(series(values))
    flagged = weeks[weeks["anomaly"]]
    assert flagged["week_start"].tolist() == [START + 35 * DAY]
    assert flagged["change_pct"].iloc[0] == pytest.approx(40.0, abs=6.0)
    assert flagged["robust_z"].iloc[0] > 3.5
    assert len(weeks) == 7  # 8 weeks, 7 changes


def test_planted_drop_is_found_as_negative():
    values = steady_growth(8)
    values[42:] *= 0.6
    flagged = growth_anomalies(series(values)).query("anomaly")
    assert flagged["week_start"].tolist() == [START + 42 * DAY]
    assert flagged["robust_z"].iloc[0] < -3.5


def test_jump_in_the_last_of_four_weeks_is_found_but_three_weeks_are_too_few():
    values = steady_growth(12, n=28)
    values[21:] *= 1.5
    weeks = growth_anomalies(series(values))
    assert weeks["anomaly"].tolist() == [False, False, True]
    # with two changes either could be the odd one: no verdict rather than a wrong one
    short = growth_anomalies(series(values[7:]))
    assert len(short) == 2 and short["robust_z"].isna().all() and not short["anomaly"].any()


@pytest.mark.parametrize("seed", range(10))
def test_no_false_anomaly_on_steady_growth(seed):
    weeks = growth_anomalies(series(steady_growth(seed)))
    assert len(weeks) == 7
    assert not weeks["anomaly"].any()


def test_weekly_changes_within_daily_noise_are_not_anomalies():
    # 4 weeks: the 2 other changes agree to 0.01 pp, so their MAD alone would call 12 % huge;
    # but the daily peaks scatter by 25 %, so a 12 % weekly change is ordinary
    noise = np.random.default_rng(10).normal(0.0, 25.0, 28).reshape(4, 7)
    noise -= noise.mean(axis=1, keepdims=True)
    weekly_means = np.array([100.0, 101.0, 102.0, 115.0])
    weeks = growth_anomalies(series((weekly_means[:, None] + noise).ravel()))
    assert weeks["value"].to_numpy() == pytest.approx(weekly_means[1:])  # weeks 2-4
    assert weeks["change_pct"].iloc[-1] == pytest.approx(12.745, abs=0.01)
    assert not weeks["anomaly"].any()


def test_perfectly_steady_linear_growth_has_no_anomaly():
    weeks = growth_anomalies(series(100.0 + 3.0 * np.arange(56)))  # zero spread of changes
    assert np.isfinite(weeks["robust_z"]).all()
    assert not weeks["anomaly"].any()


# --------------------------------------------------------------------------- headroom

NODES = pd.DataFrame(
    {
        "node": ["n1", "n2", "n3"],
        "zone": ["eu-1a", "eu-1a", "eu-1b"],
        "instance_type": ["m5.xlarge", "m5.xlarge", "c5.2xlarge"],
        "capacity_type": ["on-demand", "spot", "on-demand"],
        "allocatable_cpu_cores": [4.0, 4.0, 8.0],
        "allocatable_memory_bytes": [16e9, 16e9, 8e9],
    }
)
CONTAINERS = pd.DataFrame(
    {
        "namespace": ["x", "x", "y", "y"],
        "pod": ["p1", "p2", "p3", "p4"],
        "container": ["c", "c", "c", "c"],
        "node": ["n1", "n2", "n3", None],  # p4 is pending: not on any node
        "cpu_request_cores": [1.5, 2.5, 7.0, 10.0],
        "memory_request_bytes": [4e9, 6e9, 7.5e9, 10e9],
    }
)


def test_headroom_arithmetic_by_hand():
    ts = pd.to_datetime(["2026-01-05T00:00Z", "2026-01-05T00:05Z"], utc=True)
    cpu = pd.concat(
        [
            tidy(ts, [1.0, 2.0], namespace="x", pod="p1", container="c"),
            tidy(ts, [1.0, 0.0], namespace="x", pod="p2", container="c"),  # anti-correlated
            tidy(ts, [3.0, 5.0], namespace="y", pod="p3", container="c"),
        ]
    )
    out = headroom(NODES, CONTAINERS, cpu_usage=cpu).set_index(
        ["zone", "instance_type", "resource"]
    )
    a_cpu = out.loc[("eu-1a", "m5.xlarge", "cpu")]
    assert (a_cpu["nodes"], a_cpu["allocatable"], a_cpu["requested"]) == (2, 8.0, 4.0)
    assert a_cpu["requested_pct"] == pytest.approx(50.0)
    assert a_cpu["unrequested"] == pytest.approx(4.0)
    assert a_cpu["used_p95"] == pytest.approx(2.0)  # p95 of the sum (2, 2); sum of p95s is 2.9
    assert a_cpu["used_pct"] == pytest.approx(25.0)
    b_cpu = out.loc[("eu-1b", "c5.2xlarge", "cpu")]
    assert b_cpu["requested_pct"] == pytest.approx(87.5)
    assert b_cpu["used_p95"] == pytest.approx(3.0 + 0.95 * 2.0)
    b_mem = out.loc[("eu-1b", "c5.2xlarge", "memory")]
    assert (b_mem["allocatable"], b_mem["requested"]) == (8e9, 7.5e9)
    assert b_mem["requested_pct"] == pytest.approx(93.75)
    assert np.isnan(b_mem["used_p95"])
    assert out.loc[("eu-1a", "m5.xlarge", "memory"), "requested_pct"] == pytest.approx(31.25)
    assert out["unit"].tolist() == ["cores", "cores", "bytes", "bytes"]


def test_headroom_cluster_wide_and_node_level_usage():
    ts = pd.to_datetime(["2026-01-05T00:00Z"], utc=True)
    usage = pd.concat([tidy(ts, [v], node=n) for n, v in (("n1", 1.0), ("n2", 2.0), ("n3", 4.0))])
    out = headroom(NODES, CONTAINERS, cpu_usage=usage, by=()).set_index("resource")
    assert out.loc["cpu", "allocatable"] == 16.0
    assert out.loc["cpu", "requested"] == 11.0  # the pending pod's 10 cores are not counted
    assert out.loc["cpu", "used_p95"] == 7.0
    assert out.loc["memory", "requested_pct"] == pytest.approx(17.5e9 / 40e9 * 100.0)


def test_headroom_from_prometheus_series_matches_the_loader_frames():
    ts = pd.to_datetime(["2026-01-05T00:00Z", "2026-01-05T01:00Z"], utc=True)
    allocatable = pd.concat(
        [
            tidy(ts, [row[r]] * 2, node=row["node"], resource=res, unit=unit)
            for row in NODES.to_dict("records")
            for res, r, unit in (
                ("cpu", "allocatable_cpu_cores", "core"),
                ("memory", "allocatable_memory_bytes", "byte"),
            )
        ]
    )
    labels = pd.concat(
        [
            tidy(
                ts,
                [1.0, 1.0],
                node=row["node"],
                label_topology_kubernetes_io_zone=row["zone"],
                label_node_kubernetes_io_instance_type=row["instance_type"],
                label_karpenter_sh_capacity_type=row["capacity_type"],
            )
            for row in NODES.to_dict("records")
        ]
    )
    placed = CONTAINERS.dropna(subset=["node"])
    pod_keys = ("namespace", "pod", "container", "node")
    requests = pd.concat(
        [
            tidy(ts, [row[r]] * 2, **{k: row[k] for k in pod_keys}, resource=res, unit=unit)
            for row in placed.to_dict("records")
            for res, r, unit in (
                ("cpu", "cpu_request_cores", "core"),
                ("memory", "memory_request_bytes", "byte"),
            )
        ]
    )
    old_pod = {"namespace": "x", "pod": "old", "container": "c", "node": "n1"}
    gone = tidy(ts[:1], [50.0], **old_pod, resource="cpu", unit="core")  # deleted an hour ago
    nodes = nodes_from_prometheus(allocatable, labels)
    containers = containers_from_prometheus(pd.concat([requests, gone]))
    pd.testing.assert_frame_equal(
        headroom(nodes, containers), headroom(NODES, CONTAINERS), check_dtype=False
    )
    bare = nodes_from_prometheus(allocatable)
    assert set(bare["zone"]) == {"unknown"}


def test_latest_values_skips_series_that_stopped_reporting():
    ts = every(5, 1 / 24)  # 12 samples
    frame = pd.concat([tidy(ts, np.arange(12.0), pvc="a"), tidy(ts[:6], np.ones(6), pvc="b")])
    assert latest_values(frame).to_dict("records") == [{"pvc": "a", "value": 11.0}]


# --------------------------------------------------------------------------- findings


def forecast_row(**values) -> dict:
    base = dict.fromkeys(FORECAST_COLUMNS)
    base |= {
        "key": "request_rate",
        "resource": "request_rate",
        "series": "",
        "labels": {},
        "unit": "rps",
        "days": 28,
        "as_of": START,
        "last_peak": 9000.0,
        "limit": 12000.0,
        "limit_label": "KI-002",
        "slope_per_week": 500.0,
        "crossing": pd.NaT,
        "weeks_left": np.nan,
        "crossing_earliest": pd.NaT,
        "crossing_latest": pd.NaT,
        "backtest_mape_pct": 3.0,
        "method": "m",
    }
    return base | values


def exhaustion(**values) -> list[tuple[str, float]]:
    table = pd.DataFrame([forecast_row(**values)])
    return [(f.severity, f.value) for f in capacity_findings(forecasts=table)]


def test_capacity_exhaustion_severity_follows_weeks_left():
    at = {"crossing_earliest": START + 20 * DAY, "crossing_latest": START + 30 * DAY}
    assert exhaustion(crossing=START + 21 * DAY, weeks_left=3.0, **at) == [("critical", 3.0)]
    assert exhaustion(crossing=START + 35 * DAY, weeks_left=5.0, **at) == [("warning", 5.0)]
    assert exhaustion(crossing_earliest=START + 70 * DAY) == [("info", 10.0)]
    assert exhaustion() == []  # not within horizon, not even the band
    assert exhaustion(limit=np.nan, crossing=START, weeks_left=0.0) == []


def test_capacity_exhaustion_evidence_and_profile_threshold():
    row = forecast_row(
        crossing=START + 35 * DAY,
        weeks_left=5.0,
        crossing_earliest=START + 33 * DAY,
        crossing_latest=START + 38 * DAY,
        labels={"instance": "pg:9187"},
        resource="pg_connections",
    )
    table = pd.DataFrame([row])
    (finding,) = capacity_findings(forecasts=table)
    assert finding.subject == {"resource": "pg_connections", "instance": "pg:9187"}
    assert finding.evidence["crossing"] == "2026-02-09"
    assert finding.evidence["confidence"] == "high"  # MAPE 3 %, 5-day interval
    assert finding.unit == "weeks" and finding.threshold == 4.0
    strict = Profile(thresholds={"capacity_exhaustion": {"critical_weeks": 6}})
    assert capacity_findings(forecasts=table, profile=strict)[0].severity == "critical"
    vague = pd.DataFrame([row | {"backtest_mape_pct": 30.0}])
    assert capacity_findings(forecasts=vague)[0].evidence["confidence"] == "low"
    wide = pd.DataFrame([row | {"crossing_latest": START + 60 * DAY}])
    assert capacity_findings(forecasts=wide)[0].evidence["confidence"] == "medium"


def test_headroom_low_thresholds():
    table = headroom(NODES, CONTAINERS)
    found = capacity_findings(headroom_frame=table)
    got = {(f.subject["zone"], f.subject["resource"]): (f.severity, f.value) for f in found}
    assert got == {("eu-1b", "memory"): ("warning", 93.75), ("eu-1b", "cpu"): ("warning", 87.5)}
    tight = Profile(thresholds={"headroom_low": {"critical_requests_pct": 90}})
    found = capacity_findings(headroom_frame=table, profile=tight)
    severities = {f.subject["resource"]: f.severity for f in found}
    assert severities == {"memory": "critical", "cpu": "warning"}
    loose = Profile(thresholds={"headroom_low": {"requests_pct": 95}})
    assert capacity_findings(headroom_frame=table, profile=loose) == []


def test_growth_anomaly_findings_use_profile_thresholds():
    values = steady_growth(9)
    values[35:] *= 1.4
    daily = pd.DataFrame({"namespace": "api", "timestamp": days(56), "value": values})
    anomalies = anomaly_table(daily, "namespace_cpu", "cores")
    (finding,) = capacity_findings(anomalies=anomalies)
    assert (finding.check, finding.severity) == ("growth_anomaly", "warning")
    assert finding.subject == {"resource": "namespace_cpu", "namespace": "api"}
    assert finding.evidence["week_start"] == "2026-02-09"
    lax = Profile(thresholds={"growth_anomaly": {"min_change_pct": 50}})
    assert capacity_findings(anomalies=anomalies, profile=lax) == []


# --------------------------------------------------------------------------- report


def report_frames(n_days: int = 28) -> dict[str, pd.DataFrame]:
    ts = every(5, n_days)
    elapsed = ((ts - START) / DAY).to_numpy()
    diurnal = 1.0 + 0.3 * np.sin(2 * np.pi * ts.hour.to_numpy() / 24)
    return {
        "request_rate": tidy(ts, (6000.0 + 100.0 * elapsed) * diurnal),
        "cpu_usage": pd.concat(
            [tidy(ts, 2.0 + 0.0 * elapsed, namespace=ns) for ns in ("api", "db")]
        ),
        "pg_connections": pd.concat(
            [
                tidy(ts, 50.0 + 0.0 * elapsed, instance="pg:9187", state=state, datname="app")
                for state in ("active", "idle")
            ]
        ),
        "pg_max_connections": tidy(ts[-1:], [100.0], instance="pg:9187", server="pg"),
        "nodes": NODES,
        "containers": CONTAINERS,
    }


def test_capacity_report_end_to_end():
    report = capacity_report(report_frames(), horizon_days=84)
    forecasts = report["forecasts"].set_index("key")
    assert list(report["forecasts"].columns) == list(FORECAST_COLUMNS)
    rate = forecasts.loc["request_rate"]
    assert rate["limit"] == 12000.0 and "KI-002" in rate["limit_label"]
    assert rate["days"] == 28
    # daily p95 of 1.3 x trend: reaches 12k about when 6000 + 100 d = 12000 / 1.3 (day ~32)
    p95_factor = np.quantile(1.0 + 0.3 * np.sin(2 * np.pi * np.arange(288) / 288), 0.95)
    truth = START + np.ceil((12000.0 / p95_factor - 6000.0) / 100.0) * DAY
    assert abs((rate["crossing"] - truth) / DAY) <= CROSSING_TOLERANCE_DAYS
    assert rate["backtest_mape_pct"] < 2.0
    assert forecasts.loc["cpu", "limit"] == 16.0  # sum of allocatable CPU
    assert forecasts.loc["pg_connections{instance=pg:9187}", "limit"] == 100.0
    assert forecasts.loc["pg_connections{instance=pg:9187}", "last_peak"] == 100.0
    checks = {(f.check, tuple(f.subject.values())) for f in report["findings"]}
    assert ("capacity_exhaustion", ("request_rate",)) in checks
    assert ("capacity_exhaustion", ("pg_connections", "pg:9187")) in checks  # at the limit
    assert ("headroom_low", ("eu-1b", "c5.2xlarge", "memory")) in checks
    assert not any(f.check == "growth_anomaly" for f in report["findings"])
    assert set(report["daily"]["resource"]) == {
        "request_rate",
        "cpu",
        "namespace_cpu",
        "pg_connections",
    }
    assert set(report["models"]) == set(report["forecasts"]["key"])
    assert any("memory_usage" in note for note in report["notes"])


def test_capacity_report_with_prometheus_inventory_and_unknown_frames():
    frames = report_frames(14)
    del frames["nodes"], frames["containers"]
    report = capacity_report(frames)
    assert report["headroom"] is None
    assert any("headroom" in note for note in report["notes"])
    with pytest.raises(ValueError, match="request_rates"):
        capacity_report({"request_rates": frames["request_rate"]})


def test_forecast_table_notes_short_history_and_picks_top_n():
    daily = pd.concat(
        [
            pd.DataFrame({"table": name, "timestamp": days(n), "value": level + np.arange(n)})
            for name, n, level in (("small", 28, 10.0), ("big", 28, 1000.0), ("new", 5, 5e6))
        ]
    )
    table, models = forecast_table(daily, "table_size", "bytes", top_n=2)
    assert table["series"].tolist() == ["table=new", "table=big"]
    assert table.loc[0, "note"].startswith("5 day(s)") and "table_size{table=new}" not in models
    assert table.loc[1, "slope_per_week"] == pytest.approx(7.0)


# --------------------------------------------------------------------------- plots


def test_forecast_figure_marks_limit_and_crossing():
    fc = forecast_crossing(series(100.0 + 10.0 * np.arange(28)), limit=600.0)
    fig = forecast_figure(fc, title="rate", y_title="rps", limit_label="KI-002")
    assert all(isinstance(t, go.Scatter) for t in fig.data)
    crossing = next(t for t in fig.data if t.name == "crossing")
    assert pd.Timestamp(crossing.x[0]) == fc.crossing and crossing.y[0] == 600.0
    assert [s.y0 for s in fig.layout.shapes] == [600.0]
    band = [t for t in fig.data if t.name == "80% band"]
    assert band[1].fill == "tonexty"
    assert {trace["type"] for trace in fig.to_dict()["data"]} == {"scatter"}  # SVG, not GL


def test_forecast_figure_says_not_within_horizon():
    fc = forecast_crossing(series(np.full(28, 100.0)), limit=600.0)
    fig = forecast_figure(fc)
    assert "not within horizon" in fig.layout.annotations[-1].text
    assert "crossing" not in [t.name for t in fig.data]


def test_headroom_and_demand_figures():
    fig = headroom_figure(headroom(NODES, CONTAINERS), threshold_pct=80.0)
    assert all(isinstance(t, go.Bar) for t in fig.data)
    assert [t.name for t in fig.data] == [
        "cpu requested",
        "cpu used p95",
        "memory requested",
        "memory used p95",
    ]
    assert list(fig.data[0].x) == ["eu-1a / m5.xlarge", "eu-1b / c5.2xlarge"]
    assert fig.layout.shapes[0].y0 == 80.0
    report = capacity_report(report_frames(14))
    demand = demand_figure(report["daily"], "namespace_cpu", limit=None)
    assert sorted(t.name for t in demand.data) == ["namespace=api", "namespace=db"]
