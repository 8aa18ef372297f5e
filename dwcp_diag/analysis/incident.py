"""The incident notebook's analysis: what changed, what happened when, and in what order.

:func:`robust_zscores` ranks the series that moved most against the same hours of the previous
days; :func:`deployment_findings` and :func:`consumer_lag_spike` add the incident checks
``deployment_in_window`` and ``consumer_lag_spike`` (KI-001); :func:`findings_in_window` keeps
the other areas' findings that fall inside the window; :func:`incident_timeline` writes it all
as one sorted markdown timeline in UTC. :func:`incident_report` is the one call the notebook
makes.

PromQL each input expects (default ``MetricNames``; range queries over the window with a margin,
or from ``start - 7d`` where a z-score baseline is wanted)::

    requests        sum by (path, status) (rate(http_requests_total[5m]))
    buckets         sum by (le, path) (rate(http_request_duration_seconds_bucket[5m]))
    restarts        sum by (namespace, pod) (kube_pod_container_status_restarts_total)
    oom_killed      max by (namespace, pod)
                      (kube_pod_container_status_last_terminated_reason{reason="OOMKilled"})
    memory          sum by (namespace, pod) (container_memory_working_set_bytes{container!=""})
    db_connections  sum by (state) (pg_stat_activity_count)
    lag             sum by (consumergroup, topic) (kafka_consumergroup_lag)
    rollouts        max by (namespace, replicaset) (kube_replicaset_created)
                      -> :func:`rollouts_from_replicaset_created`, or any frame with
                      ``timestamp`` (rollout time) and ``namespace``/``deployment`` columns

>>> import pandas as pd
>>> w = TimeWindow.parse(start="2026-11-12T14:00Z", end="2026-11-12T15:00Z")
>>> rollouts = pd.DataFrame({"namespace": ["production"], "deployment": ["dwcp-api"],
...                          "timestamp": [pd.Timestamp("2026-11-12T14:05Z")]})
>>> print(incident_timeline(deployment_findings(rollouts, w), window=w))
### Timeline (UTC)
<BLANKLINE>
- **2026-11-12 14:00:00** · `window` · incident window starts
- **2026-11-12 14:05:00** · `deployment_in_window` · warning: production/dwcp-api rolled out \
at 2026-11-12 14:05 UTC, 5m into the window.
- **2026-11-12 15:00:00** · `window` · incident window ends
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any, TypedDict

import numpy as np
import pandas as pd

from dwcp_diag.analysis.findings import Finding, Findings
from dwcp_diag.analysis.histograms import quantile_from_buckets
from dwcp_diag.analysis.latency import (
    burn_rate_alerts,
    error_ratio,
    latency_findings,
    request_counts,
    skipped_pairs_text,
)
from dwcp_diag.analysis.series import (
    breach_intervals,
    format_utc,
    in_window,
    infer_step_s,
    label_columns,
    series_groups,
)
from dwcp_diag.config import SLOTargets
from dwcp_diag.timewindow import TimeWindow, format_duration, parse_time

EVENT_COLUMNS = ["timestamp", "kind", "subject", "description"]
KI001_LAG_THRESHOLD = 10_000  # the runbook's "consumer lag spikes to 10k+ messages"
_MAD_TO_SIGMA = 1.4826  # MAD x 1.4826 estimates the standard deviation of normal data
_MEAN_AD_TO_SIGMA = 1.2533  # mean absolute deviation x sqrt(pi/2), the same for normal data
_SUBJECT_LABELS = ("namespace", "deployment", "statefulset", "daemonset", "workload")
# Evidence keys other areas may use for "when" (ISO strings or timestamps).
_TIME_KEYS = ("time", "at", "timestamp", "peak_at", "worst_at", "since", "first_seen")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_<>|])")


def _series_text(frame: pd.DataFrame, keys: list[str]) -> pd.Series:
    """``"pod=a, namespace=b"`` per row, skipping missing labels."""
    if not keys:
        return pd.Series("", index=frame.index, dtype="str")
    parts = [(k + "=" + frame[k].astype("str")).where(frame[k].notna(), "") for k in keys]
    joined = parts[0].str.cat(parts[1:], sep=", ") if len(parts) > 1 else parts[0]
    return joined.str.replace(r"(, )+", ", ", regex=True).str.strip(", ")


# --------------------------------------------------------------------------- what changed


def robust_zscores(
    series_frame: pd.DataFrame, window: TimeWindow, baseline_days: int = 7
) -> pd.DataFrame:
    """Rank the series that changed most in ``window`` against the same hours of earlier days.

    For each series (each distinct combination of label columns) the window's samples are
    compared with the baseline: the samples at the same times of day on each of the previous
    ``baseline_days`` days (the window shifted back by 1..N days, never overlapping it). Using
    the same hours cancels the daily cycle (the evening peak is not a change at 18:00), and
    several days keep one odd day from being the norm.

    The score is a robust z: ``(median(window) - median(baseline)) / (1.4826 x MAD(baseline))``.
    Median and MAD (median absolute deviation) ignore outliers, so an earlier incident inside
    the baseline does not inflate the spread and hide this one; 1.4826 scales the MAD to a
    standard deviation, so ``|z| > 3.5`` is a clear change. A flat baseline (MAD 0) falls back
    to the mean absolute deviation x 1.2533, and to an infinite z when that is 0 too and the
    window differs; ties are ranked by ``change_pct`` (window median over baseline median).
    ``z_peak`` scores the window's most extreme sample the same way.

    The frame needs history before the window (``baseline_days`` days). Series without
    baseline samples get a NaN z and rank last. Returns the label columns, ``series`` (the
    labels as text), ``window_median``, ``baseline_median``, ``baseline_mad``, ``z``,
    ``change_pct``, ``z_peak``, ``peak_at``, ``window_samples``, ``baseline_samples`` and
    ``rank`` (1 = most changed), sorted by ``|z|``.

    >>> ts = pd.date_range("2026-11-05T00:00Z", "2026-11-12T23:00Z", freq="1h")
    >>> base = pd.DataFrame({"timestamp": ts, "value": 100.0 + (ts.day % 3)})
    >>> frame = pd.concat([base.assign(metric="flat"), base.assign(metric="jump")])
    >>> jump = (frame.metric == "jump") & (frame.timestamp >= "2026-11-12T14:00Z")
    >>> frame.loc[jump, "value"] = 500.0
    >>> w = TimeWindow.parse(start="2026-11-12T14:00Z", end="2026-11-12T16:00Z")
    >>> robust_zscores(frame, w)[["metric", "rank"]].values.tolist()
    [['jump', 1], ['flat', 2]]
    """
    keys = label_columns(series_frame)
    frame = series_frame.dropna(subset=["value"]).reset_index(drop=True)
    series_id = _series_ids(frame, keys)
    stamps = frame["timestamp"]
    in_win = (stamps >= window.start) & (stamps <= window.end)
    baseline = pd.Series(False, index=frame.index)
    for days in range(1, baseline_days + 1):
        shifted = window.shift(-days * 86400.0)
        baseline |= (stamps >= shifted.start) & (stamps <= shifted.end)
    baseline &= stamps < window.start
    win, base = frame[in_win], frame[baseline]
    win_id, base_id = series_id[in_win], series_id[baseline]
    base_median = base["value"].groupby(base_id).median()
    deviation = (base["value"] - base_id.map(base_median)).abs()
    mad = deviation.groupby(base_id).median()
    mean_ad = deviation.groupby(base_id).mean()
    scale = pd.Series(
        np.where(mad > 0, _MAD_TO_SIGMA * mad, _MEAN_AD_TO_SIGMA * mean_ad), index=mad.index
    )
    stats = pd.DataFrame(
        {
            "window_median": win["value"].groupby(win_id).median(),
            "window_samples": win_id.value_counts(),
        }
    )
    stats["baseline_median"] = base_median
    stats["baseline_mad"] = mad
    stats["baseline_samples"] = base_id.value_counts()
    stats["baseline_samples"] = stats["baseline_samples"].fillna(0).astype(int)
    stats["z"] = _robust_z(
        stats["window_median"], stats["baseline_median"], scale.reindex(stats.index)
    )
    win_z = _robust_z(win["value"], win_id.map(base_median), win_id.map(scale))
    peak = win_z.abs().fillna(-1.0).groupby(win_id).idxmax()
    stats["z_peak"] = win_z.loc[peak.to_numpy()].to_numpy()
    stats["peak_at"] = win["timestamp"].loc[peak.to_numpy()].to_numpy()
    labels = frame.loc[~series_id.duplicated(), keys].set_axis(
        series_id[~series_id.duplicated()].to_numpy()
    )
    out = labels.loc[stats.index].join(stats) if keys else stats
    out["series"] = _series_text(out, keys) if keys else ""
    with np.errstate(invalid="ignore", divide="ignore"):
        out["change_pct"] = (out["window_median"] / out["baseline_median"] - 1.0) * 100.0
    # |z| ranks; the relative change breaks ties (several infinite z on flat baselines)
    out = out.assign(_z=out["z"].abs(), _change=out["change_pct"].abs()).sort_values(
        ["_z", "_change"], ascending=False, na_position="last"
    )
    out["rank"] = np.arange(1, len(out) + 1)
    columns = [
        *keys,
        "series",
        "window_median",
        "baseline_median",
        "baseline_mad",
        "z",
        "change_pct",
        "z_peak",
        "peak_at",
        "window_samples",
        "baseline_samples",
        "rank",
    ]
    return out[columns].reset_index(drop=True)


def _series_ids(frame: pd.DataFrame, keys: list[str]) -> pd.Series:
    if not keys:
        return pd.Series(0, index=frame.index)
    ids = frame.groupby(keys, observed=True, dropna=False, sort=True).ngroup()
    return ids.astype(int)


def _robust_z(
    value: pd.Series | np.ndarray, center: pd.Series | np.ndarray, scale: pd.Series | np.ndarray
) -> pd.Series:
    """``(value - center) / scale``; a zero scale gives 0 for no change, else +-inf."""
    index = value.index if isinstance(value, pd.Series) else None
    value, center, scale = (np.asarray(x, dtype=float) for x in (value, center, scale))
    diff = value - center
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(scale > 0, diff / scale, np.where(diff == 0, 0.0, np.sign(diff) * np.inf))
    return pd.Series(np.where(np.isnan(scale) | np.isnan(diff), np.nan, z), index=index)


# --------------------------------------------------------------------------- incident checks


def rollouts_from_replicaset_created(created: pd.DataFrame) -> pd.DataFrame:
    """Rollout times from ``max by (namespace, replicaset) (kube_replicaset_created)``.

    The metric's value is the ReplicaSet's creation time (unix seconds): a Deployment creates a
    ReplicaSet per new pod template, so its creation is the rollout. The Deployment is the
    ReplicaSet name without its pod-template-hash suffix. A rollback to an older template
    reuses its ReplicaSet and is not seen here.

    >>> created = pd.DataFrame({"namespace": ["production"], "replicaset": ["dwcp-api-7d9f8"],
    ...                         "timestamp": [pd.Timestamp("2026-11-12T15:00Z")],
    ...                         "value": [1794493380.0]})
    >>> rollouts_from_replicaset_created(created).values.tolist()
    [['production', 'dwcp-api', 'dwcp-api-7d9f8', Timestamp('2026-11-12 14:23:00+0000', tz='UTC')]]
    """
    columns = ["namespace", "deployment", "replicaset", "timestamp"]
    frame = created.dropna(subset=["value"])
    if frame.empty:
        return pd.DataFrame({c: pd.Series(dtype="str") for c in columns[:3]}).assign(
            timestamp=pd.Series(dtype="datetime64[ns, UTC]")
        )
    latest = frame.groupby(["namespace", "replicaset"], observed=True)["value"].max().reset_index()
    replicaset = latest["replicaset"].astype("str")
    return pd.DataFrame(
        {
            "namespace": latest["namespace"].astype("str"),
            "deployment": replicaset.str.replace(r"-[a-z0-9]+$", "", regex=True),
            "replicaset": replicaset,
            "timestamp": pd.to_datetime(latest["value"], unit="s", utc=True),
        }
    ).sort_values("timestamp", ignore_index=True)


def _subject(row: Mapping[str, Any], columns: Iterable[str]) -> dict[str, str]:
    return {c: str(row[c]) for c in columns if c in row and pd.notna(row[c])}


def _relative(ts: pd.Timestamp, window: TimeWindow) -> str:
    if ts < window.start:
        return f"{format_duration((window.start - ts).total_seconds())} before the window"
    if ts > window.end:
        return f"{format_duration((ts - window.end).total_seconds())} after the window"
    return f"{format_duration((ts - window.start).total_seconds())} into the window"


CHANGE_COLUMNS = [
    "time",
    "kind",
    "namespace",
    "workload_kind",
    "workload",
    "object",
    "replicas_before",
    "replicas_after",
    "source",
    "description",
]
"""One row per change point (see :func:`change_points`). ``kind`` is one of ``rollout``,
``scale``, ``restart``, ``oom_kill``, ``eviction``, ``preemption``, ``node_not_ready``,
``cordon``, ``config`` (a ConfigMap written); ``object`` is the ReplicaSet, pod, node or
ConfigMap the change was seen on."""
WORKLOAD_CHANGES = (
    "rollout",
    "scale",
    "restart",
    "oom_kill",
    "eviction",
    "preemption",
    "node_not_ready",
)
"""Change kinds that touch one workload (a rebalance follows each for a Kafka consumer);
a NotReady node touches the workloads of the pods the node controller marked."""
_CHANGE_CHECKS = {"rollout": "deployment_in_window", "scale": "scaling_in_window"}
# Event reasons that are change points; Pod-level NodeNotReady events come from the node
# controller marking each pod of a node that stopped reporting.
_EVENT_KINDS = {
    "SuccessfulRescale": "scale",
    "Evicted": "eviction",
    "Preempted": "preemption",
    "Preempting": "preemption",
    "NodeNotReady": "node_not_ready",
    "NodeNotSchedulable": "cordon",
    "OOMKilling": "oom_kill",
}
_POD_SUFFIX = re.compile(r"-(?:[a-z0-9]{6,10}-[a-z0-9]{5}|[a-z0-9]{5}|\d+)$")
_SCALE_FROM_TO = re.compile(r"from (\d+) to (\d+)")
_NEW_SIZE = re.compile(r"New size: (\d+)")
_ROLLOUT_SCALING_S = 900.0  # a rollout's own ScalingReplicaSet steps follow it within this


def workload_of_pod(pod: str) -> str:
    """The Deployment/StatefulSet a pod name belongs to (the name without its generated part).

    >>> workload_of_pod("dwcp-worker-7dcvdjp5xt-xlc6f"), workload_of_pod("kafka-2")
    ('dwcp-worker', 'kafka')
    """
    return _POD_SUFFIX.sub("", str(pod))


def empty_changes() -> pd.DataFrame:
    """A change-point frame with no rows (``CHANGE_COLUMNS``, typed)."""
    frame = pd.DataFrame({c: pd.Series(dtype="str") for c in CHANGE_COLUMNS})
    return frame.astype(
        {"time": "datetime64[ns, UTC]", "replicas_before": "Int64", "replicas_after": "Int64"}
    )


def _changes_from_k8s(rollouts: pd.DataFrame) -> list[dict[str, Any]]:
    """Rollout and ScalingReplicaSet rows (``ROLLOUT_SCHEMA``); a rollout's own scaling steps
    (within 15 minutes after its new ReplicaSet) are part of the rollout, not scale events."""
    rows = []
    started: dict[tuple[str, str], list[pd.Timestamp]] = {}
    for r in rollouts.sort_values("time").to_dict("records"):
        key = (str(r["namespace"]), str(r["owner_name"]))
        time = parse_time(r["time"])
        if r["change"] == "rollout":
            started.setdefault(key, []).append(time)
            kind, before, after = "rollout", None, r.get("replicas")
        else:
            lead = pd.Timedelta(seconds=_ROLLOUT_SCALING_S)
            if any(t <= time <= t + lead for t in started.get(key, [])):
                continue
            match = _SCALE_FROM_TO.search(str(r.get("message")))
            kind, after = "scale", r.get("replicas")
            before = int(match.group(1)) if match else None
        rows.append(
            {
                "time": time,
                "kind": kind,
                "namespace": key[0],
                "workload_kind": str(r.get("owner_kind") or "Deployment"),
                "workload": key[1],
                "object": r.get("replicaset"),
                "replicas_before": before,
                "replicas_after": after,
                "source": "kubernetes",
                "description": str(r.get("message") or ""),
            }
        )
    return rows


def _changes_from_events(events: pd.DataFrame) -> list[dict[str, Any]]:
    wanted = events[events["reason"].astype("str").isin(list(_EVENT_KINDS))]
    rows = []
    for e in wanted.to_dict("records"):
        kind, object_kind = _EVENT_KINDS[str(e["reason"])], str(e["object_kind"])
        name = str(e["object_name"])
        workload = workload_of_pod(name) if object_kind == "Pod" else name
        after = None
        if kind == "scale":
            size = _NEW_SIZE.search(str(e["message"]))
            after = int(size.group(1)) if size else None
        rows.append(
            {
                "time": parse_time(e["first_seen"]),
                "kind": kind,
                "namespace": None if object_kind == "Node" else e["namespace"],
                "workload_kind": "Node" if object_kind == "Node" else "Deployment",
                "workload": workload,
                "object": name,
                "replicas_before": None,
                "replicas_after": after,
                "source": "events",
                "description": f"{e['reason']}: {e['message']}",
            }
        )
    return rows


def _changes_from_counter(counter: pd.DataFrame, kind: str, noun: str) -> list[dict[str, Any]]:
    rising = counter_increments(counter)
    rising = rising[rising["value"] > 0]
    return [
        {
            "time": r["timestamp"],
            "kind": kind,
            "namespace": r.get("namespace"),
            "workload_kind": "Deployment",
            "workload": workload_of_pod(r["pod"]),
            "object": r["pod"],
            "replicas_before": None,
            "replicas_after": None,
            "source": "prometheus",
            "description": f"{r['pod']}: {r['value']:g} {noun}(s)",
        }
        for r in rising.to_dict("records")
    ]


def _changes_from_spec_replicas(spec: pd.DataFrame) -> list[dict[str, Any]]:
    """``kube_deployment_spec_replicas`` steps: the scale events Prometheus still remembers."""
    rows = []
    frame = spec.dropna(subset=["value"]).sort_values("timestamp")
    for (namespace, deployment), mine in frame.groupby(["namespace", "deployment"], observed=True):
        values = mine["value"].to_numpy()
        for i in np.flatnonzero(values[1:] != values[:-1]) + 1:
            before, after = int(values[i - 1]), int(values[i])
            rows.append(
                {
                    "time": mine["timestamp"].iloc[i],
                    "kind": "scale",
                    "namespace": str(namespace),
                    "workload_kind": "Deployment",
                    "workload": str(deployment),
                    "object": str(deployment),
                    "replicas_before": before,
                    "replicas_after": after,
                    "source": "prometheus",
                    "description": f"spec.replicas {before} -> {after}",
                }
            )
    return rows


def _node_workloads(pods: pd.DataFrame | None) -> dict[str, list[tuple[Any, str, str]]]:
    """node -> ``(namespace, owner kind, owner name)`` of the pods that run there."""
    if pods is None or pods.empty or "node" not in pods.columns:
        return {}
    owners = pods.dropna(subset=["node"]).assign(
        owner_name=lambda f: f["owner_name"].astype("object").fillna(f["pod"].map(workload_of_pod)),
        owner_kind=lambda f: f["owner_kind"].astype("object").fillna("Pod"),
    )
    placed: dict[str, list[tuple[Any, str, str]]] = {}
    for r in (
        owners[["node", "namespace", "owner_kind", "owner_name"]].drop_duplicates().itertuples()
    ):
        placed.setdefault(str(r.node), []).append(
            (r.namespace, str(r.owner_kind), str(r.owner_name))
        )
    return placed


def _changes_from_nodes(nodes: pd.DataFrame, pods: pd.DataFrame | None) -> list[dict[str, Any]]:
    """A NotReady node (``ready`` False since ``ready_since``) and a cordoned one
    (``unschedulable`` since ``unschedulable_since``): one change per workload with pods on
    the node (pod ``spec.nodeName``), or one for the node itself when none runs there. These
    outlive the events (an hour); a cordon whose time the API does not give is left out."""
    placed = _node_workloads(pods)
    rows = []
    for n in nodes.to_dict("records"):
        found = []
        if not n.get("ready", True) and pd.notna(n.get("ready_since")):
            found.append(("node_not_ready", n["ready_since"], "Ready condition not True"))
        if n.get("unschedulable") and pd.notna(n.get("unschedulable_since")):
            found.append(("cordon", n["unschedulable_since"], "cordoned (spec.unschedulable)"))
        for kind, since, what in found:
            for namespace, owner_kind, owner in placed.get(
                str(n["node"]), [(None, "Node", n["node"])]
            ):
                rows.append(
                    {
                        "time": parse_time(since),
                        "kind": kind,
                        "namespace": namespace,
                        "workload_kind": owner_kind,
                        "workload": owner,
                        "object": n["node"],
                        "replicas_before": None,
                        "replicas_after": None,
                        "source": "nodes",
                        "description": f"node {n['node']}: {what}",
                    }
                )
    return rows


def _changes_from_configmaps(configmaps: pd.DataFrame) -> list[dict[str, Any]]:
    """A ConfigMap written after its creation (``updated`` > ``created``): a ``config`` change
    of each workload whose pods read it (of the ConfigMap itself when none does)."""
    written = configmaps.dropna(subset=["updated"])
    written = written[written["updated"] > written["created"].fillna(written["updated"])]
    return [
        {
            "time": parse_time(c["updated"]),
            "kind": "config",
            "namespace": c["namespace"],
            "workload_kind": c["workload_kind"] if pd.notna(c["workload"]) else "ConfigMap",
            "workload": c["workload"] if pd.notna(c["workload"]) else c["configmap"],
            "object": c["configmap"],
            "replicas_before": None,
            "replicas_after": None,
            "source": "configmaps",
            "description": f"ConfigMap {c['configmap']} written "
            f"(resourceVersion {c['resource_version']})",
        }
        for c in written.to_dict("records")
    ]


def _seen_already(row: Mapping[str, Any], seen: list[Mapping[str, Any]], slack_s: float) -> bool:
    """True when an event row of the same kind, about the same workload or node, is within
    ``slack_s`` of ``row``."""
    return any(
        s["kind"] == row["kind"]
        and (s["workload"] == row["workload"] or s["object"] == row["object"])
        and abs((s["time"] - row["time"]).total_seconds()) <= slack_s
        for s in seen
    )


def change_points(
    *,
    rollouts: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    restarts: pd.DataFrame | None = None,
    oom_killed: pd.DataFrame | None = None,
    spec_replicas: pd.DataFrame | None = None,
    nodes: pd.DataFrame | None = None,
    pods: pd.DataFrame | None = None,
    configmaps: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every change the sources saw, one row each (``CHANGE_COLUMNS``), oldest first.

    ``rollouts``: the Kubernetes loader's ``rollouts()`` (new ReplicaSets and
    ScalingReplicaSet events). ``events``: its ``events()``; ``SuccessfulRescale`` (HPA),
    ``Evicted``, ``Preempted``/``Preempting``, ``NodeNotReady``, ``NodeNotSchedulable`` (cordon)
    and ``OOMKilling`` are change points. ``restarts``/``oom_killed``: the Prometheus counters
    by ``namespace, pod`` (each increase is one change). ``spec_replicas``: ``max by
    (namespace, deployment) (kube_deployment_spec_replicas)``; its steps count only for
    Deployments without a scale event (events expire after an hour by default, the metric
    stays). ``nodes``: the loader's ``nodes()``; a node not Ready (since its condition's
    ``lastTransitionTime``) or cordoned (since its unschedulable taint's ``timeAdded``) is a
    change to every workload of ``pods`` (the loader's ``pods()``) on that node, unless a
    ``NodeNotReady``/``NodeNotSchedulable`` event already said so (within 10 minutes).
    ``configmaps``: the loader's ``configmaps()``; a ConfigMap written after its creation is
    a ``config`` change of the workloads that read it. (A pod-template change is a new
    ReplicaSet: a rollout.)

    >>> spec = pd.DataFrame({"namespace": "prod", "deployment": "worker", "value": [2.0, 2, 4],
    ...     "timestamp": pd.date_range("2026-11-12T14:00Z", periods=3, freq="1min")})
    >>> change_points(spec_replicas=spec)[["kind", "workload", "replicas_before",
    ...     "replicas_after"]].values.tolist()
    [['scale', 'worker', 2, 4]]
    """
    rows: list[dict[str, Any]] = []
    if rollouts is not None and not rollouts.empty:
        rows += _changes_from_k8s(rollouts)
    if events is not None and not events.empty:
        rows += _changes_from_events(events)
    if nodes is not None and not nodes.empty and "ready_since" in nodes.columns:
        seen = [r for r in rows if r["kind"] in ("node_not_ready", "cordon")]
        rows += [r for r in _changes_from_nodes(nodes, pods) if not _seen_already(r, seen, 600.0)]
    if configmaps is not None and not configmaps.empty and "updated" in configmaps.columns:
        rows += _changes_from_configmaps(configmaps)
    scaled = {(r["namespace"], r["workload"]) for r in rows if r["kind"] == "scale"}
    if spec_replicas is not None and not spec_replicas.empty:
        rows += [
            r
            for r in _changes_from_spec_replicas(spec_replicas)
            if (r["namespace"], r["workload"]) not in scaled
        ]
    for counter, kind, noun in (
        (restarts, "restart", "restart"),
        (oom_killed, "oom_kill", "OOM kill"),
    ):
        if counter is not None and not counter.empty and "pod" in counter.columns:
            rows += _changes_from_counter(counter, kind, noun)
    if not rows:
        return empty_changes()
    frame = pd.DataFrame(rows, columns=CHANGE_COLUMNS)
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    frame = frame.astype({"replicas_before": "Int64", "replicas_after": "Int64"})
    return frame.sort_values(["time", "kind", "workload"], ignore_index=True)


