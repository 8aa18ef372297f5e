"""Kubernetes API list responses for a simulated cluster, state as of ``cluster.end``.

Shapes follow what the apiserver returns from list calls (``GET /api/v1/pods`` gives a
``PodList`` whose items carry no ``kind``/``apiVersion`` of their own). Zero-valued optional
status fields are omitted like ``omitempty`` does, and quantities use the spellings found in
real clusters (``250m``, ``1.5``, ``2Gi``, ``1G``, ``268435456``, ``32386148Ki``) so the
loader's quantity parser meets them all.

>>> from dwcp_diag.demo import simulate
>>> lists = build_kube_objects(simulate(days=1))
>>> lists["pods"]["kind"], len(lists["pods"]["items"]), lists["pod_metrics"]["apiVersion"]
('PodList', 18, 'metrics.k8s.io/v1beta1')
"""

from __future__ import annotations

import itertools
from typing import Any

from dwcp_diag.demo import platform
from dwcp_diag.demo.model import Cluster, Node, Pod, Revision, Series, Volume, Workload
from dwcp_diag.demo.simulator import (
    CONTAINER_START_DELAY_S,
    ROLLOUT_READY_DELAY_S,
    ROLLOUT_STAGGER_S,
    WORKLOADS,
    canonical_quantity,
    iso_utc,
    stable_digest,
    stable_name_suffix,
    stable_uid,
)
from dwcp_diag.sources.quantity import parse_bytes, parse_quantity

JsonObject = dict[str, Any]

LIST_KINDS = {
    # key: (list kind, apiVersion)
    "pods": ("PodList", "v1"),
    "nodes": ("NodeList", "v1"),
    "persistentvolumes": ("PersistentVolumeList", "v1"),
    "persistentvolumeclaims": ("PersistentVolumeClaimList", "v1"),
    "events": ("EventList", "v1"),
    "replicasets": ("ReplicaSetList", "apps/v1"),
    "deployments": ("DeploymentList", "apps/v1"),
    "statefulsets": ("StatefulSetList", "apps/v1"),
    "pod_metrics": ("PodMetricsList", "metrics.k8s.io/v1beta1"),
    "certificates": ("CertificateList", "cert-manager.io/v1"),
    "configmaps": ("ConfigMapList", "v1"),
}
_CONTAINER_PORTS = {
    "api": 8080,
    "worker": 8081,
    "scheduler": 8082,
    "postgres": 5432,
    "redis": 6379,
    "kafka": 9092,
    "prometheus": 9090,
}
_DEFAULT_TOLERATIONS = [
    {"effect": "NoExecute", "key": key, "operator": "Exists", "tolerationSeconds": 300}
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")
]


def build_kube_objects(cluster: Cluster) -> dict[str, JsonObject]:
    """Kubernetes List objects as a real apiserver returns them, state as of the cluster's
    ``end``: all lists, keyed like ``"pods"``, ``"nodes"``, ..., ``"pod_metrics"``."""
    return _KubeBuilder(cluster).build()


