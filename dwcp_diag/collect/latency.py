"""The latency report's loading: request duration histogram and request counter against
the SLOs (:func:`~dwcp_diag.analysis.latency.latency_report`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pandas as pd

from dwcp_diag.analysis.latency import latency_report
from dwcp_diag.collect.area import AreaReport, LoadingSession, UnreachableSources, range_loader
from dwcp_diag.queries import promql
from dwcp_diag.timewindow import TimeWindow, format_duration


def collect_latency(
    s: LoadingSession,
    window: TimeWindow,
    endpoints: Sequence[str] | None = None,
    p95_target_ms: float | None = None,
    error_rate_target_pct: float | None = None,
    availability_target_pct: float | None = None,
    unreachable: UnreachableSources | None = None,
) -> AreaReport:
    """Latency quantiles, error rates, error budget and burn rates against the SLOs.

    Two range queries: the duration histogram over the window and the request counter from
    3 days before it (the longest burn-rate window). Windows up to a week are read at a 60 s
    step; longer ones at the loader's coarser step, with rates over the whole step.
    """
    unreachable = unreachable or UnreachableSources()
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
    prom = range_loader(s, unreachable, window.start, window.end, step)
    frames = {
        "buckets": prom(queries["buckets"], ["le", m.path_label]),
        "requests": prom(queries["requests"], [m.path_label, m.status_label], start=history),
    }
    unreachable.explain_empty("latency", frames, required=["buckets", "requests"])
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
    return AreaReport("latency", window, frames, report, unreachable, context)