def _change_name(change: Mapping[str, Any]) -> str:
    parts = [change.get("namespace"), change.get("workload")]
    return "/".join(str(p) for p in parts if p is not None and pd.notna(p)) or "a workload"


def _change_text(change: Mapping[str, Any]) -> str:
    """``"scale of production/dwcp-worker (2 -> 4 replicas)"``."""
    before, after = change.get("replicas_before"), change.get("replicas_after")
    replicas = ""
    if after is not None and pd.notna(after):
        known = before is not None and pd.notna(before)
        replicas = f" ({before} -> {after} replicas)" if known else f" (to {after} replicas)"
    what = str(change["kind"]).replace("_", " ")
    target = _change_name(change)
    if change["kind"] in ("restart", "oom_kill", "eviction", "preemption", "node_not_ready"):
        target = f"{target} ({change.get('object')})"
    return f"{what} of {target}{replicas}"


def change_findings(changes: pd.DataFrame, window: TimeWindow, lead_s: float = 1800.0) -> Findings:
    """``deployment_in_window`` per rollout, ``scaling_in_window`` per scale event, in the
    window or up to ``lead_s`` before it (a change shortly before is the usual cause).

    ``changes``: a :func:`change_points` frame. Evidence: ``kind``, ``object``, ``time``,
    ``replicas_before``/``replicas_after`` and the change's source.

    >>> w = TimeWindow.parse(start="2026-11-12T14:00Z", end="2026-11-12T15:00Z")
    >>> c = pd.DataFrame([{"time": pd.Timestamp("2026-11-12T14:10Z"), "kind": "scale",
    ...     "namespace": "prod", "workload_kind": "Deployment", "workload": "worker",
    ...     "object": "worker-5d8", "replicas_before": 2, "replicas_after": 4}])
    >>> [f.summary for f in change_findings(c, w)]
    ['prod/worker scaled from 2 to 4 replicas at 2026-11-12 14:10 UTC, 10m into the window.']
    """
    if changes.empty:
        return Findings()
    stamps = pd.to_datetime(changes["time"], utc=True)
    lead = pd.Timedelta(seconds=lead_s)
    chosen = changes[
        changes["kind"].isin(list(_CHANGE_CHECKS))
        & (stamps >= window.start - lead)
        & (stamps <= window.end)
    ]
    found = []
    for row in chosen.to_dict("records"):
        ts = parse_time(row["time"])
        subject = {"namespace": row.get("namespace")}
        subject[str(row.get("workload_kind") or "workload").lower()] = row.get("workload")
        subject = {k: str(v) for k, v in subject.items() if v is not None and pd.notna(v)}
        name = _change_name(row)
        when = f"at {format_utc(ts)}, {_relative(ts, window)}."
        if row["kind"] == "rollout":
            summary = f"{name} rolled out {when}"
        else:
            before, after = row.get("replicas_before"), row.get("replicas_after")
            has_before = before is not None and pd.notna(before)
            has_after = after is not None and pd.notna(after)
            sizes = f" from {before}" if has_before else ""
            sizes += f" to {after} replicas" if has_after else ""
            summary = f"{name} scaled{sizes} {when}"
        evidence = {k: v for k, v in row.items() if k not in ("namespace", "workload", "time")}
        evidence = {k: (None if v is pd.NA else v) for k, v in evidence.items()}
        if row["kind"] == "rollout" and "replicaset" not in evidence:
            evidence["replicaset"] = evidence.get("object")  # the new ReplicaSet's name
        found.append(
            Finding(
                _CHANGE_CHECKS[row["kind"]],
                "warning",
                subject,
                summary,
                unit="",
                evidence={"time": ts, **evidence},
            )
        )
    return Findings(found)


