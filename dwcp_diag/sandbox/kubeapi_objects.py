"""Small builders of real Kubernetes JSON objects, for tests and the loader benchmark.

The simulator (``dwcp_diag.demo``) provides the default cluster; these builders make the
targeted objects a test needs (a known page count, an unmounted PV, an event in a window) and
the 10,000-pod cluster of ``benchmarks/k8s_loader.py``.

>>> objects = sample_objects()
>>> len(objects["pods"]["items"]), objects["pods"]["kind"]
(8, 'PodList')
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from dwcp_diag.demo.kube import LIST_KINDS

NOW = pd.Timestamp("2026-11-16T12:00:00Z")
Obj = dict[str, Any]


def ts(minutes_before_now: float) -> str:
    """An RFC 3339 timestamp ``minutes_before_now`` before :data:`NOW`."""
    return (NOW - pd.Timedelta(minutes=minutes_before_now)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _uid(*parts: str) -> str:
    digest = hashlib.sha1("/".join(parts).encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def metadata(
    name: str,
    namespace: str | None = None,
    *,
    created: float = 60 * 24,
    labels: Mapping[str, str] | None = None,
    owner: tuple[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> Obj:
    meta: Obj = {
        "name": name,
        "uid": _uid(namespace or "", name),
        "resourceVersion": "4242",
        "creationTimestamp": ts(created),
    }
    if namespace:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    if owner:
        kind, owner_name = owner
        api_version = "batch/v1" if kind == "Job" else "apps/v1"
        meta["ownerReferences"] = [
            {
                "apiVersion": api_version,
                "kind": kind,
                "name": owner_name,
                "uid": _uid(namespace or "", kind, owner_name),
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    return meta


def container(
    name: str,
    *,
    cpu_request: str | None = None,
    memory_request: str | None = None,
    cpu_limit: str | None = None,
    memory_limit: str | None = None,
    image: str | None = None,
) -> Obj:
    requests = {k: v for k, v in (("cpu", cpu_request), ("memory", memory_request)) if v}
    limits = {k: v for k, v in (("cpu", cpu_limit), ("memory", memory_limit)) if v}
    resources: Obj = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    return {
        "name": name,
        "image": image or f"registry.example/{name}:1.4.2",
        "resources": resources,
        "terminationMessagePath": "/dev/termination-log",
        "imagePullPolicy": "IfNotPresent",
    }


def running(name: str, *, restarts: int = 0, started: float = 600) -> Obj:
    return _status(name, restarts, {"running": {"startedAt": ts(started)}}, ready=True)


def crash_loop(name: str, *, restarts: int, exit_code: int, reason: str = "Error") -> Obj:
    """A container in CrashLoopBackOff whose last run ended with ``exit_code``."""
    state = {
        "waiting": {
            "reason": "CrashLoopBackOff",
            "message": f"back-off 5m0s restarting failed container={name}",
        }
    }
    return _status(name, restarts, state, ready=False, last=terminated(exit_code, reason, 3))


def oom_killed(name: str, *, restarts: int, started: float = 20) -> Obj:
    """A running container whose previous run was OOMKilled (exit 137)."""
    state = {"running": {"startedAt": ts(started)}}
    return _status(name, restarts, state, ready=True, last=terminated(137, "OOMKilled", started))


def terminated(exit_code: int, reason: str, finished: float) -> Obj:
    return {
        "terminated": {
            "exitCode": exit_code,
            "reason": reason,
            "startedAt": ts(finished + 30),
            "finishedAt": ts(finished),
            "containerID": "containerd://" + "ab" * 32,
        }
    }


def _status(name: str, restarts: int, state: Obj, *, ready: bool, last: Obj | None = None):
    return {
        "name": name,
        "state": state,
        "lastState": last or {},
        "ready": ready,
        "restartCount": restarts,
        "image": f"registry.example/{name}:1.4.2",
        "imageID": "registry.example/" + name + "@sha256:" + "cd" * 32,
        "containerID": "containerd://" + "ef" * 32,
        "started": "running" in state,
    }


def pod(
    namespace: str,
    name: str,
    *,
    node: str | None,
    containers: Sequence[Obj],
    statuses: Sequence[Obj] | None = None,
    owner: tuple[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    phase: str = "Running",
    claims: Iterable[str] = (),
    qos: str = "Burstable",
    created: float = 60 * 24,
) -> Obj:
    spec: Obj = {"containers": list(containers), "restartPolicy": "Always"}
    if node:
        spec["nodeName"] = node
    volumes = [{"name": c, "persistentVolumeClaim": {"claimName": c}} for c in claims]
    spec["volumes"] = [*volumes, {"name": "kube-api-access", "projected": {"sources": []}}]
    if statuses is None:
        statuses = [running(c["name"]) for c in containers]
    ready = all(s.get("ready") for s in statuses) and phase == "Running"
    status: Obj = {
        "phase": phase,
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        "qosClass": qos,
    }
    if node:
        status["hostIP"] = "10.0.0.1"
        status["startTime"] = ts(created - 1)
        status["containerStatuses"] = list(statuses)
    meta = metadata(name, namespace, created=created, labels=labels, owner=owner)
    return {"metadata": meta, "spec": spec, "status": status}


def replicaset(
    namespace: str,
    name: str,
    deployment: str,
    *,
    revision: int,
    replicas: int,
    created: float,
    labels: Mapping[str, str] | None = None,
) -> Obj:
    annotations = {"deployment.kubernetes.io/revision": str(revision)}
    meta = metadata(
        name,
        namespace,
        created=created,
        labels=labels,
        owner=("Deployment", deployment),
        annotations=annotations,
    )
    return {
        "metadata": meta,
        "spec": {"replicas": replicas, "template": {"spec": {"containers": []}}},
        "status": {"replicas": replicas, "readyReplicas": replicas, "observedGeneration": 1},
    }


def workload(
    kind: str, namespace: str, name: str, *, replicas: int, ready: int | None = None, **kw: Any
) -> Obj:
    """A Deployment or StatefulSet."""
    ready = replicas if ready is None else ready
    return {
        "metadata": metadata(name, namespace, **kw),
        "spec": {"replicas": replicas},
        "status": {
            "replicas": replicas,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "updatedReplicas": replicas,
            "observedGeneration": 3,
        },
    }


def node(
    name: str,
    *,
    cpu: str = "8",
    memory: str = "32Gi",
    pods: str = "110",
    instance_type: str = "m6i.2xlarge",
    zone: str = "eu-west-1a",
    capacity_labels: Mapping[str, str] | None = None,
    ready: bool = True,
    ready_since: float = 60 * 24 * 30,
    cordoned: float | None = None,
) -> Obj:
    """A Node; ``ready_since``: minutes before NOW of its Ready condition's last transition;
    ``cordoned``: minutes before NOW it was cordoned (``spec.unschedulable`` and its taint)."""
    labels = {
        "kubernetes.io/hostname": name,
        "node.kubernetes.io/instance-type": instance_type,
        "topology.kubernetes.io/zone": zone,
        "topology.kubernetes.io/region": zone[:-1].rstrip("-"),
        **(capacity_labels or {}),
    }
    allocatable_cpu = f"{int(float(cpu) * 1000) - 90}m"
    spec: Obj = {"providerID": f"aws:///{zone}/i-0{name[-4:]}"}
    if cordoned is not None:
        taint = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
        spec |= {"unschedulable": True, "taints": [{**taint, "timeAdded": ts(cordoned)}]}
    ready_condition = {"type": "Ready", "status": "True" if ready else "Unknown"}
    return {
        "metadata": metadata(name, created=60 * 24 * 30, labels=labels),
        "spec": spec,
        "status": {
            "capacity": {"cpu": cpu, "memory": memory, "pods": pods, "ephemeral-storage": "80Gi"},
            "allocatable": {"cpu": allocatable_cpu, "memory": memory, "pods": pods},
            "conditions": [
                {"type": "MemoryPressure", "status": "False"},
                {**ready_condition, "lastTransitionTime": ts(ready_since)},
            ],
            "nodeInfo": {"kubeletVersion": "v1.30.4", "osImage": "Bottlerocket OS 1.20.0"},
        },
    }


def configmap(namespace: str, name: str, *, updated: float, created: float = 60 * 24 * 30) -> Obj:
    """A ConfigMap last written ``updated`` minutes before NOW (its ``managedFields`` time)."""
    meta = metadata(name, namespace, created=created)
    meta["resourceVersion"] = str(4242 + int(created - updated))
    writes = [(created, "kubectl-client-side-apply"), (updated, "kubectl-edit")]
    meta["managedFields"] = [
        {"manager": who, "operation": "Update", "apiVersion": "v1", "time": ts(at)}
        for at, who in writes
    ]
    return {"metadata": meta, "data": {"settings.yaml": "log_level: info\n"}}


def persistent_volume(
    name: str,
    *,
    capacity: str,
    phase: str,
    claim: tuple[str, str] | None = None,
    storage_class: str = "gp3",
    reclaim: str = "Delete",
) -> Obj:
    spec: Obj = {
        "capacity": {"storage": capacity},
        "accessModes": ["ReadWriteOnce"],
        "persistentVolumeReclaimPolicy": reclaim,
        "storageClassName": storage_class,
        "volumeMode": "Filesystem",
    }
    if claim:
        spec["claimRef"] = {
            "kind": "PersistentVolumeClaim",
            "namespace": claim[0],
            "name": claim[1],
            "apiVersion": "v1",
        }
    return {
        "metadata": metadata(name, created=60 * 24 * 10),
        "spec": spec,
        "status": {"phase": phase},
    }


def claim(
    namespace: str, name: str, *, volume: str | None, request: str, phase: str = "Bound"
) -> Obj:
    spec: Obj = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": request}},
        "storageClassName": "gp3",
        "volumeMode": "Filesystem",
    }
    status: Obj = {"phase": phase}
    if volume:
        spec["volumeName"] = volume
        status["capacity"] = {"storage": request}
        status["accessModes"] = ["ReadWriteOnce"]
    return {
        "metadata": metadata(name, namespace, created=60 * 24 * 10),
        "spec": spec,
        "status": status,
    }


def event(
    namespace: str,
    reason: str,
    *,
    kind: str,
    name: str,
    message: str,
    first: float,
    last: float | None = None,
    count: int = 1,
    type: str = "Normal",
    component: str = "kubelet",
) -> Obj:
    event_name = f"{name}.{hashlib.sha1(f'{reason}{first}'.encode()).hexdigest()[:12]}"
    return {
        "metadata": metadata(event_name, namespace, created=first),
        "involvedObject": {
            "kind": kind,
            "namespace": namespace,
            "name": name,
            "apiVersion": "apps/v1" if kind in ("Deployment", "ReplicaSet") else "v1",
        },
        "reason": reason,
        "message": message,
        "source": {"component": component},
        "firstTimestamp": ts(first),
        "lastTimestamp": ts(first if last is None else last),
        "count": count,
        "type": type,
        "eventTime": None,
        "reportingComponent": component,
        "reportingInstance": "",
    }


def pod_metrics(
    namespace: str, name: str, usage: Mapping[str, tuple[str, str]], *, window: str = "30s"
) -> Obj:
    """PodMetrics; ``usage`` maps container name to ``(cpu, memory)`` quantities."""
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "creationTimestamp": ts(0),
            "labels": {},
        },
        "timestamp": ts(0.5),
        "window": window,
        "containers": [
            {"name": c, "usage": {"cpu": cpu, "memory": memory}}
            for c, (cpu, memory) in usage.items()
        ],
    }


def list_doc(key: str, items: Iterable[Obj]) -> Obj:
    """A List document (``PodList`` ...) of ``items``, as the API server returns it."""
    kind, api_version = LIST_KINDS[key]
    return {
        "kind": kind,
        "apiVersion": api_version,
        "metadata": {"resourceVersion": "4242"},
        "items": list(items),
    }


def objects(**items: Iterable[Obj]) -> dict[str, Obj]:
    """Every List the stand-in serves; the keys not given are empty lists."""
    return {key: list_doc(key, items.get(key, ())) for key in LIST_KINDS}


API_LABELS = {"app": "dwcp-api", "team": "platform", "pod-template-hash": "7d9f8b6c5d"}


def _api_containers() -> list[Obj]:
    return [
        container(
            "api", cpu_request="500m", memory_request="512Mi", cpu_limit="1", memory_limit="1Gi"
        ),
        container("envoy", cpu_request="100m", memory_request="128Mi", memory_limit="256Mi"),
    ]


def sample_objects() -> dict[str, Obj]:
    """A small cluster with every case the loader tests look for."""
    rs_new, rs_old = "dwcp-api-7d9f8b6c5d", "dwcp-api-5f6d7c8b9a"
    api_pods = [
        pod(
            "production",
            f"{rs_new}-{s}",
            node="ip-10-0-1-11",
            containers=_api_containers(),
            owner=("ReplicaSet", rs_new),
            labels=API_LABELS,
            statuses=st,
        )
        for s, st in (
            ("x2k4p", None),
            ("b7q9z", [crash_loop("api", restarts=14, exit_code=1), running("envoy")]),
            ("m3n8c", [oom_killed("api", restarts=3), running("envoy")]),
        )
    ]
    pods = [
        *api_pods,
        pod(
            "production",
            "postgres-0",
            node="ip-10-0-1-12",
            owner=("StatefulSet", "postgres"),
            containers=[
                container(
                    "postgres",
                    cpu_request="2",
                    memory_request="8Gi",
                    cpu_limit="2",
                    memory_limit="8Gi",
                )
            ],
            labels={"app": "postgres", "team": "data"},
            claims=["data-postgres-0"],
            qos="Guaranteed",
        ),
        pod(
            "monitoring",
            "node-exporter-abcde",
            node="ip-10-0-1-11",
            owner=("DaemonSet", "node-exporter"),
            containers=[container("node-exporter")],
            labels={"app.kubernetes.io/name": "node-exporter"},
            qos="BestEffort",
        ),
        pod(
            "production",
            "db-migrate-28474560-q8w7e",
            node="ip-10-0-1-12",
            owner=("Job", "db-migrate-28474560"),
            phase="Succeeded",
            containers=[container("migrate", cpu_request="250m", memory_request="256Mi")],
            statuses=[_status("migrate", 0, terminated(0, "Completed", 30), ready=False)],
        ),
        pod("staging", "scratch", node=None, phase="Pending", containers=[container("shell")]),
        pod(
            "staging",
            "reports-0",
            node="ip-10-0-1-13",
            owner=("StatefulSet", "reports"),
            containers=[container("reports", cpu_request="12345678n", memory_request="129e6")],
            labels={"app": "reports", "team": "analytics"},
            claims=["data-reports-0"],
        ),
    ]
    return objects(
        pods=pods,
        replicasets=[
            replicaset(
                "production",
                rs_new,
                "dwcp-api",
                revision=7,
                replicas=3,
                created=90,
                labels=API_LABELS,
            ),
            replicaset(
                "production", rs_old, "dwcp-api", revision=6, replicas=0, created=60 * 24 * 3
            ),
        ],
        deployments=[workload("Deployment", "production", "dwcp-api", replicas=3, ready=2)],
        statefulsets=[
            workload("StatefulSet", "production", "postgres", replicas=1),
            workload("StatefulSet", "staging", "reports", replicas=1),
        ],
        nodes=[
            node("ip-10-0-1-11", capacity_labels={"karpenter.sh/capacity-type": "spot"}),
            node("ip-10-0-1-12", capacity_labels={"eks.amazonaws.com/capacityType": "ON_DEMAND"}),
            node(
                "ip-10-0-1-13",
                cpu="4",
                memory="16Gi",
                instance_type="e2-standard-4",
                zone="europe-west1-b",
                capacity_labels={"cloud.google.com/gke-spot": "true"},
                ready=False,
            ),
        ],
        persistentvolumes=[
            persistent_volume(
                "pvc-postgres",
                capacity="100Gi",
                phase="Bound",
                claim=("production", "data-postgres-0"),
            ),
            persistent_volume(
                "pvc-orphan", capacity="50Gi", phase="Bound", claim=("staging", "data-old-0")
            ),
            persistent_volume("pv-manual", capacity="20Gi", phase="Available", reclaim="Retain"),
            persistent_volume(
                "pvc-reports", capacity="10Gi", phase="Bound", claim=("staging", "data-reports-0")
            ),
        ],
        persistentvolumeclaims=[
            claim("production", "data-postgres-0", volume="pvc-postgres", request="100Gi"),
            claim("staging", "data-old-0", volume="pvc-orphan", request="50Gi"),
            claim("staging", "data-reports-0", volume="pvc-reports", request="10Gi"),
        ],
        events=[
            event(
                "production",
                "ScalingReplicaSet",
                kind="Deployment",
                name="dwcp-api",
                message=f"Scaled up replica set {rs_new} from 0 to 3",
                first=89,
            ),
            event(
                "production",
                "ScalingReplicaSet",
                kind="Deployment",
                name="dwcp-api",
                message=f"Scaled down replica set {rs_old} from 3 to 0",
                first=80,
            ),
            event(
                "production",
                "BackOff",
                kind="Pod",
                name=f"{rs_new}-b7q9z",
                type="Warning",
                message="Back-off restarting failed container api",
                first=70,
                last=2,
                count=55,
            ),
            event(
                "staging",
                "FailedScheduling",
                kind="Pod",
                name="scratch",
                type="Warning",
                message="0/3 nodes are available: 3 Insufficient cpu.",
                first=60 * 5,
                component="default-scheduler",
            ),
        ],
        pod_metrics=[
            pod_metrics(
                "production",
                f"{rs_new}-x2k4p",
                {"api": ("123456789n", "300Mi"), "envoy": ("2m", "40Mi")},
            ),
            pod_metrics("production", "postgres-0", {"postgres": ("1500m", "6Gi")}, window="1m0s"),
        ],
    )


def scaled_objects(pods: int = 10_000, containers: int = 2, namespaces: int = 20) -> dict[str, Obj]:
    """A big cluster: ``pods`` Deployment pods of ``containers`` containers each."""
    deployments = max(1, pods // 10)
    replicasets, pod_items = [], []
    for d in range(deployments):
        ns, name = f"team-{d % namespaces:02d}", f"svc-{d:04d}"
        rs = f"{name}-{d:010x}"
        labels = {"app": name, "team": f"team-{d % namespaces:02d}", "pod-template-hash": rs[-10:]}
        replicasets.append(replicaset(ns, rs, name, revision=1, replicas=10, created=600))
        for p in range(pods // deployments):
            spec = [
                container(
                    f"c{c}",
                    cpu_request="250m",
                    memory_request="256Mi",
                    cpu_limit="1",
                    memory_limit="512Mi",
                )
                for c in range(containers)
            ]
            pod_items.append(
                pod(
                    ns,
                    f"{rs}-{p:05d}",
                    node=f"node-{p % 200:03d}",
                    containers=spec,
                    owner=("ReplicaSet", rs),
                    labels=labels,
                )
            )
    nodes = [node(f"node-{n:03d}") for n in range(200)]
    return objects(pods=pod_items, replicasets=replicasets, nodes=nodes)
