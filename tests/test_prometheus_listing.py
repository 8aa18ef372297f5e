"""Listing calls at scale (200,000 series) and explained empty results, against real Prometheus.

``many_series_prometheus`` holds 200,000 series of ``dwcp_listing_probe`` (backfilled by
promtool, cached); ``prometheus_server`` holds the demo simulator's series.
"""

from __future__ import annotations

import doctest
import json
import logging
import tracemalloc

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal

from dwcp_diag.config import PrometheusSettings, load_profile
from dwcp_diag.demo import DEMO_END, DEMO_SCRAPE_INTERVAL_S
from dwcp_diag.errors import ConfigError, QueryError
from dwcp_diag.sandbox.ports import free_port
from dwcp_diag.sources import prometheus_empty
from dwcp_diag.sources.prometheus import PrometheusLoader
from dwcp_diag.sources.prometheus_decode import (
    _series_frame_fast,
    labels_frame,
    listing_size,
    series_frame,
)
from dwcp_diag.sources.prometheus_empty import EMPTY_REASON, explain_empty, metric_names
from dwcp_diag.sources.snapshot import Recorder, SnapshotBundle
from tests.fixtures.prometheus import MANY_SERIES, MANY_SERIES_METRIC

NOW = DEMO_END


def loader_for(url: str, **settings_overrides) -> PrometheusLoader:
    settings = PrometheusSettings(
        url=url, scrape_interval_s=DEMO_SCRAPE_INTERVAL_S, retries=0, **settings_overrides
    )
    return PrometheusLoader(settings, now=NOW, backoff_s=0.01)


def test_docstring_examples_hold():
    assert doctest.testmod(prometheus_empty).failed == 0


# ---------------------------------------------------------------------- decoding label sets


def series_body(label_sets: list[dict[str, str]], **extra) -> bytes:
    """A /api/v1/series answer laid out as Prometheus writes it (compact, data last)."""
    return orjson.dumps({"status": "success", **extra, "data": label_sets})


ODD_SETS = [
    {"__name__": "up", "job": 'quote " and \\ backslash', "when": "2026-11-16 00:00:00"},
    {"__name__": "up", "job": "<tag> & \u00e9\u4e2d\U0001f600", "x": "},{"},
    {"__name__": "up", "job": '"},{"', "le": "+Inf"},
    {"job": "no name", "value": "a label named value", "timestamp": "1"},
    {"__name__": "up", "job": ""},
]


@pytest.mark.parametrize("count", [0, 1, len(ODD_SETS)])
def test_series_frame_equals_the_plain_decode(count):
    body = series_body(ODD_SETS[:count])
    expected = labels_frame(orjson.loads(body)["data"])
    assert_frame_equal(series_frame(body), expected, check_exact=True)
    assert listing_size(body) >= count


def test_fast_path_is_taken_unless_the_layout_is_unusual():
    plain = series_body([{"__name__": "up", "job": "a", "when": "2026-11-16"}])
    assert _series_frame_fast(plain) is not None
    assert series_frame(plain)["when"].tolist() == ["2026-11-16"]  # not a timestamp
    # A value that is itself the separator between label sets, warnings, pretty JSON: the
    # general path, same frame.
    for body in (
        series_body([{"__name__": "up", "job": "},{"}, {"__name__": "up", "job": "b"}]),
        orjson.dumps({"status": "success", "data": ODD_SETS[:2], "warnings": ["w"]}),
        orjson.dumps({"status": "success", "data": ODD_SETS[:2]}, option=orjson.OPT_INDENT_2),
    ):
        assert _series_frame_fast(body) is None
        assert_frame_equal(series_frame(body), labels_frame(orjson.loads(body)["data"]))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(["__name__", "job", "pod", "le", "value", "a_b"]),
            st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=8),
            min_size=1,
        ),
        max_size=12,
    )
)
def test_series_frame_equals_the_plain_decode_for_any_values(label_sets):
    body = series_body(label_sets)
    assert_frame_equal(series_frame(body), labels_frame(label_sets), check_exact=True)


# ---------------------------------------------------------------------- 200,000 series


@pytest.fixture(scope="module")
def many(many_series_prometheus) -> PrometheusLoader:
    return loader_for(many_series_prometheus.url, max_series=MANY_SERIES + 1)