def rollout_changes(rollouts: pd.DataFrame) -> pd.DataFrame:
    """A change-point frame from a rollouts frame (``timestamp`` plus ``namespace``/
    ``deployment`` or another workload column; other columns are kept)."""
    if rollouts.empty:
        return empty_changes()
    workload = next((c for c in _SUBJECT_LABELS[1:] if c in rollouts.columns), None)
    frame = rollouts.rename(columns={"timestamp": "time"})
    frame = frame.assign(
        time=pd.to_datetime(frame["time"], utc=True),
        kind="rollout",
        workload_kind=(workload or "workload").capitalize(),
        workload=frame[workload] if workload else None,
    )
    if workload and workload != "workload":
        frame = frame.drop(columns=workload)
    if "namespace" not in frame.columns:
        frame["namespace"] = None
    return frame


def deployment_findings(
    rollouts: pd.DataFrame, window: TimeWindow, lead_s: float = 1800.0
) -> Findings:
    """``deployment_in_window`` for each rollout in the window or up to ``lead_s`` before it.

    A rollout shortly before an incident is its most common cause, so those count too.
    ``rollouts`` needs ``timestamp`` (UTC rollout time); ``namespace``/``deployment`` (or
    another workload column) name the subject, other columns go into the evidence.

    >>> w = TimeWindow.parse(start="2026-11-12T14:00Z", end="2026-11-12T15:00Z")
    >>> r = pd.DataFrame({"namespace": "production", "deployment": ["api", "web"],
    ...                   "timestamp": pd.to_datetime(["2026-11-12T13:50Z", "2026-11-12T10:00Z"])})
    >>> [f.summary for f in deployment_findings(r, w)]
    ['production/api rolled out at 2026-11-12 13:50 UTC, 10m before the window.']
    """
    return change_findings(rollout_changes(rollouts), window, lead_s)