def _hex(length: int, *parts: object) -> str:
    return stable_digest(*parts, size=(length + 1) // 2).hex()[:length]


def _condition(kind: str, status: bool, since_s: float, **extra: str | None) -> JsonObject:
    """A status condition; ``extra`` adds the kind-specific fields (reason, heartbeat, ...)."""
    return {
        "type": kind,
        "status": "True" if status else "False",
        "lastTransitionTime": iso_utc(since_s),
        **extra,
    }


class _KubeBuilder:
    """Builds the lists; resourceVersions increase in build order, from a seed-derived base."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.seed = cluster.seed
        self.end_s = cluster.end_s
        base = 40_000_000 + int.from_bytes(stable_digest(self.seed, "rv", size=3), "big")
        self._versions = itertools.count(base)
        self._container_series: dict[tuple[str, str], Series] = {
            (series.name, series.labels["pod"]): series
            for series in cluster.series
            if series.name.startswith("container_")
        }

    def build(self) -> dict[str, JsonObject]:
        items = {
            "nodes": [self._node(node) for node in self.cluster.nodes],
            "statefulsets": [self._statefulset(w) for w in self._workloads("StatefulSet")],
            "deployments": [self._deployment(w) for w in self._workloads("Deployment")],
            "replicasets": [
                self._replicaset(revision)
                for revision in self.cluster.revisions
                if revision.workload.kind == "Deployment"
            ],
            "pods": [self._pod(pod) for pod in self.cluster.pods_at_end()],
            "persistentvolumes": [self._persistentvolume(v) for v in self.cluster.volumes],
            "persistentvolumeclaims": [
                self._persistentvolumeclaim(v) for v in self.cluster.volumes if v.claim_name
            ],
            "events": self._events(),
            "pod_metrics": [self._pod_metrics(pod) for pod in self.cluster.pods_at_end()],
            "certificates": platform.certificate_objects(self),
            "configmaps": [self._configmap()],
        }
        list_version = str(next(self._versions))
        return {
            key: {
                "kind": LIST_KINDS[key][0],
                "apiVersion": LIST_KINDS[key][1],
                "metadata": {"resourceVersion": list_version},
                "items": items[key],
            }
            for key in LIST_KINDS
        }

    # -- helpers ------------------------------------------------------------------------------

    @staticmethod
    def _workloads(kind: str) -> list[Workload]:
        return [workload for workload in WORKLOADS if workload.kind == kind]

    def _metadata(
        self, kind: str, name: str, created_s: float, namespace: str | None = None, **extra: Any
    ) -> JsonObject:
        metadata: JsonObject = {"name": name}
        if namespace is not None:
            metadata["namespace"] = namespace
        metadata |= {
            "uid": stable_uid(self.seed, kind, namespace or "", name),
            "resourceVersion": str(next(self._versions)),
            "creationTimestamp": iso_utc(created_s),
        }
        return metadata | extra

    def _owner_reference(self, kind: str, name: str, namespace: str) -> JsonObject:
        return {
            "apiVersion": "apps/v1",
            "kind": kind,
            "name": name,
            "uid": stable_uid(self.seed, kind, namespace, name),
            "controller": True,
            "blockOwnerDeletion": True,
        }

    def _revisions_of(self, workload: Workload) -> list[Revision]:
        return [revision for revision in self.cluster.revisions if revision.workload is workload]

    def _pods_of(self, workload: Workload) -> list[Pod]:
        return [pod for pod in self.cluster.pods_at_end() if pod.workload is workload]

    @staticmethod
    def _is_ready(pod: Pod) -> bool:
        return pod.history.waiting_reason is None

    def _container_spec(self, workload: Workload, tag: str) -> JsonObject:
        spec: JsonObject = {
            "name": workload.container,
            "image": f"{workload.image}:{tag}",
            "imagePullPolicy": "IfNotPresent",
            "ports": [
                {
                    "name": "http",
                    "containerPort": _CONTAINER_PORTS[workload.container],
                    "protocol": "TCP",
                }
            ],
            "resources": workload.resources.as_dict(),
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
        }
        if workload.claim_template is not None:
            spec["volumeMounts"] = [
                {"name": workload.claim_template, "mountPath": workload.mount_path}
            ]
        return spec

    def _template(self, workload: Workload, revision: Revision) -> JsonObject:
        labels = {"app": workload.name, "team": workload.team}
        if workload.kind == "Deployment":
            labels["pod-template-hash"] = revision.template_hash
        return {
            "metadata": {"labels": labels},
            "spec": {
                "containers": [self._container_spec(workload, revision.tag)],
                "restartPolicy": "Always",
                "terminationGracePeriodSeconds": 30,
                "dnsPolicy": "ClusterFirst",
                "schedulerName": "default-scheduler",
            },
        }

    # -- workloads ------------------------------------------------------------------------------

    def _deployment(self, workload: Workload) -> JsonObject:
        revisions = self._revisions_of(workload)
        latest = revisions[-1]
        pods = self._pods_of(workload)
        ready = sum(self._is_ready(pod) for pod in pods)
        template = self._template(workload, latest)
        del template["metadata"]["labels"]["pod-template-hash"]
        created_s = revisions[0].created_s
        status: JsonObject = {
            "observedGeneration": len(revisions),
            "replicas": len(pods),
            "updatedReplicas": len(pods),
        }
        if ready:
            status |= {"readyReplicas": ready, "availableReplicas": ready}
        if len(pods) - ready:
            status["unavailableReplicas"] = len(pods) - ready
        available = ready >= workload.replicas - workload.replicas // 4  # maxUnavailable 25 %
        updated = iso_utc(latest.created_s + ROLLOUT_READY_DELAY_S)
        failing_since_s = [
            pod.history.termination_times_s[0] for pod in pods if not self._is_ready(pod)
        ]
        available_since_s = min(failing_since_s) if failing_since_s else latest.created_s
        status["conditions"] = [
            _condition(
                "Available",
                available,
                available_since_s,
                lastUpdateTime=iso_utc(available_since_s) if failing_since_s else updated,
                reason="MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
                message="Deployment has minimum availability."
                if available
                else "Deployment does not have minimum availability.",
            ),
            _condition(
                "Progressing",
                True,
                latest.created_s,
                lastUpdateTime=updated,
                reason="NewReplicaSetAvailable",
                message=f'ReplicaSet "{latest.replicaset_name}" has successfully progressed.',
            ),
        ]
        return {
            "metadata": self._metadata(
                "Deployment",
                workload.name,
                created_s,
                workload.namespace,
                generation=len(revisions),
                labels={"app": workload.name, "team": workload.team},
                annotations={"deployment.kubernetes.io/revision": str(latest.number)},
            ),
            "spec": {
                "replicas": workload.replicas,
                "selector": {"matchLabels": {"app": workload.name}},
                "template": template,
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
                },
                "revisionHistoryLimit": 10,
                "progressDeadlineSeconds": 600,
            },
            "status": status,
        }

    def _replicaset(self, revision: Revision) -> JsonObject:
        workload = revision.workload
        is_latest = self._revisions_of(workload)[-1] is revision
        pods = self._pods_of(workload) if is_latest else []
        ready = sum(self._is_ready(pod) for pod in pods)
        status: JsonObject = {"replicas": len(pods)}
        if pods:
            status["fullyLabeledReplicas"] = len(pods)
        if ready:
            status |= {"readyReplicas": ready, "availableReplicas": ready}
        status["observedGeneration"] = 1 if is_latest else 2
        return {
            "metadata": self._metadata(
                "ReplicaSet",
                revision.replicaset_name,
                revision.created_s,
                workload.namespace,
                generation=status["observedGeneration"],
                labels={
                    "app": workload.name,
                    "team": workload.team,
                    "pod-template-hash": revision.template_hash,
                },
                annotations={
                    "deployment.kubernetes.io/desired-replicas": str(workload.replicas),
                    "deployment.kubernetes.io/max-replicas": str(workload.replicas + 1),
                    "deployment.kubernetes.io/revision": str(revision.number),
                },
                ownerReferences=[
                    self._owner_reference("Deployment", workload.name, workload.namespace)
                ],
            ),
            "spec": {
                "replicas": workload.replicas if is_latest else 0,
                "selector": {
                    "matchLabels": {
                        "app": workload.name,
                        "pod-template-hash": revision.template_hash,
                    }
                },
                "template": self._template(workload, revision),
            },
            "status": status,
        }

    def _statefulset(self, workload: Workload) -> JsonObject:
        revision = self._revisions_of(workload)[-1]
        pods = self._pods_of(workload)
        ready = sum(self._is_ready(pod) for pod in pods)
        spec: JsonObject = {
            "replicas": workload.replicas,
            "serviceName": f"{workload.name}-headless",
            "selector": {"matchLabels": {"app": workload.name}},
            "template": self._template(workload, revision),
            "podManagementPolicy": "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            "revisionHistoryLimit": 10,
            "persistentVolumeClaimRetentionPolicy": {
                "whenDeleted": "Retain",
                "whenScaled": "Retain",
            },
        }
        if workload.claim_template is not None:
            spec["volumeClaimTemplates"] = [
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": {"name": workload.claim_template},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "storageClassName": "gp3",
                        "resources": {"requests": {"storage": workload.volume_size}},
                        "volumeMode": "Filesystem",
                    },
                }
            ]
        current_revision = f"{workload.name}-{revision.template_hash}"
        return {
            "metadata": self._metadata(
                "StatefulSet",
                workload.name,
                revision.created_s,
                workload.namespace,
                generation=1,
                labels={"app": workload.name, "team": workload.team},
            ),
            "spec": spec,
            "status": {
                "observedGeneration": 1,
                "replicas": len(pods),
                "readyReplicas": ready,
                "currentReplicas": len(pods),
                "updatedReplicas": len(pods),
                "availableReplicas": ready,
                "currentRevision": current_revision,
                "updateRevision": current_revision,
                "collisionCount": 0,
            },
        }

    # -- pods ---------------------------------------------------------------------------------

    def _container_status(self, pod: Pod) -> JsonObject:
        history = pod.history
        workload = pod.workload
        starts_s, ends_s = history.start_times_s, history.termination_times_s

        def container_id(run: int) -> str:
            return "containerd://" + _hex(64, self.seed, pod.uid, run)

        status: JsonObject = {
            "name": workload.container,
            "image": f"{workload.image}:{pod.revision.tag}",
            "imageID": f"{workload.image}@sha256:" + _hex(64, workload.image, pod.revision.tag),
            "containerID": container_id(len(starts_s) - 1),
            "restartCount": len(starts_s) - 1,
            "ready": self._is_ready(pod),
            "started": self._is_ready(pod),
        }
        if history.waiting_reason is not None:
            message = (
                f"back-off 5m0s restarting failed container={workload.container} "
                f"pod={pod.name}_{pod.namespace}({pod.uid})"
            )
            status["state"] = {"waiting": {"reason": history.waiting_reason, "message": message}}
        else:
            status["state"] = {"running": {"startedAt": iso_utc(starts_s[-1])}}
        status["lastState"] = {}
        if len(ends_s):
            last_run = len(ends_s) - 1
            status["lastState"] = {
                "terminated": {
                    "exitCode": history.exit_code,
                    "reason": history.termination_reason,
                    "startedAt": iso_utc(starts_s[last_run]),
                    "finishedAt": iso_utc(ends_s[last_run]),
                    "containerID": container_id(last_run),
                }
            }
        return status

    def _pod(self, pod: Pod) -> JsonObject:
        workload = pod.workload
        resources = workload.resources
        limits = (resources.cpu_limit, resources.memory_limit)
        requests = (resources.cpu_request, resources.memory_request)
        guaranteed = all(
            limit is not None and parse_quantity(limit) == parse_quantity(request)
            for limit, request in zip(limits, requests, strict=True)
        )
        qos = "Guaranteed" if guaranteed else "Burstable"
        token_volume = f"kube-api-access-{stable_name_suffix(5, self.seed, pod.uid)}"
        volumes: list[JsonObject] = []
        if pod.claim_name is not None:
            volumes.append(
                {
                    "name": workload.claim_template,
                    "persistentVolumeClaim": {"claimName": pod.claim_name},
                }
            )
        volumes.append(
            {
                "name": token_volume,
                "projected": {
                    "defaultMode": 420,
                    "sources": [
                        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}
                    ],
                },
            }
        )
        container = self._container_spec(workload, pod.revision.tag)
        container.setdefault("volumeMounts", []).append(
            {
                "name": token_volume,
                "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                "readOnly": True,
            }
        )
        ready = self._is_ready(pod)
        running_since_s = pod.history.start_times_s[-1]
        ready_since_s = running_since_s if ready else pod.history.termination_times_s[-1]
        metadata_extra: JsonObject = {}
        if workload.kind == "Deployment":
            metadata_extra["generateName"] = f"{pod.revision.replicaset_name}-"
        metadata = self._metadata(
            "Pod",
            pod.name,
            pod.created_s,
            pod.namespace,
            labels=pod.labels,
            ownerReferences=[self._owner_reference(pod.owner_kind, pod.owner_name, pod.namespace)],
            **metadata_extra,
        )
        metadata["uid"] = pod.uid
        return {
            "metadata": metadata,
            "spec": {
                "containers": [container],
                "volumes": volumes,
                "nodeName": pod.node.name,
                "restartPolicy": "Always",
                "terminationGracePeriodSeconds": 30,
                "dnsPolicy": "ClusterFirst",
                "serviceAccountName": "default",
                "schedulerName": "default-scheduler",
                "priority": 0,
                "enableServiceLinks": True,
                "preemptionPolicy": "PreemptLowerPriority",
                "securityContext": {},
                "tolerations": _DEFAULT_TOLERATIONS,
            },
            "status": {
                "phase": "Running",
                "conditions": platform.pod_conditions(pod, ready, ready_since_s),
                "hostIP": pod.node.internal_ip,
                "hostIPs": [{"ip": pod.node.internal_ip}],
                "podIP": pod.ip,
                "podIPs": [{"ip": pod.ip}],
                "startTime": iso_utc(pod.created_s),
                "containerStatuses": [self._container_status(pod)],
                "qosClass": qos,
            },
        }

    def _pod_metrics(self, pod: Pod) -> JsonObject:
        """metrics-server's view: the last working set and the CPU rate over the last scrape."""
        memory = self._container_series[("container_memory_working_set_bytes", pod.name)].values
        cpu_seconds = self._container_series[("container_cpu_usage_seconds_total", pod.name)].values
        interval_s = self.cluster.scrape_interval_s
        if len(cpu_seconds) > 1 and cpu_seconds[-1] >= cpu_seconds[-2]:
            cpu_cores = (cpu_seconds[-1] - cpu_seconds[-2]) / interval_s
        else:  # the counter restarted within the last interval
            cpu_cores = cpu_seconds[-1] / interval_s
        if pod.namespace == "staging":  # another metrics-server build: whole millicores
            cpu_cores = round(cpu_cores, 3)
        return {
            "metadata": {
                "name": pod.name,
                "namespace": pod.namespace,
                "creationTimestamp": iso_utc(self.end_s),
                "labels": pod.labels,
            },
            "timestamp": iso_utc(self.cluster.grid_s[-1]),
            "window": "30s",
            "containers": [
                {
                    "name": pod.workload.container,
                    "usage": {
                        "cpu": canonical_quantity(cpu_cores),
                        "memory": canonical_quantity(memory[-1], binary=True),
                    },
                }
            ],
        }

    # -- nodes and storage ----------------------------------------------------------------------

    def _node(self, node: Node) -> JsonObject:
        instance = _hex(17, self.seed, "instance", node.name)
        labels = {
            "beta.kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/instance-type": node.instance_type,
            "beta.kubernetes.io/os": "linux",
            "failure-domain.beta.kubernetes.io/region": "eu-west-1",
            "failure-domain.beta.kubernetes.io/zone": node.zone,
            "karpenter.sh/capacity-type": node.capacity_type,
            "karpenter.sh/nodepool": "default",
            "kubernetes.io/arch": "amd64",
            "kubernetes.io/hostname": node.name,
            "kubernetes.io/os": "linux",
            "node.kubernetes.io/instance-type": node.instance_type,
            "topology.kubernetes.io/region": "eu-west-1",
            "topology.kubernetes.io/zone": node.zone,
        }
        heartbeat = iso_utc(self.end_s - 17)
        conditions = [
            _condition(
                kind,
                kind == "Ready",
                node.created_s + (40 if kind == "Ready" else 0),
                lastHeartbeatTime=heartbeat,
                reason=reason,
                message=message,
            )
            for kind, reason, message in (
                ("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory"),
                ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                ("Ready", "KubeletReady", "kubelet is posting ready status"),
            )
        ]
        return {
            "metadata": self._metadata(
                "Node",
                node.name,
                node.created_s,
                labels=labels,
                annotations={
                    "node.alpha.kubernetes.io/ttl": "0",
                    "alpha.kubernetes.io/provided-node-ip": node.internal_ip,
                },
            ),
            "spec": {"providerID": f"aws:///{node.zone}/i-{instance}"},
            "status": {
                "capacity": dict(node.capacity),
                "allocatable": dict(node.allocatable),
                "conditions": conditions,
                "addresses": [
                    {"type": "InternalIP", "address": node.internal_ip},
                    {"type": "InternalDNS", "address": node.name},
                    {"type": "Hostname", "address": node.name},
                ],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "nodeInfo": {
                    "machineID": _hex(32, self.seed, "machine", node.name),
                    "systemUUID": "ec2" + _hex(29, self.seed, "system", node.name),
                    "bootID": stable_uid(self.seed, "boot", node.name),
                    "kernelVersion": "6.1.112-122.189.amzn2023.x86_64",
                    "osImage": "Amazon Linux 2023.6.20241031",
                    "containerRuntimeVersion": "containerd://1.7.22",
                    "kubeletVersion": "v1.30.4-eks-a737599",
                    "kubeProxyVersion": "v1.30.4-eks-a737599",
                    "operatingSystem": "linux",
                    "architecture": "amd64",
                },
            },
        }

    def _configmap(self) -> JsonObject:
        """The platform's settings, never written since the first rollout (no change point);
        its own resourceVersion, so the other objects' versions stay as they were."""
        workload = self._workloads("Deployment")[0]
        created_s = min(r.created_s for r in self._revisions_of(workload))
        name, namespace = "dwcp-settings", workload.namespace
        metadata = {
            "name": name,
            "namespace": namespace,
            "uid": stable_uid(self.seed, "ConfigMap", namespace, name),
            "resourceVersion": "1",
            "creationTimestamp": iso_utc(created_s),
        }
        return {"metadata": metadata, "data": {"log_level": "info"}}

    def _persistentvolume(self, volume: Volume) -> JsonObject:
        dynamic = volume.pv_name.startswith("pvc-")
        spec: JsonObject = {
            "accessModes": ["ReadWriteOnce"],
            "capacity": {"storage": volume.capacity},
        }
        if volume.claim_name is not None:
            spec["claimRef"] = {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "name": volume.claim_name,
                "namespace": volume.claim_namespace,
                "uid": volume.claim_uid,
            }
        spec |= {
            "csi": {
                "driver": "ebs.csi.aws.com",
                "fsType": "ext4",
                "volumeHandle": "vol-0" + _hex(16, self.seed, "ebs", volume.pv_name),
            },
            "nodeAffinity": {
                "required": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {
                                    "key": "topology.kubernetes.io/zone",
                                    "operator": "In",
                                    "values": [volume.zone],
                                }
                            ]
                        }
                    ]
                }
            },
            "persistentVolumeReclaimPolicy": volume.reclaim_policy,
            "storageClassName": volume.storage_class,
            "volumeMode": "Filesystem",
        }
        annotations = {"pv.kubernetes.io/provisioned-by": "ebs.csi.aws.com"} if dynamic else {}
        return {
            "metadata": self._metadata(
                "PersistentVolume",
                volume.pv_name,
                volume.created_s,
                annotations=annotations,
                finalizers=["kubernetes.io/pv-protection"],
            ),
            "spec": spec,
            "status": {
                "phase": volume.phase,
                "lastPhaseTransitionTime": iso_utc(volume.created_s + 2),
            },
        }

    def _persistentvolumeclaim(self, volume: Volume) -> JsonObject:
        mounting = next(
            (pod for pod in self.cluster.pods_at_end() if pod.name == volume.mounted_by), None
        )
        annotations = {
            "pv.kubernetes.io/bind-completed": "yes",
            "pv.kubernetes.io/bound-by-controller": "yes",
            "volume.beta.kubernetes.io/storage-provisioner": "ebs.csi.aws.com",
            "volume.kubernetes.io/storage-provisioner": "ebs.csi.aws.com",
        }
        labels: JsonObject = {}
        if mounting is not None:
            annotations["volume.kubernetes.io/selected-node"] = mounting.node.name
            labels = {"app": mounting.workload.name}
        metadata = self._metadata(
            "PersistentVolumeClaim",
            str(volume.claim_name),
            volume.created_s - 2,
            volume.claim_namespace,
            labels=labels,
            annotations=annotations,
            finalizers=["kubernetes.io/pvc-protection"],
        )
        metadata["uid"] = volume.claim_uid
        return {
            "metadata": metadata,
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": volume.capacity}},
                "storageClassName": volume.storage_class,
                "volumeMode": "Filesystem",
                "volumeName": volume.pv_name,
            },
            "status": {
                "phase": "Bound",
                "accessModes": ["ReadWriteOnce"],
                "capacity": {"storage": volume.capacity},
            },
        }

    # -- events -------------------------------------------------------------------------------

    def _event(
        self,
        involved: JsonObject,
        reason: str,
        message: str,
        first_s: float,
        last_s: float | None = None,
        count: int = 1,
        warning: bool = False,
        component: str = "kubelet",
        host: str | None = None,
    ) -> JsonObject:
        namespace = involved.get("namespace", "default")
        name = f"{involved['name']}.{_hex(16, self.seed, involved['name'], reason, first_s)}"
        source = {"component": component} | ({"host": host} if host else {})
        return {
            "metadata": self._metadata("Event", name, first_s, namespace),
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "source": source,
            "firstTimestamp": iso_utc(first_s),
            "lastTimestamp": iso_utc(last_s if last_s is not None else first_s),
            "count": count,
            "type": "Warning" if warning else "Normal",
            "eventTime": None,
            "reportingComponent": component,
            "reportingInstance": host or "",
        }

    def _involved(
        self, kind: str, name: str, namespace: str, api_version: str, **extra: str
    ) -> JsonObject:
        return {
            "kind": kind,
            "namespace": namespace,
            "name": name,
            "uid": stable_uid(self.seed, kind, namespace, name),
            "apiVersion": api_version,
            **extra,
        }

    def _events(self) -> list[JsonObject]:
        events: list[JsonObject] = []
        for rollout in self.cluster.rollouts:
            events += self._rollout_events(
                rollout.workload, rollout.old, rollout.new, rollout.time_s
            )
            events += platform.pull_events(self, rollout)
        for pod in self.cluster.pods_at_end():
            events += self._restart_events(pod)
        events.sort(key=lambda event: (event["lastTimestamp"], event["metadata"]["name"]))
        return events

    def _rollout_events(
        self, workload: Workload, old: Revision, new: Revision, time_s: int
    ) -> list[JsonObject]:
        namespace = workload.namespace
        deployment = self._involved("Deployment", workload.name, namespace, "apps/v1")
        pods = {(pod.revision.template_hash, pod.replica): pod for pod in self.cluster.pods}
        events = []
        for replica in range(workload.replicas):
            up_s = time_s + replica * ROLLOUT_STAGGER_S
            down_s = up_s + ROLLOUT_READY_DELAY_S
            remaining = workload.replicas - replica - 1
            new_pod, old_pod = (
                pods[(new.template_hash, replica)],
                pods[(old.template_hash, replica)],
            )
            container = f"spec.containers{{{workload.container}}}"
            new_involved = self._involved("Pod", new_pod.name, namespace, "v1")
            events += [
                self._event(
                    deployment,
                    "ScalingReplicaSet",
                    f"Scaled up replica set {new.replicaset_name} to {replica + 1}",
                    up_s,
                    component="deployment-controller",
                ),
                self._event(
                    self._involved("ReplicaSet", new.replicaset_name, namespace, "apps/v1"),
                    "SuccessfulCreate",
                    f"Created pod: {new_pod.name}",
                    up_s,
                    component="replicaset-controller",
                ),
                self._event(
                    new_involved,
                    "Scheduled",
                    f"Successfully assigned {namespace}/{new_pod.name} to {new_pod.node.name}",
                    up_s + 1,
                    component="default-scheduler",
                ),
                self._event(
                    new_involved | {"fieldPath": container},
                    "Started",
                    f"Started container {workload.container}",
                    up_s + CONTAINER_START_DELAY_S,
                    host=new_pod.node.name,
                ),
                self._event(
                    deployment,
                    "ScalingReplicaSet",
                    f"Scaled down replica set {old.replicaset_name} to {remaining}",
                    down_s,
                    component="deployment-controller",
                ),
                self._event(
                    self._involved("ReplicaSet", old.replicaset_name, namespace, "apps/v1"),
                    "SuccessfulDelete",
                    f"Deleted pod: {old_pod.name}",
                    down_s,
                    component="replicaset-controller",
                ),
                self._event(
                    self._involved("Pod", old_pod.name, namespace, "v1", fieldPath=container),
                    "Killing",
                    f"Stopping container {workload.container}",
                    down_s,
                    host=old_pod.node.name,
                ),
            ]
        return events

    def _restart_events(self, pod: Pod) -> list[JsonObject]:
        history = pod.history
        in_window = (history.termination_times_s >= self.cluster.start_s) & (
            history.termination_times_s <= self.end_s
        )
        terminations_s = history.termination_times_s[in_window]
        if not len(terminations_s):
            return []
        container = pod.workload.container
        involved = self._involved("Pod", pod.name, pod.namespace, "v1") | {
            "uid": pod.uid,
            "fieldPath": f"spec.containers{{{container}}}",
        }
        restarts_s = history.start_times_s[1:]
        restarts_s = restarts_s[restarts_s >= self.cluster.start_s]
        image = f"{pod.workload.image}:{pod.revision.tag}"
        events = []
        if len(restarts_s):
            events += [
                self._event(
                    involved,
                    "Pulled",
                    f'Container image "{image}" already present on machine',
                    restarts_s[0] - 1,
                    restarts_s[-1] - 1,
                    len(restarts_s),
                    host=pod.node.name,
                ),
                self._event(
                    involved,
                    "Started",
                    f"Started container {container}",
                    restarts_s[0],
                    restarts_s[-1],
                    len(restarts_s),
                    host=pod.node.name,
                ),
            ]
        if history.waiting_reason == "CrashLoopBackOff":
            events.append(
                self._event(
                    involved,
                    "BackOff",
                    f"Back-off restarting failed container {container} in pod "
                    f"{pod.name}_{pod.namespace}({pod.uid})",
                    terminations_s[0] + 1,
                    self.end_s - 5,
                    len(terminations_s),
                    warning=True,
                    host=pod.node.name,
                )
            )
        if history.termination_reason == "OOMKilled":
            node = {"kind": "Node", "name": pod.node.name, "uid": pod.node.name}
            memory_kb = int(parse_bytes(pod.workload.resources.memory_limit or "0") // 1024)
            for number, oom_s in enumerate(terminations_s):
                pid = 3000 + int.from_bytes(stable_digest(pod.uid, number, size=2), "big")
                message = (
                    f"Memory cgroup out of memory: Killed process {pid} ({container}) "
                    f"total-vm:{memory_kb + 412_332}kB, anon-rss:{memory_kb - 2_048}kB, "
                    "file-rss:18644kB, shmem-rss:0kB, UID:1000 pgtables:2312kB oom_score_adj:984"
                )
                events.append(
                    self._event(
                        node,
                        "OOMKilling",
                        message,
                        oom_s,
                        warning=True,
                        component="kernel-monitor",
                        host=pod.node.name,
                    )
                )
        return events
