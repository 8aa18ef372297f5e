"""The simulated cluster's data model: nodes, workloads, revisions, pods, volumes, series and
the :class:`Cluster` that holds them. :mod:`~dwcp_diag.demo.simulator` builds one; the
Kubernetes lists (:mod:`~dwcp_diag.demo.kube`) and the OpenMetrics text
(:mod:`~dwcp_diag.demo.openmetrics`) are views of it, so they import this module and it
imports neither.

>>> Resources("250m", "1G", None, "1536Mi").as_dict()["limits"]
{'memory': '1536Mi'}
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from dwcp_diag.demo import postgres as demo_postgres
from dwcp_diag.sources.quantity import parse_bytes


def unix_s(time: pd.Timestamp | str | float) -> int:
    """Unix seconds of a time given as seconds, ISO string or Timestamp (naive = UTC)."""
    if isinstance(time, int | float | np.integer):
        return int(time)
    stamp = pd.Timestamp(time)
    return int((stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp).timestamp())


def iso_utc(seconds: float) -> str:
    """RFC 3339 in UTC at second precision, as the Kubernetes API writes times.

    >>> iso_utc(0)
    '1970-01-01T00:00:00Z'
    """
    return datetime.fromtimestamp(int(seconds), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------- topology


@dataclass(frozen=True)
class Node:
    """One worker node; quantities are spelled as the kubelet reports them."""

    name: str
    instance_type: str
    zone: str
    capacity_type: str  # karpenter.sh/capacity-type: on-demand | spot
    internal_ip: str
    created_s: int
    capacity: dict[str, str]
    allocatable: dict[str, str]


@dataclass(frozen=True)
class Resources:
    """Container requests and limits as quantity strings (``None``: not set)."""

    cpu_request: str
    memory_request: str
    cpu_limit: str | None
    memory_limit: str | None

    def as_dict(self) -> dict[str, dict[str, str]]:
        """The container's ``resources`` stanza; unset limits are left out.

        >>> Resources("250m", "1G", None, "1536Mi").as_dict()
        {'limits': {'memory': '1536Mi'}, 'requests': {'cpu': '250m', 'memory': '1G'}}
        """
        limits = {"cpu": self.cpu_limit, "memory": self.memory_limit}
        stanza = {"requests": {"cpu": self.cpu_request, "memory": self.memory_request}}
        present_limits = {name: value for name, value in limits.items() if value is not None}
        return {**({"limits": present_limits} if present_limits else {}), **stanza}


@dataclass(frozen=True)
class Usage:
    """How a workload's container uses CPU and memory (``load`` is 1.0 at the final peak)."""

    cpu_base_cores: float
    cpu_per_load_cores: float
    memory_base_bytes: float
    memory_daily_amplitude_bytes: float
    memory_noise_bytes: float


@dataclass(frozen=True)
class Workload:
    """A Deployment or StatefulSet with one container per pod."""

    namespace: str
    kind: str  # "Deployment" | "StatefulSet"
    name: str
    replicas: int
    team: str
    container: str
    image: str  # repository without tag
    tags: tuple[str, ...]  # one image tag per revision
    resources: Resources
    usage: Usage
    node_slots: tuple[int, ...]  # node index per replica
    created_days_before_end: float
    claim_template: str | None = None  # StatefulSet volumeClaimTemplate name
    volume_size: str | None = None
    mount_path: str | None = None


@dataclass(frozen=True)
class Revision:
    """One ReplicaSet (Deployment) or controller revision (StatefulSet) of a workload."""

    workload: Workload
    number: int  # deployment.kubernetes.io/revision, from 1
    template_hash: str
    created_s: int
    tag: str

    @property
    def replicaset_name(self) -> str:
        return f"{self.workload.name}-{self.template_hash}"


@dataclass(frozen=True)
class ContainerHistory:
    """Runs of a pod's container: restarts are ``len(start_times_s) - 1``."""

    start_times_s: np.ndarray
    termination_times_s: np.ndarray  # one per finished run, ascending
    termination_reason: str | None = None
    exit_code: int | None = None
    waiting_reason: str | None = None  # set when the container is not running at the end

    def restarts_at(self, times_s: np.ndarray) -> np.ndarray:
        """restartCount as kube-state-metrics reports it at each time.

        >>> runs = ContainerHistory(np.array([100, 500]), np.array([490]))
        >>> runs.restarts_at(np.array([50, 200, 600])).tolist()
        [0, 0, 1]
        """
        return np.maximum(np.searchsorted(self.start_times_s, times_s, side="right") - 1, 0)


