r"""Named PromQL templates, built from configurable :class:`~dwcp_diag.config.MetricNames`.

Every template returns PromQL text; label values are escaped (backslash, double quote, newline)
and, in regex matchers, regex-escaped too, so a value never changes the query's structure.
Extra label filters go in ``selector``: a mapping of label to one value (``=``) or several
(``=~"a|b"``). Durations accept what :func:`dwcp_diag.timewindow.parse_duration` accepts.

>>> from dwcp_diag.config import MetricNames
>>> m = MetricNames()
>>> request_rate_by_path(m, selector={"namespace": "production"})
'sum by (path) (rate(http_requests_total{namespace="production"}[5m]))'
>>> label_matcher("path", ["/a", "/b.json"])
'path=~"/a|/b\\\\.json"'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence

from dwcp_diag.config import MetricNames
from dwcp_diag.timewindow import DurationLike, format_duration, parse_duration

LabelFilter = Mapping[str, str | Iterable[str]]

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_REGEX_META = re.compile(r"([\\.+*?()|\[\]{}^$])")
# cAdvisor also exports the pod's cgroup (container="") and the pause container ("POD").
_REAL_CONTAINERS = ('container!=""', 'container!="POD"')


def escape_label_value(value: str) -> str:
    r"""Escape ``value`` for a double-quoted PromQL string.

    >>> print(escape_label_value('say "hi"\\now\n'))
    say \"hi\"\\now\n
    """
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escape_regex(value: str) -> str:
    r"""Escape RE2 metacharacters so ``value`` matches itself literally in ``=~``.

    >>> escape_regex("/api/v1.2/(x)")
    '/api/v1\\.2/\\(x\\)'
    """
    return _REGEX_META.sub(r"\\\1", value)


def check_label_name(label: str) -> str:
    """``label`` if it is a valid Prometheus label name, else ValueError.

    >>> check_label_name("namespace")
    'namespace'
    """
    if not isinstance(label, str) or not _LABEL_NAME.fullmatch(label):
        raise ValueError(f"{label!r} is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)")
    return label


def label_matcher(label: str, values: str | Iterable[str], negate: bool = False) -> str:
    """``label="v"`` for one value, ``label=~"v1|v2"`` for several (``!=``/``!~`` if negate).

    Several values are deduplicated and sorted, so the same set always gives the same text.

    >>> label_matcher("namespace", "production"), label_matcher("status", ["500", "503"])
    ('namespace="production"', 'status=~"500|503"')
    >>> label_matcher("container", "", negate=True)
    'container!=""'
    """
    check_label_name(label)
    if isinstance(values, str):
        values = [values]
    unique = sorted(set(values))
    if not unique:
        raise ValueError(f"label_matcher({label!r}): give at least one value")
    if not all(isinstance(v, str) for v in unique):
        raise ValueError(f"label_matcher({label!r}): values must be strings, got {unique!r}")
    if len(unique) == 1:
        operator = "!=" if negate else "="
        return f'{label}{operator}"{escape_label_value(unique[0])}"'
    operator = "!~" if negate else "=~"
    pattern = "|".join(escape_regex(v) for v in unique)
    return f'{label}{operator}"{escape_label_value(pattern)}"'


def series_selector(metric: str, *matchers: str, selector: LabelFilter | None = None) -> str:
    """``metric{matchers..., selector...}``; the selector's labels come sorted by name.

    >>> series_selector("up", 'job="api"', selector={"namespace": ["a", "b"]})
    'up{job="api",namespace=~"a|b"}'
    >>> series_selector("up")
    'up'
    """
    parts = list(matchers)
    for label in sorted(selector or {}):
        parts.append(label_matcher(label, selector[label]))  # type: ignore[index]
    return f"{metric}{{{','.join(parts)}}}" if parts else metric


def _duration(value: DurationLike) -> str:
    seconds = parse_duration(value)
    if seconds <= 0:
        raise ValueError(f"duration {value!r} must be longer than zero")
    return format_duration(seconds)


def _by(labels: Sequence[str]) -> str:
    """``by (a, b) `` or nothing: the grouping clause of an aggregation."""
    if isinstance(labels, str):
        labels = (labels,)
    return f" by ({', '.join(check_label_name(label) for label in labels)}) " if labels else ""


def _sum(by: Sequence[str], inner: str) -> str:
    return f"sum{_by(by)}({inner})"


def _namespaced(selector: LabelFilter | None, namespaces: str | Iterable[str] | None) -> dict:
    merged = dict(selector or {})
    if namespaces is not None:
        merged["namespace"] = namespaces
    return merged


def request_rate_by_path(
    m: MetricNames, selector: LabelFilter | None = None, rate_window: DurationLike = "5m"
) -> str:
    """Requests per second by path.

    >>> request_rate_by_path(MetricNames())
    'sum by (path) (rate(http_requests_total[5m]))'
    """
    inner = f"rate({series_selector(m.http_requests, selector=selector)}[{_duration(rate_window)}])"
    return _sum((m.path_label,), inner)


def request_rate_by_path_status(
    m: MetricNames, selector: LabelFilter | None = None, rate_window: DurationLike = "5m"
) -> str:
    """Requests per second by path and status: the latency and incident reports' counter.

    >>> request_rate_by_path_status(MetricNames(), {"path": ["/api/v1/tasks"]})
    'sum by (path, status) (rate(http_requests_total{path="/api/v1/tasks"}[5m]))'
    """
    inner = f"rate({series_selector(m.http_requests, selector=selector)}[{_duration(rate_window)}])"
    return _sum((m.path_label, m.status_label), inner)


def latency_bucket_rate(
    m: MetricNames, selector: LabelFilter | None = None, rate_window: DurationLike = "5m"
) -> str:
    """The duration histogram's bucket rates by path: what p50/p95/p99 and the heatmap are
    computed from (as ``histogram_quantile`` would).

    >>> latency_bucket_rate(MetricNames(), rate_window="10m")
    'sum by (le, path) (rate(http_request_duration_seconds_bucket[10m]))'
    """
    bucket = series_selector(m.http_duration_bucket, selector=selector)
    return _sum(("le", m.path_label), f"rate({bucket}[{_duration(rate_window)}])")


def error_ratio(
    m: MetricNames,
    by: Sequence[str] | None = None,
    selector: LabelFilter | None = None,
    rate_window: DurationLike = "5m",
    error_status: str = "5..",
) -> str:
    """Share of requests answered with a server error (5xx): by path, or overall with ``by=()``.

    A path without any 5xx series gets 0 rather than no value (``or ... * 0``).

    >>> print(error_ratio(MetricNames(), by=()))
    (sum(rate(http_requests_total{status=~"5.."}[5m])) or sum(rate(http_requests_total[5m])) * 0)
      / sum(rate(http_requests_total[5m]))
    """
    by = (m.path_label,) if by is None else tuple(by)
    window = _duration(rate_window)
    errors_matcher = f'{check_label_name(m.status_label)}=~"{escape_label_value(error_status)}"'
    errors = series_selector(m.http_requests, errors_matcher, selector=selector)
    total = _sum(by, f"rate({series_selector(m.http_requests, selector=selector)}[{window}])")
    failed = _sum(by, f"rate({errors}[{window}])")
    return f"({failed} or {total} * 0)\n  / {total}"


def latency_quantile(
    m: MetricNames,
    q: float = 0.95,
    by: Sequence[str] = ("path",),
    selector: LabelFilter | None = None,
    rate_window: DurationLike = "5m",
) -> str:
    """The ``q`` latency quantile in seconds from the request duration histogram.

    >>> latency_quantile(MetricNames(), q=0.95)
    'histogram_quantile(0.95, sum by (le, path) (rate(http_request_duration_seconds_bucket[5m])))'
    """
    if not 0 <= q <= 1:
        raise ValueError(f"quantile {q!r} must be between 0 and 1")
    bucket = series_selector(m.http_duration_bucket, selector=selector)
    groups = ("le", *(label for label in by if label != "le"))
    return f"histogram_quantile({q:g}, {_sum(groups, f'rate({bucket}[{_duration(rate_window)}])')})"


def latency_bucket_increase(
    m: MetricNames,
    by: Sequence[str] = (),
    selector: LabelFilter | None = None,
    window: DurationLike = "5m",
) -> str:
    """Requests per latency bucket (cumulative ``le``) in each ``window``: a heatmap's cells.

    >>> latency_bucket_increase(MetricNames(), selector={"path": "/api/v1/tasks"})
    'sum by (le) (increase(http_request_duration_seconds_bucket{path="/api/v1/tasks"}[5m]))'
    """
    bucket = series_selector(m.http_duration_bucket, selector=selector)
    groups = ("le", *(label for label in by if label != "le"))
    return _sum(groups, f"increase({bucket}[{_duration(window)}])")


def container_memory_working_set(
    m: MetricNames,
    namespaces: str | Iterable[str] | None = None,
    selector: LabelFilter | None = None,
) -> str:
    """Working-set bytes per container (cAdvisor), without pod cgroups and pause containers.

    >>> container_memory_working_set(MetricNames(), namespaces="production")
    'container_memory_working_set_bytes{container!="",container!="POD",namespace="production"}'
    """
    where = _namespaced(selector, namespaces)
    return series_selector(m.memory_working_set, *_REAL_CONTAINERS, selector=where)


def container_cpu_usage(
    m: MetricNames,
    namespaces: str | Iterable[str] | None = None,
    selector: LabelFilter | None = None,
    rate_window: DurationLike = "5m",
) -> str:
    """CPU cores used per container (rate of cAdvisor's CPU seconds).

    >>> container_cpu_usage(MetricNames())
    'rate(container_cpu_usage_seconds_total{container!="",container!="POD"}[5m])'
    """
    where = _namespaced(selector, namespaces)
    counter = series_selector(m.cpu_usage, *_REAL_CONTAINERS, selector=where)
    return f"rate({counter}[{_duration(rate_window)}])"


def container_resources(
    m: MetricNames,
    kind: str = "requests",
    resource: str | None = "cpu",
    namespaces: str | Iterable[str] | None = None,
    selector: LabelFilter | None = None,
) -> str:
    """Container resource requests or limits (kube-state-metrics), cores or bytes.

    >>> container_resources(MetricNames(), kind="limits", resource="memory")
    'kube_pod_container_resource_limits{resource="memory"}'
    """
    metrics = {"requests": m.resource_requests, "limits": m.resource_limits}
    if kind not in metrics:
        raise ValueError(f"kind {kind!r} must be 'requests' or 'limits'")
    where = _namespaced(selector, namespaces)
    matchers = [label_matcher("resource", resource)] if resource is not None else []
    return series_selector(metrics[kind], *matchers, selector=where)


def container_restarts(
    m: MetricNames,
    namespaces: str | Iterable[str] | None = None,
    selector: LabelFilter | None = None,
) -> str:
    """Container restart counters (kube-state-metrics).

    >>> container_restarts(MetricNames(), namespaces=["data", "production"])
    'kube_pod_container_status_restarts_total{namespace=~"data|production"}'
    """
    return series_selector(m.restarts, selector=_namespaced(selector, namespaces))


def container_restarts_increase(
    m: MetricNames,
    window: DurationLike = "1h",
    namespaces: str | Iterable[str] | None = None,
    selector: LabelFilter | None = None,
) -> str:
    """Restarts per container in each ``window``.

    >>> container_restarts_increase(MetricNames(), window="1h")
    'increase(kube_pod_container_status_restarts_total[1h])'
    """
    counter = container_restarts(m, namespaces=namespaces, selector=selector)
    return f"increase({counter}[{_duration(window)}])"


def last_terminated_reason(
    m: MetricNames,
    reason: str | Iterable[str] | None = None,
    namespaces: str | Iterable[str] | None = None,
    selector: LabelFilter | None = None,
) -> str:
    """Why each container last terminated (``OOMKilled``, ``Error``, ...): 1 while it applies.

    >>> last_terminated_reason(MetricNames(), reason="OOMKilled")
    'kube_pod_container_status_last_terminated_reason{reason="OOMKilled"}'
    """
    matchers = [label_matcher("reason", reason)] if reason is not None else []
    where = _namespaced(selector, namespaces)
    return series_selector(m.last_terminated_reason, *matchers, selector=where)


def pv_phase(
    m: MetricNames, phase: str | Iterable[str] | None = None, selector: LabelFilter | None = None
) -> str:
    """The current phase of each PersistentVolume (only the phase whose gauge is 1).

    >>> pv_phase(MetricNames(), phase="Available")
    'kube_persistentvolume_status_phase{phase="Available"} == 1'
    """
    matchers = [label_matcher("phase", phase)] if phase is not None else []
    return f"{series_selector(m.pv_phase, *matchers, selector=selector)} == 1"


def consumer_lag(
    m: MetricNames,
    by: Sequence[str] = ("consumergroup", "topic"),
    selector: LabelFilter | None = None,
) -> str:
    """Kafka consumer lag in messages, summed over partitions.

    >>> consumer_lag(MetricNames())
    'sum by (consumergroup, topic) (kafka_consumergroup_lag)'
    """
    return _sum(tuple(by), series_selector(m.consumer_lag, selector=selector))


def pg_connections(
    m: MetricNames, by: Sequence[str] = ("datname", "state"), selector: LabelFilter | None = None
) -> str:
    """PostgreSQL backends by database and state (postgres_exporter).

    >>> pg_connections(MetricNames())
    'sum by (datname, state) (pg_stat_activity_count)'
    """
    return _sum(tuple(by), series_selector(m.pg_activity_count, selector=selector))


def pg_max_connections(m: MetricNames, selector: LabelFilter | None = None) -> str:
    """PostgreSQL's ``max_connections`` setting (postgres_exporter).

    >>> pg_max_connections(MetricNames(), selector={"instance": "db:9187"})
    'pg_settings_max_connections{instance="db:9187"}'
    """
    return series_selector(m.pg_max_connections, selector=selector)


def node_allocatable(
    m: MetricNames, resource: str | None = None, selector: LabelFilter | None = None
) -> str:
    """Allocatable resources per node (kube-state-metrics).

    >>> node_allocatable(MetricNames(), resource="cpu")
    'kube_node_status_allocatable{resource="cpu"}'
    """
    matchers = [label_matcher("resource", resource)] if resource is not None else []
    return series_selector(m.node_allocatable, *matchers, selector=selector)


def pod_owner(
    m: MetricNames,
    namespaces: str | Iterable[str] | None = None,
    selector: LabelFilter | None = None,
) -> str:
    """Which controller owns each pod (``owner_kind``, ``owner_name``).

    >>> pod_owner(MetricNames(), namespaces="production")
    'kube_pod_owner{namespace="production"}'
    """
    return series_selector(m.pod_owner, selector=_namespaced(selector, namespaces))


def subquery_range(range_s: float, step_s: float) -> str:
    """``[RANGE:STEP]`` for the evaluation times ``T - range_s .. T`` at multiples of the step.

    The range is padded by half a step, so the first time is included whether the server's
    ranges are closed on the left (Prometheus 2) or open (Prometheus 3): an instant statistic
    over the subquery sees exactly the samples a range query over the window returns.

    >>> subquery_range(7 * 86400, 300)
    '[604950s:300s]'
    """
    if range_s < 0 or step_s <= 0:
        raise ValueError(f"subquery range {range_s!r}s and step {step_s!r}s must be positive")
    return f"[{_seconds(range_s + step_s / 2)}:{_seconds(step_s)}]"


def _seconds(value_s: float) -> str:
    milliseconds = round(value_s * 1000)
    return f"{milliseconds // 1000}s" if milliseconds % 1000 == 0 else f"{milliseconds}ms"


def raw_range(range_s: float, step_s: float) -> str:
    """``[RANGE]``: the raw samples of ``T - range_s .. T``, padded as :func:`subquery_range`.

    Where the scrape interval is the step, the raw samples are the points a range query at
    that step returns (one per step), and a range function over them costs Prometheus a
    fraction of the subquery: it reads each series once instead of evaluating it per step.

    >>> raw_range(7 * 86400, 300)
    '[604950s]'
    """
    if range_s < 0 or step_s <= 0:
        raise ValueError(f"range {range_s!r}s and step {step_s!r}s must be positive")
    return f"[{_seconds(range_s + step_s / 2)}]"


def over_window(
    function: str,
    inner: str,
    range_s: float,
    step_s: float,
    by: Sequence[str] = ("namespace", "pod", "container"),
    combine: str = "max",
    raw: bool = False,
) -> str:
    """A per-series statistic of ``inner`` over a window, as one instant vector (push-down).

    ``function`` is a PromQL ``*_over_time`` function (``quantile_over_time(0.95`` style for
    a quantile: pass ``"quantile_over_time(0.95,"``); several series of one container
    (a restarted cAdvisor, two scrapers) are combined with ``combine`` by ``by``. ``raw``
    (``inner`` a series selector scraped once per step): over the raw samples
    (:func:`raw_range`) instead of a subquery.

    >>> print(over_window("max_over_time", "working_set_bytes", 86400, 300))
    max by (namespace, pod, container) (max_over_time(working_set_bytes[86550s:300s]))
    >>> over_window("quantile_over_time(0.95,", "rate(x[5m])", 3600, 300, combine="max")
    'max by (namespace, pod, container) (quantile_over_time(0.95, rate(x[5m])[3750s:300s]))'
    >>> over_window("max_over_time", "ws", 3600, 300, raw=True)
    'max by (namespace, pod, container) (max_over_time(ws[3750s]))'
    """
    call = f"{function} " if function.endswith(",") else f"{function}("
    window = raw_range(range_s, step_s) if raw else subquery_range(range_s, step_s)
    return f"{combine}{_by(by)}({call}{inner}{window}))"


def window_quantile(q: float) -> str:
    """``quantile_over_time(q,``: the ``function`` argument of :func:`over_window`.

    >>> window_quantile(0.95)
    'quantile_over_time(0.95,'
    """
    if not 0 <= q <= 1:
        raise ValueError(f"quantile {q!r} must be between 0 and 1")
    return f"quantile_over_time({q:g},"


def series_steps(inner: str, range_s: float, step_s: float) -> str:
    """How many evaluation times of the window had at least one series of ``inner``.

    >>> series_steps("up", 600, 300)
    'count_over_time((count(up))[750s:300s])'
    """
    return f"count_over_time((count({inner})){subquery_range(range_s, step_s)})"


def sample_drop_ratio(inner: str, range_s: float, step_s: float) -> str:
    """The smallest ratio of a value to the one a step before it: a fall (a restart's trace).

    At the leak screen's coarse step (30 minutes) a fall that lasts longer than a step is
    seen at a sixth of the cost of comparing every pair of samples (the ratio is a binary
    operation Prometheus evaluates at every step).

    >>> sample_drop_ratio("ws", 3600, 1800)
    'min by (namespace, pod, container) (min_over_time((ws / ws offset 1800s)[4500s:1800s]))'
    """
    ratio = f"({inner} / {inner} offset {_seconds(step_s)})"
    return over_window("min_over_time", ratio, range_s, step_s, combine="min")


def day_over_day_growth(
    inner: str, range_s: float, step_s: float, by: Sequence[str] = ("namespace", "pod", "container")
) -> str:
    """The median change of ``inner`` against the same time a day before, per hour: a daily
    cycle cancels out (NaN for windows of a day or less).

    >>> print(day_over_day_growth("ws", 2 * 86400, 1800, by=("pod",)))
    max by (pod) (quantile_over_time(0.5, (ws - ws offset 1d)[87300s:1800s])) / 24
    """
    inner_change = f"({inner} - {inner} offset 1d)"
    median = over_window(window_quantile(0.5), inner_change, max(range_s - 86400, 0), step_s, by)
    return f"{median} / 24"


# ----------------------------------------------------------------------------------- capacity

VOLUME_CAPACITY_METRIC = "kubelet_volume_stats_capacity_bytes"


def capacity_queries(metrics: MetricNames | None = None) -> dict[str, str]:
    """PromQL (range queries over the report window) for the frames of
    :func:`dwcp_diag.analysis.capacity.capacity_report`.

    ``table_sizes`` has no standard exporter metric and ``nodes``/``containers`` come from the
    Kubernetes loader, so they are not here.

    >>> capacity_queries()["request_rate"]
    'sum(rate(http_requests_total[5m]))'
    >>> capacity_queries()["node_cpu_usage"].split(" (rate(")[0]
    'sum by (namespace, pod)'
    """
    m = metrics or MetricNames()
    cpu, memory = container_cpu_usage(m), container_memory_working_set(m)
    return {
        "request_rate": f"sum(rate({m.http_requests}[5m]))",
        "cpu_usage": f"sum by (namespace) ({cpu})",
        "memory_usage": f"sum by (namespace) ({memory})",
        # by pod, placed on nodes through the inventory: cAdvisor series often lack `node`
        "node_cpu_usage": f"sum by (namespace, pod) ({cpu})",
        "node_memory_usage": f"sum by (namespace, pod) ({memory})",
        "node_allocatable": node_allocatable(m),
        "node_labels": "kube_node_labels",
        "resource_requests": container_resources(m, resource=None),
        "pg_database_size": m.pg_database_size,
        "pg_connections": pg_connections(m, by=("instance",)),
        "pg_max_connections": pg_max_connections(m),
        "volume_used": m.volume_used,
        "volume_capacity": VOLUME_CAPACITY_METRIC,
    }


# Every template, callable with MetricNames alone: the suites that run them all use this.
TEMPLATES: dict[str, Callable[[MetricNames], str]] = {
    "request_rate_by_path": request_rate_by_path,
    "error_ratio": error_ratio,
    "error_ratio_overall": lambda m: error_ratio(m, by=()),
    "latency_quantile": latency_quantile,
    "latency_bucket_increase": latency_bucket_increase,
    "container_memory_working_set": container_memory_working_set,
    "container_cpu_usage": container_cpu_usage,
    "container_resources": container_resources,
    "container_restarts": container_restarts,
    "container_restarts_increase": container_restarts_increase,
    "last_terminated_reason": last_terminated_reason,
    "pv_phase": pv_phase,
    "consumer_lag": consumer_lag,
    "pg_connections": pg_connections,
    "pg_max_connections": pg_max_connections,
    "node_allocatable": node_allocatable,
    "pod_owner": pod_owner,
}


# ------------------------------------------------------- collect: push-down and incident panels

SPEC_REPLICAS = "kube_deployment_spec_replicas"  # kube-state-metrics; not a MetricNames field
_MIB_PER_BYTE = 1 / 2**20


def last_over_window(query: str, range_s: float, step_s: float, raw: bool = False) -> str:
    """Each series' last value in the window ending at the evaluation time (push-down);
    ``raw``: of the raw samples (``query`` a series selector, :func:`raw_range`).

    >>> last_over_window("kube_pod_owner", 3600, 300)
    'last_over_time((kube_pod_owner)[3750s:300s])'
    >>> last_over_window("kube_pod_owner", 3600, 300, raw=True)
    'last_over_time(kube_pod_owner[3750s])'
    """
    if raw:
        return f"last_over_time({query}{raw_range(range_s, step_s)})"
    return f"last_over_time(({query}){subquery_range(range_s, step_s)})"


def series_in_window(selector: str, range_s: float, step_s: float) -> str:
    """How many series ``selector`` had at any time of the window (pods replaced during it
    included): what sizes the push-down's sub-windows.

    >>> series_in_window("ws", 3600, 300)
    'count(last_over_time(ws[3750s]))'
    """
    return f"count(last_over_time({selector}{raw_range(range_s, step_s)}))"


def with_matcher(selector: str, matcher: str) -> str:
    """``selector`` narrowed by one more label ``matcher`` (first in its braces).

    >>> with_matcher('kube_pod_container_status_restarts_total{namespace="a"}', 'pod="p"')
    'kube_pod_container_status_restarts_total{pod="p",namespace="a"}'
    >>> with_matcher("kube_pod_container_status_restarts_total", 'pod="p"')
    'kube_pod_container_status_restarts_total{pod="p"}'
    """
    if "{" in selector:
        return selector.replace("{", "{" + matcher + ",", 1)
    return f"{selector}{{{matcher}}}"


def memory_growth_screen(inner: str, range_s: float, coarse_step_s: float) -> dict[str, str]:
    """The leak screen's three statistics per container of the working set ``inner``: its
    slope (MiB/h, at the coarse step), its day-over-day growth (MiB/h) and its largest fall
    (the ratio of a value to the one a coarse step before it).

    >>> screen = memory_growth_screen("ws", 86400, 1800)
    >>> print(screen["slope_mib_per_h"])
    max by (namespace, pod, container) (deriv(ws[87300s:1800s])) * 0.0034332275390625
    """
    slope = over_window("deriv", inner, range_s, coarse_step_s)
    growth = day_over_day_growth(inner, range_s, coarse_step_s)
    return {
        "slope_mib_per_h": f"{slope} * {3600 * _MIB_PER_BYTE!r}",
        "day_over_day_mib_per_h": f"{growth} * {_MIB_PER_BYTE!r}",
        "drop_ratio": sample_drop_ratio(inner, range_s, coarse_step_s),
    }


def pod_restarts(m: MetricNames, namespaces: str | Iterable[str] | None = None) -> str:
    """Container restart counters summed per pod: the incident timeline's restarts panel.

    >>> pod_restarts(MetricNames(), "production")
    'sum by (namespace, pod) (kube_pod_container_status_restarts_total{namespace="production"})'
    """
    return _sum(("namespace", "pod"), container_restarts(m, namespaces))


def pod_oom_killed(m: MetricNames, namespaces: str | Iterable[str] | None = None) -> str:
    """1 per pod while one of its containers' last termination was an OOM kill.

    >>> pod_oom_killed(MetricNames())
    'max by (namespace, pod) (kube_pod_container_status_last_terminated_reason{reason="OOMKilled"})'
    """
    return f"max{_by(('namespace', 'pod'))}({last_terminated_reason(m, 'OOMKilled', namespaces)})"


def pod_memory_working_set(m: MetricNames, namespaces: str | Iterable[str] | None = None) -> str:
    """Working-set bytes summed per pod (its containers, without pause and cgroup series).

    >>> pod_memory_working_set(MetricNames()).split(" (container")[0]
    'sum by (namespace, pod)'
    """
    return _sum(("namespace", "pod"), container_memory_working_set(m, namespaces))


def deployment_spec_replicas(namespaces: str | Iterable[str] | None = None) -> str:
    """Each Deployment's desired replicas: its steps are scale events.

    >>> deployment_spec_replicas("production")
    'max by (namespace, deployment) (kube_deployment_spec_replicas{namespace="production"})'
    """
    selector = None if namespaces is None else {"namespace": namespaces}
    spec = series_selector(SPEC_REPLICAS, selector=selector)
    return f"max{_by(('namespace', 'deployment'))}({spec})"


# ---------------------------------------------------------------------- the platform report
# Pod starts (kube-state-metrics), certificates (cert-manager, blackbox_exporter), Redis
# (redis_exporter); Kafka lag is :func:`consumer_lag`.

CERT_LABELS = ("namespace", "exported_namespace", "name")
"""cert-manager's labels; ``exported_namespace`` when the scrape renamed its ``namespace``."""


def pod_created_times(
    m: MetricNames, range_s: float, namespaces: str | Iterable[str] | None = None
) -> str:
    """Each pod's creation time (Unix seconds) for every pod seen in the last ``range_s``.

    >>> pod_created_times(MetricNames(), 86400)
    'max by (namespace, pod) (max_over_time(kube_pod_created[86400s]))'
    """
    selector = series_selector(m.pod_created, selector=_namespaced(None, namespaces))
    return f"max by (namespace, pod) (max_over_time({selector}[{_seconds(range_s)}]))"


def pod_first_ready_times(
    m: MetricNames,
    range_s: float,
    step_s: float,
    namespaces: str | Iterable[str] | None = None,
) -> str:
    """The first scrape (Unix seconds) at which each pod was Ready in the last ``range_s``:
    kube-state-metrics' ``kube_pod_status_ready{condition="true"}`` turning 1, so the time is
    known to the scrape interval (a pod restarted later keeps its first Ready).

    >>> print(pod_first_ready_times(MetricNames(), 3600, 60))
    min by (namespace, pod) (min_over_time(timestamp(kube_pod_status_ready{condition="true"} == 1)[3630s:60s]))
    """  # noqa: E501
    where = _namespaced(None, namespaces)
    ready = series_selector(m.pod_ready, 'condition="true"', selector=where)
    inner = f"timestamp({ready} == 1)"
    return f"min by (namespace, pod) (min_over_time({inner}{subquery_range(range_s, step_s)}))"


def certificate_expiry_times(m: MetricNames) -> str:
    """When each certificate cert-manager manages expires (Unix seconds).

    >>> certificate_expiry_times(MetricNames())
    'max by (namespace, exported_namespace, name) (certmanager_certificate_expiration_timestamp_seconds)'
    """  # noqa: E501
    return f"max{_by(CERT_LABELS)}({m.cert_expiration})"


def certificate_not_ready(m: MetricNames) -> str:
    """Certificates whose cert-manager Ready condition is not True (1 while so).

    >>> certificate_not_ready(MetricNames())
    'max by (namespace, exported_namespace, name, condition) (certmanager_certificate_ready_status{condition!="True"} == 1)'
    """  # noqa: E501
    selector = series_selector(m.cert_ready, 'condition!="True"')
    return f"max{_by((*CERT_LABELS, 'condition'))}({selector} == 1)"


def probe_certificate_expiry_times(m: MetricNames) -> str:
    """The earliest expiry (Unix seconds) of the certificate chain each blackbox probe saw.

    >>> probe_certificate_expiry_times(MetricNames())
    'min by (instance, job) (probe_ssl_earliest_cert_expiry)'
    """
    return f"min by (instance, job) ({m.probe_ssl_expiry})"


def redis_clients_ratio(m: MetricNames) -> str:
    """Connected clients as a share of ``maxclients``, per Redis instance.

    >>> print(redis_clients_ratio(MetricNames()))
    max by (instance) (redis_connected_clients) / max by (instance) (redis_config_maxclients)
    """
    by = _by((m.redis_instance_label,))
    return f"max{by}({m.redis_clients}) / max{by}({m.redis_max_clients})"


def redis_memory_ratio(m: MetricNames) -> str:
    """Memory used as a share of ``maxmemory``, per instance (none where maxmemory is 0:
    unlimited).

    >>> print(redis_memory_ratio(MetricNames()))
    max by (instance) (redis_memory_used_bytes) / max by (instance) (redis_memory_max_bytes > 0)
    """
    by = _by((m.redis_instance_label,))
    return f"max{by}({m.redis_memory_used}) / max{by}({m.redis_memory_max} > 0)"


def redis_counter_rate(m: MetricNames, counter: str, rate_window: DurationLike = "5m") -> str:
    """Per-second rate of one of redis_exporter's counters (``redis_rejected``,
    ``redis_evicted``), per instance.

    >>> redis_counter_rate(MetricNames(), "redis_rejected")
    'sum by (instance) (rate(redis_rejected_connections_total[5m]))'
    """
    metric = getattr(m, counter)
    return _sum((m.redis_instance_label,), f"rate({metric}[{_duration(rate_window)}])")


def redis_command_latency(m: MetricNames, rate_window: DurationLike = "5m") -> str:
    """Mean command latency in seconds per instance (all commands, weighted by calls).

    >>> print(redis_command_latency(MetricNames()))
    sum by (instance) (rate(redis_commands_duration_seconds_total[5m]))
      / sum by (instance) (rate(redis_commands_total[5m]))
    """
    window = _duration(rate_window)
    by = (m.redis_instance_label,)
    spent = _sum(by, f"rate({m.redis_commands_duration}[{window}])")
    return f"{spent}\n  / {_sum(by, f'rate({m.redis_commands}[{window}])')}"


def request_rate_total(m: MetricNames, rate_window: DurationLike = "5m") -> str:
    """Requests per second at the API, all paths: what KI-002's 12k RPS limit is about.

    >>> request_rate_total(MetricNames())
    'sum(rate(http_requests_total[5m]))'
    """
    return _sum((), f"rate({m.http_requests}[{_duration(rate_window)}])")


def pod_owners_seen(
    m: MetricNames, range_s: float, namespaces: str | Iterable[str] | None = None
) -> str:
    """Each pod's owner (``owner_kind``, ``owner_name``) for every pod seen in ``range_s``:
    the ReplicaSet of pods a rollout has replaced since.

    >>> print(pod_owners_seen(MetricNames(), 3600))
    max by (namespace, pod, owner_kind, owner_name) (max_over_time(kube_pod_owner[3600s]))
    """
    selector = pod_owner(m, namespaces)
    by = _by(("namespace", "pod", "owner_kind", "owner_name"))
    return f"max{by}(max_over_time({selector}[{_seconds(range_s)}]))"