def _tokens(name: str) -> list[str]:
    return [t[:-1] if t.endswith("s") and len(t) > 3 else t for t in re.split(r"[-_.]", name)]


def names_match(a: str, b: str) -> bool:
    """True when one name ends with the other, by whole words, plurals ignored.

    >>> names_match("dwcp-workers", "dwcp-worker"), names_match("workers", "dwcp-worker")
    (True, True)
    >>> names_match("dwcp-workers", "dwcp-api")
    False
    """
    x, y = _tokens(str(a).lower()), _tokens(str(b).lower())
    n = min(len(x), len(y))
    return n > 0 and x[-n:] == y[-n:]


def preceding_changes(
    changes: pd.DataFrame,
    at: pd.Timestamp,
    *,
    service: str | Iterable[str] | None = None,
    kinds: Iterable[str] | None = None,
    lookback_s: float = 3600.0,
    n: int = 3,
) -> pd.DataFrame:
    """The ``n`` changes nearest before ``at`` (within ``lookback_s``), those that touched
    ``service`` (a workload whose name matches, see :func:`names_match`; one name or several)
    first, then by time distance. Adds ``delay_s`` (``at`` minus the change) and
    ``touches_service`` (False for every change when ``service`` is None: any service).

    >>> c = pd.DataFrame([{"time": pd.Timestamp("2026-11-12T14:00Z"), "kind": "rollout",
    ...     "workload": "dwcp-api"}, {"time": pd.Timestamp("2026-11-12T14:09Z"),
    ...     "kind": "restart", "workload": "dwcp-web"}])
    >>> near = preceding_changes(c, pd.Timestamp("2026-11-12T14:10Z"), service="dwcp-api")
    >>> near[["workload", "delay_s", "touches_service"]].values.tolist()
    [['dwcp-api', 600.0, True], ['dwcp-web', 60.0, False]]
    """
    at = parse_time(at)
    if changes.empty:
        return changes.assign(delay_s=pd.Series(dtype=float), touches_service=pd.Series(dtype=bool))
    stamps = pd.to_datetime(changes["time"], utc=True)
    delay = (at - stamps).dt.total_seconds()
    keep = (delay >= 0) & (delay <= lookback_s)
    if kinds is not None:
        keep &= changes["kind"].isin(list(kinds))
    near = changes[keep].assign(delay_s=delay[keep])
    names = [service] if isinstance(service, str) else [x for x in service or () if x]
    touches = near["workload"].map(lambda w: pd.notna(w) and any(names_match(w, x) for x in names))
    near = near.assign(touches_service=touches.astype(bool))
    near = near.sort_values(["touches_service", "delay_s"], ascending=[False, True])
    return near.head(n).reset_index(drop=True)


