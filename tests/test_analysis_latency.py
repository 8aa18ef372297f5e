"""Latency & SLO analysis: constructed frames with answers worked out by hand (or by PromQL)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from dwcp_diag.analysis.findings import CHECKS_BY_NOTEBOOK
from dwcp_diag.analysis.histograms import (
    compare_p95_with_ratio,
    heatmap_counts,
    quantile_from_buckets,
    quantiles_from_buckets,
    slo_ratio_under,
)
from dwcp_diag.analysis.latency import (
    DEFAULT_PAIRS,
    availability,
    burn_rate_alerts,
    error_budget,
    error_ratio,
    latency_findings,
    latency_report,
    request_rate_top,
    skipped_pairs_text,
    slowest_endpoints,
)
from dwcp_diag.analysis.series import contiguous_intervals
from dwcp_diag.config import Profile, SLOTargets
from dwcp_diag.frames import as_category
from dwcp_diag.plots.latency import latency_figures
from dwcp_diag.timewindow import TimeWindow

T0 = pd.Timestamp("2026-11-12T14:00Z")
SLO = SLOTargets()  # p95 200 ms, error rate 0.1 %, availability 99.95 % (budget 0.0005)


def tidy(frame: pd.DataFrame) -> pd.DataFrame:
    """Labels as categoricals, as the loaders return them."""
    out = frame.copy()
    for column in out.columns:
        if column not in ("timestamp", "value"):
            out[column] = as_category(out[column])
    out["timestamp"] = pd.to_datetime(out["timestamp"], utc=True)
    out["value"] = out["value"].astype("float64")
    return out


def histogram(buckets: dict[str, float], ts: pd.Timestamp = T0, **labels: str) -> pd.DataFrame:
    return tidy(
        pd.DataFrame(
            {**labels, "le": list(buckets), "timestamp": ts, "value": list(buckets.values())}
        )
    )


def one_quantile(buckets: dict[str, float], q: float) -> float:
    return float(quantile_from_buckets(histogram(buckets), q)["value"].iloc[0])


# --------------------------------------------------------------------------- histogram_quantile


def test_quantile_exactly_at_a_bucket_edge():
    counts = {"0.1": 50, "0.2": 95, "+Inf": 100}
    assert one_quantile(counts, 0.95) == 0.2
    assert one_quantile(counts, 0.5) == 0.1


def test_quantile_interpolates_linearly_inside_the_bucket_and_from_zero_in_the_lowest():
    counts = {"0.1": 50, "0.2": 90, "+Inf": 100}
    assert one_quantile(counts, 0.7) == pytest.approx(0.15)  # 0.1 + 0.1 * (70 - 50) / 40
    assert one_quantile(counts, 0.25) == pytest.approx(0.05)  # 0 + 0.1 * 25 / 50


def test_single_bucket():
    assert math.isnan(one_quantile({"+Inf": 100}, 0.5))  # fewer than two buckets
    assert one_quantile({"0.5": 80, "+Inf": 100}, 0.5) == pytest.approx(0.3125)  # 0.5 * 50 / 80


def test_zero_traffic_gives_nan_not_an_exception():
    assert math.isnan(one_quantile({"0.1": 0, "0.2": 0, "+Inf": 0}, 0.95))
    empty = histogram({}, path="/a").iloc[:0]
    out = quantile_from_buckets(empty, 0.95)
    assert out.empty and list(out.columns) == ["path", "timestamp", "value"]


def test_rank_in_the_inf_bucket_returns_the_highest_finite_bound():
    assert one_quantile({"0.1": 10, "0.2": 20, "+Inf": 100}, 0.95) == 0.2


def test_no_inf_bucket_is_nan_and_out_of_range_q_is_infinite():
    assert math.isnan(one_quantile({"0.1": 10, "0.2": 20}, 0.5))
    assert one_quantile({"0.1": 10, "+Inf": 20}, -0.1) == -math.inf
    assert one_quantile({"0.1": 10, "+Inf": 20}, 1.1) == math.inf


def test_non_monotonic_counts_are_lifted_like_promql():
    # 0.2 has fewer than 0.1: PromQL lifts it to 40, so p45 interpolates 0.2..0.5 from 40
    counts = {"0.1": 40, "0.2": 30, "0.5": 80, "+Inf": 100}
    assert one_quantile(counts, 0.45) == pytest.approx(0.2 + 0.3 * 5 / 40)


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        # values printed by `promtool test rules` (Prometheus 2.42) for the same series
        ({"0.05": 3, "0.1": 7, "0.25": 13, "+Inf": 20}, [0.175, 0.25, 0.25]),
        ({"0.1": 40, "0.2": 30, "0.5": 80, "+Inf": 100}, [0.275, 0.5, 0.5]),
        (
            {"0.1": 5, "0.2": 5, "0.20": 2, "1": 30, "+Inf": 31},  # "0.2" and "0.20" coalesce
            [0.4956521739130435, 0.9269565217391305, 1.0],
        ),
        (
            {"-0.1": 2, "0": 4, "0.5": 10, "+Inf": 10},
            [0.08333333333333333, 0.4166666666666667, 0.4916666666666667],
        ),
    ],
)
def test_matches_prometheus_bit_for_bit(counts, expected):
    assert [one_quantile(counts, q) for q in (0.5, 0.9, 0.99)] == expected


def test_absent_bucket_interpolates_across_the_gap_per_series():
    a = histogram({"0.1": 50, "0.2": 70, "0.5": 90, "+Inf": 100}, path="/a")
    b = histogram({"0.1": 50, "0.5": 90, "+Inf": 100}, path="/b")  # no 0.2 bucket
    out = quantile_from_buckets(tidy(pd.concat([a, b])), 0.7).set_index("path")["value"]
    assert out["/a"] == pytest.approx(0.2)
    assert out["/b"] == pytest.approx(0.1 + 0.4 * 20 / 40)


def test_quantiles_from_buckets_stacks_labelled_quantiles():
    out = quantiles_from_buckets(histogram({"0.1": 50, "0.2": 90, "+Inf": 100}, path="/a"))
    assert out["quantile"].astype(str).tolist() == ["p50", "p95", "p99"]
    assert out["value"].tolist() == pytest.approx([0.1, 0.2, 0.2])
    assert list(out.columns) == ["path", "quantile", "timestamp", "value"]


# --------------------------------------------------------------------------- ratio & heatmap


def test_slo_ratio_at_an_edge_and_nearest_edge_otherwise():
    frame = histogram({"0.1": 50, "0.25": 90, "+Inf": 100})
    exact = slo_ratio_under(frame, 0.25)
    assert exact.exact and exact.edge_s == 0.25
    assert exact.frame["value"].tolist() == [0.9]
    missing = slo_ratio_under(frame, 0.2)
    assert not missing.exact and missing.edge_s == 0.25
    assert math.isnan(missing.frame["value"].iloc[0])


def test_interpolated_p95_and_direct_ratio_disagree_when_the_rank_is_in_the_inf_bucket():
    # 10 % of requests are slower than 200 ms, yet the interpolated p95 is "exactly" 200 ms
    clamp = compare_p95_with_ratio(histogram({"0.1": 50, "0.2": 90, "+Inf": 100}), 0.2).iloc[0]
    assert clamp["p95_s"] == 0.2 and bool(clamp["quantile_meets"])
    assert clamp["share_under_target"] == 0.9 and not bool(clamp["ratio_meets"])
    assert not bool(clamp["agree"])
    assert clamp["shortfall_pct_points"] == pytest.approx(5.0)


def test_ratio_and_p95_agree_at_an_edge_and_the_ratio_abstains_between_edges():
    frame = histogram({"0.1": 50, "0.2": 97, "+Inf": 100})
    at_edge = compare_p95_with_ratio(frame, 0.2).iloc[0]
    assert at_edge["p95_s"] == pytest.approx(0.1 + 0.1 * 45 / 47)
    assert (
        bool(at_edge["quantile_meets"]) and bool(at_edge["ratio_meets"]) and bool(at_edge["agree"])
    )
    between = compare_p95_with_ratio(frame, 0.15).iloc[0]
    assert (between["edge_below_s"], between["edge_above_s"]) == (0.1, 0.2)
    assert (between["share_below"], between["share_above"]) == (0.5, 0.97)
    assert not bool(between["quantile_meets"])  # interpolation claims p95 = 196 ms > 150 ms
    assert pd.isna(between["ratio_meets"]) and pd.isna(between["agree"])


def test_compare_sums_the_histograms_over_time():
    first = histogram({"0.2": 100, "+Inf": 100}, ts=T0)
    second = histogram({"0.2": 80, "+Inf": 100}, ts=T0 + pd.Timedelta("1min"))
    row = compare_p95_with_ratio(tidy(pd.concat([first, second])), 0.2).iloc[0]
    assert row["share_under_target"] == pytest.approx(0.9)


def test_heatmap_counts_are_per_bucket_not_cumulative():
    out = heatmap_counts(histogram({"0.1": 50, "0.2": 90, "+Inf": 100}, path="/a"))
    assert out[["lower_s", "upper_s", "value"]].values.tolist() == [
        [0.0, 0.1, 50.0],
        [0.1, 0.2, 40.0],
        [0.2, math.inf, 10.0],
    ]
    assert out["path"].astype(str).unique().tolist() == ["/a"]


# --------------------------------------------------------------------------- requests & budget


def request_frame(
    times: pd.DatetimeIndex, rates: dict[tuple[str, str], float | np.ndarray]
) -> pd.DataFrame:
    """A ``sum by (path, status) (rate(...))`` frame; ``rates[(path, status)]`` in req/s."""
    parts = [
        pd.DataFrame({"path": path, "status": status, "timestamp": times, "value": value})
        for (path, status), value in rates.items()
    ]
    return tidy(pd.concat(parts, ignore_index=True))


def minutes(start: pd.Timestamp, count: int) -> pd.DatetimeIndex:
    return pd.date_range(start, periods=count, freq="1min")


def test_error_ratio_and_top_endpoints():
    times = minutes(T0, 3)
    frame = request_frame(
        times, {("/a", "200"): 9.0, ("/a", "503"): 1.0, ("/b", "200"): 50.0, ("/c", "200"): 0.5}
    )
    ratio = error_ratio(frame).set_index("path")["value"].groupby(level=0, observed=True).first()
    assert ratio["/a"] == pytest.approx(0.1) and ratio["/b"] == 0.0
    overall = error_ratio(frame, by=None)
    assert overall["value"].tolist() == pytest.approx([1.0 / 60.5] * 3)
    top = request_rate_top(frame, n=2)
    assert top["path"].cat.categories.tolist() == ["/b", "/a"]
    assert top.groupby("path", observed=True)["value"].first().tolist() == [50.0, 10.0]


def test_error_budget_arithmetic_by_hand():
    window = TimeWindow.parse(start="2026-11-12T00:00Z", end="2026-11-13T00:00Z")
    times = minutes(window.start, 24 * 60 + 1)  # includes a sample at start: not in the window
    errors = np.where(times == window.start, 50.0, 0.02)  # a burst that belongs to the day before
    frame = request_frame(times, {("/a", "200"): 100.0 - errors, ("/a", "500"): errors})
    budget = error_budget(frame, SLO, window)
    # 1440 one-minute samples at 100 req/s; 0.02 req/s of them 5xx
    assert budget.requests == pytest.approx(8_640_000)
    assert budget.errors == pytest.approx(1_728)
    assert budget.budget_requests == pytest.approx(4_320)  # 0.0005 * 8.64M
    assert budget.remaining_requests == pytest.approx(2_592)
    assert budget.spent_pct == pytest.approx(40.0)
    assert budget.period_budget_requests == pytest.approx(
        129_600
    )  # the day is 1/30 of the SLO period
    assert budget.period_spent_pct == pytest.approx(1728 / 129_600 * 100)
    assert budget.budget_minutes == pytest.approx(0.72)  # 0.0005 * 1440 min
    assert budget.spent_minutes == pytest.approx(0.288)
    assert budget.period_budget_minutes == pytest.approx(21.6)  # the runbook's 21.6 min/month
    assert budget.availability_pct == pytest.approx(99.98)
    assert budget.burn_rate == pytest.approx(0.4)
    assert availability(frame, window) == pytest.approx(1 - 1_728 / 8_640_000, rel=0, abs=1e-13)


# --------------------------------------------------------------------------- burn-rate alerts


def burst_frame(error_rate: np.ndarray, times: pd.DatetimeIndex) -> pd.DataFrame:
    return request_frame(times, {("/a", "200"): 100.0 - error_rate, ("/a", "500"): error_rate})


def test_a_short_burst_pages_on_1h_5m_but_not_on_6h_or_3d():
    times = minutes(pd.Timestamp("2026-11-08T00:00Z"), 4 * 1440)
    burst_start = pd.Timestamp("2026-11-11T12:00Z")
    in_burst = (times >= burst_start) & (times < burst_start + pd.Timedelta("10min"))
    result = burn_rate_alerts(burst_frame(np.where(in_burst, 10.0, 0.0), times), SLO)
    assert result.pairs["status"].tolist() == ["evaluated"] * 3
    assert result.alerts["pair"].tolist() == ["1h/5m"]
    alert = result.alerts.iloc[0]
    # 1h burn crosses 14.4 at the 5th burst minute (5 x 10 % / 60 = 0.83 % = 16.7x budget); the
    # 5m window is clear 5 minutes after the last burst sample
    assert alert["start"] == burst_start + pd.Timedelta("4min")
    assert alert["end"] == burst_start + pd.Timedelta("14min")
    assert alert["duration_s"] == 600.0
    assert alert["peak_burn_rate_long"] == pytest.approx(10 * 0.1 / 60 / 0.0005)  # 33.3x


def test_steady_low_errors_fire_nothing():
    times = minutes(pd.Timestamp("2026-11-08T00:00Z"), 4 * 1440)
    result = burn_rate_alerts(burst_frame(np.full(len(times), 0.01), times), SLO)  # 0.01 %
    assert result.alerts.empty
    assert result.pairs["status"].tolist() == ["evaluated"] * 3
    burn = result.burn_rates
    assert burn.loc[burn["window"] == "1h", "value"].dropna().to_numpy() == pytest.approx(0.2)


def test_pairs_longer_than_the_data_are_skipped_and_said_so():
    window = TimeWindow.parse(start=T0, end=T0 + pd.Timedelta("2h"))
    times = minutes(T0 + pd.Timedelta("1min"), 120)
    frame = burst_frame(np.full(len(times), 0.01), times)
    result = burn_rate_alerts(frame, SLO, window=window)
    assert result.pairs.set_index("pair")["status"].to_dict() == {
        "1h/5m": "evaluated",
        "6h/30m": "skipped",
        "3d/6h": "skipped",
    }
    # said once in the notebook's text, never as a finding
    notes = [f for f in latency_findings(empty_p95(), frame, SLO, window) if f.severity == "info"]
    assert notes == []
    text = skipped_pairs_text(result)
    assert text.count("shorter than") == 2 and "6h/30m" in text and "3d/6h" in text
    assert "1h/5m" not in text
    assert skipped_pairs_text(burn_rate_alerts(frame, SLO)) != ""


def test_overall_breaches_name_the_endpoints_that_failed_most():
    window = TimeWindow.parse(start=T0, end=T0 + pd.Timedelta("1h"))
    times = minutes(T0 + pd.Timedelta("1min"), 60)
    frame = request_frame(
        times,
        {
            ("/a", "200"): 100.0, ("/a", "500"): 3.0,
            ("/b", "200"): 100.0, ("/b", "500"): 1.0,
            ("/c", "200"): 100.0, ("/c", "503"): 0.5,
            ("/d", "200"): 100.0, ("/d", "500"): 0.25,
            ("/e", "200"): 100.0,
        },
    )  # fmt: skip
    found = latency_findings(empty_p95(), frame, SLO, window)
    overall = [f for f in found if f.subject == {"scope": "all endpoints"}]
    assert {f.check for f in overall} >= {"error_rate_breach", "availability_breach"}
    for finding in overall:
        top = finding.evidence["top_endpoints"]
        assert [t["endpoint"] for t in top] == ["/a", "/b", "/c"]
        assert top[0]["share_pct"] == pytest.approx(3.0 / 4.75 * 100)
        assert "Most failed requests: /a (63 %), /b (21 %), /c (11 %)." in finding.summary
    table = latency_report(
        empty_p95().rename(columns={"path": "path"}).assign(le=[]), frame, SLO, window
    )["endpoint_availability"].set_index("path")
    assert table.loc["/e", "availability_pct"] == 100.0
    assert table.loc["/a", "availability_pct"] == pytest.approx(100 - 3.0 / 103.0 * 100)


def test_pairs_fire_only_where_the_data_covers_their_long_window():
    # A burst in the first minutes of the data: a "1h" ratio over 5 minutes of data would page.
    times = minutes(T0 + pd.Timedelta("1min"), 120)
    burst = np.where(times <= T0 + pd.Timedelta("10min"), 10.0, 0.0)
    result = burn_rate_alerts(burst_frame(burst, times), SLO)
    pairs = result.pairs.set_index("pair")
    assert pairs.loc["1h/5m", "evaluated_from"] == T0 + pd.Timedelta("1h")
    assert result.alerts.empty  # by 15:00 the 5m window is long clear


def test_default_pairs_follow_the_sre_workbook():
    assert [(p.name, p.burn_rate, p.severity) for p in DEFAULT_PAIRS] == [
        ("1h/5m", 14.4, "page"),
        ("6h/30m", 6.0, "page"),
        ("3d/6h", 1.0, "ticket"),
    ]


# --------------------------------------------------------------------------- findings


def empty_p95() -> pd.DataFrame:
    return tidy(pd.DataFrame({"path": [], "timestamp": [], "value": []}))


WINDOW = TimeWindow.parse(start=T0, end=T0 + pd.Timedelta("1h"))
HOUR = minutes(T0 + pd.Timedelta("1min"), 60)


def p95_frame(values: dict[str, np.ndarray]) -> pd.DataFrame:
    parts = [pd.DataFrame({"path": p, "timestamp": HOUR, "value": v}) for p, v in values.items()]
    return tidy(pd.concat(parts, ignore_index=True))


def slow_endpoint_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    slow = np.full(60, 0.1)
    slow[9:21] = 0.35  # 14:10..14:21 over target: 12 minutes
    slow[39] = 0.5  # a one-minute blip at 14:40
    p95 = p95_frame({"/slow": slow, "/idle": np.full(60, 0.9)})
    requests = request_frame(HOUR, {("/slow", "200"): 10.0, ("/idle", "200"): 0.001})
    return p95, requests


def test_latency_breach_reports_worst_p95_and_how_long_it_stayed_over_target():
    p95, requests = slow_endpoint_frames()
    found = [
        f for f in latency_findings(p95, requests, SLO, WINDOW) if f.check == "latency_slo_breach"
    ]
    assert [f.subject for f in found] == [{"path": "/slow"}]  # /idle served 3.6 requests
    breach = found[0]
    assert breach.severity == "warning"
    assert breach.value == pytest.approx(350.0) and breach.threshold == 200.0
    assert breach.evidence["over_target_s"] == 720.0  # the 1-minute blip is under min_duration_s
    assert breach.evidence["start"] == T0 + pd.Timedelta("10min")
    assert breach.evidence["end"] == T0 + pd.Timedelta("22min")


def test_profile_thresholds_change_what_counts_as_a_breach():
    p95, requests = slow_endpoint_frames()
    profile = Profile(
        thresholds={"latency_slo_breach": {"min_duration_s": 0, "critical_duration_s": 600}}
    )
    found = latency_findings(p95, requests, SLO, WINDOW, profile=profile)
    breach = next(f for f in found if f.check == "latency_slo_breach")
    assert breach.severity == "critical"  # 12 minutes >= 10
    assert breach.value == pytest.approx(500.0)
    assert breach.evidence["over_target_s"] == 780.0
    assert len(breach.evidence["intervals"]) == 2


def test_error_rate_breach_per_endpoint_and_overall_idle_endpoints_ignored():
    requests = request_frame(
        HOUR,
        {
            ("/a", "200"): 9.9,
            ("/a", "500"): 0.1,  # 1 %: ten times the target
            ("/b", "200"): 89.955,
            ("/b", "503"): 0.045,  # 0.05 %: fine
            ("/idle", "200"): 0.0005,
            ("/idle", "500"): 0.0005,  # 50 % of 3.6 requests
        },
    )
    found = latency_findings(empty_p95(), requests, SLO, WINDOW)
    rates = {tuple(f.subject.values()): f for f in found if f.check == "error_rate_breach"}
    assert set(rates) == {("/a",), ("all endpoints",)}
    assert rates[("/a",)].severity == "critical" and rates[("/a",)].value == pytest.approx(1.0)
    assert rates[("all endpoints",)].severity == "warning"
    assert rates[("all endpoints",)].value == pytest.approx(0.1455 / 100.001 * 100)
    availability = next(f for f in found if f.check == "availability_breach")
    assert availability.severity == "critical"
    assert availability.value == pytest.approx(100 - 0.1455 / 100.001 * 100)


def test_no_traffic_is_an_info_note_not_an_exception():
    requests = request_frame(HOUR, {("/a", "200"): 0.0, ("/a", "500"): 0.0})
    found = latency_findings(p95_frame({"/a": np.full(60, np.nan)}), requests, SLO, WINDOW)
    assert [(f.check, f.severity) for f in found] == [("availability_breach", "info")]
    assert "No requests" in found[0].summary


def test_contiguous_intervals_break_at_gaps():
    times = pd.DatetimeIndex([T0 + pd.Timedelta(minutes=m) for m in (0, 1, 2, 5, 6)])
    runs = contiguous_intervals(times, [True] * 5, 60.0)
    assert runs["duration_s"].tolist() == [180.0, 120.0]
    assert runs["end"].tolist() == [T0 + pd.Timedelta("3min"), T0 + pd.Timedelta("7min")]


def test_slowest_endpoints_ranks_by_typical_p95():
    quantiles = quantiles_from_buckets(
        tidy(
            pd.concat(
                [
                    histogram({"0.1": 50, "0.5": 90, "+Inf": 100}, path="/slow"),
                    histogram({"0.1": 99, "0.5": 100, "+Inf": 100}, path="/fast"),
                ]
            )
        )
    )
    table = slowest_endpoints(quantiles)
    assert table["path"].tolist() == ["/slow", "/fast"]
    assert table["p95_ms"].tolist() == pytest.approx([500.0, 100 * 95 / 99])


# --------------------------------------------------------------------------- the report


def synthetic_buckets(times: pd.DatetimeIndex, slow_from: pd.Timestamp) -> pd.DataFrame:
    edges = ["0.05", "0.1", "0.2", "0.5", "1", "+Inf"]
    fast_share = np.array([0.5, 0.9, 0.97, 0.995, 1.0, 1.0])
    slow_share = np.array([0.1, 0.3, 0.6, 0.9, 0.99, 1.0])
    parts = []
    for path, rate in (("/api/tasks", 80.0), ("/api/users", 20.0)):
        for edge, fast, slow in zip(edges, fast_share, slow_share, strict=True):
            share = np.where((path == "/api/tasks") & (times >= slow_from), slow, fast)
            parts.append(
                pd.DataFrame({"path": path, "le": edge, "timestamp": times, "value": rate * share})
            )
    return tidy(pd.concat(parts, ignore_index=True))


def test_latency_report_end_to_end():
    window = TimeWindow.parse(start=T0, end=T0 + pd.Timedelta("6h"))
    times = minutes(T0 + pd.Timedelta("1min"), 360)
    buckets = synthetic_buckets(times, slow_from=T0 + pd.Timedelta("2h"))
    requests = request_frame(
        times,
        {("/api/tasks", "200"): 80.0, ("/api/users", "200"): 19.99, ("/api/users", "500"): 0.01},
    )
    report = latency_report(buckets, requests, SLO, window)
    assert not report["no_traffic"]
    assert report["slowest"]["path"].tolist()[0] == "/api/tasks"
    checks = {f.check for f in report["findings"]}
    assert checks <= set(CHECKS_BY_NOTEBOOK["latency"])
    breach = next(f for f in report["findings"] if f.check == "latency_slo_breach")
    assert breach.subject == {"path": "/api/tasks"}
    assert breach.evidence["over_target_s"] == 241 * 60.0  # samples 16:00..20:00 inclusive
    assert report["error_budget"].errors == pytest.approx(0.01 * 60 * 360)
    assert report["heatmap"]["value"].sum() == pytest.approx(100.0 * 60 * 360)
    figures = latency_figures(report, SLO)
    assert all(t.type in ("scatter", "heatmap") for f in figures.values() for t in f.data)
    assert figures["heatmap"].layout.yaxis.type == "log"
    for figure in figures.values():
        figure.to_json()  # serialisable, i.e. renderable into a report
