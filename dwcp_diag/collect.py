"""What each report loads, and its analysis run on it: one function per area.

The notebooks and ``s.findings.<area>()`` call these, so a report and an interactive session
ask the same questions and find the same things. Each function loads its frames through
the session (live, demo or snapshot), tolerating an unreachable source (it becomes a
``source_unavailable`` finding and the frames that needed it are ``None``), then runs the
area's pure analysis.

>>> import dwcp_diag as dd
>>> s = dd.session(source="demo")
>>> memory = collect_memory(s, s.window("7d"))
>>> memory.report["leaks"].query("is_leak")[["pod", "growth_mib_per_h"]].round(0)
                            pod  growth_mib_per_h
0  dwcp-worker-7dcvdjp5xt-xlc6f              25.0
>>> sorted({f.check for f in memory.findings})  # doctest: +NORMALIZE_WHITESPACE
['frequent_restarts', 'memory_leak', 'memory_near_limit', 'no_memory_limit', 'oom_killed']
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import pandas as pd

from dwcp_diag.errors import DwcpDiagError, ReplayMissing, SourceUnavailable
from dwcp_diag.queries import promql
from dwcp_diag.sources.prometheus_empty import EMPTY_REASON
from dwcp_diag.timewindow import DurationLike, TimeWindow, format_duration, parse_duration

if TYPE_CHECKING:
    from dwcp_diag.analysis.findings import Findings
    from dwcp_diag.session import Session

T = TypeVar("T")
KEYS = ["namespace", "pod", "container"]
"""The labels that name a container in cAdvisor and kube-state-metrics series."""


class Sections:
    """Loads each report section's data, turning an unreachable source into a finding.

    >>> sections = Sections()
    >>> def down():
    ...     raise SourceUnavailable("postgres", "connection refused")
    >>> sections.load("postgres", down) is None
    postgres unavailable: connection refused
    True
    >>> [f.check for f in sections.findings()]
    ['source_unavailable']
    """

    def __init__(self) -> None:
        self.unavailable: dict[str, str] = {}
        self.no_data: dict[str, str] = {}

    def load(self, source: str, fetch: Callable[[], T]) -> T | None:
        """``fetch()``, or None when its source is unavailable (noted once per source)."""
        if source in self.unavailable:
            return None
        try:
            return fetch()
        except SourceUnavailable as exc:
            self.unavailable[source] = str(exc)
            print(f"{source} unavailable: {exc}")
            return None

    def explain_empty(self, area: str, frames: Mapping[str, Any], required: Sequence[str]) -> None:
        """Say why each loaded frame that came back empty is empty (the loader's
        ``attrs["empty_reason"]``: an unknown metric name, a selector matching nothing); an
        empty ``required`` frame means the report cannot judge: a ``no_data`` finding, never
        a silent "every check passed"."""
        for name, frame in frames.items():
            if not isinstance(frame, pd.DataFrame) or not frame.empty:
                continue
            reason = frame.attrs.get(EMPTY_REASON) or "no series in the window"
            print(f"{name}: {reason}")
            if name in required:
                self.no_data[f"{area}.{name}"] = reason

    def findings(self) -> Findings:
        from dwcp_diag.analysis.findings import Finding, Findings, source_unavailable

        found = [source_unavailable(src, msg) for src, msg in self.unavailable.items()]
        for data, reason in self.no_data.items():
            summary = f"The report has no {data} data, so its checks could not run: {reason}"
            found.append(Finding("no_data", "warning", {"data": data}, summary, unit=""))
        return Findings(found)


def load_each(loader: object, calls: Mapping[str, tuple[str, Mapping[str, object]]]) -> dict:
    """``{key: loader.method(**kwargs)}`` for each call; a failed call's value is its error.

    Analysis functions turn those errors into findings (``stats_unavailable``,
    ``source_unavailable``). After the first :class:`SourceUnavailable` the remaining calls are
    not attempted: an unreachable server would make every one of them wait for its timeout.
    """
    frames: dict = {}
    for key, (method, kwargs) in calls.items():
        try:
            frames[key] = getattr(loader, method)(**kwargs)
        except DwcpDiagError as exc:
            frames[key] = exc
            if isinstance(exc, SourceUnavailable):
                break
    return frames


@dataclass
class AreaReport:
    """One area's report: what it loaded, what its analysis made of it, and its findings.

    ``frames`` maps names to the loaded frames (``None`` where the source was unavailable);
    ``report`` is the analysis result (the area's ``*_report`` dict), ``None`` when the data
    it needs could not be loaded; ``context`` holds what the loading chose (queries, step,
    SLO targets, prices, thresholds, spans).
    """

    area: str
    window: TimeWindow
    frames: dict[str, Any]
    report: Any
    sections: Sections
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def findings(self) -> Findings:
        """The report's findings and one ``source_unavailable`` per unreachable source."""
        from dwcp_diag.analysis.findings import Findings

        found = self.report["findings"] if self.report is not None else []
        return Findings([*found, *self.sections.findings()])

    def _repr_html_(self) -> str:
        head = f"<p><b>{self.area}</b>, {self.window.label()}</p>"
        return head + self.findings._repr_html_()


def _range_loader(
    s: Session, sections: Sections, start: pd.Timestamp, end: pd.Timestamp, step: Any
) -> Callable[..., pd.DataFrame | None]:
    """``prom(query, labels, start=...)``: a range query, or None once Prometheus is down."""

    def prom(query: str, labels: Sequence[str] = (), start: pd.Timestamp = start):
        return sections.load(
            "prometheus",
            lambda: s.prom.range(query, start=start, end=end, step=step, labels=list(labels)),
        )

    return prom


def _in_namespaces(
    frame: pd.DataFrame | None, namespaces: str | Sequence[str] | None
) -> pd.DataFrame | None:
    """The rows of ``frame`` in one of ``namespaces`` (all rows when that is None)."""
    if frame is None or namespaces is None:
        return frame
    wanted = [namespaces] if isinstance(namespaces, str) else list(namespaces)
    return frame[frame["namespace"].isin(wanted)]


# ---------------------------------------------------------------------------------- latency


def collect_latency(
    s: Session,
    window: TimeWindow,
    endpoints: Sequence[str] | None = None,
    p95_target_ms: float | None = None,
    error_rate_target_pct: float | None = None,
    availability_target_pct: float | None = None,
    sections: Sections | None = None,
) -> AreaReport:
    """Latency quantiles, error rates, error budget and burn rates against the SLOs.

    Two range queries: the duration histogram over the window and the request counter from
    3 days before it (the longest burn-rate window). Windows up to a week are read at a 60 s
    step; longer ones at the loader's coarser step, with rates over the whole step.
    """
    from dwcp_diag.analysis.latency import latency_report

    sections = sections or Sections()
    m = s.profile.metrics
    targets = {
        "p95_latency_ms": p95_target_ms,
        "error_rate_pct": error_rate_target_pct,
        "availability_pct": availability_target_pct,
    }
    slo = dataclasses.replace(s.profile.slo, **{k: v for k, v in targets.items() if v is not None})
    where = {m.path_label: endpoints} if endpoints else None
    history = window.start - pd.Timedelta(days=3)
    step = (
        60.0
        if window.duration_s <= 7 * 86400
        else s.prom.plan(start=history, end=window.end).step_s
    )
    rate = format_duration(max(300.0, step))  # 5m, or the step: every request counted once
    queries = {
        "buckets": promql.latency_bucket_rate(m, where, rate),
        "requests": promql.request_rate_by_path_status(m, where, rate),
    }
    prom = _range_loader(s, sections, window.start, window.end, step)
    frames = {
        "buckets": prom(queries["buckets"], ["le", m.path_label]),
        "requests": prom(queries["requests"], [m.path_label, m.status_label], start=history),
    }
    sections.explain_empty("latency", frames, required=["buckets", "requests"])
    if frames["requests"] is not None:
        frames["requests"] = frames["requests"].rename(columns={m.status_label: "status"})
    report = None
    if frames["buckets"] is not None and frames["requests"] is not None:
        report = latency_report(
            frames["buckets"],
            frames["requests"],
            slo,
            window,
            profile=s.profile,
            endpoint=m.path_label,
        )
    context = {"slo": slo, "step_s": step, "history_start": history, "queries": queries}
    return AreaReport("latency", window, frames, report, sections, context)


# --------------------------------------------------------------------------------- database


def collect_database(
    s: Session,
    window: TimeWindow,
    thresholds: Mapping[str, Mapping[str, float | None]] | None = None,
    top: int = 15,
    pg_selector: Mapping[str, str] | None = None,
    sections: Sections | None = None,
) -> AreaReport:
    """The database health checks: every ``pg_stat_*`` view, plus connection history.

    ``thresholds`` override the profile's ``[thresholds.CHECK]`` (``None`` values are
    ignored); ``pg_selector`` picks this server's postgres_exporter series.
    """
    from dwcp_diag.analysis.database import report as db

    sections = sections or Sections()
    chosen = {check: dict(keys) for check, keys in s.profile.thresholds.items()}
    for check, keys in (thresholds or {}).items():
        chosen.setdefault(check, {}).update({k: v for k, v in keys.items() if v is not None})
    frames = load_each(s.pg, db.LOADER_CALLS)  # a failed call is kept as its error: a finding
    m = s.profile.metrics
    prom = _range_loader(s, sections, window.start, window.end, None)
    for key, query in (
        ("pg_activity_count", promql.pg_connections(m, selector=pg_selector)),
        ("pg_max_connections", promql.pg_max_connections(m, selector=pg_selector)),
    ):
        series = prom(query)
        if series is not None:
            frames[key] = series
            sections.explain_empty("database", {key: series}, required=())  # postgres_exporter
    report = db.database_report(frames, chosen, top=top)
    return AreaReport("database", window, frames, report, sections, {"thresholds": chosen})


# ------------------------------------------------------------------- push-down (fleet scale)

# One instant query covers at most this many evaluation times (a week at 5 minutes), and at
# most SAMPLES_PER_QUERY series x times (half Prometheus' default --query.max-samples, 50 M);
# longer windows are split into sub-windows whose statistics are pooled
# (analysis.cost.pool_stats: exact but for quantiles).
SUBWINDOW_MAX_POINTS = 2_100
SAMPLES_PER_QUERY = 25_000_000
CPU_LEVELS = (0.0, 0.5, 0.8, 0.9, 0.93, 0.97, 0.99, 1.0)  # + the percentile: pooled p95s
MEMORY_LEVELS = (0.0, 0.5, 1.0)  # with the near-limit quantile
SCREEN_STEP_S = 1800.0  # the leak screen's slopes: a coarse step is enough for a trend
CHART_TOP = 15  # containers drawn in full by the memory charts (the rest are never fetched)
MIB_PER_BYTE = 1 / 2**20


def _subwindows(plan: Any, series: float = 0) -> list[tuple[pd.Timestamp, float]]:
    """``(end, range_s)`` of each sub-window: at most :data:`SUBWINDOW_MAX_POINTS` points and
    :data:`SAMPLES_PER_QUERY` samples for ``series`` series."""
    points = min(SUBWINDOW_MAX_POINTS, max(12, int(SAMPLES_PER_QUERY // max(series, 1))))
    return [(c.end, (c.end_ms - c.start_ms) / 1000) for c in plan.chunks(points)]


@dataclass
class PushDown:
    """Per-container statistics computed by Prometheus over a window, one instant query per
    statistic and sub-window: O(containers) numbers instead of every raw sample.

    ``plan`` is the window's range plan (the step the client-side path would use), so each
    statistic covers exactly the samples a range query would return.
    """

    s: Session
    sections: Sections
    plan: Any
    queries: dict[str, str] = field(default_factory=dict)

    def vector(self, name: str, query: str, at: pd.Timestamp, labels=KEYS) -> pd.DataFrame | None:
        """One instant query: ``labels`` and ``name`` (its value), or None if unreachable."""
        from dwcp_diag.analysis.memory import plain_labels

        self.queries.setdefault(name, query)
        frame = self.sections.load(
            "prometheus", lambda: self.s.prom.instant(query, at=at, labels=list(labels))
        )
        if frame is None:
            return None
        reason = frame.attrs.get(EMPTY_REASON)
        frame = plain_labels(frame, list(labels))
        out = frame[list(labels)].assign(**{name: frame["value"].to_numpy(float)})
        out.attrs[EMPTY_REASON] = reason
        return out

    def table(self, queries: Mapping[str, str], at: pd.Timestamp, labels=KEYS):
        """Several instant queries joined on ``labels`` (outer), or None if unreachable."""
        out, reason = None, None
        for name, query in queries.items():
            frame = self.vector(name, query, at, labels)
            if frame is None:
                return None
            reason = reason or frame.attrs.get(EMPTY_REASON)
            if not frame.empty:
                frame = frame.groupby(list(labels), as_index=False)[name].max()
            out = frame if out is None else out.merge(frame, on=list(labels), how="outer")
        if out is not None and out.empty:
            out.attrs[EMPTY_REASON] = reason
        return out

    def series(self, inner: str) -> float:
        """About how many series ``inner`` has in the window (those alive at its end, x 1.5
        for pods replaced during it): what sizes the sub-windows."""
        frame = self.vector("series", f"count({inner})", self.plan.end, ())
        return 1.5 * float(frame["series"].sum()) if frame is not None and len(frame) else 0.0

    def steps(self, inner: str, at: pd.Timestamp, range_s: float) -> float:
        frame = self.vector("steps", promql.series_steps(inner, range_s, self.plan.step_s), at, ())
        return float(frame["steps"].sum()) if frame is not None and len(frame) else 0.0

    def usage(
        self,
        m: Any,
        levels: Mapping[str, Sequence[float]],
        namespaces: Any = None,
        plan: Any = None,
    ) -> pd.DataFrame | None:
        """Per container: points, mean, and the quantile ``levels`` (0 = min, 1 = max) of
        the CPU rate (``levels["cpu"]``, if given) and the working set (``"memory"``), with
        ``cpu_steps``/``memory_steps`` (evaluation times with data); sub-windows pooled
        (exact but for quantiles: see :func:`~dwcp_diag.analysis.cost.pool_stats`)."""
        from dwcp_diag.analysis.cost import pool_stats, quantile_column

        plan = plan or self.plan
        pieces, steps = [], {"cpu": 0.0, "memory": 0.0}
        series = self.series(promql.container_memory_working_set(m, namespaces))
        for at, range_s in _subwindows(plan, series):
            queries: dict[str, str] = {}
            for resource, inner in (
                ("cpu", promql.container_cpu_usage(m, namespaces)),
                ("memory", promql.container_memory_working_set(m, namespaces)),
            ):
                if resource not in levels:
                    continue
                functions = {f"{resource}_points": ("count_over_time", "sum")}
                functions[f"_{resource}_sum"] = ("sum_over_time", "sum")
                for level in levels[resource]:
                    functions[quantile_column(resource, level)] = {
                        0.0: ("min_over_time", "min"),
                        1.0: ("max_over_time", "max"),
                    }.get(level, (promql.window_quantile(level), "max"))
                for name, (function, combine) in functions.items():
                    queries[name] = promql.over_window(
                        function, inner, range_s, plan.step_s, KEYS, combine
                    )
                steps[resource] += self.steps(inner, at, range_s)
            piece = self.table(queries, at)
            if piece is None:
                return None
            for resource in levels:
                unit = "cores" if resource == "cpu" else "bytes"
                points = piece[f"{resource}_points"]
                piece[f"{resource}_mean_{unit}"] = piece.pop(f"_{resource}_sum") / points
            pieces.append(piece)
        reason = next((p.attrs.get(EMPTY_REASON) for p in pieces if p.empty), None)
        stats = pd.concat(pieces, ignore_index=True)
        if len(pieces) > 1:
            stats = pool_stats(stats, KEYS).drop(columns="pods")
        if quantile_column("memory", 1.0) in stats.columns:
            stats["memory_max_bytes"] = stats[quantile_column("memory", 1.0)]
        for resource in levels:
            stats[f"{resource}_steps"] = steps[resource]
            stats[f"{resource}_points"] = stats[f"{resource}_points"].fillna(0.0)
        if stats.empty:
            stats.attrs[EMPTY_REASON] = reason
        return stats

    def latest(self, query: str, labels: Sequence[str], plan: Any = None) -> pd.DataFrame | None:
        """Each series' last value in the window (``last_over_time``), with its labels:
        a frame :func:`~dwcp_diag.analysis.memory.container_resources` reads as it reads
        the series themselves."""
        plan = plan or self.plan
        range_s = (plan.end_ms - plan.start_ms) / 1000
        text = f"last_over_time(({query}){promql.subquery_range(range_s, plan.step_s)})"
        self.queries.setdefault(f"latest {query}", text)
        return self.sections.load(
            "prometheus", lambda: self.s.prom.instant(text, at=plan.end, labels=list(labels))
        )

    def restarts(self, m: Any, namespaces: Any = None) -> tuple[Any, Any, pd.DataFrame | None]:
        """``(restarts, reasons, changed)``: the restart counters and termination reasons in
        full for the containers that restarted in the window (only those have events), one
        sample for every other container (so it counts as known, with no restart), and the
        per-container number of changes."""
        range_s = (self.plan.end_ms - self.plan.start_ms) / 1000
        counter = promql.container_restarts(m, namespaces=namespaces)
        changed = self.vector(
            "restarts",
            promql.over_window("changes", counter, range_s, self.plan.step_s, KEYS, "max"),
            self.plan.end,
        )
        if changed is None:
            return None, None, None
        moved = changed[changed["restarts"] > 0]
        quiet = changed[changed["restarts"] <= 0]
        known = quiet[KEYS].assign(timestamp=self.plan.end, value=0.0)
        series = self.fetch(counter, moved, KEYS)
        why = self.fetch(
            promql.last_terminated_reason(m, namespaces=namespaces), moved, [*KEYS, "reason"]
        )
        restarts = known if series is None else pd.concat([series, known], ignore_index=True)
        return restarts, why, changed

    def fetch(self, selector: str, keys: pd.DataFrame, labels: Sequence[str]) -> Any:
        """The full-resolution range series of ``selector`` for the containers in ``keys``."""
        from dwcp_diag.analysis.memory import plain_labels

        if keys.empty:
            return None
        pods = promql.label_matcher("pod", sorted(set(keys["pod"].astype(str))))
        narrowed = (
            selector.replace("{", "{" + pods + ",", 1)
            if "{" in selector
            else f"{selector}{{{pods}}}"
        )
        frame = self.sections.load(
            "prometheus",
            lambda: self.s.prom.range(
                narrowed,
                start=self.plan.start,
                end=self.plan.end,
                step=self.plan.step_s,
                labels=list(labels),
            ),
        )
        if frame is None:
            return None
        frame = plain_labels(frame, list(labels))
        wanted = keys[KEYS].astype(str).drop_duplicates()
        return frame.merge(wanted, on=KEYS, how="inner")

    def leak_screen(self, m: Any, namespaces: Any, changed: pd.DataFrame) -> pd.DataFrame | None:
        """Stage one of leak detection (:func:`~dwcp_diag.analysis.memory.leak_candidates`):
        slopes at a coarse step, day-over-day growth, the largest fall, restarts."""
        inner = promql.container_memory_working_set(m, namespaces)
        coarse = max(SCREEN_STEP_S, self.plan.step_s)
        pieces = []
        for at, range_s in _subwindows(self.plan, self.series(inner)):
            queries = {
                "slope_mib_per_h": f"{promql.over_window('deriv', inner, range_s, coarse)}"
                f" * {3600 * MIB_PER_BYTE!r}",
                "day_over_day_mib_per_h": f"{promql.day_over_day_growth(inner, range_s, coarse)}"
                f" * {MIB_PER_BYTE!r}",
                "drop_ratio": promql.sample_drop_ratio(inner, range_s, self.plan.step_s),
            }
            piece = self.table(queries, at)
            if piece is None:
                return None
            pieces.append(piece)
        screen = (
            pd.concat(pieces, ignore_index=True)
            .groupby(KEYS, as_index=False)
            .agg(
                slope_mib_per_h=("slope_mib_per_h", "max"),
                day_over_day_mib_per_h=("day_over_day_mib_per_h", "max"),
                drop_ratio=("drop_ratio", "min"),
            )
        )
        return screen.merge(changed, on=KEYS, how="left").fillna({"restarts": 0.0})


# ----------------------------------------------------------------------------------- memory


def collect_memory(
    s: Session,
    window: TimeWindow,
    namespaces: str | Sequence[str] | None = None,
    step: DurationLike = "5m",
    sections: Sections | None = None,
) -> AreaReport:
    """Working sets against limits, leaks, OOM kills and restarts of every container.

    From Prometheus (every pod seen in the window, including pods replaced since) and the
    Kubernetes API (current containers, CrashLoopBackOff); Prometheus' requests and limits
    win, the inventory fills what they lack.
    """
    from dwcp_diag.analysis.memory import container_resources, memory_report

    sections = sections or Sections()
    if s.profile.prometheus.pushdown:
        try:
            return _memory_pushdown(s, window, namespaces, step, sections)
        except ReplayMissing:  # a bundle recorded before push-down: replay what it holds
            sections = Sections()
    m = s.profile.metrics
    prom = _range_loader(s, sections, window.start, window.end, step)
    frames = {
        "working_set": prom(promql.container_memory_working_set(m, namespaces=namespaces), KEYS),
        "restarts": prom(promql.container_restarts(m, namespaces=namespaces), KEYS),
        "reasons": prom(promql.last_terminated_reason(m, namespaces=namespaces), [*KEYS, "reason"]),
        "requests": prom(
            promql.container_resources(m, "requests", None, namespaces), [*KEYS, "resource"]
        ),
        "limits": prom(
            promql.container_resources(m, "limits", None, namespaces), [*KEYS, "resource"]
        ),
    }
    sections.explain_empty("memory", frames, required=["working_set"])
    frames["inventory"] = _in_namespaces(sections.load("kubernetes", s.k8s.containers), namespaces)
    report = None
    if frames["working_set"] is not None:
        report = memory_report(
            frames["working_set"],
            frames["restarts"],
            frames["reasons"],
            requests=container_resources(frames["requests"], frames["limits"]),
            inventory=frames["inventory"],
            profile=s.profile,
        )
    return AreaReport("memory", window, frames, report, sections, {"step": step})


# ------------------------------------------------------------------------------------- cost


def collect_cost(
    s: Session,
    window: TimeWindow,
    group_by: str = "team",
    cpu_core_hour: float | None = None,
    memory_gib_hour: float | None = None,
    pv_gib_month: float | None = None,
    step: DurationLike = "5m",
    sections: Sections | None = None,
) -> AreaReport:
    """Cost per workload, team and namespace, right-sizing, idle workloads, unused volumes.

    Usage is read from two weeks back (at least) for the week-over-week comparison; prices
    default to the profile's (OpenCost's).
    """
    from dwcp_diag.analysis.cost import WEEK, cost_report, week_over_week

    sections = sections or Sections()
    m = s.profile.metrics
    chosen = dict(
        cpu_core_hour=cpu_core_hour, memory_gib_hour=memory_gib_hour, pv_gib_month=pv_gib_month
    )
    prices = dataclasses.replace(
        s.profile.prices, **{k: float(v) for k, v in chosen.items() if v is not None}
    )
    if s.profile.prometheus.pushdown:
        try:
            return _cost_pushdown(s, window, group_by, prices, step, sections)
        except ReplayMissing:  # a bundle recorded before push-down: replay what it holds
            sections = Sections()
    since = min(window.start, window.end - 2 * WEEK)  # week over week needs two full weeks
    prom = _range_loader(s, sections, since, window.end, step)
    frames = {
        "cpu_history": prom(promql.container_cpu_usage(m), KEYS),
        "memory_history": prom(promql.container_memory_working_set(m), KEYS),
        "owners": prom(promql.pod_owner(m), ["namespace", "pod", "owner_kind", "owner_name"]),
        "requests": prom(promql.container_resources(m, "requests", None), [*KEYS, "resource"]),
        "limits": prom(promql.container_resources(m, "limits", None), [*KEYS, "resource"]),
        # OOM kills: KRR's OOM buffer
        "restarts": prom(promql.container_restarts(m), KEYS, start=window.start),
        "reasons": prom(promql.last_terminated_reason(m), [*KEYS, "reason"], start=window.start),
        "inventory": sections.load("kubernetes", s.k8s.containers),
        "nodes": sections.load("kubernetes", s.k8s.nodes),
        "volumes": sections.load("kubernetes", s.k8s.persistent_volumes),
        "pv_capacity": None,
    }
    if frames["volumes"] is None:  # kube-state-metrics instead: phases, not mounted claims
        frames["volumes"] = prom(
            promql.pv_phase(m), ["persistentvolume", "phase"], start=window.start
        )
        frames["pv_capacity"] = prom(m.pv_capacity, ["persistentvolume"], start=window.start)
    sections.explain_empty("cost", frames, required=["cpu_history", "memory_history"])
    report = week = None
    cpu, memory = frames["cpu_history"], frames["memory_history"]
    if cpu is not None:
        report = cost_report(
            cpu[cpu["timestamp"] >= window.start],
            memory[memory["timestamp"] >= window.start],
            **_cost_inventory(s, frames, prices),
        )
        week = week_over_week(
            cpu, memory, report["resources"], report["workloads"], prices, group_by
        )
    context = {"prices": prices, "group_by": group_by, "since": since, "week_over_week": week}
    return AreaReport("cost", window, frames, report, sections, context)


def _cost_inventory(s: Session, frames: dict, prices: Any) -> dict[str, Any]:
    """What ``cost_report`` needs besides usage, the same on the client-side and push-down paths."""
    from dwcp_diag.analysis.memory import container_resources

    return {
        "owners": frames["owners"],
        "requests": container_resources(frames["requests"], frames["limits"]),
        "inventory": frames["inventory"],
        "volumes": frames["volumes"],
        "pv_capacity": frames["pv_capacity"],
        "allocatable": frames["nodes"],
        "restarts": frames["restarts"],
        "reasons": frames["reasons"],
        "profile": dataclasses.replace(s.profile, prices=prices),
    }


def _pushdown_volumes(s: Session, sections: Sections, window: TimeWindow, frames: dict) -> None:
    """Persistent volumes from the Kubernetes API, else kube-state-metrics (as collect_cost)."""
    m = s.profile.metrics
    frames["volumes"] = sections.load("kubernetes", s.k8s.persistent_volumes)
    frames["pv_capacity"] = None
    if frames["volumes"] is None:
        prom = _range_loader(s, sections, window.start, window.end, None)
        frames["volumes"] = prom(promql.pv_phase(m), ["persistentvolume", "phase"])
        frames["pv_capacity"] = prom(m.pv_capacity, ["persistentvolume"])


def _memory_pushdown(
    s: Session,
    window: TimeWindow,
    namespaces: str | Sequence[str] | None,
    step: DurationLike,
    sections: Sections,
) -> AreaReport:
    """:func:`collect_memory` at fleet scale: statistics per container from Prometheus, leak
    candidates screened there, full series only for candidates and charted containers."""
    from dwcp_diag.analysis.memory import (
        container_resources,
        leak_candidates,
        memory_report,
    )
    from dwcp_diag.checks import check_thresholds

    m, settings = s.profile.metrics, s.profile.prometheus
    plan = s.prom.plan(start=window.start, end=window.end, step=step)
    down = PushDown(s, sections, plan)
    quantile = s.profile.threshold("memory_near_limit", "quantile", 0.99)
    frames: dict[str, Any] = {
        "stats": down.usage(m, {"memory": (*MEMORY_LEVELS, quantile)}, namespaces),
        "working_set": None,  # the series fetched in full; None when Prometheus is unavailable
        "screen": None,
    }
    frames["requests"] = down.latest(
        promql.container_resources(m, "requests", None, namespaces), [*KEYS, "resource"]
    )
    frames["limits"] = down.latest(
        promql.container_resources(m, "limits", None, namespaces), [*KEYS, "resource"]
    )
    frames["restarts"], frames["reasons"], changed = down.restarts(m, namespaces)
    frames["inventory"] = _in_namespaces(sections.load("kubernetes", s.k8s.containers), namespaces)
    report, stats = None, frames["stats"]
    sections.explain_empty(
        "memory", {"working_set": stats} if stats is not None else {}, required=["working_set"]
    )
    if stats is not None and changed is not None and not stats.empty:
        inventory = frames["inventory"]
        resources = container_resources(
            frames["requests"] if frames["requests"] is not None else inventory,
            frames["limits"] if frames["limits"] is not None else inventory,
        )
        leak = check_thresholds(s.profile, "memory_leak")
        frames["screen"] = down.leak_screen(m, namespaces, changed)
    if frames.get("screen") is not None and "prometheus" not in sections.unavailable:
        fetch, skipped = leak_candidates(
            frames["screen"],
            leak["min_growth_mib_per_h"],
            leak["drop_fraction"],
            settings.max_series_fetched,
        )
        near = stats.merge(resources, on=KEYS, how="left")
        share = near["memory_max_bytes"] / near["memory_limit_bytes"]
        charted = pd.concat(
            [
                near.nlargest(CHART_TOP, f"memory_p{quantile * 100:g}_bytes")[KEYS],
                near.assign(share=share).nlargest(CHART_TOP, "share")[KEYS],
                fetch[KEYS],
            ]
        ).drop_duplicates()
        working_set = down.fetch(promql.container_memory_working_set(m, namespaces), charted, KEYS)
        if working_set is None:
            working_set = pd.DataFrame(
                {
                    **{k: pd.Series(dtype="str") for k in KEYS},
                    "timestamp": pd.Series(dtype="datetime64[ns, UTC]"),
                    "value": pd.Series(dtype="float64"),
                }
            )
        frames["working_set"] = working_set
    if frames.get("working_set") is not None and "prometheus" not in sections.unavailable:
        report = memory_report(
            frames["working_set"],
            frames["restarts"],
            frames["reasons"],
            requests=resources,
            inventory=inventory,
            profile=s.profile,
            stats=stats,
            screen=frames["screen"],
            skipped=skipped,
            max_series=settings.max_series_fetched,
        )
    context = {"step": step, "pushdown": True, "queries": down.queries}
    return AreaReport("memory", window, frames, report, sections, context)


def _cost_pushdown(
    s: Session,
    window: TimeWindow,
    group_by: str,
    prices: Any,
    step: DurationLike,
    sections: Sections,
) -> AreaReport:
    """:func:`collect_cost` at fleet scale: usage statistics per container from Prometheus
    (CPU quantiles pooled per workload: see :func:`~dwcp_diag.analysis.cost.pool_stats`)."""
    from dwcp_diag.analysis.cost import (
        WEEK,
        container_usage_from_stats,
        cost_report,
        week_change,
        week_columns,
    )
    from dwcp_diag.checks import check_thresholds

    m = s.profile.metrics
    plan = s.prom.plan(start=window.start, end=window.end, step=step)
    end = plan.end
    since = s.prom.plan(start=min(window.start, end - 2 * WEEK), end=end, step=step)
    down = PushDown(s, sections, plan)
    percentile = check_thresholds(s.profile, "overprovisioned_cpu")["cpu_percentile"]
    frames: dict[str, Any] = {
        "stats": down.usage(m, {"cpu": (*CPU_LEVELS, percentile / 100), "memory": (1.0,)}),
        "owners": down.latest(
            promql.pod_owner(m), ["namespace", "pod", "owner_kind", "owner_name"], since
        ),
        "requests": down.latest(
            promql.container_resources(m, "requests", None), [*KEYS, "resource"], since
        ),
        "limits": down.latest(
            promql.container_resources(m, "limits", None), [*KEYS, "resource"], since
        ),
        "inventory": sections.load("kubernetes", s.k8s.containers),
        "nodes": sections.load("kubernetes", s.k8s.nodes),
    }
    frames["restarts"], frames["reasons"], _ = down.restarts(m)
    _pushdown_volumes(s, sections, window, frames)
    weeks = None
    week_points = round(WEEK.total_seconds() / plan.step_s)
    halves = [
        s.prom.plan(
            start=end - k * WEEK + pd.Timedelta(seconds=plan.step_s),
            end=end - (k - 1) * WEEK,
            step=step,
        )
        for k in (2, 1)
    ]
    usage = [down.usage(m, {"cpu": (), "memory": ()}, plan=half) for half in halves]
    if all(u is not None for u in usage):
        seen = max(usage[0]["cpu_steps"].max(), usage[0]["memory_steps"].max(), 0.0)
        if seen >= week_points - 3600 / plan.step_s:  # two weeks of data, within an hour
            weeks = tuple(container_usage_from_stats(u) for u in usage)
    stats = frames["stats"]
    sections.explain_empty(
        "cost", {"cpu_history": stats} if stats is not None else {}, required=["cpu_history"]
    )
    report = week = None
    if stats is not None and not stats.empty and "prometheus" not in sections.unavailable:
        report = cost_report(
            None,
            None,
            **_cost_inventory(s, frames, prices),
            stats=stats,
            weeks=weeks,
        )
        week = pd.DataFrame(columns=week_columns(group_by))
        if weeks is not None:
            week = week_change(*weeks, report["resources"], report["workloads"], prices, group_by)
    context = {"prices": prices, "group_by": group_by, "since": since.start, "week_over_week": week}
    context |= {"pushdown": True, "queries": down.queries}
    return AreaReport("cost", window, frames, report, sections, context)


# --------------------------------------------------------------------------------- capacity


def collect_capacity(
    s: Session,
    window: TimeWindow,
    horizon_weeks: int = 12,
    step: DurationLike = "5m",
    sections: Sections | None = None,
) -> AreaReport:
    """Daily peaks of every demand series, forecasts to their limits, headroom, anomalies."""
    from dwcp_diag.analysis.capacity import capacity_report
    from dwcp_diag.queries.promql import capacity_queries

    sections = sections or Sections()
    m = s.profile.metrics
    queries = capacity_queries(m)
    queries["node_cpu_usage"] = f"sum by (namespace, pod) ({promql.container_cpu_usage(m)})"
    queries["node_memory_usage"] = (
        f"sum by (namespace, pod) ({promql.container_memory_working_set(m)})"
    )
    names = ["request_rate", "cpu_usage", "memory_usage", "node_cpu_usage", "node_memory_usage"]
    names += ["pg_database_size", "pg_connections", "pg_max_connections"]
    names += ["volume_used", "volume_capacity"]
    prom = _range_loader(s, sections, window.start, window.end, step)
    frames: dict[str, Any] = {name: prom(queries[name]) for name in names}
    sections.explain_empty("capacity", frames, required=["request_rate", "cpu_usage"])
    frames["nodes"] = sections.load("kubernetes", s.k8s.nodes)
    frames["containers"] = sections.load("kubernetes", s.k8s.containers)
    report = capacity_report(frames, s.profile, horizon_days=7 * horizon_weeks)
    frames["server"] = sections.load("postgres", s.pg.server)
    context = {"queries": {name: queries[name] for name in names}, "step": step}
    return AreaReport("capacity", window, frames, report, sections, context)


# --------------------------------------------------------------------------------- incident


SPEC_REPLICAS = "kube_deployment_spec_replicas"
_PANEL_FRAMES = ("requests", "buckets", "restarts", "oom_killed", "memory", "db_connections", "lag")


def _optional(sections: Sections, source: str, fetch: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """``fetch()``, or an empty frame saying why when the call cannot be answered here (a
    replayed bundle without it): an extra source must not fail the report."""
    try:
        frame = sections.load(source, fetch)
    except DwcpDiagError as exc:  # not recorded, or a query error: this source only
        print(f"{source}: {exc}")
        return _empty_with_reason(str(exc))
    return frame if frame is not None else _empty_with_reason(f"{source} unavailable")


def _empty_with_reason(reason: str) -> pd.DataFrame:
    frame = pd.DataFrame()
    frame.attrs[EMPTY_REASON] = reason
    return frame


def _deployments(spec_replicas: pd.DataFrame) -> list[str]:
    """Every Deployment ``kube_deployment_spec_replicas`` knows (changed or not)."""
    if spec_replicas.empty or "deployment" not in spec_replicas.columns:
        return []
    return sorted(spec_replicas["deployment"].dropna().astype("str").unique())


def collect_incident(
    s: Session,
    window: TimeWindow,
    margin: DurationLike = "1h",
    namespaces: str | Sequence[str] | None = None,
    sections: Sections | None = None,
    service: str | None = None,
) -> AreaReport:
    """One incident window: what changed against the 7 days before, rollouts, a timeline.

    Series are read from 7 days before the window (the baseline) to ``margin`` after it; the
    charts show the window with ``margin`` either side. ``frames["change_points"]`` holds
    every change in the shown span (:func:`~dwcp_diag.analysis.incident.change_points`):
    rollouts, scale events (ScalingReplicaSet, HPA, else ``kube_deployment_spec_replicas``
    steps), restarts, OOM kills, evictions, preemptions, NotReady and cordoned nodes. A
    change source the session cannot answer (a replay that did not record it) is an empty
    frame whose ``attrs["empty_reason"]`` says why. ``service``: the workload serving the
    requests; breaches rank its changes first. The KI-001 slack is the profile's
    ``[thresholds.consumer_lag_spike] change_slack_s`` (600).
    """
    from dwcp_diag.analysis.incident import change_points, incident_report
    from dwcp_diag.analysis.series import in_window

    sections = sections or Sections()
    m = s.profile.metrics
    margin_td = pd.Timedelta(seconds=parse_duration(margin))
    shown = TimeWindow(window.start - margin_td, window.end + margin_td)
    history = window.start - pd.Timedelta(days=7)  # "what changed" compares with 7 days before
    step = 60.0 if window.duration_s <= 86400 else s.prom.plan(start=history, end=shown.end).step_s
    rate = format_duration(max(300.0, step))  # 5m, or the step: every request counted once
    queries = {
        "requests": promql.request_rate_by_path_status(m, rate_window=rate),
        "buckets": promql.latency_bucket_rate(m, rate_window=rate),
        "restarts": f"sum by (namespace, pod) ({promql.container_restarts(m, namespaces)})",
        "oom_killed": "max by (namespace, pod) "
        f"({promql.last_terminated_reason(m, 'OOMKilled', namespaces)})",
        "memory": f"sum by (namespace, pod) ({promql.container_memory_working_set(m, namespaces)})",
        "db_connections": promql.pg_connections(m, by=("state",)),
        "lag": promql.consumer_lag(m),
    }
    labels = {"requests": [m.path_label, m.status_label], "buckets": ["le", m.path_label]}
    labels |= {"db_connections": ["state"], "lag": ["consumergroup", "topic"]}
    prom = _range_loader(s, sections, history, shown.end, step)
    frames: dict[str, Any] = {
        name: prom(query, labels.get(name, ["namespace", "pod"])) for name, query in queries.items()
    }
    sections.explain_empty("incident", frames, required=["requests"])
    if frames["requests"] is not None:
        frames["requests"] = frames["requests"].rename(columns={m.status_label: "status"})
    changes = sections.load("kubernetes", lambda: s.k8s.rollouts(shown.start, shown.end))
    events = sections.load("kubernetes", lambda: s.k8s.events(start=shown.start, end=shown.end))
    frames["changes"] = _in_namespaces(changes, namespaces)
    frames["events"] = _in_namespaces(events, namespaces)
    rollouts = None
    if frames["changes"] is not None:
        rollouts = frames["changes"][frames["changes"]["change"] == "rollout"]
        rollouts = rollouts.rename(columns={"time": "timestamp", "owner_name": "deployment"})
    frames["rollouts"] = rollouts
    selector = None if namespaces is None else {"namespace": namespaces}
    spec = promql.series_selector(SPEC_REPLICAS, selector=selector)
    spec_query = f"max by (namespace, deployment) ({spec})"
    queries["spec_replicas"] = spec_query
    frames["spec_replicas"] = _optional(
        sections,
        "prometheus",
        lambda: s.prom.range(
            spec_query,
            start=shown.start,
            end=shown.end,
            step=step,
            labels=["namespace", "deployment"],
        ),
    )

    def _shown(frame: pd.DataFrame | None) -> pd.DataFrame | None:
        return None if frame is None or frame.empty else in_window(frame, shown, closed="both")

    frames["change_points"] = change_points(
        rollouts=frames["changes"],
        events=frames["events"],
        restarts=_shown(frames["restarts"]),
        oom_killed=_shown(frames["oom_killed"]),
        spec_replicas=frames["spec_replicas"],
    )
    slack_s = s.profile.threshold("consumer_lag_spike", "change_slack_s", 600.0)
    report = incident_report(
        window,
        **{
            name: frames[name]
            for name in queries
            if name in _PANEL_FRAMES and frames[name] is not None
        },
        changes=frames["change_points"],
        service=service,
        workloads=_deployments(frames["spec_replicas"]),
        slo=s.profile.slo,
        ki001_slack_s=slack_s,
        margin_s=margin_td.total_seconds(),
    )
    context = {"shown": shown, "step_s": step, "history_start": history, "queries": queries}
    context["ki001_slack_s"] = slack_s
    return AreaReport("incident", window, frames, report, sections, context)