def _change_record(change: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "kind": change["kind"],
        "workload": change.get("workload"),
        "object": change.get("object"),
        "time": parse_time(change["time"]).isoformat(),
        "delay_s": float(change["delay_s"]),
        **(
            {"touches_service": bool(change["touches_service"])}
            if "touches_service" in change
            else {}
        ),
    }


def _is_consumer(workload: Any, group: str, consumer: str | None) -> bool:
    if workload is None or pd.isna(workload):
        return False
    return workload == consumer if consumer else names_match(workload, group)


def consumer_lag_spike(
    lag: pd.DataFrame,
    window: TimeWindow,
    threshold: float = KI001_LAG_THRESHOLD,
    *,
    rollouts: pd.DataFrame | None = None,
    changes: pd.DataFrame | None = None,
    rollout_slack_s: float = 600.0,
    lookback_s: float = 3600.0,
    consumer_workloads: Mapping[str, str] | None = None,
    workloads: Iterable[str] = (),
    critical_duration_s: float = 1800.0,
    step_s: float | None = None,
) -> Findings:
    """``consumer_lag_spike`` per consumer group/topic whose lag went over ``threshold``.

    KI-001: lag spikes to 10k+ messages during rolling deployments (consumer rebalancing): any
    consumer joining or leaving the group rebalances it, so a rollout, a scale event or a
    restart (OOM kill, eviction, a NotReady node's pods) of the consuming workload all count.
    The summary names the change nearest before the spike (up to ``lookback_s``) and its delay;
    one within ``rollout_slack_s`` of the spike's start (or during it) is labelled KI-001. A
    spike that lasts ``critical_duration_s`` is critical either way (a rebalance settles in
    minutes). ``lag``: ``sum by (consumergroup, topic) (kafka_consumergroup_lag)``.

    ``changes``: a :func:`change_points` frame (``rollouts``, the older form, is turned into
    one). The consuming workload is ``consumer_workloads[group]``, else the changed workloads
    whose name matches the group's (``dwcp-workers`` -> ``dwcp-worker``, see
    :func:`names_match`). ``workloads`` (every workload's name, e.g. the Deployments of
    ``kube_deployment_spec_replicas``) tells a consumer that did not change from one that is
    not known: only when neither a change nor ``workloads`` matches the group is any
    workload's change considered, and the summary says the consumer is not known.

    >>> w = TimeWindow.parse(start="2026-11-12T14:00Z", end="2026-11-12T15:00Z")
    >>> ts = pd.date_range("2026-11-12T14:00Z", periods=60, freq="1min")
    >>> lag = pd.DataFrame({"consumergroup": "workers", "topic": "dwcp-tasks", "timestamp": ts,
    ...                     "value": [25_000.0 if 10 <= i < 20 else 100.0 for i in range(60)]})
    >>> [(f.severity, f.value) for f in consumer_lag_spike(lag, w)]
    [('warning', 25000.0)]
    """
    windowed = in_window(lag, window, closed="both")
    if windowed.empty:
        return Findings()
    step = infer_step_s(lag) if step_s is None else step_s
    runs = breach_intervals(windowed, threshold, step)
    keys = label_columns(windowed)
    if changes is None:
        changes = rollout_changes(rollouts) if rollouts is not None else empty_changes()
    candidates = changes[changes["kind"].isin(WORKLOAD_CHANGES)] if len(changes) else changes
    slack = rollout_slack_s
    found = []
    for key, mine in series_groups(runs, keys):
        subject = {k: str(v) for k, v in zip(keys, key, strict=True) if pd.notna(v)}
        worst = mine.loc[mine["peak"].idxmax()]
        longest = float(mine["duration_s"].max())
        start = mine["start"].min()
        group = subject.get("consumergroup", "")
        consumer = (consumer_workloads or {}).get(group)
        mine_changes = candidates
        if len(candidates):
            touches = pd.Series(
                [_is_consumer(w, group, consumer) for w in candidates["workload"]],
                index=candidates.index,
                dtype=bool,
            )
            known_consumer = (
                bool(touches.any())
                or consumer is not None
                or any(_is_consumer(w, group, None) for w in workloads)
            )
            mine_changes = candidates[touches] if known_consumer else candidates
        else:
            known_consumer = consumer is not None
        # a change in the spike's first step (same scrape) still precedes it
        near = preceding_changes(
            mine_changes, start + pd.Timedelta(seconds=step), n=1, lookback_s=lookback_s + step
        )
        change = near.iloc[0].to_dict() if len(near) else None
        if change is not None:
            change["delay_s"] = max(0.0, (start - parse_time(change["time"])).total_seconds())
        ki001 = change is not None and change["delay_s"] <= slack
        name = "/".join(subject.values()) or "consumer lag"
        if change is None:
            cause = " No change to the consuming workload before it: not the known KI-001 pattern."
        else:
            who = "" if known_consumer else " (the consuming workload is not known)"
            delay = format_duration(change["delay_s"]) if change["delay_s"] else "no delay"
            cause = (
                f" It followed a {_change_text(change)} at {format_utc(change['time'])}"
                f"{who} ({delay} before it)"
            )
            cause += (
                ": KI-001 pattern (consumer rebalancing)."
                if ki001
                else f", more than {format_duration(slack)} earlier: not the KI-001 pattern."
            )
        found.append(
            Finding(
                "consumer_lag_spike",
                "critical" if longest >= critical_duration_s else "warning",
                subject,
                f"{name}: lag peaked at {worst['peak']:,.0f} messages at "
                f"{format_utc(worst['peak_at'])} (threshold {threshold:,.0f}), over it for "
                f"{format_duration(mine['duration_s'].sum())}.{cause}",
                value=float(worst["peak"]),
                threshold=float(threshold),
                unit="messages",
                evidence={
                    "time": start,
                    "start": start,
                    "end": mine["end"].max(),
                    "peak_at": worst["peak_at"],
                    "known_issue": "KI-001" if ki001 else None,
                    "preceding_change": None if change is None else _change_record(change),
                    "rollouts": [change["time"].isoformat()]
                    if ki001 and change["kind"] == "rollout"
                    else [],
                },
            )
        )
    return Findings(found)


