"""Per-container statistics computed by Prometheus, for the memory and cost reports at fleet
scale: one instant query per statistic and sub-window, O(containers) numbers instead of every
raw sample (:class:`PushDown`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from dwcp_diag.analysis.cost import pool_stats, quantile_column
from dwcp_diag.analysis.memory import KEYS, plain_labels
from dwcp_diag.collect.area import LoadingSession, UnreachableSources
from dwcp_diag.queries import promql
from dwcp_diag.sources.prometheus_empty import EMPTY_REASON

log = logging.getLogger("dwcp_diag.pushdown")

# One instant query covers at most this many evaluation times (a week at 5 minutes), and at
# most SAMPLES_PER_QUERY series x times (half Prometheus' default --query.max-samples, 50 M);
# longer windows are split into sub-windows whose statistics are pooled
# (analysis.cost.pool_stats: exact but for quantiles).
SUBWINDOW_MAX_POINTS = 2_100
SAMPLES_PER_QUERY = 25_000_000
# The CPU quantile levels each container's rate is known by, for pooling the pods of a
# workload (analysis.cost.mixture_quantile); with the percentile itself. Each level is one
# more pass of Prometheus over every container's rate. Measured on the 1,000-container fleet
# of benchmarks/scale.py (250 workloads of several uneven pods), the pooled p95's error
# against the client-side path: max 4.4 %, median 1.4 % with these; 14.5 % without the p80;
# 3.2 % with eight levels (0, .5, .8, .9, .93, .97, .99, 1), at two more passes.
CPU_LEVELS = (0.0, 0.8, 0.9, 0.99, 1.0)
MEMORY_LEVELS = (1.0,)  # with the near-limit quantile: all the memory report reads
SCREEN_STEP_S = 1800.0  # the leak screen's slopes and falls: a coarse step is enough
CHART_TOP = 15  # containers drawn in full by the memory charts (the rest are never fetched)


def _subwindows(plan: Any, series: float = 0) -> list[tuple[pd.Timestamp, float]]:
    """``(end, range_s)`` of each sub-window: at most :data:`SUBWINDOW_MAX_POINTS` points and
    :data:`SAMPLES_PER_QUERY` samples for ``series`` series."""
    points = min(SUBWINDOW_MAX_POINTS, max(12, int(SAMPLES_PER_QUERY // max(series, 1))))
    return [(c.end, (c.end_ms - c.start_ms) / 1000) for c in plan.chunks(points)]


def _whole(plan: Any) -> list[tuple[pd.Timestamp, float]]:
    return [(plan.end, (plan.end_ms - plan.start_ms) / 1000)]


@dataclass
class PushDown:
    """Per-container statistics computed by Prometheus over a window, one instant query per
    statistic and sub-window: O(containers) numbers instead of every raw sample.

    ``plan`` is the window's range plan (the step the client-side path would use), so each
    statistic covers exactly the samples a range query would return. Where the profile's
    scrape interval is that step, statistics of a series selector read its raw samples
    (``max_over_time(x[7d])``: the same points, one pass) instead of a subquery; the
    independent queries of a table run ``prometheus.max_workers`` at a time.
    """

    s: LoadingSession
    unreachable: UnreachableSources
    plan: Any
    queries: dict[str, str] = field(default_factory=dict)

    def raw(self, plan: Any = None) -> bool:
        """Whether the raw samples are the range query's points: one scrape per step."""
        step_s = (plan or self.plan).step_s
        return abs(self.s.profile.prometheus.scrape_interval_s - step_s) < 1e-6 * step_s

    def vector(self, name: str, query: str, at: pd.Timestamp, labels=KEYS) -> pd.DataFrame | None:
        """One instant query: ``labels`` and ``name`` (its value), or None if unreachable."""
        self.queries.setdefault(name, query)
        frame = self.unreachable.load(
            "prometheus", lambda: self.s.prom.instant(query, at=at, labels=list(labels))
        )
        if frame is None:
            return None
        reason = frame.attrs.get(EMPTY_REASON)
        frame = plain_labels(frame, list(labels))
        out = frame[list(labels)].assign(**{name: frame["value"].to_numpy(float)})
        out.attrs[EMPTY_REASON] = reason
        return out

    def vectors(
        self, queries: Mapping[str, str], at: pd.Timestamp, labels=KEYS
    ) -> dict[str, pd.DataFrame | None]:
        """:meth:`vector` of each query, ``prometheus.max_workers`` at a time: on a server
        with several cores each query evaluates on its own, and this process only waits."""
        workers = max(1, min(int(self.s.profile.prometheus.max_workers), len(queries)))
        with ThreadPoolExecutor(workers, thread_name_prefix="pushdown") as pool:
            frames = pool.map(lambda item: self.vector(*item, at, labels), queries.items())
            return dict(zip(queries, frames, strict=True))

    def table(self, queries: Mapping[str, str], at: pd.Timestamp, labels=KEYS):
        """Several instant queries (run concurrently) joined on ``labels`` (outer), or None
        if unreachable."""
        return self.join(self.vectors(queries, at, labels), labels)

    @staticmethod
    def join(frames: Mapping[str, pd.DataFrame | None], labels=KEYS) -> pd.DataFrame | None:
        out, reason = None, None
        for name, frame in frames.items():
            if frame is None:
                return None
            reason = reason or frame.attrs.get(EMPTY_REASON)
            if not frame.empty:
                frame = frame.groupby(list(labels), as_index=False)[name].max()
            out = frame if out is None else out.merge(frame, on=list(labels), how="outer")
        if out is not None and out.empty:
            out.attrs[EMPTY_REASON] = reason
        return out

    def series(self, selector: str, plan: Any = None) -> float:
        """How many series ``selector`` had in the window (pods replaced during it
        included): what sizes the sub-windows of a subquery."""
        plan = plan or self.plan
        range_s = (plan.end_ms - plan.start_ms) / 1000
        query = promql.series_in_window(selector, range_s, plan.step_s)
        frame = self.vector("series", query, plan.end, ())
        return float(frame["series"].sum()) if frame is not None and len(frame) else 0.0

    def steps(
        self, inner: str, at: pd.Timestamp, range_s: float, step_s: float, most: float = 0
    ) -> float:
        """How many evaluation times of the window had data (at least one series of
        ``inner``). ``most``, the most points one container has, saves the query where a
        container had data at every evaluation time (as in any long-lived fleet): then so
        had the window."""
        every = round(range_s / step_s) + 1
        if pd.isna(most):  # no container had data: neither had the window
            return 0.0
        if most == every:
            return float(every)
        frame = self.vector("steps", promql.series_steps(inner, range_s, step_s), at, ())
        return float(frame["steps"].sum()) if frame is not None and len(frame) else 0.0

    def usage(
        self,
        m: Any,
        levels: Mapping[str, Sequence[float]],
        namespaces: Any = None,
        plan: Any = None,
        steps: bool = False,
        first_only: bool = False,
        moments: bool = True,
    ) -> pd.DataFrame | None:
        """Per container: points, mean (unless not ``moments``: then only where a split
        window needs them to pool), and the quantile ``levels`` (0 = min, 1 = max) of the
        CPU rate (``levels["cpu"]``, if given) and the working set (``"memory"``); with
        ``steps``, ``cpu_steps``/``memory_steps`` (evaluation times with data).
        ``first_only``: of the plan's first evaluation time alone (what a window one step
        shorter lacks: :func:`~dwcp_diag.analysis.cost.stats_without`).

        The working set is read raw in one query per statistic where :meth:`raw` holds
        (Prometheus evaluates a range function series by series); a subquery (the CPU rate
        always) is split into sub-windows of bounded samples, pooled (exact but for
        quantiles: see :func:`~dwcp_diag.analysis.cost.pool_stats`)."""
        plan = plan or self.plan
        selectors = {
            "cpu": promql.container_cpu_usage(m, namespaces),
            "memory": promql.container_memory_working_set(m, namespaces),
        }
        parts = []
        for resource in levels:
            raw = resource == "memory" and self.raw(plan)
            counted = moments or steps
            part = self._resource(
                resource, selectors, levels, plan, raw, counted, steps, first_only
            )
            if raw and part is not None and f"{resource}_points" in part.columns:
                every = 1 if first_only else plan.points
                if part[f"{resource}_points"].max() > every + max(1, every // 10):
                    log.warning(
                        "%s has more samples than evaluation times: the series are scraped more "
                        "often than prometheus.scrape_interval_s = %gs says; reading them at "
                        "the step instead (set scrape_interval_s to the real interval)",
                        selectors[resource],
                        self.s.profile.prometheus.scrape_interval_s,
                    )
                    part = self._resource(
                        resource, selectors, levels, plan, False, counted, steps, first_only
                    )
            if part is None:
                return None
            parts.append(part)
        stats = parts[0]
        for part in parts[1:]:
            stats = stats.merge(part, on=KEYS, how="outer")
        for resource in levels:  # a container seen for one resource only
            if f"{resource}_points" in stats.columns:
                stats[f"{resource}_points"] = stats[f"{resource}_points"].fillna(0.0)
        if quantile_column("memory", 1.0) in stats.columns:
            stats["memory_max_bytes"] = stats[quantile_column("memory", 1.0)]
        if stats.empty:
            stats.attrs[EMPTY_REASON] = next(
                (p.attrs.get(EMPTY_REASON) for p in parts if p.attrs.get(EMPTY_REASON)), None
            )
        return stats

    def _resource(
        self,
        resource: str,
        selectors: Mapping[str, str],
        levels: Mapping[str, Sequence[float]],
        plan: Any,
        raw: bool,
        counted: bool,
        steps: bool,
        first_only: bool,
    ) -> pd.DataFrame | None:
        """:meth:`usage` of one resource: its (sub-)windows queried and pooled."""
        inner, unit = selectors[resource], "cores" if resource == "cpu" else "bytes"
        if first_only:  # (start - step/2, start + step/2]: the first time's samples
            half = plan.step_s / 2
            windows = [(plan.start + pd.Timedelta(seconds=half), half)]
        elif raw:
            windows = _whole(plan)
        else:
            windows = _subwindows(plan, self.series(selectors["memory"], plan))
        counted = counted or len(windows) > 1  # pooling weighs the pieces by their points
        pieces, seen = [], 0.0
        for at, range_s in windows:
            queries = self._statistics(resource, inner, levels, range_s, plan, raw, counted)
            piece = self.table(queries, at)
            if piece is None:
                return None
            if counted:
                points = piece[f"{resource}_points"]
                piece[f"{resource}_mean_{unit}"] = piece.pop(f"_{resource}_sum") / points
            pieces.append(piece)
            if steps:
                seen += self.steps(inner, at, range_s, plan.step_s, points.max())
        reason = next((p.attrs.get(EMPTY_REASON) for p in pieces if p.empty), None)
        part = pd.concat(pieces, ignore_index=True)
        if len(pieces) > 1:
            part = pool_stats(part, KEYS).drop(columns="pods")
        if counted:
            part[f"{resource}_points"] = part[f"{resource}_points"].fillna(0.0)
        if steps:
            part[f"{resource}_steps"] = seen
        part.attrs[EMPTY_REASON] = reason
        return part

    @staticmethod
    def _statistics(
        resource: str,
        inner: str,
        levels: Mapping[str, Sequence[float]],
        range_s: float,
        plan: Any,
        raw: bool,
        counted: bool = True,
    ) -> dict[str, str]:
        """The instant queries of one resource's statistics over one (sub-)window; with
        ``counted``, its points and sum."""
        functions = {}
        if counted:
            functions[f"{resource}_points"] = ("count_over_time", "sum")
            functions[f"_{resource}_sum"] = ("sum_over_time", "sum")
        for level in levels[resource]:
            functions[quantile_column(resource, level)] = {
                0.0: ("min_over_time", "min"),
                1.0: ("max_over_time", "max"),
            }.get(level, (promql.window_quantile(level), "max"))
        return {
            name: promql.over_window(function, inner, range_s, plan.step_s, KEYS, combine, raw)
            for name, (function, combine) in functions.items()
        }

    def latest(self, query: str, labels: Sequence[str], plan: Any = None) -> pd.DataFrame | None:
        """Each series' last value in the window (``last_over_time``), with its labels:
        a frame :func:`~dwcp_diag.analysis.memory.container_resources` reads as it reads
        the series themselves."""
        plan = plan or self.plan
        range_s = (plan.end_ms - plan.start_ms) / 1000
        text = promql.last_over_window(query, range_s, plan.step_s, raw=self.raw(plan))
        self.queries.setdefault(f"latest {query}", text)
        return self.unreachable.load(
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
            promql.over_window(
                "changes", counter, range_s, self.plan.step_s, KEYS, "max", raw=self.raw()
            ),
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
        if keys.empty:
            return None
        pods = promql.label_matcher("pod", sorted(set(keys["pod"].astype(str))))
        narrowed = promql.with_matcher(selector, pods)
        frame = self.unreachable.load(
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

    def concurrently(self, **calls: Callable[[], Any]) -> dict[str, Any]:
        """Each call's result by name, the calls run at once: independent phases of a
        report's loading (statistics, inventories, the leak screen) keep the server's cores
        busy together instead of one after another."""
        with ThreadPoolExecutor(len(calls), thread_name_prefix="pushdown-phase") as pool:
            futures = {name: pool.submit(call) for name, call in calls.items()}
            return {name: future.result() for name, future in futures.items()}

    def sorted_queries(self) -> dict[str, str]:
        """The queries run, by name (the order phases finished in is not meaningful)."""
        return dict(sorted(self.queries.items()))

    def growth_screen(self, m: Any, namespaces: Any) -> pd.DataFrame | None:
        """Stage one of leak detection (:func:`~dwcp_diag.analysis.memory.leak_candidates`):
        slopes at a coarse step, day-over-day growth, the largest fall; with
        :meth:`restarts`' changes, :func:`~dwcp_diag.analysis.memory.leak_candidates` picks
        what to fetch."""
        inner = promql.container_memory_working_set(m, namespaces)
        coarse = max(SCREEN_STEP_S, self.plan.step_s)
        pieces = []
        # the subqueries' samples are at the coarse step
        series = self.series(inner) * self.plan.step_s / coarse
        for at, range_s in _subwindows(self.plan, series):
            queries = promql.memory_growth_screen(inner, range_s, coarse)
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
        return screen
