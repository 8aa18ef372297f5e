"""KI-005: how long pods take from creation to Ready, and where the time goes; rollouts.

Two sources, the API first:

- **the Kubernetes API** (pods alive now): each start condition's ``lastTransitionTime``
  (``PodScheduled``, ``Initialized``, ``ContainersReady``, ``Ready``) and the kubelet's
  ``Pulled`` events ("Successfully pulled image ... in 2m5.3s"), so the start splits into
  **scheduling** (created -> scheduled), **init** (scheduled -> initialized: init containers
  and their images), **image pull** (the main containers' pulls) and **readiness** (the rest:
  container start, dependency initialisation, readiness probes and gates);
- **kube-state-metrics history** (pods gone since, or whose events expired):
  ``kube_pod_created`` and the first scrape at which ``kube_pod_status_ready`` was true, so
  the total only, to the scrape interval.

A pod restarted since it started has a ``Ready`` time that is its last restart, not its
start: its total comes from kube-state-metrics or is left unknown, never taken as a start.

>>> pods = pod_start_table(None, None,
...     pd.DataFrame({"namespace": ["a"], "pod": ["w-5d9f-x"], "value": [1000.0]}),
...     pd.DataFrame({"namespace": ["a"], "pod": ["w-5d9f-x"], "value": [1240.0]}),
...     pd.DataFrame({"namespace": ["a"], "pod": ["w-5d9f-x"], "owner_kind": ["ReplicaSet"],
...                   "owner_name": ["w-5d9f"]}),
...     TimeWindow(pd.Timestamp(0, tz="UTC"), pd.Timestamp(5000, unit="s", tz="UTC")))
>>> pods[["workload", "startup_s", "source"]].to_dict("records")
[{'workload': 'w', 'startup_s': 240.0, 'source': 'kube-state-metrics'}]
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

from dwcp_diag.analysis.findings import Finding
from dwcp_diag.sources.kube_rows import parse_go_duration
from dwcp_diag.timewindow import TimeWindow
from dwcp_diag.units import human_value

PHASES = ("scheduling_s", "init_s", "image_pull_s", "readiness_s")
PHASE_NAMES = {"scheduling_s": "scheduling", "init_s": "init", "image_pull_s": "image pull"}
PHASE_NAMES["readiness_s"] = "readiness"
POD_COLUMNS = [
    "namespace",
    "workload",
    "workload_kind",
    "replicaset",
    "pod",
    "created",
    "ready_at",
    "startup_s",
    *PHASES,
    "restarted",
    "source",
]
_PULLED = re.compile(r'Successfully pulled image "[^"]*" in ([0-9.]+[a-zµ]+[0-9.a-zµ]*)')
_FIXES = {
    "image_pull_s": (
        "Pull the image before the pod needs it: a pre-pull DaemonSet on every node (runbook "
        "KI-005), a smaller image (multi-stage build, 2.5 GB today), or a node-local registry "
        "mirror."
    ),
    "readiness_s": (
        "Readiness dominates: warm dependencies asynchronously, start the readiness probe "
        "earlier (initialDelaySeconds, a startupProbe), and gate traffic with readiness gates "
        "rather than a long probe delay (runbook KI-005: readinessGates)."
    ),
    "init_s": "Init containers dominate: make them idempotent and fast, or move work to a Job.",
    "scheduling_s": (
        "Scheduling dominates: pods wait for room; check requests against free capacity "
        "(capacity report, headroom_low) and the cluster autoscaler's scale-up time."
    ),
}


def _seconds(later: pd.Series, earlier: pd.Series) -> pd.Series:
    return (later - earlier).dt.total_seconds()


def _utc(frame: pd.DataFrame | None, column: str = "value") -> pd.DataFrame:
    """An instant frame's ``namespace``, ``pod`` and its Unix-seconds value as a time."""
    if frame is None or frame.empty:
        return pd.DataFrame({"namespace": [], "pod": [], column: []})
    out = frame[["namespace", "pod"]].astype(str)
    return out.assign(**{column: pd.to_datetime(frame["value"].to_numpy(), unit="s", utc=True)})