def test_200000_series_are_listed_exactly(many):
    frame = many.series(MANY_SERIES_METRIC, window="1d")
    assert list(frame.columns) == ["__name__", "namespace", "node", "pod"]
    assert len(frame) == MANY_SERIES and frame["pod"].is_unique
    numbers = frame["pod"].str.removeprefix("pod-").astype(int)
    assert sorted(numbers) == list(range(MANY_SERIES))
    expected_namespace = numbers.map(lambda i: f"ns-{i % 50:02d}")
    assert (frame["namespace"].astype(str) == expected_namespace).all()
    assert (frame["node"].astype(str) == numbers.map(lambda i: f"node-{i % 100:03d}")).all()
    ordered = frame.sort_values(list(frame.columns), ignore_index=True)
    assert_frame_equal(frame, ordered)  # sorted by labels, as every listing frame is
    pods = many.label_values("pod", match=MANY_SERIES_METRIC)["pod"]
    assert pods.tolist() == sorted(frame["pod"].astype(str))


def test_decoding_200000_series_keeps_no_object_per_series(many_series_prometheus):
    """Python allocations while decoding stay near the answer's own size (a list of label
    dicts, the usual decode, takes about 16 times the answer)."""
    loader = loader_for(many_series_prometheus.url)
    body = loader.http.call("/api/v1/series", {"match[]": MANY_SERIES_METRIC, "start": "0"})
    assert listing_size(body) == MANY_SERIES
    tracemalloc.start()
    try:
        frame = series_frame(body)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(frame) == MANY_SERIES
    assert peak < 3 * len(body), f"{peak / 1e6:.0f} MB for a {len(body) / 1e6:.0f} MB answer"


def test_more_series_than_max_series_is_refused_with_advice(many_series_prometheus):
    loader = loader_for(many_series_prometheus.url)  # max_series defaults to 100,000
    assert loader.settings.max_series == 100_000
    with pytest.raises(QueryError) as caught:
        loader.series(MANY_SERIES_METRIC, window="1d")
    message = str(caught.value)
    assert "\n" not in message and message.startswith(
        f"Prometheus at {many_series_prometheus.url} has 200,000 series matching "
        f"{MANY_SERIES_METRIC} in "
    )
    assert f"count by (job) ({MANY_SERIES_METRIC})" in message and "max_series = 100,000" in message
    assert "narrow the selector" in message and "[prometheus] section" in message
    with pytest.raises(QueryError, match=r"has 200,000 values of label 'pod', more than"):
        loader.label_values("pod")
    narrow = loader.series(f'{MANY_SERIES_METRIC}{{namespace="ns-07"}}', window="1d")
    assert len(narrow) == MANY_SERIES // 50 and set(narrow["namespace"]) == {"ns-07"}
    unlimited = loader_for(many_series_prometheus.url, max_series=0)
    assert len(unlimited.label_values("pod")) == MANY_SERIES


def test_max_series_setting_is_validated(tmp_path):
    path = tmp_path / "dwcp-diag.toml"
    path.write_text("[profiles.p.prometheus]\nmax_series = 5000\n")
    assert load_profile("p", path=path, environ={}).prometheus.max_series == 5000
    for bad, error in (("-1", "must not be negative"), ("1.5", "expected a whole number")):
        path.write_text(f"[profiles.p.prometheus]\nmax_series = {bad}\n")
        with pytest.raises(ConfigError, match=rf"prometheus\.max_series: {error}"):
            load_profile("p", path=path, environ={})


# ---------------------------------------------------------------------- explained empties


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("up", ["up"]),
        ('sum by (path, status) (rate(requests{status=~"5.."}[5m]))', ["requests"]),
        ("sum without (instance) (a) / ignoring (le) group_left (path) b", ["a", "b"]),
        ("histogram_quantile(0.95, sum by (le) (rate(x_bucket[5m] offset 1h)))", ["x_bucket"]),
        ("a and on(job) b or c unless d", ["a", "b", "c", "d"]),
        ("max_over_time(deriv(m[1h:5m])[1d:1h]) @ start()", ["m"]),
        ('label_replace(up, "by", "$1", "on", "(sum)")', ["up"]),
        ('{__name__="process_up", job="x"} or {__name__=~"go_.*"}', ["process_up"]),
        ('count(up{by="on", offset="5m"}) > bool 1e3', ["up"]),
        ("vector(1) * Inf - NaN + time() # up\n", []),
        ("topk(5, sum by (pod) (container_memory_bytes)) * 0x1F", ["container_memory_bytes"]),
        ("a:recorded:rate5m + on() group_right b_total", ["a:recorded:rate5m", "b_total"]),
    ],
)  # fmt: skip
def test_metric_names_of_tricky_promql(query, names):
    assert metric_names(query) == names


