"""KI-001 over the window: consumer lag per group and topic, and lag that keeps growing.

A rebalance during a rollout makes lag jump and drain within minutes (the runbook's 10k+
spikes); consumers that fall behind make it rise hour after hour. So per group and topic:
the p95 and the max over the window, and **growth**: over the last ``growth_window_h`` hours
of hourly medians, lag rose in most hours (``rising_share``) by at least
``min_growth_messages``. A spike does not move hourly medians for long, so it is not growth.
The largest spike and the start of a growth are linked to the change before them (KI-001),
from the incident notebook's change points.

>>> import numpy as np, pandas as pd
>>> times = pd.date_range("2026-11-15", periods=24 * 12, freq="5min", tz="UTC")
>>> lag = pd.DataFrame({"consumergroup": "g", "topic": "t", "timestamp": times,
...                     "value": np.linspace(100, 40_000, len(times))})
>>> row = lag_table(lag, {"growth_window_h": 6, "min_growth_messages": 1000,
...                       "rising_share": 0.8}).iloc[0]
>>> bool(row["growing"]), round(row["growth_per_h"])
(True, 1668)
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from dwcp_diag.analysis.findings import Finding
from dwcp_diag.units import human_value

COLUMNS = [
    "consumergroup",
    "topic",
    "p95",
    "max",
    "max_at",
    "last",
    "growing",
    "growth_per_h",
    "growing_since",
    "rising_share",
]


def lag_table(lag: pd.DataFrame | None, settings: Mapping[str, float]) -> pd.DataFrame:
    """Per consumer group and topic: lag p95, max (and when), last, and whether it grows."""
    rows = []
    if lag is not None and not lag.empty:
        hours = float(settings["growth_window_h"])
        for (group, topic), series in lag.groupby(["consumergroup", "topic"], observed=True):
            series = series.sort_values("timestamp")
            values = series["value"].to_numpy(float)
            hourly = series.set_index("timestamp")["value"].resample("1h").median().dropna()
            recent = hourly[hourly.index > hourly.index[-1] - pd.Timedelta(hours=hours)]
            steps = np.diff(recent.to_numpy())
            share = float(np.mean(steps > 0)) if len(steps) else 0.0
            rise = float(recent.iloc[-1] - recent.iloc[0]) if len(recent) else 0.0
            growing = (
                len(steps) >= 2
                and share >= settings["rising_share"]
                and rise >= settings["min_growth_messages"]
            )
            since = None
            if growing:  # walk back over the hours that did not fall
                diffs = np.diff(hourly.to_numpy())
                start = len(diffs)
                while start > 0 and diffs[start - 1] >= 0:
                    start -= 1
                since = hourly.index[start]
            rows.append(
                {
                    "consumergroup": str(group),
                    "topic": str(topic),
                    "p95": float(np.percentile(values, 95)),
                    "max": float(values.max()),
                    "max_at": series["timestamp"].iloc[int(values.argmax())],
                    "last": float(values[-1]),
                    "growing": bool(growing),
                    "growth_per_h": rise / max(len(recent) - 1, 1),
                    "growing_since": since,
                    "rising_share": share,
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)


def _change_before(
    changes: pd.DataFrame | None, at: pd.Timestamp, within: pd.Timedelta
) -> str | None:
    """The last change point (:func:`~dwcp_diag.analysis.incident.change_points`: rollouts,
    scale events) in ``within`` before ``at``, described."""
    if changes is None or changes.empty or pd.isna(at):
        return None
    before = changes[(changes["time"] <= at) & (changes["time"] >= at - within)]
    if before.empty:
        return None
    last = before.sort_values("time").iloc[-1]
    minutes = (at - last["time"]).total_seconds() / 60
    when = f"{last['time']:%Y-%m-%d %H:%M}"
    return f"{last['kind']} of {last['workload']} at {when} ({minutes:.0f} min before)"


def lag_findings(
    table: pd.DataFrame, changes: pd.DataFrame | None, settings: Mapping[str, float]
) -> list[Finding]:
    """``consumer_lag_high`` per group and topic: warning when the window's p95 is over
    ``p95_warning_messages`` or the lag keeps growing; critical when both."""
    limit = settings["p95_warning_messages"]
    found = []
    for row in table.itertuples(index=False):
        high = row.p95 > limit
        if not high and not row.growing:
            continue
        parts = [f"p95 {human_value(row.p95, 'messages')} (max {human_value(row.max, 'messages')})"]
        if row.growing:
            parts.append(
                f"growing {human_value(row.growth_per_h, 'messages')}/h since "
                f"{row.growing_since:%Y-%m-%d %H:%M} (now {human_value(row.last, 'messages')}): "
                "consumers are falling behind, not a rebalance"
            )
        spike_cause = _change_before(changes, row.max_at, pd.Timedelta(minutes=30))
        growth_cause = (
            _change_before(changes, row.growing_since, pd.Timedelta(hours=1))
            if row.growing
            else None
        )
        summary = f"Consumer group {row.consumergroup} on {row.topic}: " + "; ".join(parts) + "."
        if growth_cause:
            summary += f" Growth began after the {growth_cause}."
        severity = "critical" if high and row.growing else "warning"
        fix = (
            "Consumers fall behind: scale the consumer group out (more replicas, up to the "
            "topic's partitions), or find the slow handler (its p95 in the latency report). "
            if row.growing
            else ""
        ) + (
            "Runbook KI-001 for rollout spikes: raise the partition count during deployments "
            "(kafka-topics.sh --alter --topic TOPIC --partitions 30) and shut consumers down "
            "gracefully."
        )
        evidence = {
            "p95": row.p95,
            "max": row.max,
            "max_at": row.max_at,
            "last": row.last,
            "growing": row.growing,
            "growth_per_h": row.growth_per_h,
            "growing_since": row.growing_since,
            "rising_share": row.rising_share,
            "max_after_change": spike_cause,
            "growth_after_change": growth_cause,
        }
        subject = {"consumergroup": row.consumergroup, "topic": row.topic}
        found.append(
            Finding(
                "consumer_lag_high",
                severity,
                subject,
                summary,
                row.p95,
                limit,
                "messages",
                evidence,
                fix,
            )
        )
    return found