def finding_span(finding: Finding) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """When a finding happened, from its evidence: ``start``/``end``, else a time key.

    Recognised keys: ``start`` and ``end``, else the first of ``time``, ``at``, ``timestamp``,
    ``peak_at``, ``worst_at``, ``since``, ``first_seen`` (timestamps or ISO strings).

    >>> f = Finding("oom_killed", "critical", {"pod": "w-1"}, "OOM",
    ...             evidence={"time": "2026-11-12T14:05Z"})
    >>> finding_span(f)[0].isoformat()
    '2026-11-12T14:05:00+00:00'
    """
    evidence = finding.evidence or {}

    def stamp(key: str) -> pd.Timestamp | None:
        raw = evidence.get(key)
        if raw is None or (isinstance(raw, float) and math.isnan(raw)):
            return None
        try:
            value = parse_time(raw)
        except (ValueError, TypeError):
            return None
        return None if pd.isna(value) else value

    start, end = stamp("start"), stamp("end")
    if start is not None or end is not None:
        return (start or end, end or start)
    moment = next((t for t in (stamp(k) for k in _TIME_KEYS) if t is not None), None)
    return None if moment is None else (moment, moment)


def findings_in_window(
    findings: Iterable[Finding], window: TimeWindow, keep_undated: bool = False
) -> Findings:
    """The findings whose evidence time (or ``start``..``end`` span) touches the window.

    Findings without a time in their evidence (see :func:`finding_span`) are dropped unless
    ``keep_undated`` (a table's bloat has no moment; it did not happen during the incident).

    >>> w = TimeWindow.parse(start="2026-11-12T14:00Z", end="2026-11-12T15:00Z")
    >>> inside = Finding("oom_killed", "critical", {"pod": "a"}, "x", evidence={"time": w.start})
    >>> before = Finding("oom_killed", "critical", {"pod": "b"}, "x",
    ...                  evidence={"time": "2026-11-11T14:00Z"})
    >>> [f.subject["pod"] for f in findings_in_window([inside, before], w)]
    ['a']
    """
    kept = []
    for finding in findings:
        span = finding_span(finding)
        if span is None:
            if keep_undated:
                kept.append(finding)
        elif span[0] <= window.end and span[1] >= window.start:
            kept.append(finding)
    return Findings(kept)


