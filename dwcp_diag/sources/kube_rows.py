"""Kubernetes API objects (raw JSON dicts) -> rows -> frames: the loader's pure half, no I/O.

Each ``*_row`` function turns one object of a List into a dict keyed by its schema's columns;
:func:`frame` turns rows into a frame with exactly that schema (``dwcp_diag.frames.conform``).
Quantities are parsed exactly (:mod:`dwcp_diag.sources.quantity`) into cores and bytes.

>>> node = {"metadata": {"name": "n1", "labels": {"karpenter.sh/capacity-type": "spot"}},
...         "status": {"capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"}}}
>>> row = node_row(node)
>>> row["capacity_type"], row["cpu_capacity_cores"], row["memory_capacity_bytes"]
('spot', 4.0, 17179869184.0)
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import pandas as pd

from dwcp_diag.config import KubernetesSettings
from dwcp_diag.frames import TIMESTAMP_DTYPE, conform
from dwcp_diag.sources.quantity import QuantityError, parse_bytes, parse_cpu_cores

# -- schemas -------------------------------------------------------------------------------------
_POD_IDENTITY = {
    "namespace": "category",
    "pod": "category",
    "node": "category",
    "phase": "category",
    "qos_class": "category",
    "owner_kind": "category",
    "owner_name": "category",
    "team": "category",
    "app": "category",
}
_RESOURCES = {
    "cpu_request_cores": "float64",
    "cpu_limit_cores": "float64",
    "memory_request_bytes": "float64",
    "memory_limit_bytes": "float64",
}
CONTAINER_SCHEMA = {
    **_POD_IDENTITY,
    "container": "category",
    "image": "category",
    **_RESOURCES,
    "ready": "bool",
    "restart_count": "int64",
    "state": "category",
    "state_reason": "category",
    "started_at": "timestamp",
    "last_terminated_reason": "category",
    "last_exit_code": "Int64",
    "last_terminated_at": "timestamp",
    "pod_created": "timestamp",
}
POD_SCHEMA = {
    **_POD_IDENTITY,
    "reason": "category",
    "containers": "int64",
    "ready": "bool",
    "restart_count": "int64",
    **_RESOURCES,
    "created": "timestamp",
    "start_time": "timestamp",
}
POD_METRICS_SCHEMA = {
    "namespace": "category",
    "pod": "category",
    "container": "category",
    "timestamp": "timestamp",
    "window_s": "float64",
    "cpu_usage_cores": "float64",
    "memory_usage_bytes": "float64",
}
NODE_SCHEMA = {
    "node": "category",
    "instance_type": "category",
    "zone": "category",
    "region": "category",
    "capacity_type": "category",
    "cpu_capacity_cores": "float64",
    "cpu_allocatable_cores": "float64",
    "memory_capacity_bytes": "float64",
    "memory_allocatable_bytes": "float64",
    "pods_capacity": "Int64",
    "pods_allocatable": "Int64",
    "ready": "bool",
    "ready_since": "timestamp",
    "unschedulable": "bool",
    "unschedulable_since": "timestamp",
    "kubelet_version": "category",
    "created": "timestamp",
}
PV_SCHEMA = {
    "pv": "category",
    "phase": "category",
    "capacity_bytes": "float64",
    "storage_class": "category",
    "access_modes": "category",
    "reclaim_policy": "category",
    "claim_namespace": "category",
    "claim_name": "category",
    "mounted_by_pod": "bool",
    "created": "timestamp",
}
CLAIM_SCHEMA = {
    "namespace": "category",
    "claim": "category",
    "phase": "category",
    "pv": "category",
    "storage_class": "category",
    "access_modes": "category",
    "requested_bytes": "float64",
    "capacity_bytes": "float64",
    "mounted_by_pod": "bool",
    "created": "timestamp",
}
EVENT_SCHEMA = {
    "namespace": "category",
    "object_kind": "category",
    "object_name": "category",
    "reason": "category",
    "type": "category",
    "message": "str",
    "first_seen": "timestamp",
    "last_seen": "timestamp",
    "count": "int64",
    "source_component": "category",
}
ROLLOUT_SCHEMA = {
    "time": "timestamp",
    "namespace": "category",
    "owner_kind": "category",
    "owner_name": "category",
    "change": "category",  # "rollout" (new ReplicaSet) | "scale_up" | "scale_down"
    "replicaset": "category",
    "revision": "Int64",
    "replicas": "Int64",  # rollout: the ReplicaSet's desired replicas now; scale: after scaling
    "message": "str",
}
CONFIGMAP_SCHEMA = {
    "namespace": "category",
    "configmap": "category",
    "resource_version": "str",
    "created": "timestamp",
    "updated": "timestamp",
    "workload_kind": "category",
    "workload": "category",
}
WORKLOAD_SCHEMA = {
    "namespace": "category",
    "kind": "category",
    "name": "category",
    "replicas_desired": "Int64",
    "replicas_ready": "Int64",
    "replicas_available": "Int64",
    "replicas_updated": "Int64",
    "team": "category",
    "app": "category",
    "created": "timestamp",
}


# -- rows ----------------------------------------------------------------------------------------
_REVISION_ANNOTATION = "deployment.kubernetes.io/revision"


def frame(
    rows: Iterable[Mapping[str, Any]], schema: Mapping[str, str], sort: list[str] | None = None
) -> pd.DataFrame:
    """Rows -> a frame with exactly ``schema`` (timestamps parsed as ISO-8601 UTC)."""
    frame = pd.DataFrame.from_records(list(rows), columns=list(schema))
    for column, kind in schema.items():
        if kind == "timestamp":
            frame[column] = _utc(frame[column])
    if len(frame) and sort:
        frame = frame.sort_values(sort, kind="stable", na_position="first", ignore_index=True)
    return conform(frame, schema)


def _utc(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True, format="ISO8601").astype(TIMESTAMP_DTYPE)


def ns_name(item: Mapping[str, Any]) -> tuple[str, str]:
    meta = item.get("metadata") or {}
    return meta.get("namespace") or "", meta.get("name") or ""


def controller(item: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(kind, name)`` of the object's controlling owner reference, if any."""
    for ref in (item.get("metadata") or {}).get("ownerReferences") or ():
        if ref.get("controller"):
            return ref.get("kind"), ref.get("name")
    return None


