"""Per-container statistics computed by Prometheus, for the memory and cost reports at fleet
scale: one instant query per statistic and sub-window, O(containers) numbers instead of every
raw sample (:class:`PushDown`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from dwcp_diag.analysis.cost import pool_stats, quantile_column
from dwcp_diag.analysis.memory import KEYS, plain_labels
from dwcp_diag.collect.area import LoadingSession, UnreachableSources
from dwcp_diag.queries import promql
from dwcp_diag.sources.prometheus_empty import EMPTY_REASON

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

    s: LoadingSession
    unreachable: UnreachableSources
    plan: Any
    queries: dict[str, str] = field(default_factory=dict)

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
        frame = self.vector("series", promql.series_count(inner), self.plan.end, ())
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
        text = promql.last_over_window(query, range_s, plan.step_s)
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

    def leak_screen(self, m: Any, namespaces: Any, changed: pd.DataFrame) -> pd.DataFrame | None:
        """Stage one of leak detection (:func:`~dwcp_diag.analysis.memory.leak_candidates`):
        slopes at a coarse step, day-over-day growth, the largest fall, restarts."""
        inner = promql.container_memory_working_set(m, namespaces)
        coarse = max(SCREEN_STEP_S, self.plan.step_s)
        pieces = []
        for at, range_s in _subwindows(self.plan, self.series(inner)):
            queries = promql.memory_growth_screen(inner, range_s, self.plan.step_s, coarse)
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
