"""The Prometheus loader against a real Prometheus holding the simulator's series.

Exact values are compared with what was backfilled (``cluster.iter_series()``). Faults a real
Prometheus cannot be made to produce on demand (503 then recovery, 401, slow answers, HTML
instead of JSON) come from a small scripted HTTP server in this file.
"""

from __future__ import annotations

import base64
import contextlib
import doctest
import http.server
import itertools
import logging
import threading
from collections.abc import Callable
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import numpy as np
import orjson
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal

from dwcp_diag.config import MetricNames, Profile, PrometheusSettings
from dwcp_diag.credentials import Secret
from dwcp_diag.demo import DEMO_END, DEMO_SCRAPE_INTERVAL_S
from dwcp_diag.errors import AuthError, QueryError, ReplayMissing, SourceUnavailable
from dwcp_diag.queries import promql
from dwcp_diag.sandbox.ports import free_port
from dwcp_diag.session import Session
from dwcp_diag.sources import cache, prometheus, prometheus_decode, prometheus_http
from dwcp_diag.sources.cache import FrameCache
from dwcp_diag.sources.prometheus import (
    NICE_STEPS_S,
    PrometheusLoader,
    RangePlan,
    auto_step_s,
    pivot,
)
from dwcp_diag.sources.prometheus_decode import parse_result, to_frame
from dwcp_diag.sources.snapshot import Recorder, SnapshotBundle
from dwcp_diag.timewindow import TimeWindow
from tests.fixtures.loopback_http import loopback_http_server, relay

NOW = DEMO_END
SCRAPE_S = DEMO_SCRAPE_INTERVAL_S
LOOKBACK_S = 300  # Prometheus keeps answering with a series' last sample this long
M = MetricNames()
RATE_BY_PATH = promql.request_rate_by_path(M)


def settings_for(url: str, **overrides) -> PrometheusSettings:
    return PrometheusSettings(url=url, scrape_interval_s=SCRAPE_S, **overrides)


def loader_for(url: str, **options) -> PrometheusLoader:
    settings = {k: options.pop(k) for k in list(options) if k in {"retries", "timeout_s", "token"}}
    options.setdefault("backoff_s", 0.01)
    return PrometheusLoader(settings_for(url, **settings), now=NOW, **options)


@pytest.fixture(scope="module")
def prom(prometheus_server) -> PrometheusLoader:
    return loader_for(prometheus_server.url)


def series_of(cluster, name: str) -> list[tuple[dict, np.ndarray, np.ndarray]]:
    return [(labels, ts, v) for n, labels, ts, v in cluster.iter_series() if n == name]


@pytest.mark.parametrize("module", [prometheus, prometheus_decode, prometheus_http, cache])
def test_docstring_examples_hold(module):
    assert doctest.testmod(module).failed == 0


# ---------------------------------------------------------------------- values and frames


@pytest.mark.parametrize(
    "name", ["http_request_duration_seconds_bucket", "container_memory_working_set_bytes"]
)
def test_range_values_equal_the_backfilled_samples(prom, demo_cluster, name):
    # 28 days at the scrape interval: 20,161 points per series, fetched in two chunks.
    frame = prom.range(name, start=NOW - pd.Timedelta(days=28), end=NOW, step=SCRAPE_S)
    labels = [c for c in frame.columns if c not in ("timestamp", "value")]
    rows = frame.groupby(labels, observed=True).indices
    seconds = frame["timestamp"].astype("int64").to_numpy() // 10**9
    backfilled = series_of(demo_cluster, name)
    assert len(rows) == len(backfilled)
    for series_labels, timestamps_s, values in backfilled:
        found = rows[tuple({**series_labels, "__name__": name}[label] for label in labels)]
        head, tail = found[: len(values)], found[len(values) :]
        assert (seconds[head] == timestamps_s).all()
        assert (frame["value"].to_numpy()[head] == values).all()
        # Rows past the last sample are Prometheus's 5-minute lookback.
        after_end_s = seconds[tail] - timestamps_s[-1]
        assert ((after_end_s > 0) & (after_end_s <= LOOKBACK_S)).all()