def replicaset_owner(item: Mapping[str, Any]) -> tuple[str, str]:
    """The workload a ReplicaSet belongs to: its controlling Deployment, or itself when bare."""
    return controller(item) or ("ReplicaSet", ns_name(item)[1])


def pod_owner(
    item: Mapping[str, Any], replicaset_owners: Mapping[tuple[str, str], tuple[str, str]]
) -> tuple[str | None, str | None]:
    """The pod's workload: its controller, through a ReplicaSet to the Deployment."""
    ref = controller(item)
    if ref is None:
        return None, None
    kind, name = ref
    if kind != "ReplicaSet":
        return kind, name
    namespace = ns_name(item)[0]
    if (namespace, name) in replicaset_owners:
        return replicaset_owners[(namespace, name)]
    template_hash = ((item.get("metadata") or {}).get("labels") or {}).get("pod-template-hash")
    if template_hash and name.endswith(f"-{template_hash}"):
        return "Deployment", name[: -len(template_hash) - 1]
    return kind, name


def _labels(item: Mapping[str, Any], settings: KubernetesSettings) -> tuple[str | None, ...]:
    labels = (item.get("metadata") or {}).get("labels") or {}
    app = labels.get(settings.app_label) or labels.get("app.kubernetes.io/name")
    return labels.get(settings.team_label), app


def pod_row(
    item: Mapping[str, Any],
    replicaset_owners: Mapping[tuple[str, str], tuple[str, str]],
    settings: KubernetesSettings,
) -> dict[str, Any]:
    meta, spec, status = item["metadata"], item.get("spec") or {}, item.get("status") or {}
    owner_kind, owner_name = pod_owner(item, replicaset_owners)
    team, app = _labels(item, settings)
    statuses = status.get("containerStatuses") or ()
    row = {
        "namespace": meta.get("namespace"),
        "pod": meta.get("name"),
        "node": spec.get("nodeName"),
        "phase": status.get("phase"),
        "qos_class": status.get("qosClass"),
        "owner_kind": owner_kind,
        "owner_name": owner_name,
        "team": team,
        "app": app,
        "reason": status.get("reason"),
        "containers": len(spec.get("containers") or ()),
        "ready": _condition(status, "Ready"),
        "restart_count": sum(s.get("restartCount") or 0 for s in statuses),
        "created": meta.get("creationTimestamp"),
        "start_time": status.get("startTime"),
    }
    return row


