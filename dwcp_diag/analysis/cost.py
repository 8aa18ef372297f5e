"""Cost: right-sizing (KRR's simple strategy) priced in dollars (OpenCost's default prices).

Pure functions: tidy frames in, frames and :class:`Findings` out, no I/O. Money columns are
``*_usd_per_month`` at the window's run rate (``Prices.hours_per_month``, 730 h).

How the numbers are made:

- **Usage** per workload and container (pods map to their Deployment/StatefulSet/...; a
  ReplicaSet's pod-template-hash is stripped): the CPU rate's 95th percentile and the working
  set's maximum over every sample of every pod (KRR pools the pods of a workload the same way).
- **Recommendation** (KRR "simple"): CPU request = that percentile, memory request (= limit) =
  the maximum x 1.15; at least 10 millicores and 100 MiB (KRR's ``cpu_min_value`` and
  ``memory_min_value``); no recommendation from fewer than 100 samples (KRR's
  ``points_required``). OOM-aware: a container OOM-killed in the window gets at least its
  memory limit x 1.25 (KRR's ``oom_memory_buffer_percentage``), never less than what killed it.
- **Cost** (OpenCost's allocation rule): each pod container costs
  ``max(request, mean usage) x price``, weighted by the share of the window it existed (so a
  Deployment rolled daily is not counted seven times). The recommended cost uses the
  recommendation in place of the request; ``saving`` is the difference; ``slack`` is
  ``(request - recommendation) x price`` (negative when under-provisioned).

Input frames (``{field}`` is a :class:`dwcp_diag.config.MetricNames` field):

- ``cpu_rate``: ``rate({cpu_usage}{container!="",container!="POD"}[5m])`` -> namespace, pod,
  container, timestamp, value (cores);
- ``working_set``: ``{memory_working_set}{container!="",container!="POD"}`` -> same (bytes);
- ``owners``: ``{pod_owner}`` -> namespace, pod, owner_kind, owner_name, ..., value; or the
  Kubernetes ``containers`` frame (owner_kind, owner_name, team);
- ``requests`` / ``limits``: as in :mod:`dwcp_diag.analysis.memory`;
- ``volumes``: the Kubernetes ``persistent_volumes`` frame (pv, phase, capacity_bytes,
  storage_class, claim_namespace, claim_name, mounted_by_pod); or ``{pv_phase}`` ->
  persistentvolume, phase, value, with ``pv_capacity`` = ``{pv_capacity}``;
- ``allocatable``: the Kubernetes ``nodes`` frame or ``{node_allocatable}`` -> node, resource,
  unit, value;
- ``restarts`` / ``reasons`` / ``inventory``: as in :mod:`dwcp_diag.analysis.memory` (OOM kills).

Thresholds: ``check_thresholds(profile, CHECK)`` (:mod:`dwcp_diag.checks` holds every
default with its unit, meaning and source; a profile's ``[thresholds.CHECK]`` tables override
them, and an unknown key is an error). The recommendation's settings live under the check
they decide (``overprovisioned_cpu``, ``overprovisioned_memory``).

>>> import pandas as pd
>>> t = pd.date_range("2026-01-01", periods=200, freq="5min", tz="UTC")
>>> pod = {"namespace": "shop", "pod": "web-7d9f8c6b5d-x2x9k", "container": "app"}
>>> report = cost_report(pd.DataFrame({**pod, "timestamp": t, "value": 0.2}),
...                      pd.DataFrame({**pod, "timestamp": t, "value": float(GIB)}),
...                      requests=pd.DataFrame([{**pod, "cpu_request_cores": 1.0,
...                                              "memory_request_bytes": 2.0 * GIB}]))
>>> round(report["summary"]["saving_usd_per_month"], 2), [f.check for f in report["findings"]]
(21.09, ['overprovisioned_cpu', 'overprovisioned_memory'])
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from dwcp_diag.analysis.findings import Finding, Findings
from dwcp_diag.analysis.memory import (
    KEYS,
    container_resources,
    latest,
    plain_labels,
    resource_table,
    restart_summary,
)
from dwcp_diag.analysis.rollup import rollup
from dwcp_diag.checks import check_thresholds
from dwcp_diag.config import Prices, Profile
from dwcp_diag.units import GIB, MIB

POD = ["namespace", "pod"]
WORKLOAD = ["namespace", "workload_kind", "workload"]
WORKLOAD_CONTAINER = [*WORKLOAD, "container"]
# the defaults of the usage functions' arguments
_CPU, _IDLE = check_thresholds(None, "overprovisioned_cpu"), check_thresholds(None, "idle_workload")
UNUSED_PV_PHASES = ("Available", "Released", "Failed")
MONEY_COLUMNS = [
    "cost_cpu_usd_per_month",
    "cost_memory_usd_per_month",
    "cost_usd_per_month",
    "recommended_cost_cpu_usd_per_month",
    "recommended_cost_memory_usd_per_month",
    "recommended_cost_usd_per_month",
    "saving_usd_per_month",
    "cpu_slack_usd_per_month",
    "memory_slack_usd_per_month",
]
# Deployment pods are owned by ReplicaSet NAME-HASH; the hash uses this alphabet (no vowels).
_REPLICASET_HASH = re.compile(r"^(?P<name>.+)-[bcdfghjklmnpqrstvwxz2456789]{5,10}$")
_CRONJOB_RUN = re.compile(r"^(?P<name>.+)-\d{8,}$")  # CronJob jobs: NAME-<scheduled minute>
WEEK = pd.Timedelta(days=7)
NODE_COLUMNS = [
    "node",
    *(
        f"{resource}_{what}"
        for resource, unit in (("cpu", "cores"), ("memory", "bytes"))
        for what in (
            f"allocatable_{unit}",
            f"requested_{unit}",
            f"used_{unit}",
            "requested_share",
            "used_share",
        )
    ),
]


# --------------------------------------------------------------------------- workloads


def workload_of(owner_kind: Any, owner_name: Any, pod: str) -> tuple[str, str]:
    """The workload (kind, name) a pod belongs to, from its owner reference.

    >>> workload_of("ReplicaSet", "web-7d9f8c6b5d", "web-7d9f8c6b5d-x2x9k")
    ('Deployment', 'web')
    >>> workload_of("Job", "backup-29012345", "backup-29012345-abcde")
    ('CronJob', 'backup')
    >>> workload_of("StatefulSet", "db", "db-0"), workload_of(None, None, "debug")
    (('StatefulSet', 'db'), ('Pod', 'debug'))
    """
    if pd.isna(owner_kind) or str(owner_kind) in ("", "<none>") or pd.isna(owner_name):
        return "Pod", pod
    kind, name = str(owner_kind), str(owner_name)
    pattern = {"ReplicaSet": _REPLICASET_HASH, "Job": _CRONJOB_RUN}.get(kind)
    match = pattern.match(name) if pattern else None
    if match:
        return ("Deployment" if kind == "ReplicaSet" else "CronJob"), match["name"]
    return kind, name


def pod_workloads(owners: pd.DataFrame | None) -> pd.DataFrame:
    """``namespace, pod, workload_kind, workload, team`` per pod.

    ``owners`` is the ``kube_pod_owner`` series (controller owner preferred, latest sample)
    or the Kubernetes ``containers`` inventory (which also brings ``team``).

    >>> owners = pd.DataFrame({"namespace": ["shop"], "pod": ["web-7d9f8c6b5d-x2x9k"],
    ...                        "owner_kind": ["ReplicaSet"], "owner_name": ["web-7d9f8c6b5d"]})
    >>> pod_workloads(owners)[["workload_kind", "workload"]].to_dict("records")
    [{'workload_kind': 'Deployment', 'workload': 'web'}]
    """
    columns = [*POD, "workload_kind", "workload", "team"]
    if owners is None or owners.empty:
        return pd.DataFrame({c: pd.Series(dtype="str") for c in columns})
    frame = plain_labels(owners, [*POD, "owner_kind", "owner_name", "team"])
    if "value" in frame.columns:
        frame = frame[frame["value"] >= 1]
    order = [c for c in ("owner_is_controller", "timestamp") if c in frame.columns]
    if order:
        frame = frame.sort_values(order, kind="stable")
    frame = frame.drop_duplicates(POD, keep="last")
    pairs = [
        workload_of(kind, name, pod)
        for kind, name, pod in zip(
            frame["owner_kind"], frame["owner_name"], frame["pod"], strict=True
        )
    ]
    out = frame[POD].copy()
    out["workload_kind"] = [kind for kind, _ in pairs]
    out["workload"] = [name for _, name in pairs]
    out["team"] = frame["team"] if "team" in frame.columns else None
    return plain_labels(out[columns], ["team"]).reset_index(drop=True)


def teams_from_inventory(workloads: pd.DataFrame, inventory: pd.DataFrame) -> pd.DataFrame:
    """:func:`pod_workloads` output with each missing team taken from the inventory's pods of
    the same workload: ``kube_pod_owner`` carries no team, and pods gone since (an old
    ReplicaSet's) still belong to their Deployment's team.

    >>> owners = pd.DataFrame({"namespace": "shop", "pod": ["web-7d9f8c6b5d-x2x9k",
    ...                        "web-6c8b9d7f5c-x7x7k"], "owner_kind": "ReplicaSet",
    ...                        "owner_name": ["web-7d9f8c6b5d", "web-6c8b9d7f5c"]})
    >>> teams_from_inventory(pod_workloads(owners), owners.iloc[:1].assign(team="web"))["team"]
    0    web
    1    web
    Name: team, dtype: object
    """
    known = pod_workloads(inventory).dropna(subset=["team"]).drop_duplicates(WORKLOAD)
    out = workloads.merge(
        known[[*WORKLOAD, "team"]], on=WORKLOAD, how="left", suffixes=("", "_inventory")
    )
    out["team"] = out["team"].fillna(out.pop("team_inventory"))
    return out


def _with_workloads(frame: pd.DataFrame, workloads: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (keyed by pod) with its workload; pods without an owner are their own."""
    out = frame.merge(workloads, on=POD, how="left")
    missing = out["workload"].isna()
    out.loc[missing, "workload_kind"] = "Pod"
    out.loc[missing, "workload"] = out.loc[missing, "pod"]
    return out


# --------------------------------------------------------------------------- usage


def _samples(frame: pd.DataFrame) -> pd.DataFrame:
    out = plain_labels(frame, KEYS)
    out["value"] = out["value"].astype("float64")
    return out.dropna(subset=["value"])


def container_usage(cpu_rate: pd.DataFrame, working_set: pd.DataFrame) -> pd.DataFrame:
    """Per pod container: mean CPU and memory, peak memory, and ``presence``.

    ``presence`` is the share of the window's sample times at which the container had a
    sample (range queries share one step grid), i.e. how much of a replica it was.

    >>> t = pd.date_range("2026-01-01", periods=4, freq="h", tz="UTC")
    >>> cpu = pd.DataFrame({"namespace": "n", "pod": ["a"] * 4 + ["b"] * 2, "container": "c",
    ...                     "timestamp": [*t, *t[2:]], "value": 0.5})
    >>> container_usage(cpu, cpu.iloc[:0])["presence"].tolist()
    [1.0, 0.5]
    """
    cpu, memory = _samples(cpu_rate), _samples(working_set)
    cpu_stats = cpu.groupby(KEYS).agg(
        cpu_mean_cores=("value", "mean"), cpu_points=("value", "size")
    )
    memory_stats = memory.groupby(KEYS).agg(
        memory_mean_bytes=("value", "mean"),
        memory_max_bytes=("value", "max"),
        memory_points=("value", "size"),
    )
    out = cpu_stats.join(memory_stats, how="outer")
    for points, frame in (("cpu_points", cpu), ("memory_points", memory)):
        out[points] = out[points].fillna(0).astype("int64")
        out[f"_{points}"] = out[points] / max(frame["timestamp"].nunique(), 1)
    out["presence"] = out[["_cpu_points", "_memory_points"]].max(axis=1)
    return out.drop(columns=["_cpu_points", "_memory_points"]).reset_index()


def workload_usage(
    cpu_rate: pd.DataFrame,
    working_set: pd.DataFrame,
    owners: pd.DataFrame | None = None,
    cpu_percentile: float = _CPU["cpu_percentile"],
) -> pd.DataFrame:
    """Per workload and container, over all samples of all its pods: ``cpu_percentile_cores``
    (the ``cpu_percentile``-th percentile of the CPU rate, p95 by default), ``cpu_mean_cores``,
    ``memory_max_bytes``, ``memory_mean_bytes``, sample counts and ``pods``.

    >>> t = pd.date_range("2026-01-01", periods=100, freq="min", tz="UTC")
    >>> cpu = pd.DataFrame({"namespace": "n", "pod": "p", "container": "c", "timestamp": t,
    ...                     "value": [i / 100 for i in range(100)]})
    >>> usage = workload_usage(cpu, cpu.assign(value=1e9))
    >>> usage["cpu_percentile_cores"].round(4).tolist(), usage["workload_kind"].tolist()
    ([0.9405], ['Pod'])
    """
    workloads = pod_workloads(owners)
    cpu = _with_workloads(_samples(cpu_rate), workloads).groupby(WORKLOAD_CONTAINER)
    memory = _with_workloads(_samples(working_set), workloads).groupby(WORKLOAD_CONTAINER)
    cpu_stats = (
        cpu["value"]
        .agg(["mean", "size"])
        .rename(columns={"mean": "cpu_mean_cores", "size": "cpu_points"})
    )
    cpu_stats["cpu_percentile_cores"] = cpu["value"].quantile(cpu_percentile / 100.0)
    cpu_stats["cpu_pods"] = cpu["pod"].nunique()
    memory_stats = (
        memory["value"]
        .agg(["max", "mean", "size"])
        .rename(
            columns={
                "max": "memory_max_bytes",
                "mean": "memory_mean_bytes",
                "size": "memory_points",
            }
        )
    )
    memory_stats["memory_pods"] = memory["pod"].nunique()
    out = cpu_stats.join(memory_stats, how="outer")
    out["pods"] = out[["cpu_pods", "memory_pods"]].max(axis=1).fillna(0).astype("int64")
    for points in ("cpu_points", "memory_points"):
        out[points] = out[points].fillna(0).astype("int64")
    columns = [
        "pods",
        "cpu_percentile_cores",
        "cpu_mean_cores",
        "cpu_points",
        "memory_max_bytes",
        "memory_mean_bytes",
        "memory_points",
    ]
    return out[columns].reset_index()


# Push-down: per-container statistics computed by Prometheus, pooled here ---------------

STAT_SUM_COLUMNS = ("cpu_points", "memory_points")
STAT_MAX_COLUMNS = ("memory_max_bytes", "cpu_p100_cores", "memory_p100_bytes")
STAT_MIN_COLUMNS = ("cpu_p0_cores", "memory_p0_bytes")


def quantile_column(resource: str, level: float) -> str:
    """The statistics frame's column of one quantile level of ``cpu`` or ``memory``.

    >>> quantile_column("cpu", 0.95), quantile_column("memory", 0.999)
    ('cpu_p95_cores', 'memory_p99.9_bytes')
    """
    unit = {"cpu": "cores", "memory": "bytes"}[resource]
    return f"{resource}_p{round(level * 100, 6):g}_{unit}"


def quantile_levels(stats: pd.DataFrame, resource: str) -> list[float]:
    """The quantile levels ``stats`` holds for ``resource``, ascending.

    >>> quantile_levels(pd.DataFrame(columns=["cpu_p0_cores", "cpu_p95_cores"]), "cpu")
    [0.0, 0.95]
    """
    pattern = re.compile(rf"^{resource}_p([0-9.]+)_(cores|bytes)$")
    return sorted(float(m[1]) / 100 for c in stats.columns if (m := pattern.match(c)))


def mixture_quantile(values: np.ndarray, levels: np.ndarray, weights: np.ndarray, q: float):
    """The ``q`` quantile of several pieces of one population, each known by a few quantiles.

    ``values[i, k]`` is piece ``i``'s ``levels[k]`` quantile, ``weights[i]`` its sample count.
    Each piece's distribution is taken as linear between its known quantiles; the pooled
    distribution is their weighted mixture. Exact for one piece and a ``q`` among ``levels``;
    otherwise an approximation (measured against the pooled samples in
    ``benchmarks/scale.py`` and ``tests/test_pushdown.py``).

    >>> round(mixture_quantile(np.array([[0.0, 1.0], [0.0, 1.0]]), np.array([0.0, 1.0]),
    ...                        np.array([1.0, 1.0]), 0.95), 6)
    0.95
    """
    keep = np.isfinite(values).all(axis=1) & (weights > 0)
    values, weights = values[keep], weights[keep]
    if len(values) == 0:
        return np.nan
    if len(values) == 1:
        return float(np.interp(q, levels, values[0]))
    points = np.unique(values)
    cdf = (
        sum(
            w * np.interp(points, v, levels, left=0.0, right=1.0)
            for v, w in zip(values, weights, strict=True)
        )
        / weights.sum()
    )
    cdf = np.maximum.accumulate(cdf)
    first = int(np.searchsorted(cdf, q, side="left"))
    if first <= 0:
        return float(points[0])
    if first >= len(points):
        return float(points[-1])
    lo, hi = cdf[first - 1], cdf[first]
    share = 0.0 if hi <= lo else (q - lo) / (hi - lo)
    return float(points[first - 1] + share * (points[first] - points[first - 1]))


def _pieces_of_pooled_groups(grouped: Any) -> list[tuple[int, np.ndarray]]:
    """``(group position, row positions)`` of each group with more than one row: a fleet's
    containers are mostly groups of one, which need no pooling (and no Python loop)."""
    codes = grouped.ngroup().to_numpy(float)  # NaN: a row whose keys were dropped
    valid = np.flatnonzero(~np.isnan(codes))
    codes = codes[valid].astype(np.int64)
    sizes = np.bincount(codes)
    order = valid[np.argsort(codes, kind="stable")]
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    return [(int(g), order[bounds[g] : bounds[g + 1]]) for g in np.flatnonzero(sizes > 1)]


def pool_stats(stats: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Statistics of pieces (pods, or sub-windows of one series) pooled per ``keys``.

    Exact for counts, means (weighted by points), maxima and minima; quantile levels by
    :func:`mixture_quantile` (exact where a group has one piece). Adds ``pods``.

    >>> pieces = pd.DataFrame({"w": "a", "pod": ["p", "q"], "cpu_points": [10, 30],
    ...                        "cpu_mean_cores": [1.0, 2.0], "cpu_p100_cores": [3.0, 2.5]})
    >>> pool_stats(pieces, ["w"])[["cpu_mean_cores", "cpu_p100_cores", "pods"]].values
    array([[1.75, 3.  , 2.  ]])
    """
    frame = stats.copy()
    for resource in ("cpu", "memory"):
        mean = f"{resource}_mean_{'cores' if resource == 'cpu' else 'bytes'}"
        if mean in frame.columns:
            frame[f"_{mean}"] = frame[mean] * frame[f"{resource}_points"]
    grouped = frame.groupby(keys, sort=False)
    out = pd.DataFrame(index=grouped.size().index)
    out["pods"] = grouped["pod"].nunique() if "pod" in frame.columns else grouped.size()
    for column in frame.columns:
        if column in keys or column == "pod" or column.startswith("_"):
            continue
        if column in STAT_SUM_COLUMNS:
            out[column] = grouped[column].sum()
        elif column in STAT_MIN_COLUMNS:
            out[column] = grouped[column].min()
        elif column in STAT_MAX_COLUMNS:
            out[column] = grouped[column].max()
        elif column.endswith(("_mean_cores", "_mean_bytes")):
            points = grouped[f"{column.split('_')[0]}_points"].sum()
            out[column] = grouped[f"_{column}"].sum(min_count=1) / points.where(points > 0)
    for resource in ("cpu", "memory"):
        levels = quantile_levels(frame, resource)
        if not levels or f"{resource}_points" not in frame.columns:
            continue
        columns = [quantile_column(resource, level) for level in levels]
        pooled = grouped[columns].first().to_numpy(float, copy=True)  # right for one piece
        values = frame[columns].to_numpy(float)
        weights = frame[f"{resource}_points"].to_numpy(float)
        for position, rows in _pieces_of_pooled_groups(grouped):  # only groups of several
            pooled[position] = [
                mixture_quantile(values[rows], np.array(levels), weights[rows], level)
                for level in levels
            ]
        out[columns] = pooled
        for column, how in ((columns[0], "min"), (columns[-1], "max")):  # exact at the ends
            if column in (*STAT_MIN_COLUMNS, *STAT_MAX_COLUMNS):
                out[column] = grouped[column].agg(how)
    return out.reset_index()


def stats_without(stats: pd.DataFrame, part: pd.DataFrame) -> pd.DataFrame:
    """Points, means and steps of ``stats`` without those of ``part``, a slice of the same
    window (its first evaluation time): exact, as counts and sums subtract. Containers left
    with no point are dropped.

    >>> whole = pd.DataFrame({"namespace": "n", "pod": ["a", "b"], "container": "c",
    ...                       "cpu_points": [3, 1], "cpu_mean_cores": [2.0, 1.0], "cpu_steps": 3})
    >>> first = pd.DataFrame({"namespace": "n", "pod": ["a", "b"], "container": "c",
    ...                       "cpu_points": [1, 1], "cpu_mean_cores": [3.0, 1.0], "cpu_steps": 1})
    >>> stats_without(whole, first)[["pod", "cpu_points", "cpu_mean_cores", "cpu_steps"]]
      pod  cpu_points  cpu_mean_cores  cpu_steps
    0   a           2             1.5          2
    """
    out = stats.merge(part, on=KEYS, how="left", suffixes=("", "_part"))
    kept = pd.Series(False, index=out.index)
    for resource, unit in (("cpu", "cores"), ("memory", "bytes")):
        points, mean = f"{resource}_points", f"{resource}_mean_{unit}"
        if points not in stats.columns:
            continue
        taken = out[f"{points}_part"].fillna(0.0)
        total = out[mean].fillna(0.0) * out[points] - out[f"{mean}_part"].fillna(0.0) * taken
        out[points] = out[points] - taken
        out[mean] = (total / out[points]).where(out[points] > 0)
        steps = f"{resource}_steps"
        if steps in stats.columns:
            out[steps] = out[steps] - out[f"{steps}_part"].fillna(0.0).max()
        kept |= out[points] > 0
    return out.loc[kept, list(stats.columns)].reset_index(drop=True)


def container_usage_from_stats(stats: pd.DataFrame) -> pd.DataFrame:
    """:func:`container_usage` from per-container statistics (push-down), pieces pooled.

    ``stats`` has ``cpu_points``, ``cpu_mean_cores``, ``memory_points``, ``memory_mean_bytes``,
    ``memory_max_bytes`` and the window's evaluation times with data, ``cpu_steps`` and
    ``memory_steps``.

    >>> stats = pd.DataFrame({"namespace": "n", "pod": ["a", "b"], "container": "c",
    ...                       "cpu_points": [4, 2], "cpu_mean_cores": 0.5, "cpu_steps": 4})
    >>> container_usage_from_stats(stats)["presence"].tolist()
    [1.0, 0.5]
    """
    steps = {
        r: stats[f"{r}_steps"].max() if f"{r}_steps" in stats else 0 for r in ("cpu", "memory")
    }
    pooled = pool_stats(stats.drop(columns=["cpu_steps", "memory_steps"], errors="ignore"), KEYS)
    columns = ["cpu_mean_cores", "cpu_points", "memory_mean_bytes", "memory_max_bytes"]
    out = pooled.reindex(columns=[*KEYS, *columns, "memory_points"])
    for resource in ("cpu", "memory"):
        points = f"{resource}_points"
        out[points] = out[points].fillna(0).astype("int64")
        out[f"_{points}"] = out[points] / max(steps[resource] or 0, 1)
    out["presence"] = out[["_cpu_points", "_memory_points"]].max(axis=1)
    return out.drop(columns=["_cpu_points", "_memory_points"]).reset_index(drop=True)


def workload_usage_from_stats(
    stats: pd.DataFrame,
    owners: pd.DataFrame | None = None,
    cpu_percentile: float = _CPU["cpu_percentile"],
) -> pd.DataFrame:
    """:func:`workload_usage` from per-container statistics (push-down): the pods' samples
    pooled per workload container (the percentile by :func:`mixture_quantile`).

    >>> stats = pd.DataFrame({"namespace": "n", "pod": "p", "container": "c", "cpu_points": [100],
    ...                       "cpu_mean_cores": [0.5], "cpu_p95_cores": [0.9],
    ...                       "memory_points": [100], "memory_mean_bytes": [1.0],
    ...                       "memory_max_bytes": [2.0]})
    >>> workload_usage_from_stats(stats)[["cpu_percentile_cores", "pods"]].values.tolist()
    [[0.9, 1.0]]
    """
    frame = _with_workloads(plain_labels(stats, KEYS), pod_workloads(owners))
    frame = frame.drop(columns=["team", "cpu_steps", "memory_steps"], errors="ignore")
    pooled = pool_stats(frame, WORKLOAD_CONTAINER)
    pooled["cpu_percentile_cores"] = pooled.get(quantile_column("cpu", cpu_percentile / 100.0))
    columns = ["pods", "cpu_percentile_cores", "cpu_mean_cores", "cpu_points"]
    columns += ["memory_max_bytes", "memory_mean_bytes", "memory_points"]
    out = pooled.reindex(columns=[*WORKLOAD_CONTAINER, *columns])
    for points in ("cpu_points", "memory_points"):
        out[points] = out[points].fillna(0).astype("int64")
    out["pods"] = out["pods"].astype("int64")
    return out.sort_values(WORKLOAD_CONTAINER).reset_index(drop=True)


def workload_oom(
    summary: pd.DataFrame, resources: pd.DataFrame, workloads: pd.DataFrame
) -> pd.DataFrame:
    """Per workload and container: OOM kills and the largest memory limit they happened at.

    ``summary`` is :func:`dwcp_diag.analysis.memory.restart_summary` output, ``resources``
    :func:`~dwcp_diag.analysis.memory.container_resources`, ``workloads``
    :func:`pod_workloads`.

    >>> summary = pd.DataFrame({"namespace": ["n"], "pod": ["p"], "container": ["c"],
    ...                         "oom_kills": [2.0]})
    >>> limits = summary[KEYS].assign(memory_limit_bytes=512.0)
    >>> workload_oom(summary, limits, pod_workloads(None))[["oom_kills", "oom_limit_bytes"]].values
    array([[  2., 512.]])
    """
    columns = [*WORKLOAD_CONTAINER, "oom_kills", "oom_limit_bytes"]
    killed = summary[summary["oom_kills"].fillna(0) > 0]
    if killed.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    killed = plain_labels(killed, KEYS).merge(
        resource_table(resources)[[*KEYS, "memory_limit_bytes"]], on=KEYS, how="left"
    )
    grouped = _with_workloads(killed, workloads).groupby(WORKLOAD_CONTAINER)
    return grouped.agg(
        oom_kills=("oom_kills", "sum"), oom_limit_bytes=("memory_limit_bytes", "max")
    ).reset_index()[columns]


def recommend(
    usage: pd.DataFrame, oom: pd.DataFrame | None = None, profile: Profile | None = None
) -> pd.DataFrame:
    """KRR simple-strategy requests per workload container, OOM-aware (see module docstring).

    ``usage`` is :func:`workload_usage` output, ``oom`` :func:`workload_oom` output. Adds
    ``cpu_recommended_cores`` (no CPU limit is recommended), ``memory_recommended_bytes``
    (request and limit) and ``oom_aware`` (the OOM floor applied). NaN when there are fewer
    than ``min_points`` samples.

    >>> usage = pd.DataFrame({"namespace": ["n"], "workload_kind": ["Deployment"],
    ...                       "workload": ["w"], "container": ["c"], "cpu_percentile_cores":
    ...                       [0.001], "cpu_points": [500], "memory_max_bytes": [400.0 * MIB],
    ...                       "memory_points": [500]})
    >>> rec = recommend(usage)
    >>> float(rec.cpu_recommended_cores[0]), round(float(rec.memory_recommended_bytes[0] / MIB), 6)
    (0.01, 460.0)
    """
    cpu = check_thresholds(profile, "overprovisioned_cpu")
    memory = check_thresholds(profile, "overprovisioned_memory")
    out = usage.copy()
    if oom is not None and not oom.empty:
        out = out.merge(oom, on=WORKLOAD_CONTAINER, how="left")
    else:
        out["oom_kills"], out["oom_limit_bytes"] = 0.0, np.nan
    cpu_rec = np.maximum(out["cpu_percentile_cores"], cpu["min_cpu_cores"])
    out["cpu_recommended_cores"] = cpu_rec.where(out["cpu_points"] >= cpu["min_points"])
    peak = out["memory_max_bytes"] * (1 + memory["memory_buffer_pct"] / 100)
    memory_rec = np.maximum(peak, memory["min_memory_mib"] * MIB)
    killed_at = out["oom_limit_bytes"].fillna(out["memory_max_bytes"])
    oom_floor = killed_at * (1 + memory["oom_buffer_pct"] / 100)
    out["oom_aware"] = (out["oom_kills"].fillna(0) > 0) & (oom_floor > memory_rec)
    memory_rec = memory_rec.where(~out["oom_aware"], oom_floor)
    out["memory_recommended_bytes"] = memory_rec.where(out["memory_points"] >= memory["min_points"])
    out["oom_kills"] = out["oom_kills"].fillna(0.0)
    return out


# --------------------------------------------------------------------------- dollars


def container_costs(
    usage: pd.DataFrame,
    resources: pd.DataFrame,
    workloads: pd.DataFrame,
    recommendations: pd.DataFrame | None = None,
    prices: Prices | None = None,
) -> pd.DataFrame:
    """Monthly cost, recommended cost, saving and slack per pod container (module docstring).

    ``usage``: :func:`container_usage`; ``resources``:
    :func:`~dwcp_diag.analysis.memory.container_resources` output or the Kubernetes
    ``containers`` frame; ``workloads``:
    :func:`pod_workloads`; ``recommendations``: :func:`recommend` (optional; without it the
    recommended cost equals the cost).

    >>> usage = pd.DataFrame({"namespace": ["n"], "pod": ["p"], "container": ["c"],
    ...                       "cpu_mean_cores": [0.2], "memory_mean_bytes": [float(GIB)],
    ...                       "presence": [1.0]})
    >>> requests = usage[KEYS].assign(cpu_request_cores=1.0, memory_request_bytes=2.0 * GIB)
    >>> costs = container_costs(usage, requests, pod_workloads(None))
    >>> round(float(costs.cost_usd_per_month[0]), 4)  # 1 x 0.031611 x 730 + 2 x 0.004237 x 730
    29.262
    """
    prices = prices or Prices()
    cpu_month = prices.cpu_core_hour * prices.hours_per_month
    byte_month = prices.memory_gib_hour * prices.hours_per_month / GIB
    frame = _with_workloads(plain_labels(usage, KEYS), workloads)
    frame = frame.merge(resource_table(resources), on=KEYS, how="left")
    rec_columns = ["cpu_recommended_cores", "memory_recommended_bytes"]
    if recommendations is not None:
        frame = frame.merge(
            plain_labels(recommendations, WORKLOAD_CONTAINER)[[*WORKLOAD_CONTAINER, *rec_columns]],
            on=WORKLOAD_CONTAINER,
            how="left",
        )
    else:
        frame[rec_columns] = np.nan
    replicas = frame["presence"]
    for resource, request, used, rec, unit_month in (
        ("cpu", "cpu_request_cores", "cpu_mean_cores", "cpu_recommended_cores", cpu_month),
        (
            "memory",
            "memory_request_bytes",
            "memory_mean_bytes",
            "memory_recommended_bytes",
            byte_month,
        ),
    ):
        monthly = unit_month * replicas
        frame[f"cost_{resource}_usd_per_month"] = (
            np.fmax(frame[request], frame[used]) * monthly
        ).fillna(0.0)
        proposed = frame[rec].fillna(frame[request])
        frame[f"recommended_cost_{resource}_usd_per_month"] = (
            np.fmax(proposed, frame[used]) * monthly
        ).fillna(0.0)
        frame[f"{resource}_slack_usd_per_month"] = (frame[request] - frame[rec]) * monthly
    frame["cost_usd_per_month"] = (
        frame["cost_cpu_usd_per_month"] + frame["cost_memory_usd_per_month"]
    )
    frame["recommended_cost_usd_per_month"] = (
        frame["recommended_cost_cpu_usd_per_month"] + frame["recommended_cost_memory_usd_per_month"]
    )
    frame["saving_usd_per_month"] = (
        frame["cost_usd_per_month"] - frame["recommended_cost_usd_per_month"]
    )
    return frame.sort_values("cost_usd_per_month", ascending=False).reset_index(drop=True)


def workload_costs(
    costs: pd.DataFrame, recommendations: pd.DataFrame | None = None
) -> pd.DataFrame:
    """:func:`container_costs` summed per workload container, with ``replicas`` (sum of
    presence), presence-weighted mean requests per replica and, when given, the usage and
    recommendation columns of :func:`recommend`.

    >>> costs = pd.DataFrame({"namespace": "n", "workload_kind": "Deployment", "workload": "w",
    ...                       "container": "c", "team": "t", "presence": [1.0, 0.5],
    ...                       "cpu_request_cores": [1.0, 2.0], "memory_request_bytes": 1.0,
    ...                       **{c: 1.0 for c in MONEY_COLUMNS}})
    >>> row = workload_costs(costs).iloc[0]
    >>> float(row.replicas), round(float(row.cpu_request_cores), 3), float(row.cost_usd_per_month)
    (1.5, 1.333, 2.0)
    """
    frame = costs.copy()
    requests = ["cpu_request_cores", "memory_request_bytes"]
    for request in requests:
        frame[f"_{request}"] = frame[request] * frame["presence"]
        frame[f"_{request}_weight"] = frame["presence"].where(frame[request].notna())
    grouped = frame.groupby(WORKLOAD_CONTAINER)
    out = grouped[MONEY_COLUMNS].sum()
    out["replicas"] = grouped["presence"].sum()
    out["team"] = grouped["team"].first()
    for request in requests:
        weighted = grouped[f"_{request}"].sum(min_count=1)
        out[request] = weighted / grouped[f"_{request}_weight"].sum(min_count=1)
    out = out.reset_index()
    if recommendations is not None:
        out = out.merge(
            plain_labels(recommendations, WORKLOAD_CONTAINER), on=WORKLOAD_CONTAINER, how="left"
        )
    return out.sort_values("cost_usd_per_month", ascending=False).reset_index(drop=True)


def cost_by(costs: pd.DataFrame, by: str = "namespace") -> pd.DataFrame:
    """Money columns summed per ``by`` (``namespace``, ``team``, ``workload``...), largest first.

    >>> costs = pd.DataFrame({"namespace": ["a", "a", "b"], "team": [None, "x", "x"],
    ...                       **{c: [1.0, 2.0, 4.0] for c in MONEY_COLUMNS}})
    >>> cost_by(costs, "team")[["team", "cost_usd_per_month"]].to_dict("records")
    [{'team': 'x', 'cost_usd_per_month': 6.0}, {'team': '(none)', 'cost_usd_per_month': 1.0}]
    """
    keys = costs[by].astype("str").where(costs[by].notna(), "(none)").rename(by)
    out = costs[MONEY_COLUMNS].groupby(keys).sum().reset_index()
    return out.sort_values("cost_usd_per_month", ascending=False).reset_index(drop=True)


def idle_workloads(
    workloads: pd.DataFrame, max_usage_share: float = _IDLE["max_usage_share"]
) -> pd.DataFrame:
    """Workload containers using less than ``max_usage_share`` of every resource they request.

    Usage is the peak that sizing uses (CPU p95, memory max), so an idle workload is idle even
    at its busiest. ``workloads`` is :func:`workload_costs` output with recommendations.

    >>> w = pd.DataFrame({"workload": ["idle", "busy"], "cpu_request_cores": [2.0, 2.0],
    ...                   "cpu_percentile_cores": [0.05, 0.5], "memory_request_bytes": [1.0, 1.0],
    ...                   "memory_max_bytes": [0.1, 0.1]})
    >>> idle_workloads(w)["workload"].tolist()
    ['idle']
    """
    out = workloads.copy()
    out["cpu_usage_share"] = out["cpu_percentile_cores"] / out["cpu_request_cores"]
    out["memory_usage_share"] = out["memory_max_bytes"] / out["memory_request_bytes"]
    shares = out[["cpu_usage_share", "memory_usage_share"]].replace([np.inf, -np.inf], np.nan)
    idle = (shares < max_usage_share) | shares.isna()
    idle = idle.all(axis=1) & shares.notna().any(axis=1)
    return out[idle].reset_index(drop=True)


# --------------------------------------------------------------------------- volumes and nodes


def persistent_volume_table(
    volumes: pd.DataFrame, capacity: pd.DataFrame | None = None
) -> pd.DataFrame:
    """``pv, phase, capacity_bytes, storage_class, claim_namespace, claim_name,
    mounted_by_pod`` from the Kubernetes ``persistent_volumes`` frame, or from the
    ``kube_persistentvolume_status_phase`` series (latest phase with value 1) plus the
    ``kube_persistentvolume_capacity_bytes`` series (``mounted_by_pod`` unknown: NaN).

    >>> phase = pd.DataFrame({"persistentvolume": "pv-1", "phase": ["Bound", "Released"],
    ...                       "timestamp": pd.Timestamp("2026-01-01", tz="UTC"),
    ...                       "value": [0.0, 1.0]})
    >>> persistent_volume_table(phase)[["pv", "phase"]].to_dict("records")
    [{'pv': 'pv-1', 'phase': 'Released'}]
    """
    columns = [
        "pv",
        "phase",
        "capacity_bytes",
        "storage_class",
        "claim_namespace",
        "claim_name",
        "mounted_by_pod",
    ]
    frame = volumes.rename(columns={"persistentvolume": "pv", "name": "pv"})
    frame = plain_labels(frame, ["pv", "phase", "storage_class", "claim_namespace", "claim_name"])
    if "value" in frame.columns:  # Prometheus phase series
        frame = latest(frame[frame["value"] >= 1], ["pv"])
        frame["mounted_by_pod"] = np.nan
        if capacity is not None:
            size = latest(
                plain_labels(capacity.rename(columns={"persistentvolume": "pv"}), ["pv"]), ["pv"]
            )
            frame = frame.merge(
                size[["pv", "value"]].rename(columns={"value": "capacity_bytes"}),
                on="pv",
                how="left",
            )
    return frame.reindex(columns=columns).reset_index(drop=True)


def unused_volumes(
    volumes: pd.DataFrame, capacity: pd.DataFrame | None = None, prices: Prices | None = None
) -> pd.DataFrame:
    """PersistentVolumes nobody uses, with what they cost a month.

    Unused: phase Available, Released or Failed, or Bound to a claim that no running pod
    mounts (``mounted_by_pod`` false; unknown from Prometheus alone). Adds ``reason`` and
    ``monthly_cost_usd`` (capacity in GiB x ``Prices.pv_gib_month``).

    >>> pvs = pd.DataFrame({"pv": ["a", "b"], "phase": ["Available", "Bound"],
    ...                     "capacity_bytes": [10.0 * GIB, 5.0 * GIB], "mounted_by_pod": False})
    >>> unused_volumes(pvs)[["pv", "reason", "monthly_cost_usd"]].to_dict("records")
    [{'pv': 'a', 'reason': 'Available', 'monthly_cost_usd': 0.4}, {'pv': 'b', 'reason': \
'Bound, mounted by no pod', 'monthly_cost_usd': 0.2}]
    """
    prices = prices or Prices()
    table = persistent_volume_table(volumes, capacity)
    loose = table["phase"].isin(UNUSED_PV_PHASES)
    unmounted = table["phase"].eq("Bound") & table["mounted_by_pod"].eq(False)
    out = table[loose | unmounted].copy()
    out["reason"] = np.where(loose[out.index], out["phase"], "Bound, mounted by no pod")
    out["monthly_cost_usd"] = (out["capacity_bytes"] / GIB * prices.pv_gib_month).round(6)
    return out.sort_values("monthly_cost_usd", ascending=False).reset_index(drop=True)


def _node_allocatable(allocatable: pd.DataFrame) -> pd.DataFrame:
    frame = plain_labels(allocatable.rename(columns={"name": "node"}), ["node", "resource"])
    if "resource" not in frame.columns:  # the Kubernetes nodes frame
        return frame[["node", "cpu_allocatable_cores", "memory_allocatable_bytes"]]
    current = latest(frame[frame["resource"].isin(["cpu", "memory"])], ["node", "resource"])
    wide = current.pivot_table(index="node", columns="resource", values="value", aggfunc="last")
    wide = wide.rename(
        columns={"cpu": "cpu_allocatable_cores", "memory": "memory_allocatable_bytes"}
    )
    return wide.reindex(columns=["cpu_allocatable_cores", "memory_allocatable_bytes"]).reset_index()


def node_utilisation(
    inventory: pd.DataFrame, usage: pd.DataFrame, allocatable: pd.DataFrame
) -> pd.DataFrame:
    """Per node: allocatable, requested and used (window mean) CPU and memory, and shares.

    ``inventory`` is the Kubernetes ``containers`` frame (which pod runs where; Running pods),
    ``usage`` :func:`container_usage`, ``allocatable`` the Kubernetes ``nodes`` frame or the
    ``kube_node_status_allocatable`` series.

    >>> inv = pd.DataFrame({"namespace": "n", "pod": ["a", "b"], "container": "c", "node": "n1",
    ...                     "phase": "Running", "cpu_request_cores": [1.0, 1.0],
    ...                     "memory_request_bytes": [1.0, 1.0]})
    >>> use = inv[KEYS].assign(cpu_mean_cores=[0.5, 0.5], memory_mean_bytes=[1.0, 1.0])
    >>> nodes = pd.DataFrame({"node": ["n1"], "cpu_allocatable_cores": [4.0],
    ...                       "memory_allocatable_bytes": [4.0]})
    >>> node_utilisation(inv, use, nodes)[["cpu_requested_share", "cpu_used_share"]].values
    array([[0.5 , 0.25]])
    """
    inv = plain_labels(inventory, [*KEYS, "node", "phase"])
    if "phase" in inv.columns:
        inv = inv[inv["phase"] == "Running"]
    inv = inv.merge(
        plain_labels(usage, KEYS)[[*KEYS, "cpu_mean_cores", "memory_mean_bytes"]],
        on=KEYS,
        how="left",
    )
    per_node = inv.groupby("node").agg(
        cpu_requested_cores=("cpu_request_cores", "sum"),
        cpu_used_cores=("cpu_mean_cores", "sum"),
        memory_requested_bytes=("memory_request_bytes", "sum"),
        memory_used_bytes=("memory_mean_bytes", "sum"),
    )
    out = (
        _node_allocatable(allocatable)
        .set_index("node")
        .join(per_node, how="left")
        .fillna({c: 0.0 for c in per_node.columns})
    )
    for resource, unit in (("cpu", "cores"), ("memory", "bytes")):
        for what in ("requested", "used"):
            out[f"{resource}_{what}_share"] = (
                out[f"{resource}_{what}_{unit}"] / out[f"{resource}_allocatable_{unit}"]
            )
    out = out.reset_index().reindex(columns=NODE_COLUMNS)
    return out.sort_values("cpu_requested_share", ascending=False, ignore_index=True)


def week_over_week(
    cpu_rate: pd.DataFrame,
    working_set: pd.DataFrame,
    resources: pd.DataFrame,
    workloads: pd.DataFrame,
    prices: Prices | None = None,
    by: str = "namespace",
) -> pd.DataFrame:
    """Monthly cost per ``by`` in the last 7 days against the 7 days before.

    Weeks are ``(end - 14d, end - 7d]`` and ``(end - 7d, end]``, ``end`` the last sample. Empty
    unless the window reaches back 14 days (within an hour). Requests are the latest
    per pod; a changed request means new pods, so each week prices its own pods.

    >>> t = pd.date_range("2026-01-01", periods=15, freq="D", tz="UTC")
    >>> cpu = pd.DataFrame({"namespace": "n", "pod": "p", "container": "c", "timestamp": t,
    ...                     "value": [1.0] * 8 + [2.0] * 7})
    >>> wow = week_over_week(cpu, cpu.iloc[:0], cpu.iloc[:0][KEYS], pod_workloads(None))
    >>> wow[["previous_usd_per_month", "current_usd_per_month", "change_pct"]].round(2).values
    array([[ 23.08,  46.15, 100.  ]])
    """
    cpu, memory = _samples(cpu_rate), _samples(working_set)
    stamps = pd.concat([cpu["timestamp"], memory["timestamp"]])
    if stamps.empty or stamps.min() > stamps.max() - 2 * WEEK + pd.Timedelta(hours=1):
        return pd.DataFrame(columns=week_columns(by))
    cut, begin = stamps.max() - WEEK, stamps.max() - 2 * WEEK

    def week_usage(lo: pd.Timestamp, hi: pd.Timestamp) -> pd.DataFrame:
        def part(frame: pd.DataFrame) -> pd.DataFrame:
            return frame[(frame["timestamp"] > lo) & (frame["timestamp"] <= hi)]

        return container_usage(part(cpu), part(memory))

    previous, current = week_usage(begin, cut), week_usage(cut, stamps.max())
    return week_change(previous, current, resources, workloads, prices, by)


def week_columns(by: str) -> list[str]:
    """The columns of :func:`week_over_week` by ``by``."""
    return [
        by,
        "previous_usd_per_month",
        "current_usd_per_month",
        "change_usd_per_month",
        "change_pct",
    ]


def week_change(
    previous: pd.DataFrame,
    current: pd.DataFrame,
    resources: pd.DataFrame,
    workloads: pd.DataFrame,
    prices: Prices | None = None,
    by: str = "namespace",
) -> pd.DataFrame:
    """Monthly cost per ``by`` of two weeks' :func:`container_usage` (or
    :func:`container_usage_from_stats`): what :func:`week_over_week` reports.

    >>> use = pd.DataFrame({"namespace": ["n"], "pod": ["p"], "container": ["c"],
    ...                     "cpu_mean_cores": [1.0], "memory_mean_bytes": [0.0], "presence": 1.0})
    >>> week_change(use, use.assign(cpu_mean_cores=2.0), use[KEYS], pod_workloads(None))[
    ...     "change_pct"].tolist()
    [100.0]
    """

    def week_cost(usage: pd.DataFrame) -> pd.Series:
        costs = container_costs(usage, resources, workloads, prices=prices)
        return cost_by(costs, by).set_index(by)["cost_usd_per_month"]

    out = pd.concat(
        {
            "previous_usd_per_month": week_cost(previous),
            "current_usd_per_month": week_cost(current),
        },
        axis=1,
    ).fillna(0.0)
    out["change_usd_per_month"] = out["current_usd_per_month"] - out["previous_usd_per_month"]
    out["change_pct"] = (
        100
        * out["change_usd_per_month"]
        / out["previous_usd_per_month"].where(out["previous_usd_per_month"] > 0)
    )
    out = out.rename_axis(by).reset_index()
    return out[week_columns(by)].sort_values(
        "change_usd_per_month", ascending=False, ignore_index=True
    )


# --------------------------------------------------------------------------- findings


def _subject(row: Mapping[str, Any]) -> dict[str, str]:
    return {k: str(row[k]) for k in ("namespace", "workload_kind", "workload", "container")}


def _name(row: Mapping[str, Any]) -> str:
    return f"{row['namespace']}/{row['workload']} ({row['container']})"


def _amount(resource: str, value: float) -> str:
    return f"{value:.3g} cores" if resource == "cpu" else f"{value / MIB:.0f} MiB"


_RESOURCE = {
    "cpu": ("cpu_request_cores", "cpu_recommended_cores", "cpu_percentile_cores", "p95"),
    "memory": ("memory_request_bytes", "memory_recommended_bytes", "memory_max_bytes", "peak"),
}


def _overprovisioned(
    rows: pd.DataFrame, resource: str, settings: Mapping[str, float]
) -> list[Finding]:
    request, rec, used, used_name = _RESOURCE[resource]
    slack = rows[f"{resource}_slack_usd_per_month"]
    share = (rows[request] - rows[rec]) / rows[request]
    flagged = rows[(share >= settings["min_slack_share"]) & (slack >= settings["min_monthly_usd"])]
    found = []
    for row in flagged.to_dict("records"):
        money = row[f"{resource}_slack_usd_per_month"]
        found.append(
            Finding(
                f"overprovisioned_{resource}",
                "warning" if money >= settings["warning_monthly_usd"] else "info",
                _subject(row),
                f"{_name(row)} requests {_amount(resource, row[request])} per replica but "
                f"uses {_amount(resource, row[used])} ({used_name}); requesting "
                f"{_amount(resource, row[rec])} frees ${money:,.2f}/month.",
                money,
                settings["min_monthly_usd"],
                "$/month",
                {
                    "request": row[request],
                    "recommended": row[rec],
                    "usage": row[used],
                    "replicas": row["replicas"],
                    "slack_share": (row[request] - row[rec]) / row[request],
                    "saving_usd_per_month": row["saving_usd_per_month"],
                },
            )
        )
    return found


def _underprovisioned(rows: pd.DataFrame, tolerance: float) -> list[Finding]:
    found = []
    for resource, severity in (("cpu", "info"), ("memory", "warning")):
        request, _, used, used_name = _RESOURCE[resource]
        ratio = rows[used] / rows[request].where(rows[request] > 0)
        for index in rows.index[ratio > 1 + tolerance]:
            row = rows.loc[index].to_dict()
            extra = -row[f"{resource}_slack_usd_per_month"]
            found.append(
                Finding(
                    "underprovisioned",
                    severity,
                    {**_subject(row), "resource": resource},
                    f"{_name(row)} uses {_amount(resource, row[used])} ({used_name}), "
                    f"{ratio[index]:.1f}x its {resource} request of "
                    f"{_amount(resource, row[request])}; right-sizing costs "
                    f"${extra:,.2f}/month more.",
                    ratio[index],
                    1 + tolerance,
                    "x request",
                    {"request": row[request], "usage": row[used], "extra_usd_per_month": extra},
                )
            )
    return found


def _idle(rows: pd.DataFrame, max_share: float) -> list[Finding]:
    return [
        Finding(
            "idle_workload",
            "warning",
            _subject(row),
            f"{_name(row)} uses under {max_share:.0%} of what it requests (CPU "
            f"{row['cpu_usage_share']:.0%}, memory {row['memory_usage_share']:.0%}) and costs "
            f"${row['cost_usd_per_month']:,.2f}/month.",
            row["cost_usd_per_month"],
            None,
            "$/month",
            {
                "max_usage_share": max_share,
                "cpu_usage_share": row["cpu_usage_share"],
                "memory_usage_share": row["memory_usage_share"],
                "replicas": row["replicas"],
            },
        )
        for row in rows.to_dict("records")
    ]


def _unused_pv(volumes: pd.DataFrame, min_usd: float) -> list[Finding]:
    return [
        Finding(
            "unused_pv",
            "warning",
            {"pv": str(row["pv"])},
            f"PersistentVolume {row['pv']} ({row['capacity_bytes'] / GIB:.0f} GiB) is unused "
            f"({row['reason']}) and costs ${row['monthly_cost_usd']:,.2f}/month.",
            row["monthly_cost_usd"],
            min_usd,
            "$/month",
            {
                k: row[k]
                for k in (
                    "phase",
                    "capacity_bytes",
                    "storage_class",
                    "claim_namespace",
                    "claim_name",
                )
            },
        )
        for row in volumes[volumes["monthly_cost_usd"] >= min_usd].to_dict("records")
    ]


def cost_report(
    cpu_rate: pd.DataFrame,
    working_set: pd.DataFrame,
    owners: pd.DataFrame | None = None,
    requests: pd.DataFrame | None = None,
    limits: pd.DataFrame | None = None,
    inventory: pd.DataFrame | None = None,
    volumes: pd.DataFrame | None = None,
    pv_capacity: pd.DataFrame | None = None,
    allocatable: pd.DataFrame | None = None,
    restarts: pd.DataFrame | None = None,
    reasons: pd.DataFrame | None = None,
    profile: Profile | None = None,
    stats: pd.DataFrame | None = None,
    weeks: tuple[pd.DataFrame, pd.DataFrame] | None = None,
) -> dict[str, Any]:
    """Everything the cost notebook shows, in one call: frames, ``summary`` and ``findings``.

    Push-down (fleet scale): ``stats`` holds per-container statistics computed by Prometheus
    (see :func:`container_usage_from_stats`) in place of ``cpu_rate`` and ``working_set``
    (then None), ``weeks`` the previous and current week's :func:`container_usage_from_stats`.

    ``inventory`` (Kubernetes ``containers`` frame) stands in for ``owners``, ``requests`` and
    ``limits`` when they are not given, and gives teams, nodes and OOM state. Keys:
    ``resources``, ``workloads`` (pod -> workload), ``container_usage``, ``usage``
    (:func:`workload_usage`), ``recommendations``, ``container_costs``, ``workload_costs``,
    ``by_namespace``, ``by_team``, ``idle``, ``unused_volumes``, ``nodes``,
    ``week_over_week``, ``summary`` (dict of totals, $/month) and ``findings``.
    """
    cpu_settings = check_thresholds(profile, "overprovisioned_cpu")
    memory_settings = check_thresholds(profile, "overprovisioned_memory")
    idle_share = check_thresholds(profile, "idle_workload")["max_usage_share"]
    pv_min = check_thresholds(profile, "unused_pv")["min_monthly_usd"]
    tolerance = check_thresholds(profile, "underprovisioned")["tolerance_share"]
    prices = profile.prices if profile is not None else Prices()
    owners = owners if owners is not None else inventory
    resources = container_resources(
        requests if requests is not None else inventory,
        limits if limits is not None else inventory,
    )
    workloads = pod_workloads(owners)
    if inventory is not None and owners is not inventory:  # kube_pod_owner has no team label
        workloads = teams_from_inventory(workloads, inventory)
    if stats is not None:
        per_container = container_usage_from_stats(stats)
        usage = workload_usage_from_stats(stats, owners, cpu_settings["cpu_percentile"])
        by_week = (
            week_change(*weeks, resources, workloads, prices)
            if weeks is not None
            else pd.DataFrame(columns=week_columns("namespace"))
        )
    else:
        cpu_rate, working_set = _samples(cpu_rate), _samples(working_set)  # once, not per step
        per_container = container_usage(cpu_rate, working_set)
        usage = workload_usage(cpu_rate, working_set, owners, cpu_settings["cpu_percentile"])
        by_week = week_over_week(cpu_rate, working_set, resources, workloads, prices)
    oom = workload_oom(restart_summary(restarts, reasons, inventory), resources, workloads)
    recommendations = recommend(usage, oom, profile)
    costs = container_costs(per_container, resources, workloads, recommendations, prices)
    per_workload = workload_costs(costs, recommendations)
    idle = idle_workloads(per_workload, idle_share)
    unused = (
        unused_volumes(volumes, pv_capacity, prices)
        if volumes is not None
        else unused_volumes(pd.DataFrame(columns=["pv", "phase"]))
    )
    nodes = (
        node_utilisation(inventory, per_container, allocatable)
        if inventory is not None and allocatable is not None
        else pd.DataFrame(columns=NODE_COLUMNS)
    )
    busy = per_workload.merge(idle[WORKLOAD_CONTAINER], how="left", indicator=True)
    busy = busy[busy["_merge"] == "left_only"].drop(columns="_merge")
    fleet = check_thresholds(profile, "rollup")
    findings = Findings(
        rollup(
            [
                *_overprovisioned(busy, "cpu", cpu_settings),
                *_overprovisioned(busy, "memory", memory_settings),
                *_idle(idle, idle_share),
                *_unused_pv(unused, pv_min),
                *_underprovisioned(per_workload, tolerance),
            ],
            above=fleet["above"],
            floor_usd_per_month=fleet["floor_usd_per_month"],
            keep=fleet["keep"],
            namespaces=fleet["namespaces"],
        )
    )
    totals = costs[MONEY_COLUMNS].sum()
    summary = {
        "cost_usd_per_month": float(totals["cost_usd_per_month"]),
        "recommended_cost_usd_per_month": float(totals["recommended_cost_usd_per_month"]),
        "saving_usd_per_month": float(totals["saving_usd_per_month"]),
        "idle_usd_per_month": float(idle["cost_usd_per_month"].sum()),
        "unused_pv_usd_per_month": float(unused["monthly_cost_usd"].sum()),
    }
    return {
        "resources": resources,
        "workloads": workloads,
        "container_usage": per_container,
        "usage": usage,
        "recommendations": recommendations,
        "container_costs": costs,
        "workload_costs": per_workload,
        "by_namespace": cost_by(costs, "namespace"),
        "by_team": cost_by(costs, "team"),
        "idle": idle,
        "unused_volumes": unused,
        "nodes": nodes,
        "week_over_week": by_week,
        "summary": summary,
        "findings": findings,
    }