# --------------------------------------------------------------------------- events & timeline


def counter_increments(counter: pd.DataFrame) -> pd.DataFrame:
    """Per-step increases of a counter or 0/1 gauge frame (a restart counter, an OOM flag).

    A decrease (counter reset, flag cleared) counts as no increase.

    >>> ts = pd.date_range("2026-11-12T14:00Z", periods=4, freq="1min")
    >>> c = pd.DataFrame({"pod": "a", "timestamp": ts, "value": [3.0, 3.0, 5.0, 0.0]})
    >>> counter_increments(c)["value"].tolist()
    [0.0, 0.0, 2.0, 0.0]
    """
    keys = label_columns(counter)
    frame = counter.sort_values("timestamp")
    if keys:
        change = frame.groupby(keys, observed=True, dropna=False)["value"].diff()
    else:
        change = frame["value"].diff()
    out = frame.assign(value=change.clip(lower=0).fillna(0.0))
    return out.sort_values([*keys, "timestamp"], ignore_index=True)


def counter_events(counter: pd.DataFrame, kind: str, noun: str) -> pd.DataFrame:
    """Timeline events where a counter went up: ``"production/w-1: 2 restart(s)"``.

    >>> ts = pd.date_range("2026-11-12T14:00Z", periods=3, freq="1min")
    >>> c = pd.DataFrame({"pod": "w-1", "timestamp": ts, "value": [0.0, 1.0, 1.0]})
    >>> counter_events(c, "restart", "restart")["description"].tolist()
    ['w-1: 1 restart(s)']
    """
    increments = counter_increments(counter)
    rising = increments[increments["value"] > 0]
    if rising.empty:  # string ops on empty frames come out float (pandas 3): no events at all
        empty = {c: pd.Series(dtype="str") for c in EVENT_COLUMNS}
        return pd.DataFrame(empty | {"timestamp": pd.Series(dtype="datetime64[ns, UTC]")})
    keys = label_columns(rising)
    names = (
        rising[keys].astype("str").agg("/".join, axis=1) if keys else pd.Series("", rising.index)
    )
    return pd.DataFrame(
        {
            "timestamp": rising["timestamp"],
            "kind": kind,
            "subject": _series_text(rising, keys),
            "description": names + ": " + rising["value"].map("{:g}".format) + f" {noun}(s)",
        },
        columns=EVENT_COLUMNS,
    ).reset_index(drop=True)


def findings_events(findings: Iterable[Finding]) -> pd.DataFrame:
    """Timeline events from findings, at the start of their evidence span (undated: dropped)."""
    rows = []
    for finding in findings:
        span = finding_span(finding)
        if span is None:
            continue
        rows.append(
            {
                "timestamp": span[0],
                "kind": finding.check,
                "subject": ", ".join(f"{k}={v}" for k, v in finding.subject.items()),
                "description": f"{finding.severity}: {finding.summary}",
            }
        )
    return pd.DataFrame(rows, columns=EVENT_COLUMNS)


def _escape(text: str) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


