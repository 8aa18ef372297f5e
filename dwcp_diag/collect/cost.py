"""The cost report's loading: CPU and memory usage from two weeks back (week over week),
owners, requests, limits, restarts from Prometheus, inventory, nodes and volumes from the
Kubernetes API (:func:`~dwcp_diag.analysis.cost.cost_report`); at fleet scale, usage
statistics pushed down to Prometheus.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd

from dwcp_diag.analysis.cost import (
    WEEK,
    container_usage_from_stats,
    cost_report,
    stats_without,
    week_change,
    week_columns,
    week_over_week,
)
from dwcp_diag.analysis.memory import KEYS, container_resources
from dwcp_diag.checks import check_thresholds
from dwcp_diag.collect.area import AreaReport, LoadingSession, UnreachableSources, range_loader
from dwcp_diag.collect.pushdown import CPU_LEVELS, PushDown
from dwcp_diag.errors import ReplayMissing
from dwcp_diag.queries import promql
from dwcp_diag.timewindow import DurationLike, TimeWindow


def collect_cost(
    s: LoadingSession,
    window: TimeWindow,
    group_by: str = "team",
    cpu_core_hour: float | None = None,
    memory_gib_hour: float | None = None,
    pv_gib_month: float | None = None,
    step: DurationLike = "5m",
    unreachable: UnreachableSources | None = None,
) -> AreaReport:
    """Cost per workload, team and namespace, right-sizing, idle workloads, unused volumes.

    Usage is read from two weeks back (at least) for the week-over-week comparison; prices
    default to the profile's (OpenCost's).
    """
    unreachable = unreachable or UnreachableSources()
    m = s.profile.metrics
    chosen = dict(
        cpu_core_hour=cpu_core_hour, memory_gib_hour=memory_gib_hour, pv_gib_month=pv_gib_month
    )
    prices = dataclasses.replace(
        s.profile.prices, **{k: float(v) for k, v in chosen.items() if v is not None}
    )
    if s.profile.prometheus.pushdown:
        try:
            return _cost_pushdown(s, window, group_by, prices, step, unreachable)
        except ReplayMissing:  # a bundle recorded before push-down: replay what it holds
            unreachable = UnreachableSources()
    since = min(window.start, window.end - 2 * WEEK)  # week over week needs two full weeks
    prom = range_loader(s, unreachable, since, window.end, step)
    frames = {
        "cpu_history": prom(promql.container_cpu_usage(m), KEYS),
        "memory_history": prom(promql.container_memory_working_set(m), KEYS),
        "owners": prom(promql.pod_owner(m), ["namespace", "pod", "owner_kind", "owner_name"]),
        "requests": prom(promql.container_resources(m, "requests", None), [*KEYS, "resource"]),
        "limits": prom(promql.container_resources(m, "limits", None), [*KEYS, "resource"]),
        # OOM kills: KRR's OOM buffer
        "restarts": prom(promql.container_restarts(m), KEYS, start=window.start),
        "reasons": prom(promql.last_terminated_reason(m), [*KEYS, "reason"], start=window.start),
        "inventory": unreachable.load("kubernetes", lambda: s.k8s.containers()),
        "nodes": unreachable.load("kubernetes", lambda: s.k8s.nodes()),
        "volumes": unreachable.load("kubernetes", lambda: s.k8s.persistent_volumes()),
        "pv_capacity": None,
    }
    if frames["volumes"] is None:  # kube-state-metrics instead: phases, not mounted claims
        frames["volumes"] = prom(
            promql.pv_phase(m), ["persistentvolume", "phase"], start=window.start
        )
        frames["pv_capacity"] = prom(m.pv_capacity, ["persistentvolume"], start=window.start)
    unreachable.explain_empty("cost", frames, required=["cpu_history", "memory_history"])
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
    return AreaReport("cost", window, frames, report, unreachable, context)


def _cost_inventory(s: LoadingSession, frames: dict, prices: Any) -> dict[str, Any]:
    """What ``cost_report`` needs besides usage, the same on the client-side and push-down paths."""
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


def _pushdown_volumes(
    s: LoadingSession, unreachable: UnreachableSources, window: TimeWindow, frames: dict
) -> None:
    """Persistent volumes from the Kubernetes API, else kube-state-metrics (as collect_cost)."""
    m = s.profile.metrics
    frames["volumes"] = unreachable.load("kubernetes", lambda: s.k8s.persistent_volumes())
    frames["pv_capacity"] = None
    if frames["volumes"] is None:
        prom = range_loader(s, unreachable, window.start, window.end, None)
        frames["volumes"] = prom(promql.pv_phase(m), ["persistentvolume", "phase"])
        frames["pv_capacity"] = prom(m.pv_capacity, ["persistentvolume"])


def _cost_pushdown(
    s: LoadingSession,
    window: TimeWindow,
    group_by: str,
    prices: Any,
    step: DurationLike,
    unreachable: UnreachableSources,
) -> AreaReport:
    """:func:`collect_cost` at fleet scale: usage statistics per container from Prometheus
    (CPU quantiles pooled per workload: see :func:`~dwcp_diag.analysis.cost.pool_stats`)."""
    m = s.profile.metrics
    plan = s.prom.plan(start=window.start, end=window.end, step=step)
    end = plan.end
    since = s.prom.plan(start=min(window.start, end - 2 * WEEK), end=end, step=step)
    down = PushDown(s, unreachable, plan)
    percentile = check_thresholds(s.profile, "overprovisioned_cpu")["cpu_percentile"]
    week_points = round(WEEK.total_seconds() / plan.step_s)
    halves = [
        s.prom.plan(
            start=end - k * WEEK + pd.Timedelta(seconds=plan.step_s),
            end=end - (k - 1) * WEEK,
            step=step,
        )
        for k in (2, 1)
    ]
    counts = {"cpu": (), "memory": ()}
    # a one-week window: the last week is the window but its first evaluation time
    one_week = plan.end_ms - plan.start_ms == WEEK / pd.Timedelta("1ms")
    loaded = down.concurrently(
        stats=lambda: down.usage(
            m, {"cpu": (*CPU_LEVELS, percentile / 100), "memory": (1.0,)}, steps=True
        ),
        owners=lambda: down.latest(
            promql.pod_owner(m), ["namespace", "pod", "owner_kind", "owner_name"], since
        ),
        requests=lambda: down.latest(
            promql.container_resources(m, "requests", None), [*KEYS, "resource"], since
        ),
        limits=lambda: down.latest(
            promql.container_resources(m, "limits", None), [*KEYS, "resource"], since
        ),
        inventory=lambda: unreachable.load("kubernetes", lambda: s.k8s.containers()),
        nodes=lambda: unreachable.load("kubernetes", lambda: s.k8s.nodes()),
        restarts=lambda: down.restarts(m),
        previous=lambda: down.usage(m, counts, plan=halves[0], steps=True),
        last=lambda: down.usage(
            m, counts, plan=plan if one_week else halves[1], steps=True, first_only=one_week
        ),
    )
    frames: dict[str, Any] = {
        name: loaded[name] for name in ("stats", "owners", "requests", "limits", "inventory")
    }
    frames["nodes"] = loaded["nodes"]
    frames["restarts"], frames["reasons"], _ = loaded["restarts"]
    _pushdown_volumes(s, unreachable, window, frames)
    weeks = None
    last = loaded["last"]
    if one_week and last is not None:  # subtract the first evaluation time, exactly
        last = None if frames["stats"] is None else stats_without(frames["stats"], last)
    usage = [loaded["previous"], last]
    if all(u is not None for u in usage):
        seen = max(usage[0]["cpu_steps"].max(), usage[0]["memory_steps"].max(), 0.0)
        if seen >= week_points - 3600 / plan.step_s:  # two weeks of data, within an hour
            weeks = tuple(container_usage_from_stats(u) for u in usage)
    stats = frames["stats"]
    unreachable.explain_empty(
        "cost", {"cpu_history": stats} if stats is not None else {}, required=["cpu_history"]
    )
    report = week = None
    if stats is not None and not stats.empty and "prometheus" not in unreachable.unavailable:
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
    context |= {"pushdown": True, "queries": down.sorted_queries()}
    return AreaReport("cost", window, frames, report, unreachable, context)
