"""The platform report's loading: kube-state-metrics pod times, cert-manager and blackbox
certificate expiry, Kafka consumer lag and redis_exporter series from Prometheus; pod start
conditions, pull events, rollouts and Certificates from the Kubernetes API; then
:func:`~dwcp_diag.analysis.platform.platform_report`.

>>> import dwcp_diag as dd
>>> s = dd.session(source="demo")
>>> platform = collect_platform(s, s.window("7d"))                      # doctest: +SKIP
>>> sorted({f.check for f in platform.findings})                        # doctest: +SKIP
['certificate_expiry', 'consumer_lag_high', 'redis_saturation', 'rollout_slow', 'slow_startup']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from dwcp_diag.analysis.platform import platform_report
from dwcp_diag.checks import check_thresholds, notebook_checks
from dwcp_diag.collect.area import (
    AreaReport,
    LoadingSession,
    UnreachableSources,
    in_namespaces,
    range_loader,
)
from dwcp_diag.config import MetricNames
from dwcp_diag.errors import AuthError
from dwcp_diag.queries import promql
from dwcp_diag.timewindow import DurationLike, TimeWindow

PULL_REASONS = ("Pulled",)


def platform_settings(profile: Any) -> dict[str, dict[str, float]]:
    """Each platform check's thresholds in force (the registry's defaults, the profile's
    ``[thresholds.CHECK]`` over them); Redis also gets KI-002's request-rate limit, which
    the capacity report's ``capacity_exhaustion.request_rate_limit_rps`` sets."""
    settings = {check: check_thresholds(profile, check) for check in notebook_checks("platform")}
    limit = check_thresholds(profile, "capacity_exhaustion")["request_rate_limit_rps"]
    settings["redis_saturation"]["request_rate_limit_rps"] = limit
    return settings


def instant_queries(
    m: MetricNames,
    range_s: float,
    ready_step_s: float,
    namespaces: str | Sequence[str] | None = None,
) -> dict[str, tuple[str, list[str]]]:
    """The platform report's instant queries at a window's end (name -> query, labels): pod
    creation and first-Ready times and owners over the window's ``range_s``, and certificate
    expiry. The demo recorder reads the same to record them over its month.

    >>> from dwcp_diag.config import MetricNames
    >>> instant_queries(MetricNames(), 86400, 120)["pod_created"][0]
    'max by (namespace, pod) (max_over_time(kube_pod_created[86400s]))'
    """
    return {
        "pod_created": (promql.pod_created_times(m, range_s, namespaces), ["namespace", "pod"]),
        "pod_first_ready": (
            promql.pod_first_ready_times(m, range_s, ready_step_s, namespaces),
            ["namespace", "pod"],
        ),
        "pod_owner": (
            promql.pod_owners_seen(m, range_s, namespaces),
            ["namespace", "pod", "owner_kind", "owner_name"],
        ),
        "cert_expiry": (promql.certificate_expiry_times(m), list(promql.CERT_LABELS)),
        "cert_not_ready": (
            promql.certificate_not_ready(m),
            [*promql.CERT_LABELS, "condition"],
        ),
        "probe_expiry": (promql.probe_certificate_expiry_times(m), ["instance", "job"]),
    }


def collect_platform(
    s: LoadingSession,
    window: TimeWindow,
    namespaces: str | Sequence[str] | None = None,
    step: DurationLike = "5m",
    unreachable: UnreachableSources | None = None,
) -> AreaReport:
    """Pod starts and rollouts, certificates, consumer lag and Redis over ``window``.

    Range queries at ``step`` (lag, Redis, the API's request rate); instant queries at the
    window's end for kube-state-metrics' pod times (over the whole window) and certificate
    expiry; from the Kubernetes API the pods' start conditions, their ``Pulled`` events,
    rollouts and cert-manager Certificates (a role that may not read them is a note, not a
    failure). A frame whose exporter is absent is empty: a ``no_data`` line in
    ``report["notes"]``, not a finding.
    """
    unreachable = unreachable or UnreachableSources()
    m = s.profile.metrics
    settings = platform_settings(s.profile)
    plan = s.prom.plan(start=window.start, end=window.end, step=step)
    range_s = window.duration_s
    ready_step_s = float(s.profile.prometheus.scrape_interval_s)
    redis = [m.redis_instance_label]
    queries = instant_queries(m, range_s, ready_step_s, namespaces)
    ranges = {
        "lag": (promql.consumer_lag(m), ["consumergroup", "topic"]),
        "redis_clients_ratio": (promql.redis_clients_ratio(m), redis),
        "redis_memory_ratio": (promql.redis_memory_ratio(m), redis),
        "redis_rejected": (promql.redis_counter_rate(m, "redis_rejected"), redis),
        "redis_evicted": (promql.redis_counter_rate(m, "redis_evicted"), redis),
        "redis_latency": (promql.redis_command_latency(m), redis),
        "request_rate": (promql.request_rate_total(m), []),
    }
    frames: dict[str, Any] = {
        name: unreachable.load(
            "prometheus",
            lambda q=query, labels=labels: s.prom.instant(q, at=plan.end, labels=labels),
        )
        for name, (query, labels) in queries.items()
    }
    prom = range_loader(s, unreachable, plan.start, plan.end, step)
    frames |= {name: prom(query, labels) for name, (query, labels) in ranges.items()}
    for name in ranges:
        frame = frames[name]
        if frame is not None and m.redis_instance_label in frame.columns and name != "lag":
            frames[name] = frame.rename(columns={m.redis_instance_label: "instance"})
    notes: list[str] = []
    unreachable.explain_empty("platform", frames, required=())  # an absent exporter: a note only
    frames["pod_starts"] = in_namespaces(
        unreachable.load("kubernetes", s.k8s.pod_starts), namespaces
    )
    frames["pull_events"] = unreachable.load(
        "kubernetes",
        lambda: s.k8s.events(start=window.start, end=window.end, reasons=PULL_REASONS),
    )
    frames["rollouts"] = in_namespaces(
        unreachable.load("kubernetes", lambda: s.k8s.rollouts(window.start, window.end)), namespaces
    )

    def certificates() -> pd.DataFrame | None:
        try:
            return s.k8s.certificates()
        except AuthError as exc:  # optional: the metrics still say when each one expires
            notes.append(f"certificates: not read from the Kubernetes API: {exc}")
            return None

    frames["certificates"] = unreachable.load("kubernetes", certificates)
    settings["redis_saturation"]["step_s"] = plan.step_s
    report = platform_report(frames, window, settings)
    report["notes"] = [*notes, *report["notes"]]
    context = {
        "queries": {n: q for n, (q, _) in {**queries, **ranges}.items()},
        "step_s": plan.step_s,
        "settings": settings,
    }
    return AreaReport("platform", window, frames, report, unreachable, context)
