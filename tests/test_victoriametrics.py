"""The loader and every named template against VictoriaMetrics holding the same series as
the Prometheus fixture: raw samples must match exactly, functions within stated tolerances.

VictoriaMetrics' documented differences (docs.victoriametrics.com/metricsql/) that we allow:

* ``rate``/``increase``: MetricsQL does not extrapolate to the window's edges and counts from
  the last sample *before* the window; Prometheus extrapolates. Single points differ by up to
  ~20 % at a 2-minute scrape and 5-minute window, but where consecutive windows tile the time
  axis (step == rate window) both estimate the same slope: per-series means of rates, and
  totals of increases, agree closely. Quantiles and ratios built from rates inherit this.
* lookback/staleness: VictoriaMetrics derives it from the scrape interval, Prometheus keeps a
  series alive for 5 minutes after its last sample; inside a series' life, raw selectors at
  sample-aligned steps return the very samples on both.
* step alignment: VictoriaMetrics aligns start/end to the step (for its cache); the loader
  already evaluates at multiples of the step, so both see the same evaluation times.
* range selectors: ``m[10m]`` is left-open in VictoriaMetrics, ``(t-10m, t]``, and closed in
  Prometheus 2.x, ``[t-10m, t]`` (Prometheus 3 made it left-open too).
* ``/api/v1/status/buildinfo`` has no version in VictoriaMetrics 1.79.
"""

from __future__ import annotations

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from dwcp_diag.config import MetricNames, PrometheusSettings
from dwcp_diag.demo import DEMO_END, DEMO_SCRAPE_INTERVAL_S
from dwcp_diag.queries.promql import TEMPLATES
from dwcp_diag.sources.prometheus import PrometheusLoader

M = MetricNames()
# Two days evaluated every 5 minutes, the templates' rate window: windows tile exactly.
WINDOW = {"start": DEMO_END - pd.Timedelta(days=2), "end": DEMO_END, "step": 300}
EXACT = {
    "container_memory_working_set", "container_resources", "container_restarts",
    "last_terminated_reason", "pv_phase", "consumer_lag", "pg_connections",
    "pg_max_connections", "node_allocatable", "pod_owner",
}  # fmt: skip
MEAN_TOLERANCE = {  # relative difference of per-series means
    "request_rate_by_path": 0.01,
    "container_cpu_usage": 0.01,
    "latency_quantile": 0.01,
    "error_ratio": 0.02,
    "error_ratio_overall": 0.01,
}
TOTAL_TOLERANCE = {  # relative difference of per-series sums (a few restarts: coarser)
    "latency_bucket_increase": 0.01,
    "container_restarts_increase": 0.03,
}


def test_every_template_is_compared():
    assert EXACT | set(MEAN_TOLERANCE) | set(TOTAL_TOLERANCE) == set(TEMPLATES)


def _loader(url: str) -> PrometheusLoader:
    settings = PrometheusSettings(url=url, scrape_interval_s=DEMO_SCRAPE_INTERVAL_S)
    return PrometheusLoader(settings, now=DEMO_END)


@pytest.fixture(scope="module")
def prom(prometheus_server) -> PrometheusLoader:
    return _loader(prometheus_server.url)


@pytest.fixture(scope="module")
def vm(victoriametrics_server) -> PrometheusLoader:
    return _loader(victoriametrics_server.url)


def _labels(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in ("timestamp", "value")]


@pytest.mark.parametrize("name", sorted(EXACT))
def test_raw_sample_templates_are_identical(prom, vm, name):
    query = TEMPLATES[name](M)
    from_prometheus = prom.range(query, **WINDOW)
    assert len(from_prometheus) > 0
    assert_frame_equal(vm.range(query, **WINDOW), from_prometheus, check_exact=True)


@pytest.mark.parametrize(
    ("name", "tolerance", "statistic"),
    [(n, t, "mean") for n, t in MEAN_TOLERANCE.items()]
    + [(n, t, "sum") for n, t in TOTAL_TOLERANCE.items()],
)
def test_function_templates_agree_within_tolerance(prom, vm, name, tolerance, statistic):
    query = TEMPLATES[name](M)
    from_prometheus, from_vm = prom.range(query, **WINDOW), vm.range(query, **WINDOW)
    labels = _labels(from_prometheus)
    # the same series at the same times; only the values may differ
    assert_frame_equal(from_vm.drop(columns="value"), from_prometheus.drop(columns="value"))
    if labels:
        expected = from_prometheus.groupby(labels, observed=True)["value"].agg(statistic)
        got = from_vm.groupby(labels, observed=True)["value"].agg(statistic)
    else:
        expected = pd.Series([from_prometheus["value"].agg(statistic)])
        got = pd.Series([from_vm["value"].agg(statistic)])
    relative = (got - expected).abs() / expected.abs().clip(lower=1e-12)
    assert relative.max() <= tolerance, relative.sort_values().tail(3)


def test_chunked_raw_samples_are_identical(prom, vm):
    # 28 days at the scrape interval: two chunks per server
    query = 'http_request_duration_seconds_bucket{path="/api/v1/tasks"}'
    window = {"window": "28d", "step": DEMO_SCRAPE_INTERVAL_S}
    assert prom.plan(**window).points > 11_000
    assert_frame_equal(vm.range(query, **window), prom.range(query, **window), check_exact=True)


def test_instant_and_range_selector(prom, vm):
    query = 'kube_pod_container_status_restarts_total{namespace="production"}'
    assert_frame_equal(vm.instant(query), prom.instant(query), check_exact=True)
    raw, start = f"{query}[10m]", DEMO_END - pd.Timedelta("10m")
    from_prometheus = prom.instant(raw, at=DEMO_END)
    assert (from_prometheus["timestamp"] == start).any()  # Prometheus 2: closed on the left
    left_open = from_prometheus[from_prometheus["timestamp"] > start].reset_index(drop=True)
    assert_frame_equal(vm.instant(raw, at=DEMO_END), left_open, check_exact=True)


def test_metadata(prom, vm):
    assert_frame_equal(vm.label_values("namespace"), prom.label_values("namespace"))
    match = 'kube_pod_owner{namespace="production"}'
    assert_frame_equal(vm.series(match, window="1d"), prom.series(match, window="1d"))


def test_empty_answers_have_the_same_schema(prom, vm):
    query = 'http_requests_total{path="/nowhere"}'
    assert_frame_equal(vm.range(query, window="1h"), prom.range(query, window="1h"))


def test_check(vm, demo_cluster):
    names = {name for name, *_ in demo_cluster.iter_series()}
    check = vm.check()
    assert check.ok and f"version unknown, {len(names)} metric names" in check.detail