def image_pull_seconds(events: pd.DataFrame | None) -> pd.DataFrame:
    """Seconds each pod spent pulling images, from the kubelet's ``Pulled`` events
    (``"already present on machine"`` is 0 s).

    >>> events = pd.DataFrame({"namespace": ["a", "a"], "object_kind": ["Pod", "Pod"],
    ...     "object_name": ["p", "q"], "reason": ["Pulled", "Pulled"],
    ...     "message": ['Successfully pulled image "x:1" in 2m5.3s (2m5.3s including waiting)',
    ...                 'Container image "x:1" already present on machine']})
    >>> image_pull_seconds(events).to_dict("records")
    [{'namespace': 'a', 'pod': 'p', 'image_pull_s': 125.3}, {'namespace': 'a', 'pod': 'q', 'image_pull_s': 0.0}]
    """  # noqa: E501
    columns = ["namespace", "pod", "image_pull_s"]
    if events is None or events.empty:
        return pd.DataFrame(columns=columns)
    pulled = events[(events["reason"] == "Pulled") & (events["object_kind"] == "Pod")]
    durations = [
        parse_go_duration(m.group(1)) if (m := _PULLED.search(str(text))) else 0.0
        for text in pulled["message"]
    ]
    out = pd.DataFrame(
        {
            "namespace": pulled["namespace"].astype(str).to_numpy(),
            "pod": pulled["object_name"].astype(str).to_numpy(),
            "image_pull_s": np.asarray(durations, dtype=float),
        }
    )
    return out.groupby(["namespace", "pod"], as_index=False)["image_pull_s"].sum()


def _workload(owner_kind: str | None, owner_name: str | None) -> tuple[str | None, str | None]:
    """A ReplicaSet's Deployment (its name without the pod-template-hash), else the owner."""
    if owner_kind == "ReplicaSet" and owner_name and "-" in owner_name:
        return "Deployment", owner_name.rsplit("-", 1)[0]
    return owner_kind, owner_name


def pod_start_table(
    api: pd.DataFrame | None,
    events: pd.DataFrame | None,
    created: pd.DataFrame | None,
    first_ready: pd.DataFrame | None,
    owners: pd.DataFrame | None,
    window: TimeWindow,
) -> pd.DataFrame:
    """One row per pod created in ``window``: its start time and phases (see the module).

    ``api`` is ``KubernetesLoader.pod_starts()``, ``events`` its ``Pulled`` events,
    ``created``/``first_ready`` kube-state-metrics' times (instant frames, Unix seconds) and
    ``owners`` ``kube_pod_owner`` (namespace, pod, owner_kind, owner_name).
    """
    rows: list[dict] = []
    seen: set[tuple[str, str]] = set()
    ready_ksm = _utc(first_ready, "ready_at").set_index(["namespace", "pod"])["ready_at"]
    pulls = image_pull_seconds(events).set_index(["namespace", "pod"])["image_pull_s"]
    if api is not None and not api.empty:
        inside = api[(api["created"] > window.start) & (api["created"] <= window.end)]
        for pod in inside.itertuples(index=False):
            key = (str(pod.namespace), str(pod.pod))
            seen.add(key)
            restarted = pod.restart_count > 0
            ready_at = ready_ksm.get(key) if restarted else pod.ready_at
            scheduling = _delta(pod.scheduled_at, pod.created)
            init = _delta(pod.initialized_at, pod.scheduled_at)
            pull = float(pulls.get(key, np.nan))
            readiness = np.nan
            if not restarted:
                readiness = _delta(pod.ready_at, pod.initialized_at) - (
                    0 if np.isnan(pull) else pull
                )
            kind, name = pod.owner_kind, pod.owner_name
            rows.append(
                {
                    "namespace": key[0],
                    "workload": name,
                    "workload_kind": kind,
                    "replicaset": pod.replicaset,
                    "pod": key[1],
                    "created": pod.created,
                    "ready_at": ready_at,
                    "startup_s": _delta(ready_at, pod.created),
                    "scheduling_s": scheduling,
                    "init_s": init,
                    "image_pull_s": pull,
                    "readiness_s": readiness,
                    "restarted": restarted,
                    "source": "kubernetes",
                }
            )
    gone = _utc(created, "created")
    if not gone.empty:
        gone = gone[(gone["created"] > window.start) & (gone["created"] <= window.end)]
        owned = {}
        if owners is not None and not owners.empty:
            owned = {
                (str(o.namespace), str(o.pod)): (str(o.owner_kind), str(o.owner_name))
                for o in owners.itertuples(index=False)
            }
        for pod in gone.itertuples(index=False):
            key = (pod.namespace, pod.pod)
            if key in seen:
                continue
            owner_kind, owner_name = owned.get(key, (None, None))
            kind, name = _workload(owner_kind, owner_name)
            ready_at = ready_ksm.get(key)
            rows.append(
                {
                    "namespace": key[0],
                    "workload": name,
                    "workload_kind": kind,
                    "replicaset": owner_name if owner_kind == "ReplicaSet" else None,
                    "pod": key[1],
                    "created": pod.created,
                    "ready_at": ready_at,
                    "startup_s": _delta(ready_at, pod.created),
                    **dict.fromkeys(PHASES, np.nan),
                    "restarted": False,
                    "source": "kube-state-metrics",
                }
            )
    table = pd.DataFrame(rows, columns=POD_COLUMNS)
    for column in ("created", "ready_at"):
        table[column] = pd.to_datetime(table[column], utc=True)
    for column in ("startup_s", *PHASES):
        table[column] = table[column].astype(float)
    return table.sort_values(["namespace", "workload", "created"], ignore_index=True)