_RESOURCE_FIELDS = (  # column, spec section, resource, parser
    ("cpu_request_cores", "requests", "cpu", parse_cpu_cores),
    ("cpu_limit_cores", "limits", "cpu", parse_cpu_cores),
    ("memory_request_bytes", "requests", "memory", parse_bytes),
    ("memory_limit_bytes", "limits", "memory", parse_bytes),
)
_NO_VALUES: Mapping[str, Any] = {}


def _container_resources(item: Mapping[str, Any], spec: Mapping[str, Any]) -> dict[str, float]:
    """Requests and limits in cores and bytes (NaN when unset); a malformed quantity raises
    :class:`QuantityError` naming the pod, the container and the field."""
    resources = spec.get("resources") or _NO_VALUES
    values = {}
    for column, section, resource, parse in _RESOURCE_FIELDS:
        value = (resources.get(section) or _NO_VALUES).get(resource)
        if value is None:
            values[column] = math.nan
            continue
        try:
            values[column] = parse(value)
        except QuantityError:
            namespace, pod = ns_name(item)
            where = f"pod {namespace}/{pod} container {spec.get('name')}"
            raise QuantityError(value, f"{where}: {resource} {section[:-1]}") from None
    return values


def pod_totals(containers: list[Mapping[str, Any]]) -> dict[str, float]:
    """Pod requests: the containers' sum (NaN when none sets one); limits: the sum, NaN when
    any container has none (the pod is unbounded)."""
    totals = {}
    for column in _RESOURCES:
        values = [c[column] for c in containers if not math.isnan(c[column])]
        if "_limit_" in column:
            complete = containers and len(values) == len(containers)
            totals[column] = math.fsum(values) if complete else math.nan
        else:
            totals[column] = math.fsum(values) if values else math.nan
    return totals


def container_rows(item: Mapping[str, Any], pod: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    identity = {column: pod[column] for column in _POD_IDENTITY}
    status = item.get("status") or _NO_VALUES
    statuses = {s.get("name"): s for s in status.get("containerStatuses") or ()}
    for spec in (item.get("spec") or _NO_VALUES).get("containers") or ():
        current = statuses.get(spec.get("name")) or _NO_VALUES
        state, state_detail = _state(current.get("state"))
        last = (current.get("lastState") or _NO_VALUES).get("terminated") or _NO_VALUES
        yield {
            **identity,
            "container": spec.get("name"),
            "image": spec.get("image"),
            **_container_resources(item, spec),
            "ready": bool(current.get("ready")),
            "restart_count": current.get("restartCount") or 0,
            "state": state,
            "state_reason": state_detail.get("reason"),
            "started_at": state_detail.get("startedAt"),
            "last_terminated_reason": last.get("reason"),
            "last_exit_code": last.get("exitCode"),
            "last_terminated_at": last.get("finishedAt"),
            "pod_created": pod["created"],
        }


def _state(state: Mapping[str, Any] | None) -> tuple[str | None, Mapping[str, Any]]:
    """``("running" | "waiting" | "terminated", its detail)`` of a container state."""
    if state:
        for name in ("running", "waiting", "terminated"):
            detail = state.get(name)
            if detail is not None:
                return name, detail
    return None, _NO_VALUES


def _condition(status: Mapping[str, Any], kind: str) -> bool:
    return any(
        c.get("type") == kind and c.get("status") == "True" for c in status.get("conditions") or ()
    )


def _condition_since(status: Mapping[str, Any], kind: str) -> str | None:
    """The condition's ``lastTransitionTime``: when its status last changed."""
    found = [c for c in status.get("conditions") or () if c.get("type") == kind]
    return found[0].get("lastTransitionTime") if found else None


def _taint_since(item: Mapping[str, Any], key: str) -> str | None:
    """The taint's ``timeAdded`` (a cordon's ``node.kubernetes.io/unschedulable`` taint), if
    the API set one: ``spec.unschedulable`` itself carries no time."""
    taints = [t for t in (item.get("spec") or {}).get("taints") or () if t.get("key") == key]
    return taints[0].get("timeAdded") if taints else None


_GO_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|h|m|s)")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_go_duration(text: str | None) -> float:
    """A Go ``time.Duration`` string in seconds (NaN when absent or malformed).

    >>> parse_go_duration("30s"), parse_go_duration("1m0.5s"), parse_go_duration("250ms")
    (30.0, 60.5, 0.25)
    """
    if not text:
        return float("nan")
    parts = _GO_DURATION.findall(text)
    if "".join(n + u for n, u in parts) != text:
        return float("nan")
    return sum(float(number) * _GO_UNITS[unit] for number, unit in parts)