def incident_timeline(
    *sources: pd.DataFrame | Iterable[Finding], window: TimeWindow | None = None
) -> str:
    """One markdown line per event, sorted by time, times in UTC.

    Each source is an event frame (``timestamp``, ``kind``, ``description``, optional
    ``subject``; e.g. from :func:`counter_events`) or findings (placed at the start of their
    evidence span, see :func:`finding_span`). Timestamps in any zone are converted to UTC
    (naive ones are taken as UTC) before sorting. With ``window``, its start and end are marked.

    >>> events = pd.DataFrame({"timestamp": ["2026-11-12T16:30:00+02:00", "2026-11-12T14:00Z"],
    ...                        "kind": ["restart", "deploy"], "description": ["b", "a"]})
    >>> print(incident_timeline(events))
    ### Timeline (UTC)
    <BLANKLINE>
    - **2026-11-12 14:00:00** · `deploy` · a
    - **2026-11-12 14:30:00** · `restart` · b
    """
    frames = []
    for source in sources:
        events = source if isinstance(source, pd.DataFrame) else findings_events(source)
        if events.empty:
            continue
        events = events.reindex(columns=EVENT_COLUMNS)
        frames.append(
            events.assign(timestamp=[parse_time(t) for t in events["timestamp"]], order=0)
        )
    if window is not None:
        marks = pd.DataFrame(
            {
                "timestamp": [window.start, window.end],
                "kind": "window",
                "subject": None,
                "description": ["incident window starts", "incident window ends"],
                "order": [-1, 1],  # the start mark before events at the same instant, end after
            }
        )
        frames.append(marks)
    lines = ["### Timeline (UTC)", ""]
    if not frames:
        return "\n".join([*lines, "No events."])
    merged = pd.concat(frames, ignore_index=True).sort_values(
        ["timestamp", "order", "kind"], kind="stable"
    )
    for event in merged.itertuples(index=False):
        kind = str(event.kind).replace("`", "")
        lines.append(
            f"- **{event.timestamp.strftime('%Y-%m-%d %H:%M:%S')}** · `{kind}` · "
            f"{_escape(event.description)}"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- the notebook call


_BREACH_CHECKS = (
    "latency_slo_breach",
    "error_rate_breach",
    "availability_breach",
    "error_budget_burn",
)


def with_preceding_changes(
    finding: Finding, changes: pd.DataFrame, service: str | None = None, n: int = 3
) -> Finding:
    """A latency/error breach with the ``n`` changes nearest before its start added to its
    summary and to ``evidence["preceding_changes"]`` (see :func:`preceding_changes`); other
    findings, and breaches with no change in the hour before, come back as they were.
    Changes to ``service``, or to the breaching endpoint's own service (its subject's
    ``service`` or ``job`` label, when the metrics carry one), rank first."""
    span = finding_span(finding)
    if finding.check not in _BREACH_CHECKS or span is None or changes.empty:
        return finding
    subject = finding.subject or {}
    services = [service, subject.get("service") or subject.get("job")]
    near = preceding_changes(changes, span[0], service=services, n=n)
    if near.empty:
        return finding
    records = [_change_record(c) for c in near.to_dict("records")]
    texts = [
        f"{_change_text(c)} {format_duration(c['delay_s'])} before"
        + (" (the service itself)" if c["touches_service"] else "")
        for c in near.to_dict("records")
    ]
    return dataclasses.replace(
        finding,
        summary=f"{finding.summary} Preceding changes: {'; '.join(texts)}.",
        evidence={**(finding.evidence or {}), "preceding_changes": records},
    )


def change_events(
    changes: pd.DataFrame, window: TimeWindow, skip: Iterable[str] = ()
) -> pd.DataFrame:
    """Timeline events (``EVENT_COLUMNS``) for the change points in ``window``, except the
    ``skip`` kinds (those already on the timeline as findings or counter events)."""
    stamps = pd.to_datetime(changes["time"], utc=True) if len(changes) else changes["time"]
    chosen = (
        changes[
            ~changes["kind"].isin(list(skip)) & (stamps >= window.start) & (stamps <= window.end)
        ]
        if len(changes)
        else changes
    )
    return pd.DataFrame(
        {
            "timestamp": chosen["time"],
            "kind": chosen["kind"],
            "subject": chosen["object"],
            "description": [_change_text(c) for c in chosen.to_dict("records")],
        },
        columns=EVENT_COLUMNS,
    )


class IncidentReport(TypedDict):
    """What the incident notebook shows; see :func:`incident_report`."""

    window: TimeWindow
    panels: dict[str, pd.DataFrame]
    zscores: pd.DataFrame
    changes: pd.DataFrame
    findings: Findings
    notes: list[str]
    timeline: str


def incident_panels(
    *,
    requests: pd.DataFrame | None = None,
    buckets: pd.DataFrame | None = None,
    restarts: pd.DataFrame | None = None,
    oom_killed: pd.DataFrame | None = None,
    memory: pd.DataFrame | None = None,
    db_connections: pd.DataFrame | None = None,
    lag: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """The incident chart's series from the raw frames (see the module docstring's PromQL).

    ``request_rate`` (req/s) and ``error_ratio`` (0..1) overall from ``requests``; ``p95``
    (seconds) overall from ``buckets``; ``restarts``/``oom_killed`` as per-step increases;
    the rest as given. Missing inputs are left out.
    """
    panels: dict[str, pd.DataFrame] = {}
    if requests is not None and not requests.empty:
        rate = request_counts(requests, step_s=1.0)
        panels["request_rate"] = rate[["timestamp"]].assign(value=rate["requests"])
        panels["error_ratio"] = error_ratio(requests, by=None)
    if buckets is not None and not buckets.empty:
        overall = buckets.groupby(["le", "timestamp"], observed=True)["value"].sum().reset_index()
        panels["p95"] = quantile_from_buckets(overall, 0.95)
    for name, counter in (("restarts", restarts), ("oom_killed", oom_killed)):
        if counter is not None and not counter.empty:
            panels[name] = counter_increments(counter)
    for name, frame in (("memory", memory), ("db_connections", db_connections), ("lag", lag)):
        if frame is not None and not frame.empty:
            panels[name] = frame
    return panels


def incident_report(
    window: TimeWindow,
    *,
    requests: pd.DataFrame | None = None,
    buckets: pd.DataFrame | None = None,
    restarts: pd.DataFrame | None = None,
    oom_killed: pd.DataFrame | None = None,
    memory: pd.DataFrame | None = None,
    db_connections: pd.DataFrame | None = None,
    lag: pd.DataFrame | None = None,
    rollouts: pd.DataFrame | None = None,
    changes: pd.DataFrame | None = None,
    service: str | None = None,
    workloads: Iterable[str] = (),
    findings: Iterable[Finding] = (),
    keep_undated: bool = False,
    slo: SLOTargets | None = None,
    baseline_days: int = 7,
    lag_threshold: float = KI001_LAG_THRESHOLD,
    ki001_slack_s: float = 600.0,
    margin_s: float | None = None,
    notes: Iterable[str] = (),
) -> IncidentReport:
    """Everything the incident notebook shows for ``window``, in one call.

    Frames may reach back ``baseline_days`` before the window (for :func:`robust_zscores`);
    ``panels`` are cut to the window plus ``margin_s`` each side (default: half the window,
    at least 30 minutes). ``findings`` are the other areas' findings (memory, database...):
    those inside the window are kept (and, with ``keep_undated``, those whose evidence has no
    time, see :func:`finding_span`). With ``slo``, the latency checks run for the window too
    (``requests`` must then carry a ``path`` label; p95 per path needs ``path`` in ``buckets``).
    ``changes``: a :func:`change_points` frame; without it the change points are the
    ``rollouts`` (see :func:`rollout_changes`) and the ``restarts``/``oom_killed`` counters.
    Rollouts and scale events become ``deployment_in_window``/``scaling_in_window``;
    ``consumer_lag_spike`` names the change to the consumer before it (KI-001 within
    ``ki001_slack_s``; ``workloads``: the cluster's workload names, see
    :func:`consumer_lag_spike`); latency and error breaches list the nearest preceding
    changes, those to ``service`` (the workload serving the requests, when known) first.
    The timeline holds every change point and every finding; ``notes`` says what could not
    be evaluated for the window (burn-rate pairs longer than the data), once, as text, after
    the given ``notes`` (the loading's, e.g. a change source the role may not read).

    >>> w = TimeWindow.parse(start="2026-11-12T14:00Z", end="2026-11-12T15:00Z")
    >>> report = incident_report(w)
    >>> len(report["findings"]), report["zscores"].empty, report["timeline"].splitlines()[2]
    (0, True, '- **2026-11-12 14:00:00** · `window` · incident window starts')
    """
    panels = incident_panels(
        requests=requests,
        buckets=buckets,
        restarts=restarts,
        oom_killed=oom_killed,
        memory=memory,
        db_connections=db_connections,
        lag=lag,
    )
    margin = pd.Timedelta(seconds=margin_s or max(1800.0, window.duration_s / 2))
    shown = TimeWindow(window.start - margin, window.end + margin)
    if changes is None:
        counted = change_points(restarts=restarts, oom_killed=oom_killed)
        known = rollout_changes(rollouts) if rollouts is not None else empty_changes()
        changes = pd.concat([c for c in (known, counted) if len(c)] or [empty_changes()])
        changes = changes.sort_values("time", ignore_index=True)
    notes = list(notes)  # what could not be evaluated: said once in the text, no finding
    found = [
        *change_findings(changes, window),
        *findings_in_window(findings, window, keep_undated),
    ]
    if lag is not None and not lag.empty:
        found += consumer_lag_spike(
            lag,
            window,
            lag_threshold,
            changes=changes,
            rollout_slack_s=ki001_slack_s,
            workloads=list(workloads),
        )
    if slo is not None and requests is not None and "path" in requests.columns:
        with_path = buckets is not None and "path" in buckets.columns
        p95 = quantile_from_buckets(
            buckets if with_path else pd.DataFrame(columns=["path", "le", "timestamp", "value"]),
            0.95,
        )
        breaches = latency_findings(p95, requests, slo, window)
        found += [with_preceding_changes(f, changes, service) for f in breaches]
        notes.append(skipped_pairs_text(burn_rate_alerts(requests, slo, window=window)))
    series = [frame.assign(metric=name) for name, frame in panels.items()]
    zscores = (
        robust_zscores(pd.concat(series, ignore_index=True), window, baseline_days)
        if series
        else pd.DataFrame(columns=["metric", "series", "z", "rank"])
    )
    events = [
        found,
        change_events(changes, shown, skip=("rollout", "scale", "restart", "oom_kill")),
    ]
    if "restarts" in panels:
        events.append(counter_events(in_window(restarts, shown, "both"), "restart", "restart"))
    if "oom_killed" in panels:
        events.append(counter_events(in_window(oom_killed, shown, "both"), "oom_kill", "OOM kill"))
    return IncidentReport(
        window=window,
        panels={k: in_window(v, shown, closed="both") for k, v in panels.items()},
        zscores=zscores,
        changes=changes,
        findings=Findings(found),
        notes=[n for n in notes if n],
        timeline=incident_timeline(*events, window=window),
    )