def test_explanations():
    known = ["http_requests_total", "up"]
    assert explain_empty(["http_request_total", "zzz"], known, "today") == (
        "no series: Prometheus has no metrics named 'http_request_total' "
        "(did you mean 'http_requests_total'?) or 'zzz'"
    )
    assert explain_empty(["up", "http_requests_total"], known, "today") == (
        "no series: metrics 'up', 'http_requests_total' exist but no series matched the "
        "selector today"
    )
    assert "could not be checked" in explain_empty(["up"], None, "today")


@pytest.fixture(scope="module")
def prom(prometheus_server) -> PrometheusLoader:
    return loader_for(prometheus_server.url)


def test_unknown_metric_name_is_explained_and_warned(prom, caplog):
    with caplog.at_level(logging.WARNING, logger="dwcp_diag.prometheus"):
        frame = prom.range("rate(http_request_total[5m])", window="1h")
    assert len(frame) == 0 and list(frame.columns) == ["timestamp", "value"]
    reason = (
        "no series: Prometheus has no metric named 'http_request_total' "
        "(did you mean 'http_requests_total'?)"
    )
    assert frame.attrs[EMPTY_REASON] == reason
    assert reason in caplog.text and "query: rate(http_request_total[5m])" in caplog.text
    instant = prom.instant("no_such_metric", at=NOW)
    assert (
        instant.attrs[EMPTY_REASON] == "no series: Prometheus has no metric named 'no_such_metric'"
    )


def test_known_metric_with_no_matching_series_is_explained(prom, caplog):
    with caplog.at_level(logging.WARNING, logger="dwcp_diag.prometheus"):
        frame = prom.range('http_requests_total{path="/nowhere"}', window="1h")
        instant = prom.instant('sum(http_requests_total{path="/nowhere"})', at=NOW)
    assert frame.attrs[EMPTY_REASON] == (
        "no series: metric 'http_requests_total' exists but no series matched the selector "
        "in the window 2026-11-15T23:00Z..2026-11-16T00:00Z"
    )
    assert instant.attrs[EMPTY_REASON].endswith("matched the selector at 2026-11-16T00:00:00Z")
    assert caplog.text == ""  # nothing to warn about: the names exist
    assert EMPTY_REASON not in prom.range("http_requests_total", window="1h").attrs


def test_empty_reason_survives_record_and_replay(prometheus_server, tmp_path):
    recorder = Recorder(tmp_path, now=NOW)
    live = PrometheusLoader(
        PrometheusSettings(url=prometheus_server.url), recorder=recorder, now=NOW
    )
    calls = {
        "range": lambda loader: loader.range("http_request_total", window="1h", labels=["path"]),
        "instant": lambda loader: loader.instant('up{job="none"}', at=NOW),
    }
    recorded = {name: call(live) for name, call in calls.items()}
    assert all(EMPTY_REASON in frame.attrs for frame in recorded.values())
    manifest = json.loads(next((tmp_path / "manifests").glob("*.json")).read_text())
    kept = [entry["attrs"][EMPTY_REASON] for entry in manifest["entries"].values()]
    assert sorted(kept) == sorted(frame.attrs[EMPTY_REASON] for frame in recorded.values())
    offline = PrometheusSettings(url=f"http://127.0.0.1:{free_port()}", retries=0)
    replay = PrometheusLoader(offline, replay=SnapshotBundle(tmp_path), now=NOW)
    for name, call in calls.items():
        frame = call(replay)
        assert_frame_equal(frame, recorded[name], check_exact=True)
        assert frame.attrs == recorded[name].attrs, name