def _delta(later: object, earlier: object) -> float:
    if later is None or earlier is None or pd.isna(later) or pd.isna(earlier):
        return np.nan
    return (pd.Timestamp(later) - pd.Timestamp(earlier)).total_seconds()


WORKLOAD_COLUMNS = [
    "namespace",
    "workload",
    "workload_kind",
    "pods",
    "timed",
    "p50_s",
    "p95_s",
    "max_s",
    "slowest_pod",
    *(f"median_{p}" for p in PHASES),
    "dominant_phase",
]


def workload_start_table(pods: pd.DataFrame) -> pd.DataFrame:
    """Per workload: pods started, how many were timed, p50/p95/max creation -> Ready, the
    slowest pod, each phase's median and the phase that takes longest."""
    rows = []
    for (namespace, workload), group in pods.groupby(["namespace", "workload"], sort=True):
        timed = group.dropna(subset=["startup_s"])
        seconds = timed["startup_s"].to_numpy()
        medians = {f"median_{p}": float(group[p].median()) for p in PHASES}
        known = {p: v for p, v in medians.items() if not np.isnan(v)}
        rows.append(
            {
                "namespace": namespace,
                "workload": workload,
                "workload_kind": group["workload_kind"].iloc[0],
                "pods": len(group),
                "timed": len(timed),
                "p50_s": float(np.percentile(seconds, 50)) if len(seconds) else np.nan,
                "p95_s": float(np.percentile(seconds, 95)) if len(seconds) else np.nan,
                "max_s": float(seconds.max()) if len(seconds) else np.nan,
                "slowest_pod": timed.loc[timed["startup_s"].idxmax(), "pod"]
                if len(timed)
                else None,
                **medians,
                "dominant_phase": max(known, key=known.get).removeprefix("median_")
                if known
                else None,
            }
        )
    return pd.DataFrame(rows, columns=WORKLOAD_COLUMNS)


def startup_findings(workloads: pd.DataFrame, settings: Mapping[str, float]) -> list[Finding]:
    """``slow_startup`` (warning) per workload whose p95 creation -> Ready is over
    ``p95_warning_s`` (runbook KI-005: 3-5 minutes is the known problem)."""
    limit = settings["p95_warning_s"]
    found = []
    for row in workloads.dropna(subset=["p95_s"]).itertuples(index=False):
        if row.p95_s <= limit:
            continue
        phase = row.dominant_phase
        split = ", ".join(
            f"{PHASE_NAMES[p]} {human_value(getattr(row, f'median_{p}'), 's')}"
            for p in PHASES
            if not np.isnan(getattr(row, f"median_{p}"))
        )
        summary = (
            f"{row.workload_kind} {row.workload}: pods take {human_value(row.p95_s, 's')} (p95, "
            f"{row.timed} pods; p50 {human_value(row.p50_s, 's')}, max "
            f"{human_value(row.max_s, 's')}) from creation to Ready"
            + (f"; median {split}" if split else "")
            + "."
        )
        fix = _FIXES.get(phase or "", _FIXES["image_pull_s"] + " " + _FIXES["readiness_s"])
        evidence = {
            "pods": int(row.pods),
            "timed": int(row.timed),
            "p50_s": row.p50_s,
            "max_s": row.max_s,
            "slowest_pod": row.slowest_pod,
            "dominant_phase": phase,
            **{f"median_{p}": getattr(row, f"median_{p}") for p in PHASES},
        }
        subject = {"namespace": str(row.namespace), "workload": str(row.workload)}
        found.append(
            Finding(
                "slow_startup", "warning", subject, summary, row.p95_s, limit, "s", evidence, fix
            )
        )
    return found


