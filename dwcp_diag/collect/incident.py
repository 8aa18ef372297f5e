"""The incident report's loading: every signal from 7 days before the window (the baseline
of *what changed*) to a margin after it, rollouts and events from the Kubernetes API, and the
change points among them (:func:`~dwcp_diag.analysis.incident.incident_report`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from dwcp_diag.analysis.incident import change_points, incident_report
from dwcp_diag.analysis.series import in_window
from dwcp_diag.checks import check_thresholds
from dwcp_diag.collect.area import (
    AreaReport,
    LoadingSession,
    UnreachableSources,
    in_namespaces,
    range_loader,
)
from dwcp_diag.errors import AuthError, DwcpDiagError, ReplayMissing
from dwcp_diag.queries import promql
from dwcp_diag.sources.prometheus_empty import EMPTY_REASON
from dwcp_diag.timewindow import DurationLike, TimeWindow, format_duration, parse_duration

_PANEL_FRAMES = ("requests", "buckets", "restarts", "oom_killed", "memory", "db_connections", "lag")


def _optional(
    unreachable: UnreachableSources, source: str, fetch: Callable[[], pd.DataFrame]
) -> pd.DataFrame:
    """``fetch()``, or an empty frame saying why when the call cannot be answered here (a
    replayed bundle without it): an extra source must not fail the report."""
    try:
        frame = unreachable.load(source, fetch)
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


def _configmaps(
    s: LoadingSession, unreachable: UnreachableSources, namespaces: str | Sequence[str] | None
) -> pd.DataFrame:
    """The ConfigMaps (metadata only), or an empty frame saying why: a role that may not list
    them is the usual read-only setup, so a refusal is a note, not ``source_unavailable``."""
    if "kubernetes" in unreachable.unavailable:
        return pd.DataFrame()
    try:
        frame = s.k8s.configmaps()
    except AuthError:
        return _empty_with_reason("the role may not list ConfigMaps (optional: grant list)")
    except ReplayMissing:  # a bundle recorded before ConfigMaps were read
        return _empty_with_reason("this recording has no ConfigMap list")
    except DwcpDiagError as exc:
        return _empty_with_reason(f"configmaps: {exc}")
    return in_namespaces(frame, namespaces)


def collect_incident(
    s: LoadingSession,
    window: TimeWindow,
    margin: DurationLike = "1h",
    namespaces: str | Sequence[str] | None = None,
    unreachable: UnreachableSources | None = None,
    service: str | None = None,
) -> AreaReport:
    """One incident window: what changed against the 7 days before, rollouts, a timeline.

    Series are read from 7 days before the window (the baseline) to ``margin`` after it; the
    charts show the window with ``margin`` either side. ``frames["change_points"]`` holds
    every change in the shown span (:func:`~dwcp_diag.analysis.incident.change_points`):
    rollouts, scale events (ScalingReplicaSet, HPA, else ``kube_deployment_spec_replicas``
    steps), restarts, OOM kills, evictions, preemptions, NotReady and cordoned nodes (from
    the events, else from the Nodes list: each touches the workloads of the pods on that
    node). A change source the session cannot answer (a replay that did not record it) is an
    empty frame whose ``attrs["empty_reason"]`` says why. ``service``: the workload serving the
    requests; breaches rank its changes first. The KI-001 slack is the profile's
    ``[thresholds.consumer_lag_spike] change_slack_s`` (600).
    """
    unreachable = unreachable or UnreachableSources()
    m = s.profile.metrics
    margin_td = pd.Timedelta(seconds=parse_duration(margin))
    shown = TimeWindow(window.start - margin_td, window.end + margin_td)
    history = window.start - pd.Timedelta(days=7)  # "what changed" compares with 7 days before
    step = 60.0 if window.duration_s <= 86400 else s.prom.plan(start=history, end=shown.end).step_s
    rate = format_duration(max(300.0, step))  # 5m, or the step: every request counted once
    queries = {
        "requests": promql.request_rate_by_path_status(m, rate_window=rate),
        "buckets": promql.latency_bucket_rate(m, rate_window=rate),
        "restarts": promql.pod_restarts(m, namespaces),
        "oom_killed": promql.pod_oom_killed(m, namespaces),
        "memory": promql.pod_memory_working_set(m, namespaces),
        "db_connections": promql.pg_connections(m, by=("state",)),
        "lag": promql.consumer_lag(m),
    }
    labels = {"requests": [m.path_label, m.status_label], "buckets": ["le", m.path_label]}
    labels |= {"db_connections": ["state"], "lag": ["consumergroup", "topic"]}
    prom = range_loader(s, unreachable, history, shown.end, step)
    frames: dict[str, Any] = {
        name: prom(query, labels.get(name, ["namespace", "pod"])) for name, query in queries.items()
    }
    unreachable.explain_empty("incident", frames, required=["requests"])
    if frames["requests"] is not None:
        frames["requests"] = frames["requests"].rename(columns={m.status_label: "status"})
    changes = unreachable.load("kubernetes", lambda: s.k8s.rollouts(shown.start, shown.end))
    events = unreachable.load("kubernetes", lambda: s.k8s.events(start=shown.start, end=shown.end))
    frames["changes"] = in_namespaces(changes, namespaces)
    frames["events"] = in_namespaces(events, namespaces)
    rollouts = None
    if frames["changes"] is not None:
        rollouts = frames["changes"][frames["changes"]["change"] == "rollout"]
        rollouts = rollouts.rename(columns={"time": "timestamp", "owner_name": "deployment"})
    frames["rollouts"] = rollouts
    spec_query = promql.deployment_spec_replicas(namespaces)
    queries["spec_replicas"] = spec_query
    frames["spec_replicas"] = _optional(
        unreachable,
        "prometheus",
        lambda: s.prom.range(
            spec_query,
            start=shown.start,
            end=shown.end,
            step=step,
            labels=["namespace", "deployment"],
        ),
    )

    frames["nodes"] = _optional(unreachable, "kubernetes", lambda: s.k8s.nodes())
    pods = _optional(unreachable, "kubernetes", lambda: s.k8s.pods())
    frames["pods"] = in_namespaces(pods, namespaces) if "namespace" in pods.columns else pods

    frames["configmaps"], notes = _configmaps(s, unreachable, namespaces), []
    if frames["configmaps"].attrs.get(EMPTY_REASON):
        notes.append(f"ConfigMap changes are not shown: {frames['configmaps'].attrs[EMPTY_REASON]}")

    def _shown(frame: pd.DataFrame | None) -> pd.DataFrame | None:
        return None if frame is None or frame.empty else in_window(frame, shown, closed="both")

    frames["change_points"] = change_points(
        rollouts=frames["changes"],
        events=frames["events"],
        restarts=_shown(frames["restarts"]),
        oom_killed=_shown(frames["oom_killed"]),
        spec_replicas=frames["spec_replicas"],
        nodes=frames["nodes"],
        pods=frames["pods"],
        configmaps=frames["configmaps"],
    )
    slack_s = check_thresholds(s.profile, "consumer_lag_spike")["change_slack_s"]
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
        notes=notes,
    )
    context = {"shown": shown, "step_s": step, "history_start": history, "queries": queries}
    context["ki001_slack_s"] = slack_s
    return AreaReport("incident", window, frames, report, unreachable, context)
