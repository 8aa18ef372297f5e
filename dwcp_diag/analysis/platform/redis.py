"""KI-002 now: Redis saturation per instance (redis_exporter), beside the API's peak rate.

Per instance over the window: connected clients as a share of ``maxclients`` (max and p95),
connections rejected (the clients that already time out), memory used against ``maxmemory``
(none when unlimited), keys evicted, and the mean command latency when exported. The runbook's
KI-002: Redis times out above 12k requests per second at the API, its single thread at max
connections; the finding states the window's peak rate against that limit.

>>> import pandas as pd
>>> t = pd.date_range("2026-11-15", periods=3, freq="1h", tz="UTC")
>>> ratio = pd.DataFrame({"instance": "r0", "timestamp": t, "value": [0.5, 0.97, 0.6]})
>>> table = redis_table({"redis_clients_ratio": ratio}, {"step_s": 3600})
>>> table[["instance", "clients_ratio_max"]].to_dict("records")
[{'instance': 'r0', 'clients_ratio_max': 0.97}]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from dwcp_diag.analysis.findings import Finding
from dwcp_diag.units import human_value

SERIES = {  # frame key: (table columns from it)
    "redis_clients_ratio": ("clients_ratio_max", "clients_ratio_p95"),
    "redis_memory_ratio": ("memory_ratio_max", None),
    "redis_latency": ("latency_max_s", "latency_p95_s"),
    "redis_rejected": ("rejected", None),
    "redis_evicted": ("evicted", None),
}
COLUMNS = ["instance", *(c for pair in SERIES.values() for c in pair if c)]


def redis_table(frames: Mapping[str, Any], settings: Mapping[str, float]) -> pd.DataFrame:
    """Per Redis instance: the window's saturation figures (NaN where not exported).
    Counters' rates (``redis_rejected``, ``redis_evicted``) are summed over the window at
    ``settings["step_s"]``: connections rejected and keys evicted in it."""
    parts = []
    for key, (first, second) in SERIES.items():
        frame = frames.get(key)
        if frame is None or frame.empty:
            continue
        by = frame.groupby(frame["instance"].astype(str))["value"]
        if key in ("redis_rejected", "redis_evicted"):
            part = (by.sum() * float(settings.get("step_s", 60))).round().to_frame(first)
        else:
            part = by.max().to_frame(first)
            if second:
                part[second] = by.quantile(0.95)
        parts.append(part)
    if not parts:
        return pd.DataFrame(columns=COLUMNS)
    table = pd.concat(parts, axis=1).rename_axis("instance").reset_index()
    return table.reindex(columns=COLUMNS).sort_values("instance", ignore_index=True)


def redis_findings(
    table: pd.DataFrame, settings: Mapping[str, float], peak_rps: float | None
) -> list[Finding]:
    """``redis_saturation`` per instance: critical when clients reach
    ``clients_critical_ratio`` of maxclients or connections were rejected; warning at
    ``clients_warning_ratio``, memory at ``memory_warning_ratio`` of maxmemory (with its
    evictions), or mean command latency over ``latency_warning_ms`` (p95)."""
    found = []
    limit_rps = settings.get("request_rate_limit_rps")
    for row in table.itertuples(index=False):
        reasons, severity = [], None
        clients, rejected = row.clients_ratio_max, row.rejected
        memory, latency = row.memory_ratio_max, row.latency_p95_s
        if pd.notna(clients) and clients >= settings["clients_warning_ratio"]:
            reasons.append(f"clients peaked at {clients * 100:.0f} % of maxclients")
            severity = "critical" if clients >= settings["clients_critical_ratio"] else "warning"
        if pd.notna(rejected) and rejected > 0:
            reasons.append(f"{human_value(rejected, 'connections')} rejected (maxclients reached)")
            severity = "critical"
        if pd.notna(memory) and memory >= settings["memory_warning_ratio"]:
            evicted = (
                f", {human_value(row.evicted, 'keys')} evicted"
                if pd.notna(row.evicted) and row.evicted
                else ""
            )
            reasons.append(f"memory at {memory * 100:.0f} % of maxmemory{evicted}")
            severity = severity or "warning"
        if pd.notna(latency) and latency * 1000 > settings["latency_warning_ms"]:
            reasons.append(f"mean command latency p95 {latency * 1000:.2f} ms")
            severity = severity or "warning"
        if severity is None:
            continue
        ki002 = ""
        if peak_rps is not None and limit_rps:
            ki002 = (
                f" The API peaked at {peak_rps:,.0f} rps in the window, against the KI-002 "
                f"limit of {limit_rps:,.0f} rps ({100 * peak_rps / limit_rps:.0f} %)."
            )
        summary = f"Redis {row.instance}: " + "; ".join(reasons) + "." + ki002
        fix = (
            "Runbook KI-002: raise the clients' pool (pool_size 500, connection_timeout 5s) and "
            "Redis' maxclients, or spread load with Redis Cluster mode (redis-0..2); check "
            "maxmemory-policy if keys are evicted."
        )
        evidence = {
            "clients_ratio_max": clients,
            "clients_ratio_p95": row.clients_ratio_p95,
            "rejected": rejected,
            "memory_ratio_max": memory,
            "evicted": row.evicted,
            "latency_p95_ms": None if pd.isna(latency) else latency * 1000,
            "peak_rps": peak_rps,
            "request_rate_limit_rps": limit_rps,
        }
        value = clients if pd.notna(clients) else memory
        found.append(
            Finding(
                "redis_saturation",
                severity,
                {"instance": str(row.instance)},
                summary,
                None if value is None or np.isnan(value) else float(value),
                settings["clients_warning_ratio"],
                "ratio",
                evidence,
                fix,
            )
        )
    return found