def test_raw_samples_at_their_own_timestamps(prom, demo_cluster):
    """A range selector at a sample's time returns the raw samples, timestamps and all."""
    names = sorted({name for name, *_ in demo_cluster.iter_series()})
    for name in names:
        labels, timestamps_s, values = series_of(demo_cluster, name)[0]
        k = len(timestamps_s) // 2
        selector = promql.series_selector(name, selector=labels)
        frame = prom.instant(
            f"{selector}[{3.5 * SCRAPE_S:g}s]", at=pd.Timestamp(timestamps_s[k], unit="s")
        )
        got_s = frame["timestamp"].astype("int64").to_numpy() // 10**9
        assert got_s.tolist() == timestamps_s[k - 3 : k + 1].tolist(), name
        assert frame["value"].tolist() == values[k - 3 : k + 1].tolist(), name


def test_frame_layout(prom):
    frame = prom.range(promql.container_resources(M, resource=None), window="2h")
    assert list(frame.columns) == [
        "__name__", "container", "namespace", "pod", "resource", "unit", "timestamp", "value",
    ]  # fmt: skip
    assert str(frame["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert frame["value"].dtype == np.float64
    for column in frame.columns[:-2]:
        assert isinstance(frame[column].dtype, pd.CategoricalDtype)
        assert frame[column].cat.categories.dtype == "str"
    assert frame.index.equals(pd.RangeIndex(len(frame)))
    ordered = frame.sort_values([*frame.columns[:-1]], kind="stable", ignore_index=True)
    assert_frame_equal(frame, ordered)


def test_name_column_only_when_the_answer_has_names(prom):
    assert "__name__" in prom.instant("http_requests_total", at=NOW).columns
    assert "__name__" not in prom.instant("rate(http_requests_total[5m])", at=NOW).columns


def test_empty_result_has_stable_columns(prom):
    frame = prom.range('http_requests_total{path="/nowhere"}', window="1h")
    assert list(frame.columns) == ["timestamp", "value"] and len(frame) == 0
    assert str(frame["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert frame["value"].dtype == np.float64
    with_labels = prom.instant('http_requests_total{path="/nowhere"}', labels=["path", "status"])
    assert list(with_labels.columns) == ["path", "status", "timestamp", "value"]
    assert with_labels["path"].cat.categories.dtype == "str"


def test_requested_labels_exist_even_when_no_series_has_them(prom):
    frame = prom.instant(RATE_BY_PATH, at=NOW, labels=["path", "region"])
    assert frame["region"].isna().all() and frame["path"].notna().all()


def test_nan_and_infinities(prom):
    window = {"start": NOW - pd.Timedelta("1h"), "end": NOW, "step": SCRAPE_S}
    rates = prom.range(RATE_BY_PATH, **window)["value"].to_numpy()
    assert (rates > 0).all()
    plus = prom.range(f"{RATE_BY_PATH} / 0", **window)["value"]
    minus = prom.range(f"-{RATE_BY_PATH} / 0", **window)["value"]
    nan = prom.range(f"{RATE_BY_PATH} * 0 / 0", **window)["value"]
    assert (plus == np.inf).all() and (minus == -np.inf).all() and nan.isna().all()
    assert len(plus) == len(rates)
    assert prom.instant("1 / 0", at=NOW)["value"].tolist() == [np.inf]
    assert np.isnan(prom.instant("vector(NaN)", at=NOW)["value"].iloc[0])


_ODD_VALUES = {
    "status": "success",
    "data": {
        "resultType": "matrix",
        "result": [
            {"metric": {"path": "/b", "le": "+Inf"}, "values": [[60, "NaN"], [120.5, "-Inf"]]},
            {"metric": {"path": "/a"}, "values": [[60, "1e-05"], [120, "+Inf"], [180, "-0"]]},
            {"metric": {"path": "/c"}, "values": []},
        ],
    },
}


def test_fast_decoder_and_plain_json_agree():
    compact = orjson.dumps(_ODD_VALUES)
    pretty = orjson.dumps(_ODD_VALUES, option=orjson.OPT_INDENT_2)  # defeats the fast path
    fast, slow = to_frame(parse_result(compact)), to_frame(parse_result(pretty))
    assert_frame_equal(fast, slow, check_exact=True)
    # sorted by le, then path: the series without le comes last
    assert fast["path"].tolist() == ["/b", "/b", "/a", "/a", "/a"]
    values = fast["value"].tolist()
    assert np.isnan(values[0]) and values[1:4] == [-np.inf, 1e-05, np.inf] and values[4] == 0
    assert fast["timestamp"].iloc[1] == pd.Timestamp(120_500, unit="ms", tz="UTC")


# ---------------------------------------------------------------------- steps and chunks


@given(duration_s=st.floats(min_value=60, max_value=400 * 86400))
def test_auto_step_gives_1000_to_2000_points(duration_s):
    step = auto_step_s(duration_s, scrape_interval_s=1)
    points = int(duration_s // step) + 1
    assert step in NICE_STEPS_S or step % 86400 == 0
    if duration_s >= 1000:
        assert 1000 <= points <= 2000


@given(
    duration_s=st.floats(min_value=1, max_value=400 * 86400),
    scrape_s=st.sampled_from([15, 60, 120]),
)
def test_auto_step_never_below_the_scrape_interval(duration_s, scrape_s):
    assert auto_step_s(duration_s, scrape_interval_s=scrape_s) >= scrape_s


def test_loader_plan_uses_the_auto_step(prom):
    plan = prom.plan(window="28d")
    assert plan.step_s == 1800 and 1000 <= plan.points <= 2000
    assert prom.plan(window="1h").step_s == SCRAPE_S  # the scrape interval is the floor
    assert plan.start_ms % plan.step_ms == 0 and plan.end == NOW


@given(
    start=st.integers(0, 10**6),
    points=st.integers(1, 500),
    step=st.integers(1, 10**4),
    max_points=st.integers(1, 120),
)
def test_chunks_cover_every_evaluation_time_once(start, points, step, max_points):
    plan = RangePlan(start * step, (start + points - 1) * step, step)
    chunks = plan.chunks(max_points)
    times = [t for c in chunks for t in range(c.start_ms, c.end_ms + 1, step)]
    assert times == list(range(plan.start_ms, plan.end_ms + 1, step))
    assert all(c.points <= max_points for c in chunks)
    assert all(b.start_ms == a.end_ms + step for a, b in itertools.pairwise(chunks))


def test_window_is_aligned_to_the_step():
    window = TimeWindow.parse(start="2026-11-15T23:01:30Z", end="2026-11-15T23:59:59Z")
    plan = RangePlan.for_window(window, 600)
    assert (plan.start.isoformat(), plan.end.isoformat(), plan.points) == (
        "2026-11-15T23:10:00+00:00", "2026-11-15T23:50:00+00:00", 5,
    )  # fmt: skip


@pytest.mark.parametrize("query", [RATE_BY_PATH, 'http_request_duration_seconds_bucket{le="0.1"}'])
def test_chunked_equals_unchunked(prometheus_server, prom, query, caplog):
    window = {"start": NOW - pd.Timedelta("6h"), "end": NOW, "step": SCRAPE_S}
    whole = prom.range(query, **window)
    small = loader_for(prometheus_server.url, max_points_per_request=7)
    with caplog.at_level(logging.DEBUG, logger="dwcp_diag.prometheus"):
        chunked = small.range(query, **window)
    assert "in 26 chunk(s) of <= 7" in caplog.text
    assert_frame_equal(whole, chunked, check_exact=True)
    per_series = chunked.groupby([c for c in chunked.columns[:-2]], observed=True)["timestamp"]
    assert (per_series.count() == small.plan(**window).points).all()
    assert per_series.apply(
        lambda t: (t.diff().dropna() == pd.Timedelta(seconds=SCRAPE_S)).all()
    ).all()


def test_more_than_11000_points_is_answered_in_chunks(prom, caplog):
    with caplog.at_level(logging.DEBUG, logger="dwcp_diag.prometheus"):
        frame = prom.range('http_requests_total{path="/healthz"}', window="28d", step=60)
    assert "40321 points per series at step 1m in 4 chunk(s)" in caplog.text
    assert len(frame) == 40321 and frame["timestamp"].is_unique


def test_exceeded_resolution_is_split(prometheus_server, prom, caplog):
    """Past our own chunking, Prometheus's 11,000-point refusal makes the loader split."""
    query, window = 'http_requests_total{path="/healthz"}', {"window": "28d", "step": SCRAPE_S}
    greedy = loader_for(prometheus_server.url, max_points_per_request=50_000)
    with caplog.at_level(logging.DEBUG, logger="dwcp_diag.prometheus"):
        frame = greedy.range(query, **window)
    assert "exceeded maximum resolution" in caplog.text and "splitting 20161 points" in caplog.text
    assert_frame_equal(frame, prom.range(query, **window), check_exact=True)


def test_too_many_samples_is_split(start_prometheus, prom, caplog):
    strict = start_prometheus("--query.max-samples=2000")
    query, window = "http_requests_total", {"window": "6h", "step": SCRAPE_S}  # 16 x 181 points
    with caplog.at_level(logging.DEBUG, logger="dwcp_diag.prometheus"):
        frame = loader_for(strict.url).range(query, **window)
    assert "too many samples" in caplog.text and "splitting 181 points into 90 + 91" in caplog.text
    assert_frame_equal(frame, prom.range(query, **window), check_exact=True)


def test_too_many_samples_even_after_splitting(start_prometheus):
    strict = start_prometheus("--query.max-samples=10")
    with pytest.raises(QueryError, match="too many samples") as caught:
        loader_for(strict.url).range("http_requests_total", window="6h", step=SCRAPE_S)
    assert "also after splitting" in str(caught.value) and "larger step" in str(caught.value)


def test_long_query_is_sent_as_post(prom, caplog):
    paths = [f"/generated/{i:04d}" for i in range(400)] + ["/api/v1/tasks"]
    query = promql.series_selector("http_requests_total", selector={"path": paths})
    assert len(query) > 4096
    with caplog.at_level(logging.DEBUG, logger="dwcp_diag.prometheus"):
        frame = prom.range(query, window="1h")
    assert "POST http://127.0.0.1" in caplog.text
    short = prom.range('http_requests_total{path="/api/v1/tasks"}', window="1h")
    assert_frame_equal(frame, short, check_exact=True)


# ---------------------------------------------------------------------- metadata and pivot


def test_series_and_label_values(prom, demo_cluster):
    namespaces = sorted(
        {
            labels["namespace"]
            for _, labels, *_ in demo_cluster.iter_series()
            if "namespace" in labels
        }
    )
    assert prom.label_values("namespace")["namespace"].tolist() == namespaces
    owners = prom.series(
        'kube_pod_owner{namespace="production"}', start=NOW - pd.Timedelta("1h"), end=NOW
    )
    assert set(owners["__name__"]) == {"kube_pod_owner"}
    assert set(owners["namespace"]) == {"production"}
    assert owners["pod"].is_unique and len(owners) > 0
    codes = prom.label_values("status", match="http_requests_total", window="1d")
    assert codes["status"].tolist() == ["200", "404", "500", "503"]


def test_pivot(prom):
    long = prom.range(RATE_BY_PATH, window="1h", step=SCRAPE_S)
    wide = pivot(long)
    assert list(wide.columns) == sorted(set(long["path"]))
    assert wide.index.name == "timestamp" and len(wide) == long["timestamp"].nunique()
    assert wide.loc[long["timestamp"].iloc[0], long["path"].iloc[0]] == long["value"].iloc[0]
    assert list(pivot(long, label="path").columns) == list(wide.columns)
    named = pivot(prom.range("http_requests_total", window="10m", step=SCRAPE_S))
    assert "path=/healthz, status=200" in named.columns
    with pytest.raises(ValueError, match="several series share"):
        pivot(prom.range("http_requests_total", window="10m"), label="path")


def test_check_reports_version_and_metrics(prom, demo_cluster):
    names = {name for name, *_ in demo_cluster.iter_series()}
    check = prom.check()
    assert check.ok and "version 2." in check.detail
    assert f"{len(names)} metric names" in check.detail and "no credentials" in check.detail


# ---------------------------------------------------------------------- errors


def test_bad_promql_names_prometheus_message_and_query(prom):
    query = "sum(rate(http_requests_total[5m])"
    with pytest.raises(QueryError) as caught:
        prom.range(query, window="1h")
    message = str(caught.value)
    assert "HTTP 400 bad_data" in message and "parse error" in message and query in message
    assert caught.value.query == query


def test_execution_error_is_a_query_error(prom):
    with pytest.raises(QueryError, match=r"HTTP 422 execution.*many-to-many"):
        prom.instant("http_requests_total + on(path) http_requests_total", at=NOW)


class ExpiredDeadlineProxy:
    """Relays HTTP to a real Prometheus, setting the ``timeout`` parameter of every
    ``query_range`` request to one nanosecond: the query's deadline has passed before its
    evaluation starts, so Prometheus answers with its own timeout error (HTTP 503) on every
    chunk, however fast the machine. Other requests pass unchanged."""

    def __init__(self, upstream_url: str) -> None:
        self.range_requests = 0
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # the http.server API
                relay(self, upstream_url, proxy.expire)

            do_POST = do_GET

            def log_message(self, *args: object) -> None:
                pass

        self.httpd, self.url, self.thread = loopback_http_server(Handler)

    def expire(self, path: str, body: bytes | None) -> tuple[str, bytes | None]:
        parts = urlsplit(path)
        if parts.path != "/api/v1/query_range":
            return path, body
        self.range_requests += 1

        def expired(encoded: str) -> str:
            params = [(k, v) for k, v in parse_qsl(encoded) if k != "timeout"]
            return urlencode([*params, ("timeout", "1e-9")])

        if body:
            return path, expired(body.decode()).encode()
        return parts._replace(query=expired(parts.query)).geturl(), body

    def __enter__(self) -> ExpiredDeadlineProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_prometheus_query_timeout_is_retried_split_then_reported(prometheus_server, caplog):
    with (
        ExpiredDeadlineProxy(prometheus_server.url) as hasty,
        caplog.at_level(logging.DEBUG, logger="dwcp_diag.prometheus"),
        # 503 "query timed out in query queue" or "... in query execution", depending on where
        # Prometheus first looks at the deadline; 422 "context deadline exceeded" when storage
        # does: all timeouts, not bad queries
        pytest.raises(
            SourceUnavailable,
            match=r"HTTP (503 timeout: query timed out|422 execution: context deadline exceeded)",
        ) as caught,
    ):
        loader_for(hasty.url, retries=1).range(RATE_BY_PATH, window="1d", step=SCRAPE_S)
    assert "also after splitting" in str(caught.value)
    assert "retry 1/1" in caplog.text and "splitting 721 points into 360 + 361" in caplog.text
    assert hasty.range_requests == 2 + 1 + 1  # two tries at the day, a half, its half: given up


def test_fractional_timeout_is_accepted(prometheus_server):
    loader = loader_for(prometheus_server.url, timeout_s=2.5)
    assert len(loader.range(RATE_BY_PATH, window="1h")) > 0


def test_closed_port_names_the_masked_url(caplog):
    port = free_port()
    loader = loader_for(f"http://monitor:hunter2@127.0.0.1:{port}", retries=1)
    with (
        caplog.at_level(logging.DEBUG, logger="dwcp_diag.prometheus"),
        pytest.raises(SourceUnavailable) as caught,
    ):
        loader.range("up", window="1h")
    message = str(caught.value)
    assert f"http://monitor:***@127.0.0.1:{port}" in message and "unreachable" in message
    assert "hunter2" not in message and not isinstance(caught.value, AuthError)
    assert caught.value.source == "prometheus"
    # one retry as configured, then the error: no splitting of a window nobody answers
    assert caplog.text.count("retry ") == 1 and "splitting" not in caplog.text
    check = loader.check()
    assert not check.ok and "hunter2" not in check.line()


# Scripted server -----------------------------------------------------------------------


class ScriptedServer:
    """HTTP on 127.0.0.1 answering with ``respond(request) -> (status, body[, HOLD])``.

    An answer marked ``HOLD`` is held back until the server is closed (at most HANG_GUARD_S):
    the client's own timeout always comes first, however busy the machine."""

    def __init__(self, respond: Callable[[dict], tuple]) -> None:
        self.requests: list[dict] = []
        self.closing = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                parts = urlsplit(self.path)
                request = {
                    "method": self.command,
                    "path": parts.path,
                    "params": {k: v[0] for k, v in parse_qs(parts.query or body).items()},
                    "headers": dict(self.headers),
                }
                server.requests.append(request)
                status, payload, *hold = respond(request)
                if hold:
                    server.closing.wait(HANG_GUARD_S)
                data = payload if isinstance(payload, bytes) else orjson.dumps(payload)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.httpd, self.url, self.thread = loopback_http_server(Handler)

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()


HOLD = "hold"
HANG_GUARD_S = 120  # a held answer is released at the latest then (not a speed check)


def matrix_answer(params: dict) -> dict:
    """One series with a sample at each evaluation time of ``params`` (or at ``time``)."""
    if "time" in params:
        result = [{"metric": {"job": "scripted"}, "value": [float(params["time"]), "1"]}]
        return {"status": "success", "data": {"resultType": "vector", "result": result}}
    start, end, step = (float(params[k]) for k in ("start", "end", "step"))
    times = np.arange(start, end + step / 2, step)
    values = [[t, str(t % 7)] for t in times.tolist()]
    result = [{"metric": {"job": "scripted"}, "values": values}]
    return {"status": "success", "data": {"resultType": "matrix", "result": result}}


TIMEOUT = {
    "status": "error",
    "errorType": "timeout",
    "error": "query timed out in expression evaluation",
}
SMALL_WINDOW = {"start": NOW - pd.Timedelta(seconds=3 * SCRAPE_S), "end": NOW, "step": SCRAPE_S}


def test_503_is_retried_until_prometheus_recovers():
    def respond(request):
        return (
            (503, TIMEOUT) if len(server.requests) <= 2 else (200, matrix_answer(request["params"]))
        )

    with ScriptedServer(respond) as server:
        frame = loader_for(server.url, retries=3).range("up", **SMALL_WINDOW)
    assert len(server.requests) == 3 and len(frame) == 4


def failing_above_two_points(status: int, body: dict):
    """A scripted answer: ``status``/``body`` for windows of more than two points."""

    def respond(request):
        params = request["params"]
        points = (float(params["end"]) - float(params["start"])) / float(params["step"]) + 1
        return (status, body) if points > 2 else (200, matrix_answer(params))

    return respond


def test_503_after_retries_splits_the_window():
    with ScriptedServer(failing_above_two_points(503, TIMEOUT)) as server:
        frame = loader_for(server.url, retries=1).range("up", **SMALL_WINDOW)
    spans = [(r["params"]["start"], r["params"]["end"]) for r in server.requests]
    assert len(spans) == 4 and spans[0] == spans[1]  # two attempts, then two halves
    assert spans[2][0] == spans[0][0] and spans[3][1] == spans[0][1]
    assert float(spans[3][0]) == float(spans[2][1]) + SCRAPE_S
    expected = loader_for("http://unused").plan(**SMALL_WINDOW)
    assert len(frame) == expected.points and frame["timestamp"].is_monotonic_increasing


def test_a_storage_deadline_422_is_a_timeout_that_splits_not_a_bad_query():
    deadline = {"status": "error", "errorType": "execution", "error": "context deadline exceeded"}
    with ScriptedServer(failing_above_two_points(422, deadline)) as server:
        frame = loader_for(server.url, retries=0).range("up", **SMALL_WINDOW)
    assert len(server.requests) == 3  # the whole window, then two halves
    assert len(frame) == loader_for("http://unused").plan(**SMALL_WINDOW).points
    bad = {"status": "error", "errorType": "execution", "error": "vector cannot contain metrics"}
    with (
        ScriptedServer(lambda request: (422, bad)) as server,
        pytest.raises(QueryError, match="vector cannot contain metrics"),
    ):
        loader_for(server.url, retries=0).range("up", **SMALL_WINDOW)
    assert len(server.requests) == 1  # a bad query is not split


def test_503_everywhere_ends_as_source_unavailable():
    with (
        ScriptedServer(lambda request: (503, TIMEOUT)) as server,
        pytest.raises(SourceUnavailable, match=r"HTTP 503 timeout.*also after splitting"),
    ):
        loader_for(server.url, retries=1).range("up", **SMALL_WINDOW)
    # two attempts, the first half, its first quarter (one point): then it gives up
    assert len(server.requests) == 2 + 1 + 1


def test_slow_answers_time_out():
    with ScriptedServer(lambda request: (200, matrix_answer(request["params"]), HOLD)) as server:
        loader = loader_for(server.url, timeout_s=0.2, retries=0)
        window = {**SMALL_WINDOW, "start": NOW - pd.Timedelta(seconds=SCRAPE_S)}  # 2 points
        with pytest.raises(SourceUnavailable, match=r"did not answer .* within 0\.2s"):
            loader.range("up", **window)
        assert len(server.requests) == 2  # the window, then its first single-point half
        with pytest.raises(SourceUnavailable, match=r"within 0\.2s \(timeout_s\)$"):
            loader.instant("up", at=NOW)


def _bearer_server(token: str) -> ScriptedServer:
    def respond(request):
        if request["headers"].get("Authorization") != f"Bearer {token}":
            return 401, b"Unauthorized\n"
        if request["path"] == "/api/v1/status/buildinfo":
            return 200, {"status": "success", "data": {"version": "2.99.0"}}
        if request["path"] == "/api/v1/label/__name__/values":
            return 200, {"status": "success", "data": ["up"]}
        return 200, matrix_answer(request["params"])

    return ScriptedServer(respond)


def test_401_never_shows_the_token(caplog):
    wrong = "wrong-token-s3cr3t-0042"
    secret = Secret.from_env("DWCP_TEST_PROM_TOKEN", environ={"DWCP_TEST_PROM_TOKEN": wrong})
    caplog.set_level(logging.DEBUG)
    with _bearer_server("right-token") as server:
        loader = loader_for(server.url, token=secret)
        with pytest.raises(AuthError) as caught:
            loader.range("up", **SMALL_WINDOW)
        check = loader.check()
    assert server.requests[0]["headers"]["Authorization"] == f"Bearer {wrong}"  # it was sent
    message = str(caught.value)
    assert "HTTP 401" in message and "env:DWCP_TEST_PROM_TOKEN" in message
    assert wrong not in message and wrong not in caplog.text and wrong not in check.line()
    assert not check.ok and "refused the credentials" in check.detail


def test_accepted_token_and_basic_auth():
    secret = Secret.from_env("T", environ={"T": "right-token"})
    with _bearer_server("right-token") as server:
        loader = loader_for(server.url, token=secret)
        assert len(loader.range("up", **SMALL_WINDOW)) == 4
        check = loader.check()
    assert check.ok and "version 2.99.0" in check.detail and "env:T) accepted" in check.detail

    expected = "Basic " + base64.b64encode(b"monitor:pa55").decode()

    def respond(request):
        if request["headers"].get("Authorization") != expected:
            return 401, b""
        return 200, matrix_answer(request["params"])

    password = Secret.from_env("P", environ={"P": "pa55"})
    with ScriptedServer(respond) as server:
        settings = settings_for(server.url, username="monitor", password=password)
        assert len(PrometheusLoader(settings, now=NOW).range("up", **SMALL_WINDOW)) == 4


def test_html_instead_of_json_is_source_unavailable():
    page = b"<!DOCTYPE html><html><body>Sign in</body></html>"
    with (
        ScriptedServer(lambda request: (200, page)) as server,
        pytest.raises(SourceUnavailable, match=r"answered with something else.*DOCTYPE"),
    ):
        loader_for(server.url).range("up", **SMALL_WINDOW)


def test_wrong_base_url_is_explained():
    with (
        ScriptedServer(lambda request: (404, b"404 page not found")) as server,
        pytest.raises(SourceUnavailable, match=r"HTTP 404.*base URL"),
    ):
        loader_for(server.url).range("up", **SMALL_WINDOW)
    assert len(server.requests) == 1  # not retried


# ---------------------------------------------------------------------- record, replay, cache


def test_record_then_replay_offline(start_prometheus, tmp_path):
    server = start_prometheus()
    profile = Profile(prometheus=settings_for(server.url))
    calls: dict[str, Callable[[Session], pd.DataFrame]] = {
        "auto_step": lambda s: s.prom.range(promql.latency_quantile(M), window="7d"),
        "chunked": lambda s: s.prom.range(
            'http_requests_total{path="/healthz"}', window="28d", step=60
        ),
        "empty": lambda s: s.prom.range('up{job="none"}', window="1h", labels=["job"]),
        "nan_inf": lambda s: s.prom.range(f"{RATE_BY_PATH} / 0", window="1h"),
        "instant": lambda s: s.prom.instant(promql.pv_phase(M)),
        "series": lambda s: s.prom.series("kube_pod_owner", window="1d"),
        "label_values": lambda s: s.prom.label_values("namespace"),
    }
    live = Session(profile, source="live", record=tmp_path / "bundle", now=NOW)
    recorded = {name: call(live) for name, call in calls.items()}
    server.stop()
    with pytest.raises(SourceUnavailable):  # really offline now
        loader_for(server.url, retries=0).range(RATE_BY_PATH, window="1h")

    replayed = Session(profile, source=f"snapshot:{tmp_path / 'bundle'}")
    assert replayed.now == NOW
    for name, call in calls.items():
        assert_frame_equal(call(replayed), recorded[name], check_exact=True, obj=name)
    with pytest.raises(ReplayMissing, match="kube_node_status_capacity"):
        replayed.prom.range("kube_node_status_capacity", window="1h")


def test_unreachable_call_is_recorded_and_replayed(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    recorder = Recorder(tmp_path, now=NOW)
    live = PrometheusLoader(settings_for(url, retries=0), recorder=recorder, now=NOW)
    with pytest.raises(SourceUnavailable) as first:
        live.range("up", window="1h")
    replay = PrometheusLoader(settings_for(url), replay=SnapshotBundle(tmp_path), now=NOW)
    with pytest.raises(SourceUnavailable) as again:
        replay.range("up", window="1h")
    assert str(again.value) == str(first.value)


def test_disk_cache_returns_the_identical_frame(start_prometheus, tmp_path):
    server = start_prometheus()
    query, window = promql.container_memory_working_set(M), {"window": "7d"}
    fresh = loader_for(server.url, cache_dir=str(tmp_path)).range(query, **window)
    stored = list(tmp_path.rglob("*.arrow"))
    assert len(stored) == 1
    server.stop()  # the cache alone answers now
    cached = loader_for(server.url, cache_dir=str(tmp_path), retries=0).range(query, **window)
    assert_frame_equal(cached, fresh, check_exact=True)
    for column in fresh.columns:
        assert cached[column].dtype == fresh[column].dtype
    assert pd.util.hash_pandas_object(cached).equals(pd.util.hash_pandas_object(fresh))
    with pytest.raises(SourceUnavailable):  # without the cache, the server is needed
        loader_for(server.url, retries=0).range(query, **window)


def test_recent_windows_are_not_cached(prometheus_server, tmp_path):
    loader = PrometheusLoader(settings_for(prometheus_server.url), cache_dir=str(tmp_path))
    loader.range("up", window="1h")  # ends now: data may still arrive
    assert not list(tmp_path.rglob("*.*"))


@pytest.mark.parametrize("file_format", ["arrow", "parquet"])
def test_cache_files_keep_frames_exactly(tmp_path, file_format):
    cache = FrameCache(tmp_path, file_format=file_format)
    full = to_frame(parse_result(orjson.dumps(_ODD_VALUES)), labels=["region"])
    empty = to_frame([], labels=["path"])
    for name, frame in {"full": full, "empty": empty}.items():
        cache.put("http://prom:9090", "range", {"query": name}, frame)
        back = cache.get("http://prom:9090", "range", {"query": name})
        assert_frame_equal(back, frame, check_exact=True)
        assert [back[c].dtype for c in back] == [frame[c].dtype for c in frame]
    assert cache.get("http://other:9090", "range", {"query": "full"}) is None
    next(tmp_path.rglob(f"*.{file_format}")).write_bytes(b"damaged")
    assert (
        sum(cache.get("http://prom:9090", "range", {"query": q}) is None for q in ("full", "empty"))
        == 1
    )
