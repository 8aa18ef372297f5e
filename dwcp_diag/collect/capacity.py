"""The capacity report's loading: demand series over the window, nodes, containers and the
database server (:func:`~dwcp_diag.analysis.capacity.capacity_report`)."""

from __future__ import annotations

from typing import Any

from dwcp_diag.analysis.capacity import capacity_report
from dwcp_diag.collect.area import AreaReport, LoadingSession, UnreachableSources, range_loader
from dwcp_diag.queries import promql
from dwcp_diag.timewindow import DurationLike, TimeWindow


def collect_capacity(
    s: LoadingSession,
    window: TimeWindow,
    horizon_weeks: int = 12,
    step: DurationLike = "5m",
    unreachable: UnreachableSources | None = None,
) -> AreaReport:
    """Daily peaks of every demand series, forecasts to their limits, headroom, anomalies."""
    unreachable = unreachable or UnreachableSources()
    m = s.profile.metrics
    queries = promql.capacity_queries(m)
    names = ["request_rate", "cpu_usage", "memory_usage", "node_cpu_usage", "node_memory_usage"]
    names += ["pg_database_size", "pg_connections", "pg_max_connections"]
    names += ["volume_used", "volume_capacity"]
    prom = range_loader(s, unreachable, window.start, window.end, step)
    frames: dict[str, Any] = {name: prom(queries[name]) for name in names}
    unreachable.explain_empty("capacity", frames, required=["request_rate", "cpu_usage"])
    frames["nodes"] = unreachable.load("kubernetes", lambda: s.k8s.nodes())
    frames["containers"] = unreachable.load("kubernetes", lambda: s.k8s.containers())
    report = capacity_report(frames, s.profile, horizon_days=7 * horizon_weeks)
    frames["server"] = unreachable.load("postgres", lambda: s.pg.server())
    context = {"queries": {name: queries[name] for name in names}, "step": step}
    return AreaReport("capacity", window, frames, report, unreachable, context)