@dataclass(frozen=True)
class Pod:
    """One pod over its lifetime (``deleted_s`` is ``None`` for pods alive at the end)."""

    name: str
    workload: Workload
    revision: Revision
    replica: int
    node: Node
    created_s: int
    deleted_s: int | None
    uid: str
    ip: str
    history: ContainerHistory

    @property
    def namespace(self) -> str:
        return self.workload.namespace

    @property
    def owner_kind(self) -> str:
        return "ReplicaSet" if self.workload.kind == "Deployment" else "StatefulSet"

    @property
    def owner_name(self) -> str:
        if self.workload.kind == "Deployment":
            return self.revision.replicaset_name
        return self.workload.name

    @property
    def labels(self) -> dict[str, str]:
        """The pod's metadata.labels."""
        common = {"app": self.workload.name, "team": self.workload.team}
        if self.workload.kind == "Deployment":
            return {**common, "pod-template-hash": self.revision.template_hash}
        return {
            **common,
            "apps.kubernetes.io/pod-index": str(self.replica),
            "controller-revision-hash": f"{self.workload.name}-{self.revision.template_hash}",
            "statefulset.kubernetes.io/pod-name": self.name,
        }

    @property
    def claim_name(self) -> str | None:
        if self.workload.claim_template is None:
            return None
        return f"{self.workload.claim_template}-{self.name}"


@dataclass(frozen=True)
class Volume:
    """A PersistentVolume and, when bound, its claim."""

    pv_name: str
    capacity: str
    storage_class: str
    reclaim_policy: str
    zone: str
    phase: str  # "Bound" | "Available"
    created_s: int
    claim_namespace: str | None = None
    claim_name: str | None = None
    claim_uid: str | None = None
    mounted_by: str | None = None  # pod name

    @property
    def capacity_bytes(self) -> float:
        return parse_bytes(self.capacity, context=f"persistent volume {self.pv_name}")


@dataclass(frozen=True)
class Rollout:
    """A Deployment rolling update from one ReplicaSet to the next."""

    workload: Workload
    time_s: int
    old: Revision
    new: Revision


@dataclass(frozen=True)
class Series:
    """One Prometheus series: ``values[k]`` is at ``grid_s[first_index + k]``."""

    family: str  # OpenMetrics family (counters without the ``_total`` suffix)
    kind: str  # "counter" | "gauge" | "histogram"
    name: str  # sample name, as Prometheus stores it
    labels: dict[str, str]
    first_index: int
    values: np.ndarray


@dataclass(eq=False)
class Cluster:
    """The simulated cluster: topology, histories, series and the truth about its problems."""

    seed: int
    start: pd.Timestamp
    end: pd.Timestamp
    scrape_interval_s: int
    grid_s: np.ndarray  # int64 Unix seconds, ascending, from start to end
    nodes: tuple[Node, ...]
    revisions: tuple[Revision, ...]
    rollouts: tuple[Rollout, ...]
    pods: tuple[Pod, ...]  # every pod that exists at some time in [start, end]
    volumes: tuple[Volume, ...]
    series: list[Series] = field(default_factory=list)
    truth: dict[str, Any] = field(default_factory=dict)

    @property
    def start_s(self) -> int:
        return int(self.start.timestamp())

    @property
    def end_s(self) -> int:
        return int(self.end.timestamp())

    @property
    def sample_count(self) -> int:
        return sum(len(series.values) for series in self.series)

    def pods_at_end(self) -> list[Pod]:
        """Pods that exist at ``end`` (what ``kubectl get pods`` shows then).

        >>> from dwcp_diag.demo.simulator import simulate
        >>> sorted({pod.workload.name for pod in simulate(days=1).pods_at_end()})[:2]
        ['dwcp-api', 'dwcp-api-staging']
        """
        return [pod for pod in self.pods if pod.deleted_s is None]

    def timestamps_of(self, series: Series) -> np.ndarray:
        return self.grid_s[series.first_index : series.first_index + len(series.values)]

    def iter_series(self) -> Iterator[tuple[str, dict[str, str], np.ndarray, np.ndarray]]:
        """Yield ``(metric_name, labels, timestamps_s, values)`` per series, family by family.

        >>> from dwcp_diag.demo.simulator import simulate
        >>> name, labels, ts, values = next(simulate(days=1).iter_series())
        >>> name, len(ts) == len(values)
        ('http_requests_total', True)
        """
        for series in self.series:
            yield series.name, dict(series.labels), self.timestamps_of(series), series.values

    def postgres_setup_sql(self) -> str:
        """Plain SQL creating the database scenario (see :mod:`dwcp_diag.demo.postgres`)."""
        return demo_postgres.setup_sql()

    def postgres_workload(self) -> list[tuple[str, int]]:
        """``(sql, repeat_count)`` statements that populate ``pg_stat_statements``."""
        return demo_postgres.workload()