MAX_SURGE_PATCH = '{"spec":{"strategy":{"rollingUpdate":{"maxSurge":"50%"}}}}'
ROLLOUT_COLUMNS = [
    "namespace",
    "deployment",
    "replicaset",
    "revision",
    "started",
    "replicas",
    "ready_pods",
    "completed",
    "duration_s",
]


def rollout_table(
    rollouts: pd.DataFrame | None, pods: pd.DataFrame, window: TimeWindow
) -> pd.DataFrame:
    """Per rollout in ``window`` (a new ReplicaSet): when it started, when its pods were all
    Ready (the n-th Ready among the ReplicaSet's pods, n its replicas) and how long it took;
    ``completed`` is NaT while fewer pods than that were Ready."""
    rows = []
    if rollouts is not None and not rollouts.empty:
        new = rollouts[rollouts["change"] == "rollout"]
        new = new[(new["time"] > window.start) & (new["time"] <= window.end)]
        for rollout in new.itertuples(index=False):
            own = pods[
                (pods["replicaset"] == rollout.replicaset)
                & (pods["namespace"] == rollout.namespace)
            ]
            ready = own["ready_at"].dropna().sort_values()
            wanted = (
                int(rollout.replicas)
                if pd.notna(rollout.replicas) and rollout.replicas
                else len(own)
            )
            completed = ready.iloc[wanted - 1] if 0 < wanted <= len(ready) else pd.NaT
            rows.append(
                {
                    "namespace": rollout.namespace,
                    "deployment": rollout.owner_name,
                    "replicaset": rollout.replicaset,
                    "revision": rollout.revision,
                    "started": rollout.time,
                    "replicas": wanted,
                    "ready_pods": len(ready),
                    "completed": completed,
                    "duration_s": _delta(completed, rollout.time),
                }
            )
    table = pd.DataFrame(rows, columns=ROLLOUT_COLUMNS)
    table["duration_s"] = table["duration_s"].astype(float)
    return table


def rollout_findings(rollouts: pd.DataFrame, settings: Mapping[str, float]) -> list[Finding]:
    """``rollout_slow`` (warning) per Deployment whose slowest rollout in the window took
    longer than ``warning_s`` from the new ReplicaSet to its last pod Ready."""
    limit = settings["warning_s"]
    found = []
    timed = rollouts.dropna(subset=["duration_s"])
    for (namespace, deployment), group in timed.groupby(["namespace", "deployment"]):
        worst = group.loc[group["duration_s"].idxmax()]
        if worst["duration_s"] <= limit:
            continue
        summary = (
            f"Deployment {deployment}: rolling out {worst['replicaset']} ({worst['replicas']} "
            f"pods) took {human_value(worst['duration_s'], 's')}, from the new ReplicaSet at "
            f"{worst['started']:%Y-%m-%d %H:%M} to its last pod Ready ({len(group)} rollout(s) "
            "in the window)."
        )
        evidence = {
            "replicaset": worst["replicaset"],
            "started": worst["started"],
            "completed": worst["completed"],
            "replicas": int(worst["replicas"]),
            "rollouts": len(group),
            "durations_s": group["duration_s"].round(1).tolist(),
        }
        fix = (
            "Each pod's start is the rollout's pace (see slow_startup); raise the Deployment's "
            f"maxSurge so pods start in parallel: kubectl -n {namespace} patch deployment "
            f"{deployment} -p '{MAX_SURGE_PATCH}'"
        )
        subject = {"namespace": str(namespace), "deployment": str(deployment)}
        found.append(
            Finding(
                "rollout_slow",
                "warning",
                subject,
                summary,
                float(worst["duration_s"]),
                limit,
                "s",
                evidence,
                fix,
            )
        )
    return found