def metrics_rows(items: Iterable[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    for item in items:
        namespace, pod = ns_name(item)
        window = parse_go_duration(item.get("window"))
        for entry in item.get("containers") or ():
            usage = entry.get("usage") or {}
            where = f"pod {namespace}/{pod} container {entry.get('name')}"
            cpu, memory = usage.get("cpu"), usage.get("memory")
            yield {
                "namespace": namespace,
                "pod": pod,
                "container": entry.get("name"),
                "timestamp": item.get("timestamp"),
                "window_s": window,
                "cpu_usage_cores": parse_cpu_cores(cpu, f"{where}: cpu usage") if cpu else None,
                "memory_usage_bytes": parse_bytes(memory, f"{where}: memory usage")
                if memory
                else None,
            }


_SPOT_LABELS = {
    "karpenter.sh/capacity-type": {"spot": "spot", "on-demand": "on-demand"},
    "eks.amazonaws.com/capacityType": {"SPOT": "spot", "ON_DEMAND": "on-demand"},
    "cloud.google.com/gke-spot": {"true": "spot"},
    "cloud.google.com/gke-preemptible": {"true": "spot"},
    "kubernetes.azure.com/scalesetpriority": {"spot": "spot", "regular": "on-demand"},
    "node.kubernetes.io/lifecycle": {"spot": "spot", "normal": "on-demand"},
}


def capacity_type(labels: Mapping[str, str]) -> str | None:
    """``"spot"``, ``"on-demand"`` or None, from the usual provisioner/cloud node labels.

    >>> capacity_type({"eks.amazonaws.com/capacityType": "SPOT"}), capacity_type({})
    ('spot', None)
    """
    for label, values in _SPOT_LABELS.items():
        if labels.get(label) in values:
            return values[labels[label]]
    if "cloud.google.com/gke-nodepool" in labels:
        return "on-demand"  # a GKE node that is neither spot nor preemptible
    return None


def _first_label(labels: Mapping[str, str], *names: str) -> str | None:
    return next((labels[n] for n in names if labels.get(n)), None)


def node_row(item: Mapping[str, Any]) -> dict[str, Any]:
    meta, status = item["metadata"], item.get("status") or {}
    labels = meta.get("labels") or {}
    capacity, allocatable = status.get("capacity") or {}, status.get("allocatable") or {}
    where = f"node {meta.get('name')}"

    def quantity(values: Mapping[str, Any], key: str, parse: Callable, label: str) -> Any:
        value = values.get(key)
        return None if value is None else parse(value, f"{where}: {label}")

    return {
        "node": meta.get("name"),
        "instance_type": _first_label(
            labels, "node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type"
        ),
        "zone": _first_label(
            labels, "topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone"
        ),
        "region": _first_label(
            labels, "topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/region"
        ),
        "capacity_type": capacity_type(labels),
        "cpu_capacity_cores": quantity(capacity, "cpu", parse_cpu_cores, "cpu capacity"),
        "cpu_allocatable_cores": quantity(allocatable, "cpu", parse_cpu_cores, "cpu allocatable"),
        "memory_capacity_bytes": quantity(capacity, "memory", parse_bytes, "memory capacity"),
        "memory_allocatable_bytes": quantity(
            allocatable, "memory", parse_bytes, "memory allocatable"
        ),
        "pods_capacity": _whole(quantity(capacity, "pods", parse_bytes, "pods capacity")),
        "pods_allocatable": _whole(quantity(allocatable, "pods", parse_bytes, "pods allocatable")),
        "ready": _condition(status, "Ready"),
        "ready_since": _condition_since(status, "Ready"),
        "unschedulable": bool((item.get("spec") or {}).get("unschedulable")),
        "unschedulable_since": _taint_since(item, "node.kubernetes.io/unschedulable"),
        "kubelet_version": (status.get("nodeInfo") or {}).get("kubeletVersion"),
        "created": meta.get("creationTimestamp"),
    }


def _whole(value: float | None) -> int | None:
    return None if value is None else int(value)


def _storage(values: Mapping[str, Any] | None, where: str) -> float | None:
    value = (values or {}).get("storage")
    return None if value is None else parse_bytes(value, where)


def pv_row(item: Mapping[str, Any], mounted: set[tuple[str, str]]) -> dict[str, Any]:
    meta, spec = item["metadata"], item.get("spec") or {}
    claim = spec.get("claimRef") or {}
    phase = (item.get("status") or {}).get("phase")
    key = (claim.get("namespace"), claim.get("name"))
    return {
        "pv": meta.get("name"),
        "phase": phase,
        "capacity_bytes": _storage(spec.get("capacity"), f"pv {meta.get('name')}: capacity"),
        "storage_class": spec.get("storageClassName"),
        "access_modes": ",".join(spec.get("accessModes") or ()) or None,
        "reclaim_policy": spec.get("persistentVolumeReclaimPolicy"),
        "claim_namespace": key[0],
        "claim_name": key[1],
        "mounted_by_pod": phase == "Bound" and key in mounted,
        "created": meta.get("creationTimestamp"),
    }


def claim_row(item: Mapping[str, Any], mounted: set[tuple[str, str]]) -> dict[str, Any]:
    meta, spec, status = item["metadata"], item.get("spec") or {}, item.get("status") or {}
    where = f"claim {meta.get('namespace')}/{meta.get('name')}"
    return {
        "namespace": meta.get("namespace"),
        "claim": meta.get("name"),
        "phase": status.get("phase"),
        "pv": spec.get("volumeName"),
        "storage_class": spec.get("storageClassName"),
        "access_modes": ",".join(spec.get("accessModes") or ()) or None,
        "requested_bytes": _storage(
            (spec.get("resources") or {}).get("requests"), f"{where}: storage request"
        ),
        "capacity_bytes": _storage(status.get("capacity"), f"{where}: capacity"),
        "mounted_by_pod": ns_name(item) in mounted,
        "created": meta.get("creationTimestamp"),
    }


def event_row(item: Mapping[str, Any]) -> dict[str, Any]:
    """A core/v1 Event; newer fields (eventTime, series, reportingComponent) fill the gaps."""
    meta, involved = item.get("metadata") or {}, item.get("involvedObject") or {}
    series = item.get("series") or {}
    first = item.get("firstTimestamp") or item.get("eventTime") or meta.get("creationTimestamp")
    last = item.get("lastTimestamp") or series.get("lastObservedTime") or first
    return {
        "namespace": meta.get("namespace") or involved.get("namespace"),  # as kubectl shows
        "object_kind": involved.get("kind"),
        "object_name": involved.get("name"),
        "reason": item.get("reason"),
        "type": item.get("type"),
        "message": item.get("message"),
        "first_seen": first,
        "last_seen": last,
        "count": item.get("count") or series.get("count") or 1,
        "source_component": (item.get("source") or {}).get("component")
        or item.get("reportingComponent")
        or None,
    }


def revision(item: Mapping[str, Any]) -> int | None:
    value = ((item.get("metadata") or {}).get("annotations") or {}).get(_REVISION_ANNOTATION)
    return int(value) if value and value.isdigit() else None


_RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


def rollout_row(item: Mapping[str, Any]) -> dict[str, Any]:
    """A new ReplicaSet; one made by ``kubectl rollout restart`` (its pod template carries a
    ``restartedAt`` annotation) says so in its message."""
    namespace, name = ns_name(item)
    owner_kind, owner_name = controller(item) or ("ReplicaSet", name)
    template = ((item.get("spec") or {}).get("template") or {}).get("metadata") or {}
    restarted = (template.get("annotations") or {}).get(_RESTARTED_AT)
    message = f"new ReplicaSet {name} (revision {revision(item)})"
    if restarted:
        message += f", pod template restartedAt {restarted} (kubectl rollout restart)"
    return {
        "time": pd.Timestamp((item.get("metadata") or {}).get("creationTimestamp")),
        "namespace": namespace,
        "owner_kind": owner_kind,
        "owner_name": owner_name,
        "change": "rollout",
        "replicaset": name,
        "revision": revision(item),
        "replicas": (item.get("spec") or {}).get("replicas"),
        "message": message,
    }


_SCALED = re.compile(r"Scaled (up|down) replica set (\S+) (?:from \d+ )?to (\d+)")


def scaling_rows(
    events: pd.DataFrame, revisions: Mapping[tuple[str, str], int | None], start: pd.Timestamp
) -> Iterator[dict[str, Any]]:
    for event in events.itertuples(index=False):
        match = _SCALED.search(str(event.message))
        if match is None:
            continue
        direction, replicaset, replicas = match.groups()
        yield {
            "time": event.first_seen if event.first_seen >= start else event.last_seen,
            "namespace": event.namespace,
            "owner_kind": event.object_kind,
            "owner_name": event.object_name,
            "change": f"scale_{direction}",
            "replicaset": replicaset,
            "revision": revisions.get((event.namespace, replicaset)),
            "replicas": int(replicas),
            "message": event.message,
        }


def configmaps_used(pod: Mapping[str, Any]) -> set[str]:
    """Names of the ConfigMaps a pod reads: volumes (also projected), ``envFrom``, ``env``."""
    spec = pod.get("spec") or {}
    names = set()
    for volume in spec.get("volumes") or ():
        sources = [volume, *((volume.get("projected") or {}).get("sources") or ())]
        names |= {(v.get("configMap") or {}).get("name") for v in sources}
    for c in [*(spec.get("containers") or ()), *(spec.get("initContainers") or ())]:
        names |= {(e.get("configMapRef") or {}).get("name") for e in c.get("envFrom") or ()}
        names |= {
            ((e.get("valueFrom") or {}).get("configMapKeyRef") or {}).get("name")
            for e in c.get("env") or ()
        }
    return {n for n in names if n}


def configmap_rows(
    item: Mapping[str, Any], users: Mapping[tuple[str, str], set[tuple[str, str]]]
) -> list[dict[str, Any]]:
    """One row per workload reading the ConfigMap (one with no workload when none does);
    ``updated``: the newest ``managedFields`` time (metadata only: its data is not read)."""
    meta = item.get("metadata") or {}
    namespace, name = ns_name(item)
    times = [f.get("time") for f in meta.get("managedFields") or () if f.get("time")]
    row = {
        "namespace": namespace,
        "configmap": name,
        "resource_version": meta.get("resourceVersion"),
        "created": meta.get("creationTimestamp"),
        "updated": max(times, key=pd.Timestamp) if times else meta.get("creationTimestamp"),
    }
    owners = sorted(users.get((namespace, name), ())) or [(None, None)]
    return [{**row, "workload_kind": kind, "workload": owner} for kind, owner in owners]


def workload_row(
    item: Mapping[str, Any], kind: str, settings: KubernetesSettings
) -> dict[str, Any]:
    namespace, name = ns_name(item)
    spec, status = item.get("spec") or {}, item.get("status") or {}
    team, app = _labels(item, settings)
    return {
        "namespace": namespace,
        "kind": kind,
        "name": name,
        "replicas_desired": spec.get("replicas"),
        "replicas_ready": status.get("readyReplicas") or 0,
        "replicas_available": status.get("availableReplicas") or 0,
        "replicas_updated": status.get("updatedReplicas") or 0,
        "team": team,
        "app": app,
        "created": (item.get("metadata") or {}).get("creationTimestamp"),
    }


# -- the platform report: pod start phases and cert-manager Certificates ------------------------
POD_START_SCHEMA = {
    "namespace": "category",
    "pod": "category",
    "node": "category",
    "owner_kind": "category",
    "owner_name": "category",  # the Deployment (through its ReplicaSet) or StatefulSet ...
    "replicaset": "category",  # the controlling ReplicaSet, when there is one
    "created": "timestamp",
    "scheduled_at": "timestamp",  # each condition's lastTransitionTime, when it is True
    "initialized_at": "timestamp",
    "containers_ready_at": "timestamp",
    "ready_at": "timestamp",
    "ready": "bool",
    "restart_count": "int64",
}
CERTIFICATE_SCHEMA = {
    "namespace": "category",
    "name": "category",
    "secret_name": "category",
    "issuer": "category",  # Kind/name
    "dns_names": "str",
    "not_after": "timestamp",
    "renewal_time": "timestamp",
    "ready": "category",  # the Ready condition's status: True | False | Unknown
    "ready_reason": "category",
    "ready_message": "str",
}
_START_CONDITIONS = {
    "PodScheduled": "scheduled_at",
    "Initialized": "initialized_at",
    "ContainersReady": "containers_ready_at",
    "Ready": "ready_at",
}


def pod_start_row(
    item: Mapping[str, Any],
    replicaset_owners: Mapping[tuple[str, str], tuple[str, str]],
) -> dict[str, Any]:
    """A pod's creation and the time each start condition last turned True (None while it is
    not True): scheduling, init containers, containers ready, Ready (readiness gates too).

    >>> pod = {"metadata": {"name": "p", "namespace": "n", "creationTimestamp": "2026-11-16T10:00:00Z"},
    ...        "status": {"conditions": [{"type": "Ready", "status": "True",
    ...                                   "lastTransitionTime": "2026-11-16T10:03:10Z"}]}}
    >>> row = pod_start_row(pod, {})
    >>> row["ready_at"], row["scheduled_at"], row["ready"]
    ('2026-11-16T10:03:10Z', None, True)
    """  # noqa: E501
    meta, status = item.get("metadata") or {}, item.get("status") or {}
    owner_kind, owner_name = pod_owner(item, replicaset_owners)
    ref = controller(item)
    row: dict[str, Any] = {
        "namespace": meta.get("namespace"),
        "pod": meta.get("name"),
        "node": (item.get("spec") or {}).get("nodeName"),
        "owner_kind": owner_kind,
        "owner_name": owner_name,
        "replicaset": ref[1] if ref and ref[0] == "ReplicaSet" else None,
        "created": meta.get("creationTimestamp"),
        **dict.fromkeys(_START_CONDITIONS.values()),
        "ready": _condition(status, "Ready"),
        "restart_count": sum(
            s.get("restartCount") or 0 for s in status.get("containerStatuses") or ()
        ),
    }
    for condition in status.get("conditions") or ():
        column = _START_CONDITIONS.get(condition.get("type"))
        if column and condition.get("status") == "True":
            row[column] = condition.get("lastTransitionTime")
    return row


def certificate_row(item: Mapping[str, Any]) -> dict[str, Any]:
    """A cert-manager ``Certificate`` (cert-manager.io/v1): what it covers, when it expires,
    whether it is Ready."""
    meta, spec, status = (
        item.get("metadata") or {},
        item.get("spec") or {},
        item.get("status") or {},
    )
    issuer = spec.get("issuerRef") or {}
    ready = next(
        (c for c in status.get("conditions") or () if c.get("type") == "Ready"), _NO_VALUES
    )
    return {
        "namespace": meta.get("namespace"),
        "name": meta.get("name"),
        "secret_name": spec.get("secretName"),
        "issuer": f"{issuer.get('kind') or 'Issuer'}/{issuer.get('name')}" if issuer else None,
        "dns_names": ",".join(spec.get("dnsNames") or ()) or spec.get("commonName"),
        "not_after": status.get("notAfter"),
        "renewal_time": status.get("renewalTime"),
        "ready": ready.get("status") or "Unknown",
        "ready_reason": ready.get("reason"),
        "ready_message": ready.get("message"),
    }
