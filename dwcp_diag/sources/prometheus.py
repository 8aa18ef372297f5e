"""The Prometheus loader: PromQL in, tidy long frames out (live, recorded or replayed).

``range`` picks a step of about 1,000-2,000 points per series (never finer than the scrape
interval) unless given one, evaluates at multiples of the step (so repeated calls, chunks and
caches line up), splits windows of more than 11,000 points per series into chunks fetched
concurrently and stitched exactly, and halves a chunk that Prometheus finds too heavy (503,
timeout, too many samples). Frames are described in :mod:`dwcp_diag.sources.prometheus_decode`.

>>> from dwcp_diag.config import PrometheusSettings
>>> loader = PrometheusLoader(PrometheusSettings(url="http://127.0.0.1:9090"))
>>> frame = loader.range("sum by (path) (rate(http_requests_total[5m]))", window="7d")
... # doctest: +SKIP
>>> auto_step_s(7 * 86400, scrape_interval_s=60)
600.0
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import pandas as pd

from dwcp_diag.config import PrometheusSettings
from dwcp_diag.errors import (
    ConfigError,
    DwcpDiagError,
    QueryError,
    SourceUnavailable,
    TimeWindowError,
)
from dwcp_diag.queries.promql import check_label_name
from dwcp_diag.sources.base import Loader, SourceCheck
from dwcp_diag.sources.cache import FrameCache
from dwcp_diag.sources.prometheus_decode import (
    DecodeError,
    Matrix,
    listing_size,
    parse_envelope,
    parse_result,
    series_frame,
    to_frame,
    values_frame,
)
from dwcp_diag.sources.prometheus_empty import EMPTY_REASON, explain_empty, metric_names
from dwcp_diag.sources.prometheus_http import (
    PrometheusHTTP,
    ResultTooLarge,
    ServerBusy,
    server_identity,
)
from dwcp_diag.sources.snapshot import Recorder, SnapshotBundle
from dwcp_diag.timewindow import (
    DurationLike,
    TimeLike,
    TimeWindow,
    format_duration,
    parse_duration,
    parse_time,
)

log = logging.getLogger("dwcp_diag.prometheus")

# Prometheus refuses a query_range of more than 11,000 points per series.
MAX_POINTS_PER_REQUEST = 11_000
TARGET_MAX_POINTS = 2_000
# Steps a person would choose; consecutive ones differ by at most 2x, so the automatic step
# gives between TARGET_MAX_POINTS / 2 and TARGET_MAX_POINTS points per series.
NICE_STEPS_S = (
    *(1, 2, 3, 5, 10, 15, 20, 30),
    *(60, 120, 180, 300, 600, 900, 1200, 1800),
    *(3600, 7200, 10800, 14400, 21600, 43200, 86400),
)
# A chunk that is still too heavy is halved at most this many times (1/4 of its points).
MAX_SPLIT_DEPTH = 2
# Data is final (cacheable) this long after it was scraped.
CACHE_SETTLE_SCRAPES = 5
CACHE_SETTLE_MIN_S = 300.0


def auto_step_s(duration_s: float, scrape_interval_s: float) -> float:
    """A nice step giving at most 2,000 (and at least ~1,000) points, never below the scrape.

    >>> auto_step_s(86400, 15), auto_step_s(28 * 86400, 60), auto_step_s(3600, 60)
    (60.0, 1800.0, 60.0)
    """
    wanted = duration_s / (TARGET_MAX_POINTS - 1)
    nice = next((float(s) for s in NICE_STEPS_S if s >= wanted), None)
    if nice is None:
        nice = float(math.ceil(wanted / 86400) * 86400)
    return max(nice, float(scrape_interval_s))


@dataclass(frozen=True)
class RangePlan:
    """Evaluation times of a range query: ``start_ms, start_ms + step_ms, ..., end_ms``."""

    start_ms: int
    end_ms: int
    step_ms: int

    @classmethod
    def for_window(cls, window: TimeWindow, step_s: float) -> RangePlan:
        """The multiples of ``step_s`` (since the epoch) inside ``window``.

        >>> w = TimeWindow.parse(start="2026-11-16T00:00:30Z", end="2026-11-16T00:10:00Z")
        >>> plan = RangePlan.for_window(w, 120)
        >>> plan.start.isoformat(), plan.end.isoformat(), plan.points
        ('2026-11-16T00:02:00+00:00', '2026-11-16T00:10:00+00:00', 5)
        """
        step_ms = round(step_s * 1000)
        if step_ms < 1:
            raise TimeWindowError(f"step {step_s!r}s is shorter than a millisecond")
        start_ms = -(-_milliseconds(window.start) // step_ms) * step_ms
        end_ms = _milliseconds(window.end) // step_ms * step_ms
        if end_ms < start_ms:
            raise TimeWindowError(
                f"window {window.label()} holds no multiple of the step "
                f"{format_duration(step_s)}: widen the window or shorten the step"
            )
        return cls(start_ms, end_ms, step_ms)

    @property
    def points(self) -> int:
        return (self.end_ms - self.start_ms) // self.step_ms + 1

    @property
    def start(self) -> pd.Timestamp:
        return pd.Timestamp(self.start_ms, unit="ms", tz="UTC")

    @property
    def end(self) -> pd.Timestamp:
        return pd.Timestamp(self.end_ms, unit="ms", tz="UTC")

    @property
    def step_s(self) -> float:
        return self.step_ms / 1000

    def chunks(self, max_points: int) -> list[RangePlan]:
        """Consecutive plans of at most ``max_points`` each: every start is the previous end
        plus one step, so no evaluation time is repeated or skipped.

        >>> [(c.start_ms, c.end_ms) for c in RangePlan(0, 9, 1).chunks(4)]
        [(0, 3), (4, 7), (8, 9)]
        """
        span = max_points * self.step_ms
        starts = range(self.start_ms, self.end_ms + 1, span)
        return [
            RangePlan(s, min(s + span - self.step_ms, self.end_ms), self.step_ms) for s in starts
        ]

    def halves(self) -> tuple[RangePlan, RangePlan]:
        """Two consecutive plans covering this one (which has at least two points)."""
        middle = self.start_ms + (self.points // 2) * self.step_ms
        return (
            RangePlan(self.start_ms, middle - self.step_ms, self.step_ms),
            RangePlan(middle, self.end_ms, self.step_ms),
        )


def _milliseconds(stamp: pd.Timestamp) -> int:
    return stamp.value // 1_000_000


def _seconds_text(milliseconds: int) -> str:
    return f"{milliseconds // 1000}.{milliseconds % 1000:03d}"


class PrometheusLoader(Loader):
    """Prometheus (or VictoriaMetrics, Thanos, Mimir) query results as tidy frames.

    ``now`` anchors relative times (``window="7d"``, ``"now-6h"``); without it, the wall clock
    at each call. ``cache_dir`` turns on the disk cache of past windows (off by default).
    ``max_points_per_request`` and ``backoff_s`` exist for tests and unusual servers.
    """

    kind = "prometheus"

    def __init__(
        self,
        settings: PrometheusSettings,
        *,
        recorder: Recorder | None = None,
        replay: SnapshotBundle | None = None,
        now: pd.Timestamp | None = None,
        cache_dir: str | None = None,
        max_points_per_request: int = MAX_POINTS_PER_REQUEST,
        backoff_s: float = 0.5,
    ) -> None:
        super().__init__(recorder=recorder, replay=replay)
        self.settings = settings
        self._now = now
        self.cache = FrameCache(cache_dir) if cache_dir else None
        self.max_points_per_request = max_points_per_request
        self.backoff_s = backoff_s
        self._http: PrometheusHTTP | None = None
        self._metric_names: frozenset[str] | None = None
        self._names_lock = threading.Lock()

    @property
    def now(self) -> pd.Timestamp:
        if self._now is not None:
            return self._now
        if self.replay is not None:
            return self.replay.now
        return pd.Timestamp.now(tz="UTC").floor("s")

    @property
    def http(self) -> PrometheusHTTP:
        """The HTTP connection, made on first use (a replaying loader never makes one)."""
        if self._http is None:
            try:
                self._http = PrometheusHTTP(self.settings, backoff_s=self.backoff_s)
            except ConfigError as exc:  # no URL, unreadable token: this source is unavailable
                raise SourceUnavailable("prometheus", str(exc)) from None
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()

    def __repr__(self) -> str:
        mode = "replay" if self.is_replay else self.settings.display_url
        return f"PrometheusLoader({mode})"

    # ------------------------------------------------------------------ public calls

    def range(
        self,
        query: str,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        step: DurationLike | None = None,
        window: DurationLike | None = None,
        labels: Sequence[str] = (),
    ) -> pd.DataFrame:
        """Evaluate ``query`` over a window: a long frame, one row per series and time.

        The window is ``window`` (a duration ending at ``end``, default now) or
        ``start``..``end``; default the last 24 hours. ``step`` defaults to
        :func:`auto_step_s`. ``labels`` are label columns the frame has even when empty.
        An empty frame says why in ``frame.attrs["empty_reason"]`` (see :meth:`instant`).

        >>> loader.range("sum by (path) (rate(http_requests_total[5m]))", window="7d")
        ... # doctest: +SKIP
        """
        plan = self.plan(start=start, end=end, step=step, window=window)
        params = {"query": query, "start": plan.start, "end": plan.end, "step": plan.step_s}
        if labels:
            params["labels"] = list(labels)
        where = f"in the window {TimeWindow(plan.start, plan.end).label()}"
        return self._load(
            "range",
            params,
            lambda: self._explained(self._cached_range(query, plan, params, labels), query, where),
        )

    def plan(
        self,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        step: DurationLike | None = None,
        window: DurationLike | None = None,
    ) -> RangePlan:
        """The evaluation times :meth:`range` uses for these arguments (no server needed)."""
        span = TimeWindow.parse(window=window, start=start, end=end, now=self.now)
        if step is None:
            step_s = auto_step_s(span.duration_s, self.settings.scrape_interval_s)
        else:
            step_s = parse_duration(step)
            if step_s <= 0:
                raise TimeWindowError(f"step {step!r} must be longer than zero")
        return RangePlan.for_window(span, step_s)

    def instant(
        self, query: str, at: TimeLike | None = None, labels: Sequence[str] = ()
    ) -> pd.DataFrame:
        """Evaluate ``query`` at one time (default now): one row per series.

        A range-vector selector (``metric[1h]``) returns its raw samples with their own
        timestamps.

        A frame with no rows carries a one-line ``frame.attrs["empty_reason"]`` (kept when
        recorded and replayed): a metric name the server does not know (with the closest
        known name), or that the names exist but no series matched; a WARNING is logged for
        unknown names.

        >>> loader.instant("kube_pod_container_status_restarts_total", at="2026-11-16")
        ... # doctest: +SKIP
        >>> loader.instant("http_request_total").attrs["empty_reason"]  # doctest: +SKIP
        "no series: Prometheus has no metric named 'http_request_total' (did you mean ..."
        """
        time = parse_time(at if at is not None else "now", now=self.now).floor("ms")
        params: dict = {"query": query, "time": time}
        if labels:
            params["labels"] = list(labels)
        where = f"at {time.strftime('%Y-%m-%dT%H:%M:%SZ')}"
        return self._load(
            "instant",
            params,
            lambda: self._explained(self._fetch_instant(query, time, labels), query, where),
        )

    def series(
        self,
        match: str | Iterable[str],
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        window: DurationLike | None = None,
    ) -> pd.DataFrame:
        """Label sets of the series matching ``match`` in a window (default last 24 h).

        More than the settings' ``max_series`` series is refused (:class:`QueryError`, before
        decoding): aggregate (``count by (job) (...)``) or narrow the selector instead.

        >>> loader.series('kube_pod_owner{namespace="production"}', window="1d")
        ... # doctest: +SKIP
        """
        matches = [match] if isinstance(match, str) else sorted(match)
        span = TimeWindow.parse(window=window, start=start, end=end, now=self.now)
        params = {"match": matches, "start": span.start, "end": span.end}
        return self._load("series", params, lambda: self._fetch_series(matches, span))

    def label_values(
        self,
        label: str,
        match: str | Iterable[str] | None = None,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        window: DurationLike | None = None,
    ) -> pd.DataFrame:
        """The values of ``label`` (one categorical column named after it), sorted.

        Without a window, Prometheus looks at everything it stores. More than the settings'
        ``max_series`` values is refused, as for :meth:`series`.

        >>> loader.label_values("namespace")["namespace"].tolist()  # doctest: +SKIP
        ['data', 'production']
        """
        params: dict = {"label": check_label_name(label)}
        if match is not None:
            params["match"] = [match] if isinstance(match, str) else sorted(match)
        if window is not None or start is not None or end is not None:
            span = TimeWindow.parse(window=window, start=start, end=end, now=self.now)
            params.update(start=span.start, end=span.end)
        return self._load("label_values", params, lambda: self._fetch_label_values(params))

    def check(self) -> SourceCheck:
        """Reachable? Which version? Are the credentials accepted? One line for ``check``."""
        if self.replay is not None:
            recorded = sum(1 for e in self.replay.entries.values() if e["source"] == self.kind)
            target = f"snapshot {self.replay.directory}"
            return SourceCheck(self.kind, True, target, f"replaying {recorded} recorded calls")
        target = self.settings.display_url or "(no URL configured)"
        try:
            info = self.http.get_json("/api/v1/status/buildinfo").get("data") or {}
            api = self.http.api_client()
            names = self.http.metadata("/api/v1/label/__name__/values", api.all_metrics)
        except (SourceUnavailable, ConfigError) as exc:
            return SourceCheck(self.kind, False, target, str(exc))
        version = info.get("version") or "unknown"  # VictoriaMetrics answers with no version
        detail = f"version {version}, {len(names)} metric names, {self._credentials_note()}"
        return SourceCheck(self.kind, True, target, detail)

    def _credentials_note(self) -> str:
        if self.settings.token is not None:
            return f"bearer token ({self.settings.token.reference}) accepted"
        if self.settings.username:
            return f"basic auth as {self.settings.username!r} accepted"
        return "no credentials configured"

    # ------------------------------------------------------------------ live fetching

    def _cached_range(
        self, query: str, plan: RangePlan, params: dict, labels: Sequence[str]
    ) -> pd.DataFrame:
        if self.cache is None or not self._is_settled(plan.end):
            return self._fetch_range(query, plan, labels)
        server = server_identity(self.settings.url or "")
        frame = self.cache.get(server, "range", params)
        if frame is None:
            frame = self._fetch_range(query, plan, labels)
            self.cache.put(server, "range", params, frame)
        return frame

    def _is_settled(self, end: pd.Timestamp) -> bool:
        settle_s = max(CACHE_SETTLE_MIN_S, CACHE_SETTLE_SCRAPES * self.settings.scrape_interval_s)
        return end < pd.Timestamp.now(tz="UTC") - pd.Timedelta(seconds=settle_s)

    def _fetch_range(self, query: str, plan: RangePlan, labels: Sequence[str]) -> pd.DataFrame:
        self.http  # noqa: B018  # connect here, not racing in the worker threads
        chunks = plan.chunks(self.max_points_per_request)
        workers = min(self.settings.max_workers, len(chunks))
        log.debug(
            "range: %d points per series at step %s in %d chunk(s) of <= %d, %d worker(s): %s",
            plan.points, format_duration(plan.step_s), len(chunks),
            self.max_points_per_request, workers, query,
        )  # fmt: skip
        with _final_errors(query):
            if workers <= 1:
                parts = [m for chunk in chunks for m in self._fetch_chunk(query, chunk)]
            else:
                parts = _run_all(workers, [lambda c=c: self._fetch_chunk(query, c) for c in chunks])
        return to_frame(parts, labels)

    @property
    def _server_timeout(self) -> str:
        # Plain seconds: Prometheus refuses fractional durations such as "2.5s".
        return f"{self.settings.timeout_s:g}"

    def _fetch_chunk(self, query: str, plan: RangePlan, depth: int = 0) -> list[Matrix]:
        params = {
            "query": query,
            "start": _seconds_text(plan.start_ms),
            "end": _seconds_text(plan.end_ms),
            "step": _seconds_text(plan.step_ms),
            "timeout": self._server_timeout,
        }
        try:
            # Retries happen once, for the whole chunk; halves get one attempt each.
            body = self.http.call(
                "/api/v1/query_range", params, query, retries=None if depth == 0 else 0
            )
        except (ServerBusy, ResultTooLarge) as exc:
            if depth >= MAX_SPLIT_DEPTH or plan.points < 2:
                raise
            first, second = plan.halves()
            log.debug(
                "splitting %d points into %d + %d after: %s",
                plan.points, first.points, second.points, exc,
            )  # fmt: skip
            return self._fetch_chunk(query, first, depth + 1) + self._fetch_chunk(
                query, second, depth + 1
            )
        return [self._decode(body)]

    def _fetch_instant(self, query: str, time: pd.Timestamp, labels: Sequence[str]):
        params = {
            "query": query,
            "time": _seconds_text(_milliseconds(time)),
            "timeout": self._server_timeout,
        }
        with _final_errors(query, split=False):
            body = self.http.call("/api/v1/query", params, query)
        return to_frame(self._decode(body), labels)

    def _fetch_series(self, matches: list[str], span: TimeWindow) -> pd.DataFrame:
        params = {
            "match[]": matches,
            "start": _seconds_text(_milliseconds(span.start)),
            "end": _seconds_text(_milliseconds(span.end)),
        }
        selector = " or ".join(matches)
        body = self.http.call("/api/v1/series", params, selector)
        self._check_listing(
            body,
            f"series matching {selector} in {span.label()}",
            f"aggregate instead (count by (job) ({selector}), sum by (...)) or narrow the "
            "selector (more label matchers, a shorter window)",
            selector,
        )
        try:
            return series_frame(body)
        except DecodeError as exc:
            raise self.http.unavailable(
                f"answered /api/v1/series with something else: {exc}"
            ) from None

    def _fetch_label_values(self, params: dict) -> pd.DataFrame:
        label = params["label"]
        query: dict = {}
        if "match" in params:
            query["match[]"] = params["match"]
        if "start" in params:
            query.update(
                start=_seconds_text(_milliseconds(params["start"])),
                end=_seconds_text(_milliseconds(params["end"])),
            )
        path = f"/api/v1/label/{label}/values"
        selector = " or ".join(params.get("match", [])) or None
        body = self.http.call(path, query, selector)
        self._check_listing(
            body,
            f"values of label {label!r}" + (f" on series matching {selector}" if selector else ""),
            f"aggregate instead (count by ({label}) (...)) or narrow the selector "
            "(match=, a window)",
            selector or label,
        )
        return values_frame(label, self._listed_strings(body, path))

    def _check_listing(self, body: bytes, what: str, advice: str, query: str) -> None:
        """Refuse a listing answer holding more than ``max_series`` entries, before decoding."""
        limit = self.settings.max_series
        count = listing_size(body)
        if limit and count > limit:
            raise QueryError(
                f"Prometheus at {self.http.display_url} has {count:,} {what}, more than "
                f"max_series = {limit:,}: {advice}, or raise max_series in the profile's "
                "[prometheus] section",
                query,
            )

    def _listed_strings(self, body: bytes, path: str) -> list[str]:
        try:
            data = parse_envelope(body).get("data")
        except DecodeError as exc:
            raise self.http.unavailable(f"answered {path} with something else: {exc}") from None
        if not isinstance(data, list) or not all(isinstance(v, str) for v in data):
            raise self.http.unavailable(f"answered {path} with something else than a list")
        return data

    # ------------------------------------------------------------------ empty results

    def _explained(self, frame: pd.DataFrame, query: str, where: str) -> pd.DataFrame:
        """``frame``, with ``attrs["empty_reason"]`` when it has no rows (see :meth:`instant`)."""
        if len(frame):
            return frame
        names = metric_names(query)
        known = self._known_metric_names() if names else None
        reason = explain_empty(names, known, where)
        if known is not None and any(name not in known for name in names):
            log.warning("%s\n  query: %s", reason, query)
        frame.attrs[EMPTY_REASON] = reason
        return frame

    def _known_metric_names(self) -> frozenset[str] | None:
        """The server's metric names, read once per loader; None when they cannot be read."""
        with self._names_lock:
            if self._metric_names is None:
                path = "/api/v1/label/__name__/values"
                try:
                    self._metric_names = frozenset(
                        self._listed_strings(self.http.call(path, {}), path)
                    )
                except DwcpDiagError as exc:
                    log.debug("metric names unavailable to explain an empty result: %s", exc)
                    return None
            return self._metric_names

    def _decode(self, body: bytes) -> Matrix:
        try:
            return parse_result(body)
        except DecodeError as exc:
            raise self.http.unavailable(f"answered with something else: {exc}") from None


