"""The platform report: slow pod starts and rollouts (KI-005), certificates (Problem 5),
Kafka consumer lag over the window (KI-001) and Redis saturation (KI-002).

One module per concern (:mod:`.startup`, :mod:`.certificates`, :mod:`.kafka`,
:mod:`.redis`), each a pure function from frames to a table and findings;
:func:`platform_report` runs them all. A whole exporter family that is absent (no Redis, no
cert-manager) is a line in ``report["notes"]``, never a finding.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from dwcp_diag.analysis.incident import change_points
from dwcp_diag.analysis.platform.certificates import certificate_findings, certificate_table
from dwcp_diag.analysis.platform.kafka import lag_findings, lag_table
from dwcp_diag.analysis.platform.redis import redis_findings, redis_table
from dwcp_diag.analysis.platform.startup import (
    pod_start_table,
    rollout_findings,
    rollout_table,
    startup_findings,
    workload_start_table,
)
from dwcp_diag.timewindow import TimeWindow

__all__ = ["platform_report"]


def platform_report(
    frames: Mapping[str, Any], window: TimeWindow, settings: Mapping[str, Mapping[str, float]]
) -> dict[str, Any]:
    """Every platform table and finding from the loaded ``frames`` (``None`` for a frame
    whose source was unavailable). ``settings`` maps each check to its thresholds.

    ``report["notes"]`` says, one line each, what could not be judged and why (an absent
    exporter family, no pod started in the window).
    """
    notes: list[str] = []
    found: list[Any] = []
    pods = pod_start_table(
        frames.get("pod_starts"),
        frames.get("pull_events"),
        frames.get("pod_created"),
        frames.get("pod_first_ready"),
        frames.get("pod_owner"),
        window,
    )
    workloads = workload_start_table(pods)
    if pods.empty:
        notes.append("slow_startup: no pod was created in the window (nothing to time)")
    found += startup_findings(workloads, settings["slow_startup"])
    rollouts = rollout_table(frames.get("rollouts"), pods, window)
    found += rollout_findings(rollouts, settings["rollout_slow"])
    certificates = certificate_table(
        frames.get("cert_expiry"),
        frames.get("cert_not_ready"),
        frames.get("probe_expiry"),
        frames.get("certificates"),
        window.end,
    )
    if certificates.empty:
        notes.append(
            "certificate_expiry: no_data: no cert-manager metrics, Certificate resources or "
            "blackbox probe_ssl_earliest_cert_expiry series"
        )
    found += certificate_findings(certificates, settings["certificate_expiry"])
    lag = lag_table(frames.get("lag"), settings["consumer_lag_high"])
    if lag.empty:
        notes.append("consumer_lag_high: no_data: no kafka_exporter consumer lag series")
    changes = change_points(rollouts=frames.get("rollouts"))  # KI-001: what came before
    found += lag_findings(lag, changes, settings["consumer_lag_high"])
    redis = redis_table(frames, settings["redis_saturation"])
    if redis.empty:
        notes.append("redis_saturation: no_data: no redis_exporter series")
    peak_rps = _peak(frames.get("request_rate"))
    found += redis_findings(redis, settings["redis_saturation"], peak_rps)
    return {
        "pods": pods,
        "workloads": workloads,
        "rollouts": rollouts,
        "certificates": certificates,
        "lag": lag,
        "redis": redis,
        "peak_rps": peak_rps,
        "notes": notes,
        "findings": found,
    }


def _peak(frame: pd.DataFrame | None) -> float | None:
    if frame is None or frame.empty:
        return None
    return float(frame["value"].max())
