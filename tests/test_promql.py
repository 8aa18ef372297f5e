"""Named PromQL templates: the exact text they build, escaping, and that each one answers
with data from a real Prometheus holding the simulator's series."""

from __future__ import annotations

import doctest

import pandas as pd
import pytest

from dwcp_diag.config import MetricNames, PrometheusSettings
from dwcp_diag.demo import DEMO_END
from dwcp_diag.queries import promql
from dwcp_diag.sources.prometheus import PrometheusLoader

M = MetricNames()


def test_docstring_examples_hold():
    assert doctest.testmod(promql).failed == 0


@pytest.mark.parametrize(
    ("built", "expected"),
    [
        (
            promql.request_rate_by_path(M, rate_window="1m"),
            "sum by (path) (rate(http_requests_total[1m]))",
        ),
        (
            promql.error_ratio(M),
            '(sum by (path) (rate(http_requests_total{status=~"5.."}[5m]))'
            " or sum by (path) (rate(http_requests_total[5m])) * 0)\n"
            "  / sum by (path) (rate(http_requests_total[5m]))",
        ),
        (
            promql.latency_quantile(M, q=0.99, by=("path", "namespace")),
            "histogram_quantile(0.99, sum by (le, path, namespace) "
            "(rate(http_request_duration_seconds_bucket[5m])))",
        ),
        (
            promql.latency_quantile(M, q=0.5, by=()),
            "histogram_quantile(0.5, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
        ),
        (
            promql.latency_bucket_increase(M, window=300),
            "sum by (le) (increase(http_request_duration_seconds_bucket[5m]))",
        ),
        (
            promql.container_memory_working_set(M, namespaces=["production", "data"]),
            'container_memory_working_set_bytes{container!="",container!="POD",'
            'namespace=~"data|production"}',
        ),
        (
            promql.container_cpu_usage(M, rate_window="10m", selector={"pod": "api-0"}),
            'rate(container_cpu_usage_seconds_total{container!="",container!="POD",pod="api-0"}[10m])',
        ),
        (
            promql.container_resources(M, kind="requests", resource=None),
            "kube_pod_container_resource_requests",
        ),
        (
            promql.container_restarts_increase(M, window="1d", namespaces="production"),
            'increase(kube_pod_container_status_restarts_total{namespace="production"}[1d])',
        ),
        (promql.last_terminated_reason(M), "kube_pod_container_status_last_terminated_reason"),
        (promql.pv_phase(M), "kube_persistentvolume_status_phase == 1"),
        (promql.consumer_lag(M, by=("topic",)), "sum by (topic) (kafka_consumergroup_lag)"),
        (promql.pg_connections(M, by=()), "sum(pg_stat_activity_count)"),
        (
            promql.node_allocatable(M, resource="memory"),
            'kube_node_status_allocatable{resource="memory"}',
        ),
        (promql.pod_owner(M), "kube_pod_owner"),
    ],
)
def test_template_text(built, expected):
    assert built == expected


def test_templates_follow_configured_metric_names():
    custom = MetricNames(
        http_requests="api_requests_total", path_label="route", status_label="code"
    )
    assert promql.request_rate_by_path(custom) == "sum by (route) (rate(api_requests_total[5m]))"
    assert 'code=~"5.."' in promql.error_ratio(custom)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('say "hi"', 'path="say \\"hi\\""'),
        ("C:\\dir", 'path="C:\\\\dir"'),
        ("two\nlines", 'path="two\\nlines"'),
        ("/a{1}", 'path="/a{1}"'),  # equality needs no regex escaping
    ],
)
def test_label_values_are_escaped(value, expected):
    assert promql.label_matcher("path", value) == expected


def test_regex_matcher_escapes_metacharacters_and_quotes():
    built = promql.label_matcher("path", ["/v1.2/(x)", 'a"b', "/v1.2/(x)"])
    # regex-escaped, then string-escaped; duplicates removed, values sorted
    assert built == 'path=~"/v1\\\\.2/\\\\(x\\\\)|a\\"b"'


def test_negated_matchers():
    assert promql.label_matcher("status", ["500", "503"], negate=True) == 'status!~"500|503"'


@pytest.mark.parametrize("label", ["", "1abc", "a-b", 'x"}) or vector(1'])
def test_bad_label_names_are_refused(label):
    with pytest.raises(ValueError, match="not a Prometheus label name"):
        promql.label_matcher(label, "x")


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="at least one value"):
        promql.label_matcher("path", [])
    with pytest.raises(ValueError, match="between 0 and 1"):
        promql.latency_quantile(M, q=95)
    with pytest.raises(ValueError, match="'requests' or 'limits'"):
        promql.container_resources(M, kind="usage")
    with pytest.raises(ValueError, match="longer than zero"):
        promql.request_rate_by_path(M, rate_window="0s")


@pytest.fixture(scope="module")
def prom(prometheus_server) -> PrometheusLoader:
    settings = PrometheusSettings(url=prometheus_server.url, scrape_interval_s=120)
    return PrometheusLoader(settings, now=DEMO_END)


@pytest.mark.parametrize("name", sorted(promql.TEMPLATES))
def test_every_template_answers_with_data(prom, name):
    frame = prom.range(promql.TEMPLATES[name](M), window="1d")
    assert len(frame) > 0
    assert frame["value"].notna().any()
    assert list(frame.columns[-2:]) == ["timestamp", "value"]


def test_escaped_values_select_exactly_one_series(prom):
    # a value that would be a regex or break the string if unescaped
    query = promql.series_selector(M.http_requests, selector={"path": ["/api/v1/tasks", '/x"|.*']})
    frame = prom.instant(query, at=DEMO_END)
    assert set(frame["path"]) == {"/api/v1/tasks"}


def test_error_ratio_is_zero_for_paths_without_server_errors(prom):
    frame = prom.instant(promql.error_ratio(M), at=DEMO_END)
    ratios = frame.set_index("path")["value"]
    assert ratios["/healthz"] == 0.0  # no 5xx series for /healthz at all
    assert (ratios >= 0).all() and (ratios < 1).all()


def test_latency_quantile_is_in_seconds_and_ordered(prom):
    window = {"start": DEMO_END - pd.Timedelta("1h"), "end": DEMO_END}
    p50 = prom.range(promql.latency_quantile(M, q=0.5), **window).set_index(["path", "timestamp"])
    p95 = prom.range(promql.latency_quantile(M, q=0.95), **window).set_index(["path", "timestamp"])
    both = p50.join(p95, how="inner", suffixes=("_50", "_95")).dropna()
    assert len(both) > 0
    assert (both["value_95"] >= both["value_50"]).all()
    assert both["value_95"].max() < 10  # seconds, below the largest finite bucket bound
