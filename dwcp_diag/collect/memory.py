"""The memory report's loading: working sets, restarts, termination reasons, requests and
limits from Prometheus, the container inventory from the Kubernetes API
(:func:`~dwcp_diag.analysis.memory.memory_report`); at fleet scale, statistics pushed down to
Prometheus and full series only for leak candidates and charted containers.

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

from collections.abc import Sequence
from typing import Any

import pandas as pd

from dwcp_diag.analysis.memory import KEYS, container_resources, leak_candidates, memory_report
from dwcp_diag.checks import check_thresholds
from dwcp_diag.collect.area import (
    AreaReport,
    LoadingSession,
    UnreachableSources,
    in_namespaces,
    range_loader,
)
from dwcp_diag.collect.pushdown import CHART_TOP, MEMORY_LEVELS, PushDown
from dwcp_diag.errors import ReplayMissing
from dwcp_diag.queries import promql
from dwcp_diag.timewindow import DurationLike, TimeWindow


def collect_memory(
    s: LoadingSession,
    window: TimeWindow,
    namespaces: str | Sequence[str] | None = None,
    step: DurationLike = "5m",
    unreachable: UnreachableSources | None = None,
) -> AreaReport:
    """Working sets against limits, leaks, OOM kills and restarts of every container.

    From Prometheus (every pod seen in the window, including pods replaced since) and the
    Kubernetes API (current containers, CrashLoopBackOff); Prometheus' requests and limits
    win, the inventory fills what they lack.
    """
    unreachable = unreachable or UnreachableSources()
    if s.profile.prometheus.pushdown:
        try:
            return _memory_pushdown(s, window, namespaces, step, unreachable)
        except ReplayMissing:  # a bundle recorded before push-down: replay what it holds
            unreachable = UnreachableSources()
    m = s.profile.metrics
    prom = range_loader(s, unreachable, window.start, window.end, step)
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
    unreachable.explain_empty("memory", frames, required=["working_set"])
    containers = unreachable.load("kubernetes", lambda: s.k8s.containers())
    frames["inventory"] = in_namespaces(containers, namespaces)
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
    return AreaReport("memory", window, frames, report, unreachable, {"step": step})


def _memory_pushdown(
    s: LoadingSession,
    window: TimeWindow,
    namespaces: str | Sequence[str] | None,
    step: DurationLike,
    unreachable: UnreachableSources,
) -> AreaReport:
    """:func:`collect_memory` at fleet scale: statistics per container from Prometheus, leak
    candidates screened there, full series only for candidates and charted containers."""
    m, settings = s.profile.metrics, s.profile.prometheus
    plan = s.prom.plan(start=window.start, end=window.end, step=step)
    down = PushDown(s, unreachable, plan)
    quantile = check_thresholds(s.profile, "memory_near_limit")["quantile"]
    loaded = down.concurrently(
        stats=lambda: down.usage(
            m, {"memory": (*MEMORY_LEVELS, quantile)}, namespaces, moments=False
        ),
        requests=lambda: down.latest(
            promql.container_resources(m, "requests", None, namespaces), [*KEYS, "resource"]
        ),
        limits=lambda: down.latest(
            promql.container_resources(m, "limits", None, namespaces), [*KEYS, "resource"]
        ),
        restarts=lambda: down.restarts(m, namespaces),
        growth=lambda: down.growth_screen(m, namespaces),
        containers=lambda: unreachable.load("kubernetes", lambda: s.k8s.containers()),
    )
    frames: dict[str, Any] = {
        "stats": loaded["stats"],
        "working_set": None,  # the series fetched in full; None when Prometheus is unavailable
        "screen": None,
        "requests": loaded["requests"],
        "limits": loaded["limits"],
    }
    frames["restarts"], frames["reasons"], changed = loaded["restarts"]
    containers = loaded["containers"]
    frames["inventory"] = in_namespaces(containers, namespaces)
    report, stats = None, frames["stats"]
    unreachable.explain_empty(
        "memory", {"working_set": stats} if stats is not None else {}, required=["working_set"]
    )
    if stats is not None and changed is not None and not stats.empty:
        inventory = frames["inventory"]
        resources = container_resources(
            frames["requests"] if frames["requests"] is not None else inventory,
            frames["limits"] if frames["limits"] is not None else inventory,
        )
        leak = check_thresholds(s.profile, "memory_leak")
        if loaded["growth"] is not None:
            frames["screen"] = loaded["growth"].merge(changed, on=KEYS, how="left")
            frames["screen"] = frames["screen"].fillna({"restarts": 0.0})
    if frames.get("screen") is not None and "prometheus" not in unreachable.unavailable:
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
    if frames.get("working_set") is not None and "prometheus" not in unreachable.unavailable:
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
    context = {"step": step, "pushdown": True, "queries": down.sorted_queries()}
    return AreaReport("memory", window, frames, report, unreachable, context)