@contextmanager
def _final_errors(query: str, split: bool = True) -> Iterator[None]:
    """Turn the internal split signals into plain public errors when splitting is over.

    A snapshot replays errors by type name, so only the public types may leave a fetch.
    """
    after = " (also after splitting the window)" if split else ""
    try:
        yield
    except ServerBusy as exc:
        raise SourceUnavailable(exc.source, f"{exc}{after}") from None
    except ResultTooLarge as exc:
        hint = "use a larger step, a shorter window or a narrower selector"
        raise QueryError(f"{exc}\n  {hint}{after}", query) from None


def _run_all(workers: int, calls: list[Callable[[], list[Matrix]]]) -> list[Matrix]:
    """Run ``calls`` on a bounded pool; results in call order; the first failure cancels."""
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="prom-chunk") as pool:
        futures: list[Future] = [pool.submit(call) for call in calls]
        try:
            return [matrix for future in futures for matrix in future.result()]
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def pivot(frame: pd.DataFrame, label: str | None = None) -> pd.DataFrame:
    """Wide frame for plotting: ``timestamp`` index, one column per series.

    Columns are named by ``label`` (which must identify the series), or else by the labels
    whose values differ between series (``"path=/a, status=500"``; just the value when one
    label differs; ``"value"`` for a single series).

    >>> long = pd.DataFrame({"path": pd.Categorical(["/a", "/b", "/a"]),
    ...                      "timestamp": pd.to_datetime([0, 0, 60], unit="s", utc=True),
    ...                      "value": [1.0, 2.0, 3.0]})
    >>> pivot(long).to_dict("list")
    {'/a': [1.0, 3.0], '/b': [2.0, nan]}
    """
    label_cols = [c for c in frame.columns if c not in ("timestamp", "value")]
    if label is not None:
        if label not in label_cols:
            raise ValueError(f"pivot(label={label!r}): the frame has labels {label_cols}")
        keys = [label]
    else:
        keys = [c for c in label_cols if frame[c].nunique(dropna=False) > 1]
    if not keys:
        wide = frame.set_index("timestamp")[["value"]]
        if wide.index.has_duplicates:
            raise ValueError("pivot: several series share timestamps; pass label=")
        return wide
    by = keys[0] if len(keys) == 1 else keys
    grouped = frame.groupby(by, observed=True, sort=True, dropna=False)
    names = [_series_name(keys, key) for key in grouped.groups]
    codes = grouped.ngroup()
    try:
        wide = frame.assign(_series=codes).pivot(
            index="timestamp", columns="_series", values="value"
        )
    except ValueError:
        raise ValueError(
            f"pivot(label={label!r}): several series share {keys}; aggregate first "
            f"(e.g. sum by ({', '.join(keys)}) (...)) or pass another label"
        ) from None
    wide.columns = pd.Index([names[i] for i in wide.columns], name=label or "series")
    return wide


def _series_name(keys: list[str], key: object) -> str:
    values = key if isinstance(key, tuple) else (key,)
    if len(keys) == 1:
        return str(values[0])
    return ", ".join(f"{k}={v}" for k, v in zip(keys, values, strict=True))
