"""A deterministic model of a DWCP-like Kubernetes cluster and every series it would expose.

One call builds the topology (nodes, workloads, revisions, pods, volumes), the container
histories (an OOM-killing memory leak, a crash loop) and all Prometheus series on a regular
time grid, with numpy and no per-sample Python loops. ``cluster.truth`` describes every
seeded problem so tests can check that the analysis finds exactly those.

Randomness: every series and every name gets its own generator derived from the seed and a
stable (blake2b) hash of what it is, so adding a series never changes another one and the
same seed always gives byte-identical output.

>>> cluster = simulate(days=1)
>>> cluster.truth["memory_leak"]["rate_mib_per_h"], cluster.truth["end"]
(25.0, '2026-11-16T00:00:00Z')
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd

from dwcp_diag.demo import postgres as demo_postgres
from dwcp_diag.demo.model import (
    Cluster,
    ContainerHistory,
    Node,
    Pod,
    Resources,
    Revision,
    Rollout,
    Series,
    Usage,
    Volume,
    Workload,
    unix_s,
)
from dwcp_diag.sources.quantity import parse_bytes, parse_cpu_cores, parse_quantity

DEMO_END = pd.Timestamp("2026-11-16T00:00:00Z")
DEMO_DAYS = 28
DEMO_SCRAPE_INTERVAL_S = 120
DEMO_SEED = 20251110

MIB = 2**20
GIB = 2**30
HOUR_S = 3600
DAY_S = 86_400
WEEK_S = 7 * DAY_S
PAGE_BYTES = 4096  # cAdvisor working sets are whole pages, so they are exact in Ki as well

# Rolling updates (maxSurge 1): a new pod every ROLLOUT_STAGGER_S; the old one leaves once the
# new one is ready, which takes minutes here (KI-005).
ROLLOUT_STAGGER_S = 150
ROLLOUT_READY_DELAY_S = 240
CONTAINER_START_DELAY_S = 20
OOM_RESTART_DELAY_S = 10

# Traffic: weekday evening peak (UTC) and compound weekly growth; the peak at the end stays
# below the 12k RPS where Redis starts timing out (KI-002).
PEAK_RPS_AT_END = 11_000.0
RPS_LIMIT_KI_002 = 12_000.0
TRAFFIC_WEEKLY_GROWTH_RATIO = 0.03
DAILY_AMPLITUDE = 0.45
PEAK_HOUR_UTC = 18.0
HEALTHZ_RPS = 24.0
# Weekly profile as (hour of the week from Monday 00:00, level): weekends run at 72 %.
_WEEK_KNOTS_H = (3.0, 117.0, 123.0, 165.0)
_WEEK_LEVELS = (1.0, 1.0, 0.72, 0.72)

DB_SIZE_BYTES_AT_END = 48 * GIB
DB_WEEKLY_GROWTH_RATIO = 0.02
DB_MAX_CONNECTIONS = 200
POOL_EXHAUSTION_HOURS_UTC = (17, 19)
POOL_EXHAUSTION_CONNECTIONS = (185, 199)

LEAK_RATE_MIB_PER_H = 25.0
LEAK_BASE_MIB = 300.0

KAFKA_PARTITIONS = 20
LAG_SPIKE_RISE_S = 240
LAG_SPIKE_PLATEAU_END_S = 540
LAG_SPIKE_DECAY_S = 180
LAG_SPIKE_DURATION_S = 1080

HISTOGRAM_BOUNDS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.25, 0.5, 1.0, 2.5, 5.0)
PV_PHASES = ("Pending", "Available", "Bound", "Released", "Failed")


# ---------------------------------------------------------------------------- identity, time


def stable_digest(*parts: object, size: int = 16) -> bytes:
    """A digest of ``parts`` that is the same in every process (unlike ``hash()``).

    >>> stable_digest("a", 1).hex()[:8] == stable_digest("a", 1).hex()[:8]
    True
    """
    text = "\x1f".join(str(part) for part in parts)
    return hashlib.blake2b(text.encode(), digest_size=size).digest()


def stable_rng(*parts: object) -> np.random.Generator:
    """A numpy generator seeded from ``parts`` (seed first, then what the numbers are for).

    >>> float(stable_rng(1, "x").random()) == float(stable_rng(1, "x").random())
    True
    """
    return np.random.default_rng(int.from_bytes(stable_digest(*parts), "big"))


def stable_uid(*parts: object) -> str:
    """A Kubernetes-style UID (UUID v4 layout) derived from ``parts``.

    >>> len(stable_uid(1, "Pod", "x"))
    36
    """
    return str(uuid.UUID(bytes=stable_digest("uid", *parts), version=4))


_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # the apiserver's "safe" alphabet, no vowels


def stable_name_suffix(length: int, *parts: object) -> str:
    """A pod-template-hash or pod-name suffix as Kubernetes generates them.

    >>> len(stable_name_suffix(5, 1, "pod"))
    5
    """
    digest = stable_digest("name", *parts, size=length)
    return "".join(_NAME_ALPHABET[byte % len(_NAME_ALPHABET)] for byte in digest)


def iso_utc(seconds: float) -> str:
    """RFC 3339 in UTC at second precision, as the Kubernetes API writes times.

    >>> iso_utc(0)
    '1970-01-01T00:00:00Z'
    """
    return datetime.fromtimestamp(int(seconds), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def canonical_quantity(value: float, binary: bool = False) -> str:
    """A quantity as the apiserver prints it back: the largest suffix with a whole mantissa.

    >>> canonical_quantity(1.5), canonical_quantity(0.045), canonical_quantity(716800 * 1024, True)
    ('1500m', '45m', '700Mi')
    >>> canonical_quantity(0.247351533), canonical_quantity(128974848)
    ('247351533n', '128974848')
    """
    if binary:
        for power, suffix in ((4, "Ti"), (3, "Gi"), (2, "Mi"), (1, "Ki")):
            if value % 1024**power == 0:
                return f"{int(value // 1024**power)}{suffix}"
        return str(int(value))
    nano = round(value * 1e9)
    for power, suffix in ((6, "G"), (5, "M"), (4, "k"), (3, ""), (2, "m"), (1, "u")):
        if nano % 1000**power == 0:
            return f"{nano // 1000**power}{suffix}"
    return f"{nano}n"


def _at(end_s: int, days_before_end: float, clock: str) -> int:
    """The time ``clock`` (HH:MM UTC) on the day that starts ``days_before_end`` before end."""
    hours, minutes = (int(part) for part in clock.split(":"))
    return int(end_s - days_before_end * DAY_S + hours * HOUR_S + minutes * 60)


_INSTANCE_TYPES = {
    # instance type: (capacity cpu, capacity memory, allocatable cpu, allocatable memory)
    "m6i.2xlarge": ("8", "32386148Ki", "7910m", "31369316Ki"),
    "m6i.xlarge": ("4", "16112172Ki", "3920m", "15095340Ki"),
    "r6i.xlarge": ("4", "32389700Ki", "3920m", "31372868Ki"),
}
_NODE_LAYOUT = (
    # (hostname, instance type, zone, capacity type, days before end it joined)
    ("ip-10-0-1-17", "m6i.2xlarge", "eu-west-1a", "on-demand", 96),
    ("ip-10-0-2-143", "m6i.2xlarge", "eu-west-1b", "on-demand", 96),
    ("ip-10-0-3-88", "m6i.2xlarge", "eu-west-1c", "spot", 71),
    ("ip-10-0-1-201", "r6i.xlarge", "eu-west-1a", "on-demand", 120),
    ("ip-10-0-2-59", "m6i.xlarge", "eu-west-1b", "spot", 52),
)

WORKLOADS = (
    Workload(
        namespace="production", kind="Deployment", name="dwcp-api", replicas=4, team="platform",
        container="api", image="registry.dwcp.io/dwcp/api",
        tags=("v3.14.0", "v3.14.1", "v3.15.0", "v3.15.1"),
        resources=Resources(cpu_request="1", memory_request="1Gi", cpu_limit="2",
                            memory_limit="2Gi"),
        usage=Usage(cpu_base_cores=0.04, cpu_per_load_cores=0.36, memory_base_bytes=700 * MIB,
                    memory_daily_amplitude_bytes=120 * MIB, memory_noise_bytes=12 * MIB),
        node_slots=(0, 0, 1, 2), created_days_before_end=45,
    ),
    Workload(
        namespace="production", kind="Deployment", name="dwcp-worker", replicas=3, team="payments",
        container="worker", image="registry.dwcp.io/dwcp/worker", tags=("v3.14.0", "v3.14.2"),
        resources=Resources(cpu_request="500m", memory_request="512Mi", cpu_limit="1",
                            memory_limit="1Gi"),
        usage=Usage(cpu_base_cores=0.12, cpu_per_load_cores=0.30, memory_base_bytes=400 * MIB,
                    memory_daily_amplitude_bytes=0, memory_noise_bytes=6 * MIB),
        node_slots=(0, 1, 2), created_days_before_end=45,
    ),
    Workload(
        namespace="production", kind="Deployment", name="dwcp-scheduler", replicas=1,
        team="platform", container="scheduler", image="registry.dwcp.io/dwcp/scheduler",
        tags=("v3.13.4",),
        resources=Resources(cpu_request="100m", memory_request="268435456", cpu_limit="500m",
                            memory_limit="500M"),
        usage=Usage(cpu_base_cores=0.06, cpu_per_load_cores=0.02, memory_base_bytes=180 * MIB,
                    memory_daily_amplitude_bytes=0, memory_noise_bytes=4 * MIB),
        node_slots=(1,), created_days_before_end=45,
    ),
    Workload(
        namespace="data", kind="StatefulSet", name="postgres-primary", replicas=1, team="data",
        container="postgres", image="docker.io/library/postgres", tags=("15.4",),
        resources=Resources(cpu_request="1500m", memory_request="6Gi", cpu_limit=None,
                            memory_limit="8Gi"),
        usage=Usage(cpu_base_cores=0.45, cpu_per_load_cores=0.85, memory_base_bytes=5.2 * GIB,
                    memory_daily_amplitude_bytes=0.15 * GIB, memory_noise_bytes=40 * MIB),
        node_slots=(3,), created_days_before_end=62,
        claim_template="data", volume_size="200Gi", mount_path="/var/lib/postgresql/data",
    ),
    Workload(
        namespace="data", kind="StatefulSet", name="redis", replicas=3, team="data",
        container="redis", image="docker.io/library/redis", tags=("7.2.4",),
        resources=Resources(cpu_request="250m", memory_request="1G", cpu_limit=None,
                            memory_limit="1536Mi"),
        usage=Usage(cpu_base_cores=0.28, cpu_per_load_cores=0.2, memory_base_bytes=700 * MIB,
                    memory_daily_amplitude_bytes=0, memory_noise_bytes=5 * MIB),
        node_slots=(0, 1, 2), created_days_before_end=62,
    ),
    Workload(
        namespace="data", kind="StatefulSet", name="kafka", replicas=3, team="data",
        container="kafka", image="docker.io/bitnami/kafka", tags=("3.6.1",),
        resources=Resources(cpu_request="1", memory_request="4Gi", cpu_limit=None,
                            memory_limit="6e9"),
        usage=Usage(cpu_base_cores=0.35, cpu_per_load_cores=0.45, memory_base_bytes=3.4 * GIB,
                    memory_daily_amplitude_bytes=0, memory_noise_bytes=25 * MIB),
        node_slots=(0, 1, 2), created_days_before_end=62,
        claim_template="data", volume_size="500Gi", mount_path="/bitnami/kafka",
    ),
    Workload(
        namespace="monitoring", kind="StatefulSet", name="prometheus", replicas=1,
        team="observability", container="prometheus", image="quay.io/prometheus/prometheus",
        tags=("v2.48.1",),
        resources=Resources(cpu_request="500m", memory_request="2Gi", cpu_limit="1",
                            memory_limit=None),
        usage=Usage(cpu_base_cores=0.30, cpu_per_load_cores=0.12, memory_base_bytes=1.7 * GIB,
                    memory_daily_amplitude_bytes=0, memory_noise_bytes=30 * MIB),
        node_slots=(3,), created_days_before_end=62,
        claim_template="prometheus-db", volume_size="100Gi", mount_path="/prometheus",
    ),
    Workload(
        namespace="staging", kind="Deployment", name="dwcp-api-staging", replicas=2,
        team="platform", container="api", image="registry.dwcp.io/dwcp/api",
        tags=("v3.16.0-rc.2",),
        resources=Resources(cpu_request="2", memory_request="4Gi", cpu_limit="2",
                            memory_limit="4Gi"),
        usage=Usage(cpu_base_cores=0.045, cpu_per_load_cores=0.0, memory_base_bytes=300 * MIB,
                    memory_daily_amplitude_bytes=0, memory_noise_bytes=8 * MIB),
        node_slots=(4, 2), created_days_before_end=30,
    ),
)  # fmt: skip

# (deployment, days before end, clock UTC); the last dwcp-api one falls inside the incident.
ROLLOUT_SCHEDULE = (
    ("dwcp-api", 23, "10:30"),
    ("dwcp-worker", 18, "11:00"),
    ("dwcp-api", 11, "15:20"),
    ("dwcp-api", 4, "14:05"),
)
INCIDENT_DAYS_BEFORE_END = 4  # 2026-11-12 for the default end
INCIDENT_LATENCY_CLOCK = ("14:00", "14:45")
INCIDENT_ERRORS_CLOCK = ("14:10", "14:25")
CRASHLOOP_HOURS_BEFORE_END = 20.0
CRASHLOOP_WORKLOAD = "dwcp-scheduler"
LEAK_WORKLOAD = "dwcp-worker"
LEAK_REPLICA = 1  # the second pod of the latest dwcp-worker ReplicaSet leaks


@dataclass(frozen=True)
class PathProfile:
    """One API path: its share of traffic and its latency distribution (lognormal)."""

    path: str
    traffic_share: float  # of the non-healthz traffic; 0 for a fixed-rate path
    fixed_rps: float
    median_s: float
    sigma: float
    not_found_ratio: float
    server_error_ratio: float  # 500 and 503 together, 3:1


PATHS = (
    PathProfile("/api/v1/tasks", 0.36, 0.0, 0.040, 0.6, 0.004, 0.0002),
    PathProfile("/api/v1/users", 0.22, 0.0, 0.025, 0.5, 0.006, 0.0002),
    PathProfile("/api/v1/orders", 0.17, 0.0, 0.045, 0.5, 0.003, 0.0002),
    PathProfile("/api/v1/search", 0.25, 0.0, 0.050, 0.5, 0.0, 0.0002),
    PathProfile("/healthz", 0.0, HEALTHZ_RPS, 0.002, 0.3, 0.0, 0.0),
)
INCIDENT_LATENCY_PATH = "/api/v1/tasks"
INCIDENT_LATENCY_MEDIAN_S = 0.24  # histogram_quantile(0.95) over the buckets comes out ~0.8 s
INCIDENT_ERRORS_PATH = "/api/v1/orders"
INCIDENT_SERVER_ERROR_RATIO = 0.05
LATENCY_LOAD_SLOWDOWN = 0.12  # median latency is 12 % higher at full load


# ---------------------------------------------------------------------------- math helpers


def _normal_cdf(z: np.ndarray) -> np.ndarray:
    """Standard normal CDF (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7), vectorised."""
    x = np.abs(z) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = np.zeros_like(t)
    for coefficient in (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly = (poly + coefficient) * t  # Horner; five array operations, not per sample
    erf = 1.0 - poly * np.exp(-x * x)
    return 0.5 * (1.0 + np.sign(z) * erf)


def _lognormal_bucket_cdf(median_s: np.ndarray, sigma: float) -> np.ndarray:
    """P(latency <= le) for each bound, shape ``(len(median_s), len(HISTOGRAM_BOUNDS_S))``."""
    bounds = np.log(np.asarray(HISTOGRAM_BOUNDS_S))
    z = (bounds[None, :] - np.log(median_s)[:, None]) / sigma
    # The approximation is monotone to ~1e-7; enforce it so buckets never decrease in le.
    return np.maximum.accumulate(_normal_cdf(z), axis=1)


def histogram_quantile(quantile: float, bucket_cdf: np.ndarray) -> float:
    """Prometheus' histogram_quantile over cumulative bucket fractions (last bucket +Inf).

    >>> round(histogram_quantile(0.5, np.array([0.0, 0.0, 0.0, 0.0, 1.0, *[1.0] * 6])), 3)
    0.075
    """
    bounds = (0.0, *HISTOGRAM_BOUNDS_S)
    index = int(np.searchsorted(bucket_cdf, quantile, side="left"))
    if index >= len(HISTOGRAM_BOUNDS_S):
        return HISTOGRAM_BOUNDS_S[-1]
    below = float(bucket_cdf[index - 1]) if index > 0 else 0.0
    share = (quantile - below) / (float(bucket_cdf[index]) - below)
    return bounds[index] + (bounds[index + 1] - bounds[index]) * share


def _lag_spike_profile(since_rollout_s: np.ndarray) -> np.ndarray:
    """Share of the peak lag (0..1): ramps up, holds while consumers rebalance, then drains."""
    draining_s = np.maximum(since_rollout_s - LAG_SPIKE_PLATEAU_END_S, 0.0)
    decay = np.exp(-draining_s / LAG_SPIKE_DECAY_S)
    return np.select(
        [
            since_rollout_s < 0,
            since_rollout_s < LAG_SPIKE_RISE_S,
            since_rollout_s < LAG_SPIKE_PLATEAU_END_S,
            since_rollout_s <= LAG_SPIKE_DURATION_S,
        ],
        [0.0, since_rollout_s / LAG_SPIKE_RISE_S, 1.0, decay],
        0.0,
    )


def _as_counter(increments: np.ndarray) -> np.ndarray:
    return np.cumsum(increments, dtype=np.float64)


def _whole_pages(values_bytes: np.ndarray) -> np.ndarray:
    return np.round(values_bytes / PAGE_BYTES) * PAGE_BYTES


def _hour_of_day(times_s: np.ndarray) -> np.ndarray:
    return (times_s % DAY_S) / HOUR_S


def _daily_wave(times_s: np.ndarray) -> np.ndarray:
    """1.0 at the evening peak, -1.0 twelve hours later."""
    return np.cos(2.0 * np.pi * (_hour_of_day(times_s) - PEAK_HOUR_UTC) / 24.0)


def traffic_rps(times_s: np.ndarray, end_s: int) -> np.ndarray:
    """Noise-free API requests per second (without /healthz): daily, weekly cycle and growth.

    >>> end_s = int(DEMO_END.timestamp())
    >>> round(float(traffic_rps(np.array([end_s - 4 * DAY_S + 18 * HOUR_S]), end_s)[0]))
    10850
    """
    # The Unix epoch was a Thursday: hour 72 of its week counted from Monday 00:00.
    hour_of_week = (times_s / HOUR_S + 72.0) % 168.0
    weekly = np.interp(hour_of_week, _WEEK_KNOTS_H, _WEEK_LEVELS, period=168.0)
    growth = (1.0 + TRAFFIC_WEEKLY_GROWTH_RATIO) ** ((times_s - end_s) / WEEK_S)
    daily = 1.0 + DAILY_AMPLITUDE * _daily_wave(times_s)
    return PEAK_RPS_AT_END / (1.0 + DAILY_AMPLITUDE) * growth * daily * weekly


def simulate(
    seed: int = DEMO_SEED,
    end: pd.Timestamp | str = DEMO_END,
    days: float = DEMO_DAYS,
    scrape_interval_s: int = DEMO_SCRAPE_INTERVAL_S,
) -> Cluster:
    """Build the simulated cluster for ``days`` before ``end`` (UTC).

    >>> cluster = simulate(seed=7, days=2)
    >>> str(cluster.start), len(cluster.pods_at_end())
    ('2026-11-14 00:00:00+00:00', 18)
    """
    if days <= 0 or scrape_interval_s <= 0:
        raise ValueError("days and scrape_interval_s must be positive")
    end_s = unix_s(end)
    end_ts = pd.Timestamp(end_s, unit="s", tz="UTC")
    start_s = int(end_s - days * DAY_S)
    sample_count = (end_s - start_s) // scrape_interval_s + 1
    grid_s = start_s + scrape_interval_s * np.arange(sample_count, dtype=np.int64)

    nodes = _build_nodes(seed, end_s)
    revisions, rollouts = _build_revisions(seed, end_s)
    pods = _build_pods(seed, nodes, revisions, start_s, end_s)
    volumes = _build_volumes(seed, pods, end_s)
    cluster = Cluster(
        seed=seed,
        start=pd.Timestamp(start_s, unit="s", tz="UTC"),
        end=end_ts,
        scrape_interval_s=scrape_interval_s,
        grid_s=grid_s,
        nodes=nodes,
        revisions=revisions,
        rollouts=tuple(rollout for rollout in rollouts if start_s <= rollout.time_s <= end_s),
        pods=pods,
        volumes=volumes,
    )
    generator = _SeriesGenerator(cluster)
    generator.generate()
    cluster.series = generator.grouped_by_family()
    cluster.truth = _build_truth(cluster, generator)
    return cluster


# ---------------------------------------------------------------------------- topology builders


def _build_nodes(seed: int, end_s: int) -> tuple[Node, ...]:
    nodes = []
    for hostname, instance_type, zone, capacity_type, days_before in _NODE_LAYOUT:
        cpu, memory, allocatable_cpu, allocatable_memory = _INSTANCE_TYPES[instance_type]
        joined_s = _at(end_s, days_before, "03:00") + int(stable_rng(seed, hostname).integers(3600))
        nodes.append(
            Node(
                name=f"{hostname}.eu-west-1.compute.internal",
                instance_type=instance_type,
                zone=zone,
                capacity_type=capacity_type,
                internal_ip=hostname.removeprefix("ip-").replace("-", "."),
                created_s=joined_s,
                capacity={
                    "cpu": cpu,
                    "ephemeral-storage": "104845292Ki",
                    "memory": memory,
                    "pods": "58",
                },
                allocatable={
                    "cpu": allocatable_cpu,
                    "ephemeral-storage": "95551679124",
                    "memory": allocatable_memory,
                    "pods": "58",
                },
            )
        )
    return tuple(nodes)


def _build_revisions(seed: int, end_s: int) -> tuple[tuple[Revision, ...], tuple[Rollout, ...]]:
    revisions: list[Revision] = []
    rollouts: list[Rollout] = []
    for workload in WORKLOADS:
        created_s = _at(end_s, workload.created_days_before_end, "09:00")
        times = [created_s] + [
            _at(end_s, days, clock)
            for name, days, clock in ROLLOUT_SCHEDULE
            if name == workload.name
        ]
        if len(times) != len(workload.tags):
            raise AssertionError(f"{workload.name}: one image tag per revision expected")
        own = [
            Revision(
                workload, number, stable_name_suffix(10, seed, workload.name, tag), time_s, tag
            )
            for number, (time_s, tag) in enumerate(zip(times, workload.tags, strict=True), 1)
        ]
        revisions += own
        rollouts += [Rollout(workload, new.created_s, old, new) for old, new in pairwise(own)]
    rollouts.sort(key=lambda rollout: rollout.time_s)
    return tuple(revisions), tuple(rollouts)


def _build_pods(
    seed: int, nodes: tuple[Node, ...], revisions: tuple[Revision, ...], start_s: int, end_s: int
) -> tuple[Pod, ...]:
    pods: list[Pod] = []
    pods_per_node: dict[str, int] = {}
    for workload in WORKLOADS:
        own = [revision for revision in revisions if revision.workload is workload]
        for position, revision in enumerate(own):
            successor = own[position + 1] if position + 1 < len(own) else None
            for replica in range(workload.replicas):
                if workload.kind == "Deployment":
                    suffix = stable_name_suffix(5, seed, revision.replicaset_name, replica)
                    name = f"{revision.replicaset_name}-{suffix}"
                else:
                    name = f"{workload.name}-{replica}"
                created_s = revision.created_s + replica * ROLLOUT_STAGGER_S
                deleted_s = None
                if successor is not None:
                    deleted_s = (
                        successor.created_s + replica * ROLLOUT_STAGGER_S + ROLLOUT_READY_DELAY_S
                    )
                if created_s > end_s or (deleted_s is not None and deleted_s <= start_s):
                    continue
                node = nodes[workload.node_slots[replica]]
                pods_per_node[node.name] = pods_per_node.get(node.name, 0) + 1
                subnet = node.internal_ip.split(".")[2]
                first_start_s = created_s + CONTAINER_START_DELAY_S
                if workload.name == LEAK_WORKLOAD and successor is None and replica == LEAK_REPLICA:
                    history = _oom_history(workload, first_start_s, end_s)
                elif workload.name == CRASHLOOP_WORKLOAD and successor is None:
                    history = _crashloop_history(seed, name, first_start_s, end_s)
                else:
                    history = ContainerHistory(
                        np.array([first_start_s], dtype=np.int64), np.array([], dtype=np.int64)
                    )
                pods.append(
                    Pod(
                        name=name,
                        workload=workload,
                        revision=revision,
                        replica=replica,
                        node=node,
                        created_s=created_s,
                        deleted_s=deleted_s,
                        uid=stable_uid(seed, "Pod", workload.namespace, name),
                        ip=f"10.0.{subnet}.{20 + 7 * pods_per_node[node.name]}",
                        history=history,
                    )
                )
    return tuple(pods)


def _oom_history(workload: Workload, first_start_s: int, end_s: int) -> ContainerHistory:
    """Memory grows from LEAK_BASE_MIB at LEAK_RATE_MIB_PER_H until the limit: OOMKilled, again."""
    limit_bytes = parse_bytes(workload.resources.memory_limit or "0")
    fill_s = (limit_bytes / MIB - LEAK_BASE_MIB) / LEAK_RATE_MIB_PER_H * HOUR_S
    run_period_s = fill_s + OOM_RESTART_DELAY_S
    candidates = np.arange(int((end_s - first_start_s) // run_period_s) + 1)
    oom_times_s = np.floor(first_start_s + fill_s + run_period_s * candidates).astype(np.int64)
    restarts_s = oom_times_s + OOM_RESTART_DELAY_S
    happened = restarts_s <= end_s
    starts_s = np.concatenate([[first_start_s], restarts_s[happened]]).astype(np.int64)
    return ContainerHistory(starts_s, oom_times_s[happened], "OOMKilled", 137)


def _crashloop_history(
    seed: int, pod_name: str, first_start_s: int, end_s: int
) -> ContainerHistory:
    """Healthy for weeks, then exit code 1 over and over (kubelet back-off doubling to 5 min)."""
    cycles = 600
    run_s = stable_rng(seed, "crashloop", pod_name).uniform(3.0, 25.0, cycles)
    backoff_s = np.minimum(10.0 * 2.0 ** np.arange(cycles), 300.0)
    # Times relative to the first crash: restart k+1 comes backoff_s[k] after crash k and
    # crashes again run_s[k+1] later.
    restart_rel_s = np.cumsum(backoff_s + np.concatenate([[0.0], run_s[1:]]))
    crash_rel_s = np.concatenate([[0.0], restart_rel_s[:-1] + run_s[1:]])
    last = int(np.searchsorted(crash_rel_s, CRASHLOOP_HOURS_BEFORE_END * HOUR_S, side="right")) - 1
    # Shift the schedule so that the end falls inside a 5-minute back-off: waiting at the end.
    first_crash_s = end_s - 45 - crash_rel_s[last]
    crashes_s = np.round(first_crash_s + crash_rel_s[: last + 1]).astype(np.int64)
    restarts_s = np.round(first_crash_s + restart_rel_s[:last]).astype(np.int64)
    starts_s = np.concatenate([[first_start_s], restarts_s]).astype(np.int64)
    return ContainerHistory(starts_s, crashes_s, "Error", 1, "CrashLoopBackOff")


def _build_volumes(seed: int, pods: tuple[Pod, ...], end_s: int) -> tuple[Volume, ...]:
    volumes = []
    for pod in pods:
        claim_name = pod.claim_name
        if claim_name is None or pod.deleted_s is not None:
            continue
        claim_uid = stable_uid(seed, "PersistentVolumeClaim", pod.namespace, claim_name)
        volumes.append(
            Volume(
                pv_name=f"pvc-{claim_uid}",
                capacity=pod.workload.volume_size or "0",
                storage_class="gp3",
                reclaim_policy="Delete",
                zone=pod.node.zone,
                phase="Bound",
                created_s=pod.created_s - 30,
                claim_namespace=pod.namespace,
                claim_name=claim_name,
                claim_uid=claim_uid,
                mounted_by=pod.name,
            )
        )
    # Left behind: a claim nobody mounts since a batch job was removed, and a static volume
    # that was never claimed.
    scratch_uid = stable_uid(seed, "PersistentVolumeClaim", "production", "export-scratch")
    volumes.append(
        Volume(
            f"pvc-{scratch_uid}", "100Gi", "gp3", "Delete", "eu-west-1b", "Bound",
            _at(end_s, 33, "16:12"), "production", "export-scratch", scratch_uid,
        )
    )  # fmt: skip
    volumes.append(
        Volume(
            "pv-reports-archive", "53687091200", "gp2", "Retain", "eu-west-1a", "Available",
            _at(end_s, 75, "10:41"),
        )
    )  # fmt: skip
    return tuple(volumes)


# ---------------------------------------------------------------------------- series


@dataclass
class _UsageStats:
    cpu_mean_cores: float
    cpu_p95_cores: float
    memory_mean_bytes: float


class _SeriesGenerator:
    """Generates every series of a cluster, and remembers facts the truth needs."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.grid_s = cluster.grid_s
        self.step_s = cluster.scrape_interval_s
        self.load = traffic_rps(self.grid_s, cluster.end_s) / PEAK_RPS_AT_END
        self.series: list[Series] = []
        self.usage: dict[str, _UsageStats] = {}  # by pod name
        self.lag_spikes: list[dict[str, Any]] = []
        self.pool_windows: list[dict[str, Any]] = []
        self.outside_pool_max_connections = 0
        self.normal_total_lag_max = 0.0
        self.db_size_bytes = np.zeros(0)

    def rng(self, *parts: object) -> np.random.Generator:
        return stable_rng(self.cluster.seed, *parts)

    def add(
        self,
        family: str,
        kind: str,
        name: str,
        labels: dict[str, str],
        values: np.ndarray,
        first_index: int = 0,
    ) -> None:
        values = np.asarray(values, dtype=np.float64)
        if len(values):
            self.series.append(Series(family, kind, name, labels, first_index, values))

    def add_constant(
        self, family: str, name: str, labels: dict[str, str], value: float, span: slice
    ) -> None:
        """A gauge that keeps one value over ``span`` of the grid (kube-state-metrics style)."""
        count = len(range(*span.indices(len(self.grid_s))))
        self.add(family, "gauge", name, labels, np.full(count, float(value)), span.start or 0)

    def grouped_by_family(self) -> list[Series]:
        """Series in family order (first appearance), as OpenMetrics wants them."""
        order: dict[str, int] = {}
        for series in self.series:
            order.setdefault(series.family, len(order))
        return sorted(self.series, key=lambda series: order[series.family])

    def window_mask(self, clock: tuple[str, str]) -> tuple[int, int, np.ndarray]:
        """Incident window on the incident day; the mask marks scrapes whose interval is inside."""
        start_s = _at(self.cluster.end_s, INCIDENT_DAYS_BEFORE_END, clock[0])
        end_s = _at(self.cluster.end_s, INCIDENT_DAYS_BEFORE_END, clock[1])
        return start_s, end_s, (self.grid_s > start_s) & (self.grid_s <= end_s)

    def generate(self) -> None:
        self._http()
        for pod in self.cluster.pods:
            span = self._pod_span(pod)
            if span.stop > span.start:
                self._container_usage(pod, span)
                self._pod_state(pod, span)
        self._nodes()
        self._volumes()
        self._kafka()
        self._postgres_exporter()

    # -- API traffic -------------------------------------------------------------------------

    def _http(self) -> None:
        count = len(self.grid_s)
        api_rps = traffic_rps(self.grid_s, self.cluster.end_s)
        _, _, slow_mask = self.window_mask(INCIDENT_LATENCY_CLOCK)
        _, _, error_mask = self.window_mask(INCIDENT_ERRORS_CLOCK)
        job = {"namespace": "production", "job": "dwcp-api"}
        for profile in PATHS:
            rng = self.rng("http", profile.path)
            noise = np.exp(rng.normal(0.0, 0.02, count))
            expected = (profile.fixed_rps + profile.traffic_share * api_rps) * self.step_s * noise
            server_error = np.full(count, profile.server_error_ratio)
            if profile.path == INCIDENT_ERRORS_PATH:
                server_error[error_mask] = INCIDENT_SERVER_ERROR_RATIO
            ratios = {
                "404": np.full(count, profile.not_found_ratio),
                "500": 0.75 * server_error,
                "503": 0.25 * server_error,
            }
            ratios = {"200": 1.0 - sum(ratios.values()), **ratios}
            counts = {status: rng.poisson(expected * ratio) for status, ratio in ratios.items()}
            total = np.zeros(count, dtype=np.int64)
            for status, requests in counts.items():
                requests[0] = 0  # counters start at zero with the window
                total += requests
                if requests.any() or status == "200":
                    labels = {**job, "path": profile.path, "status": status}
                    self.add(
                        "http_requests",
                        "counter",
                        "http_requests_total",
                        labels,
                        _as_counter(requests),
                    )

            median_s = profile.median_s * (1.0 + LATENCY_LOAD_SLOWDOWN * self.load)
            if profile.path == INCIDENT_LATENCY_PATH:
                median_s = np.where(slow_mask, INCIDENT_LATENCY_MEDIAN_S, median_s)
            median_s = median_s * np.exp(rng.normal(0.0, 0.03, count))
            bucket_counts = np.rint(total[:, None] * _lognormal_bucket_cdf(median_s, profile.sigma))
            buckets = np.cumsum(bucket_counts.astype(np.int64), axis=0)
            family = "http_request_duration_seconds"
            path_labels = {**job, "path": profile.path}
            for column, bound in enumerate(HISTOGRAM_BOUNDS_S):
                labels = {**path_labels, "le": f"{bound:g}"}
                self.add(family, "histogram", f"{family}_bucket", labels, buckets[:, column])
            requests_counter = _as_counter(total)
            self.add(
                family,
                "histogram",
                f"{family}_bucket",
                {**path_labels, "le": "+Inf"},
                requests_counter,
            )
            self.add(family, "histogram", f"{family}_count", path_labels, requests_counter)
            mean_latency_s = median_s * math.exp(profile.sigma**2 / 2.0)
            seconds = np.round(_as_counter(total * mean_latency_s), 6)
            self.add(family, "histogram", f"{family}_sum", path_labels, seconds)

    # -- containers ---------------------------------------------------------------------------

    def _pod_span(self, pod: Pod) -> slice:
        first = int(np.searchsorted(self.grid_s, pod.created_s, side="left"))
        stop = len(self.grid_s)
        if pod.deleted_s is not None:
            stop = int(np.searchsorted(self.grid_s, pod.deleted_s, side="left"))
        return slice(first, stop)

    def _container_usage(self, pod: Pod, span: slice) -> None:
        times = self.grid_s[span]
        usage = pod.workload.usage
        history = pod.history
        rng = self.rng("usage", pod.namespace, pod.name)
        count = len(times)
        load = self.load[span]
        cpu_cores = (usage.cpu_base_cores + usage.cpu_per_load_cores * load) * (
            1.0 + 0.06 * rng.standard_normal(count)
        )
        memory = (
            usage.memory_base_bytes
            + usage.memory_daily_amplitude_bytes * _daily_wave(times)
            + usage.memory_noise_bytes * rng.standard_normal(count)
        )
        run = np.maximum(np.searchsorted(history.start_times_s, times, side="right") - 1, 0)
        run_age_s = np.maximum(times - history.start_times_s[run], 0)
        if history.termination_reason == "OOMKilled":
            limit_bytes = parse_bytes(pod.workload.resources.memory_limit or "0")
            leaked = LEAK_BASE_MIB * MIB + LEAK_RATE_MIB_PER_H * MIB * run_age_s / HOUR_S
            memory = np.minimum(
                leaked + 2 * MIB * rng.standard_normal(count), limit_bytes - PAGE_BYTES
            )
        if history.waiting_reason == "CrashLoopBackOff":
            looping = times >= history.termination_times_s[0]
            memory = np.where(looping, 24 * MIB + MIB * rng.standard_normal(count), memory)
            cpu_cores = np.where(looping, 0.004, cpu_cores)
        cpu_cores = np.maximum(cpu_cores, 0.001)
        memory = _whole_pages(np.maximum(memory, 16 * MIB))
        labels = {"namespace": pod.namespace, "pod": pod.name, "container": pod.workload.container}
        self.add(
            "container_memory_working_set_bytes", "gauge", "container_memory_working_set_bytes",
            labels, memory, span.start,
        )  # fmt: skip
        cpu_seconds = self._restarting_counter(cpu_cores * self.step_s, run)
        # A container running since before the window has used CPU before the first scrape.
        carried_s = max(0, int(times[0]) - int(history.start_times_s[run[0]]))
        cpu_seconds[run == run[0]] += carried_s * float(np.mean(cpu_cores))
        self.add(
            "container_cpu_usage_seconds", "counter", "container_cpu_usage_seconds_total",
            labels, np.round(cpu_seconds, 6), span.start,
        )  # fmt: skip
        self.usage[pod.name] = _UsageStats(
            float(np.mean(cpu_cores)),
            float(np.percentile(cpu_cores, 95)),
            float(np.mean(memory)),
        )

    @staticmethod
    def _restarting_counter(increments: np.ndarray, run: np.ndarray) -> np.ndarray:
        """Cumulative sum that restarts from zero whenever ``run`` (container instance) changes."""
        total = np.cumsum(increments)
        run_starts = np.flatnonzero(np.diff(run, prepend=run[0] - 1))
        lengths = np.diff(np.append(run_starts, len(run)))
        before_run = (total - increments)[run_starts]
        return total - np.repeat(before_run, lengths)

    def _pod_state(self, pod: Pod, span: slice) -> None:
        """kube-state-metrics series of one pod and its container."""
        container = pod.workload.container
        labels = {"namespace": pod.namespace, "pod": pod.name, "container": container}
        resources = pod.workload.resources
        quantities = {
            ("kube_pod_container_resource_requests", "cpu", "core"): resources.cpu_request,
            ("kube_pod_container_resource_requests", "memory", "byte"): resources.memory_request,
            ("kube_pod_container_resource_limits", "cpu", "core"): resources.cpu_limit,
            ("kube_pod_container_resource_limits", "memory", "byte"): resources.memory_limit,
        }
        for (family, resource, unit), quantity in quantities.items():
            if quantity is not None:  # kube-state-metrics has no series for an unset limit
                resource_labels = {**labels, "resource": resource, "unit": unit}
                self.add_constant(
                    family, family, resource_labels, float(parse_quantity(quantity)), span
                )
        restarts = pod.history.restarts_at(self.grid_s[span]).astype(np.float64)
        self.add(
            "kube_pod_container_status_restarts", "counter",
            "kube_pod_container_status_restarts_total", labels, restarts, span.start,
        )  # fmt: skip
        history = pod.history
        if len(history.termination_times_s):
            first = int(np.searchsorted(self.grid_s, history.termination_times_s[0], side="left"))
            reason_span = slice(max(first, span.start), span.stop)
            if reason_span.stop > reason_span.start:
                family = "kube_pod_container_status_last_terminated_reason"
                reason_labels = {**labels, "reason": str(history.termination_reason)}
                self.add_constant(family, family, reason_labels, 1.0, reason_span)
        owner = {
            "namespace": pod.namespace,
            "pod": pod.name,
            "owner_kind": pod.owner_kind,
            "owner_name": pod.owner_name,
            "owner_is_controller": "true",
        }
        self.add_constant("kube_pod_owner", "kube_pod_owner", owner, 1.0, span)

    # -- nodes and volumes --------------------------------------------------------------------

    def _nodes(self) -> None:
        whole = slice(0, len(self.grid_s))
        for family, stanza in (
            ("kube_node_status_capacity", "capacity"),
            ("kube_node_status_allocatable", "allocatable"),
        ):
            for node in self.cluster.nodes:
                quantities = getattr(node, stanza)
                for resource, unit in (("cpu", "core"), ("memory", "byte"), ("pods", "integer")):
                    labels = {"node": node.name, "resource": resource, "unit": unit}
                    self.add_constant(
                        family, family, labels, float(parse_quantity(quantities[resource])), whole
                    )

    def _volumes(self) -> None:
        whole = slice(0, len(self.grid_s))
        for volume in self.cluster.volumes:
            for phase in PV_PHASES:
                labels = {"persistentvolume": volume.pv_name, "phase": phase}
                self.add_constant(
                    "kube_persistentvolume_status_phase", "kube_persistentvolume_status_phase",
                    labels, float(phase == volume.phase), whole,
                )  # fmt: skip
        for volume in self.cluster.volumes:
            self.add_constant(
                "kube_persistentvolume_capacity_bytes", "kube_persistentvolume_capacity_bytes",
                {"persistentvolume": volume.pv_name}, volume.capacity_bytes, whole,
            )  # fmt: skip
        self.db_size_bytes = self._database_size()
        mounted = [volume for volume in self.cluster.volumes if volume.mounted_by is not None]
        for family in ("kubelet_volume_stats_capacity_bytes", "kubelet_volume_stats_used_bytes"):
            for volume in mounted:
                labels = {
                    "namespace": str(volume.claim_namespace),
                    "persistentvolumeclaim": str(volume.claim_name),
                }
                # ext4 keeps ~1.6 % of the device for itself.
                filesystem_bytes = _whole_pages(np.array(volume.capacity_bytes * 0.984))
                if family.endswith("capacity_bytes"):
                    values = np.full(len(self.grid_s), float(filesystem_bytes))
                else:
                    values = _whole_pages(self._volume_used_bytes(volume, float(filesystem_bytes)))
                self.add(family, "gauge", family, labels, values)

    def _volume_used_bytes(self, volume: Volume, filesystem_bytes: float) -> np.ndarray:
        rng = self.rng("volume-used", volume.pv_name)
        jitter = rng.standard_normal(len(self.grid_s))
        if str(volume.mounted_by).startswith("postgres"):
            return self.db_size_bytes + 6 * GIB + 64 * MIB * jitter
        if str(volume.mounted_by).startswith("kafka"):
            wave = 0.02 * _daily_wave(self.grid_s)
            return filesystem_bytes * (0.36 + wave + 0.002 * jitter)
        return filesystem_bytes * (0.42 + 0.002 * jitter)

    def _database_size(self) -> np.ndarray:
        rng = self.rng("pg_database_size_bytes")
        weeks_from_end = (self.grid_s - self.cluster.end_s) / WEEK_S
        trend = DB_SIZE_BYTES_AT_END * (1.0 + DB_WEEKLY_GROWTH_RATIO) ** weeks_from_end
        wiggle = (
            1.0 + 0.0015 * _daily_wave(self.grid_s) + 0.0003 * rng.standard_normal(len(self.grid_s))
        )
        return np.round(trend * wiggle)

    # -- Kafka and PostgreSQL exporters -------------------------------------------------------

    def _kafka(self) -> None:
        rng = self.rng("kafka_consumergroup_lag")
        count = len(self.grid_s)
        lag = 40.0 * (0.5 + self.load)[None, :] * rng.lognormal(0.0, 0.5, (KAFKA_PARTITIONS, count))
        normal_total = lag.sum(axis=0)
        spiking = np.zeros(count, dtype=bool)
        for rollout in self.cluster.rollouts:
            if rollout.workload.name not in ("dwcp-api", "dwcp-worker"):
                continue
            since_s = (self.grid_s - rollout.time_s).astype(np.float64)
            profile = _lag_spike_profile(since_s)
            peak_total = rng.uniform(12_000, 18_000)
            weights = rng.uniform(0.7, 1.3, KAFKA_PARTITIONS)
            lag += (peak_total * weights / weights.sum())[:, None] * profile[None, :]
            inside = (since_s >= 0) & (since_s <= LAG_SPIKE_DURATION_S)
            spiking |= inside
            self.lag_spikes.append(
                {
                    "deployment": rollout.workload.name,
                    "start": iso_utc(rollout.time_s),
                    "end": iso_utc(rollout.time_s + LAG_SPIKE_DURATION_S),
                    "peak_total_lag": int(np.round(lag).sum(axis=0)[inside].max(initial=0)),
                }
            )
        self.normal_total_lag_max = float(np.round(normal_total[~spiking]).max(initial=0))
        for partition, values in enumerate(np.round(lag)):
            labels = {
                "consumergroup": "dwcp-workers",
                "topic": "dwcp-tasks",
                "partition": str(partition),
            }
            self.add("kafka_consumergroup_lag", "gauge", "kafka_consumergroup_lag", labels, values)

    def _postgres_exporter(self) -> None:
        rng = self.rng("pg_stat_activity_count")
        count = len(self.grid_s)
        hours = _hour_of_day(self.grid_s)
        first_hour, last_hour = POOL_EXHAUSTION_HOURS_UTC
        exhausted = (hours >= first_hour) & (hours < last_hour)
        baseline = 55.0 + 60.0 * self.load + 4.0 * rng.standard_normal(count)
        low, high = POOL_EXHAUSTION_CONNECTIONS
        # The pool climbs over the half hour before 17:00 (still below `low`), then sits near max.
        climbing = np.clip((hours - (first_hour - 0.5)) / 0.5, 0.0, 1.0) * (hours < first_hour)
        total = np.round(baseline + (0.9 * low - baseline) * climbing)
        total = np.where(exhausted, rng.integers(low, high + 1, count), total).astype(np.int64)
        active = np.round(total * rng.uniform(0.12, 0.22, count)).astype(np.int64)
        idle_in_transaction = np.round(total * rng.uniform(0.03, 0.06, count)).astype(np.int64)
        aborted = np.minimum(rng.poisson(0.3, count), 2)
        idle = total - active - idle_in_transaction - aborted
        for state, values in (
            ("active", active),
            ("idle", idle),
            ("idle in transaction", idle_in_transaction),
            ("idle in transaction (aborted)", aborted),
        ):
            labels = {"datname": "app_db", "state": state}
            self.add("pg_stat_activity_count", "gauge", "pg_stat_activity_count", labels, values)
        whole = slice(0, count)
        self.add_constant(
            "pg_settings_max_connections",
            "pg_settings_max_connections",
            {},
            DB_MAX_CONNECTIONS,
            whole,
        )
        self.add(
            "pg_database_size_bytes",
            "gauge",
            "pg_database_size_bytes",
            {"datname": "app_db"},
            self.db_size_bytes,
        )

        self.outside_pool_max_connections = int(total[~exhausted].max(initial=0))
        days = np.unique(self.grid_s[exhausted] // DAY_S)
        for day in days:
            window_start_s = int(day * DAY_S + first_hour * HOUR_S)
            inside = exhausted & (self.grid_s // DAY_S == day)
            self.pool_windows.append(
                {
                    "start": iso_utc(window_start_s),
                    "end": iso_utc(window_start_s + (last_hour - first_hour) * HOUR_S),
                    "peak_connections": int(total[inside].max()),
                }
            )


# ---------------------------------------------------------------------------- truth


def _container_subject(pod: Pod) -> dict[str, str]:
    return {"namespace": pod.namespace, "pod": pod.name, "container": pod.workload.container}


def _times_in_window(times_s: np.ndarray, cluster: Cluster) -> list[str]:
    inside = (times_s >= cluster.start_s) & (times_s <= cluster.end_s)
    return [iso_utc(t) for t in times_s[inside]]


def _build_truth(cluster: Cluster, generator: _SeriesGenerator) -> dict[str, Any]:
    """Everything seeded into the cluster, JSON-serialisable, keyed by problem."""
    at_end = cluster.pods_at_end()
    leaking = next(pod for pod in at_end if pod.history.termination_reason == "OOMKilled")
    looping = next(pod for pod in at_end if pod.history.waiting_reason == "CrashLoopBackOff")

    def current(workload_name: str) -> list[Pod]:
        return [pod for pod in at_end if pod.workload.name == workload_name]

    def usage_of(pods: list[Pod], statistic: str) -> float:
        return round(max(getattr(generator.usage[pod.name], statistic) for pod in pods), 4)

    limit_bytes = parse_bytes(leaking.workload.resources.memory_limit or "0")
    fill_h = (limit_bytes / MIB - LEAK_BASE_MIB) / LEAK_RATE_MIB_PER_H
    oom_times = _times_in_window(leaking.history.termination_times_s, cluster)
    leak_subject = _container_subject(leaking)
    staging, api, redis = current("dwcp-api-staging"), current("dwcp-api"), current("redis")
    restart_times_s = looping.history.start_times_s[1:]

    return {
        "seed": cluster.seed,
        "start": iso_utc(cluster.start_s),
        "end": iso_utc(cluster.end_s),
        "scrape_interval_s": cluster.scrape_interval_s,
        "series_count": len(cluster.series),
        "sample_count": cluster.sample_count,
        "db_pool_exhaustion": {
            "check": "connection_saturation",
            "known_issue": "KI-003",
            "subject": {"datname": "app_db"},
            "max_connections": DB_MAX_CONNECTIONS,
            "daily_window_utc": [f"{hour:02d}:00" for hour in POOL_EXHAUSTION_HOURS_UTC],
            "connections_range": list(POOL_EXHAUSTION_CONNECTIONS),
            "windows": generator.pool_windows,
            "max_connections_outside_windows": generator.outside_pool_max_connections,
        },
        "memory_leak": {
            "check": "memory_leak",
            "subject": leak_subject,
            "rate_mib_per_h": LEAK_RATE_MIB_PER_H,
            "base_mib": LEAK_BASE_MIB,
            "limit_bytes": int(limit_bytes),
            "hours_from_start_to_oom": round(fill_h, 3),
            "oom_times": oom_times,
            "next_oom": iso_utc(leaking.history.start_times_s[-1] + fill_h * HOUR_S),
        },
        "oom_killed": {
            "check": "oom_killed",
            "subject": leak_subject,
            "reason": "OOMKilled",
            "exit_code": 137,
            "oom_times": oom_times,
            "restart_count": len(leaking.history.start_times_s) - 1,
        },
        "crashloop": {
            "check": "frequent_restarts",
            "subject": _container_subject(looping),
            "state": "CrashLoopBackOff",
            "reason": "Error",
            "exit_code": 1,
            "first_crash": iso_utc(looping.history.termination_times_s[0]),
            "restart_count": len(restart_times_s),
            "restarts_in_last_24h": int(np.sum(restart_times_s > cluster.end_s - DAY_S)),
            "restart_times": _times_in_window(restart_times_s, cluster),
        },
        "overprovisioned": {
            "checks": ["overprovisioned_cpu", "overprovisioned_memory", "idle_workload"],
            "workloads": [
                {
                    "namespace": "staging",
                    "workload": "dwcp-api-staging",
                    "container": "api",
                    "pods": [pod.name for pod in staging],
                    "idle": True,
                    "resources": ["cpu", "memory"],
                    "cpu_request_cores": parse_cpu_cores(staging[0].workload.resources.cpu_request),
                    "memory_request_bytes": int(
                        parse_bytes(staging[0].workload.resources.memory_request)
                    ),
                    "cpu_usage_mean_cores": usage_of(staging, "cpu_mean_cores"),
                    "memory_usage_mean_bytes": round(usage_of(staging, "memory_mean_bytes")),
                },
                {
                    "namespace": "production",
                    "workload": "dwcp-api",
                    "container": "api",
                    "pods": [pod.name for pod in api],
                    "idle": False,
                    "resources": ["cpu"],
                    "cpu_request_cores": parse_cpu_cores(api[0].workload.resources.cpu_request),
                    "cpu_usage_p95_cores": usage_of(api, "cpu_p95_cores"),
                },
            ],
        },
        "underprovisioned": {
            "check": "underprovisioned",
            "subject": {"namespace": "data", "workload": "redis", "container": "redis"},
            "pods": [pod.name for pod in redis],
            "resource": "cpu",
            "cpu_request_cores": parse_cpu_cores(redis[0].workload.resources.cpu_request),
            "cpu_usage_mean_cores": usage_of(redis, "cpu_mean_cores"),
            # Not planted as such: the leak takes its pod's memory far above its request.
            "incidental": [{**leak_subject, "resource": "memory", "cause": "memory_leak"}],
        },
        "no_memory_limit": {
            "check": "no_memory_limit",
            "subject": _container_subject(current("prometheus")[0]),
        },
        "unused_pv": {
            "check": "unused_pv",
            "volumes": [
                {
                    "persistentvolume": volume.pv_name,
                    "phase": volume.phase,
                    "capacity_bytes": int(volume.capacity_bytes),
                    "storage_class": volume.storage_class,
                    "claim": (
                        {"namespace": volume.claim_namespace, "name": volume.claim_name}
                        if volume.claim_name
                        else None
                    ),
                }
                for volume in cluster.volumes
                if volume.mounted_by is None
            ],
            "mounted": [volume.pv_name for volume in cluster.volumes if volume.mounted_by],
        },
        "latency_incident": _incident_truth(cluster, generator),
        "capacity_growth": _capacity_truth(cluster),
        "healthy_controls": {
            "flat": [
                _container_subject(pod)
                for pod in at_end
                if pod.name == "redis-0"
                or (pod.workload.name == LEAK_WORKLOAD and pod is not leaking)
            ],
            "cyclic": [_container_subject(pod) for pod in api],
        },
        "rollouts": [
            {
                "namespace": rollout.workload.namespace,
                "deployment": rollout.workload.name,
                "time": iso_utc(rollout.time_s),
                "old_replicaset": rollout.old.replicaset_name,
                "new_replicaset": rollout.new.replicaset_name,
                "image": f"{rollout.workload.image}:{rollout.new.tag}",
            }
            for rollout in cluster.rollouts
        ],
        "consumer_lag_spike": {
            "check": "consumer_lag_spike",
            "known_issue": "KI-001",
            "subject": {"consumergroup": "dwcp-workers", "topic": "dwcp-tasks"},
            "spikes": generator.lag_spikes,
            "normal_total_lag_max": generator.normal_total_lag_max,
        },
        "counter_resets": [
            {
                "metric": "container_cpu_usage_seconds_total",
                "labels": _container_subject(pod),
                "times": _times_in_window(pod.history.start_times_s[1:], cluster),
            }
            for pod in cluster.pods
            if len(_times_in_window(pod.history.start_times_s[1:], cluster))
        ],
        **demo_postgres.truth(),
    }


def _incident_truth(cluster: Cluster, generator: _SeriesGenerator) -> dict[str, Any]:
    slow_start_s, slow_end_s, slow_mask = generator.window_mask(INCIDENT_LATENCY_CLOCK)
    error_start_s, error_end_s, _ = generator.window_mask(INCIDENT_ERRORS_CLOCK)
    slow_profile = next(profile for profile in PATHS if profile.path == INCIDENT_LATENCY_PATH)
    incident_cdf = _lognormal_bucket_cdf(np.array([INCIDENT_LATENCY_MEDIAN_S]), slow_profile.sigma)
    peak_load = float(generator.load[~slow_mask].max(initial=0.0))
    normal_p95_s = {
        profile.path: round(
            histogram_quantile(
                0.95,
                _lognormal_bucket_cdf(
                    np.array([profile.median_s * (1.0 + LATENCY_LOAD_SLOWDOWN * peak_load)]),
                    profile.sigma,
                )[0],
            ),
            4,
        )
        for profile in PATHS
    }
    deployments = [
        {"deployment": rollout.workload.name, "time": iso_utc(rollout.time_s)}
        for rollout in cluster.rollouts
        if slow_start_s <= rollout.time_s <= slow_end_s
    ]
    return {
        "in_window": bool(cluster.start_s <= slow_start_s and slow_end_s <= cluster.end_s),
        "start": iso_utc(slow_start_s),
        "end": iso_utc(slow_end_s),
        "latency": {
            "check": "latency_slo_breach",
            "subject": {
                "namespace": "production",
                "job": "dwcp-api",
                "path": INCIDENT_LATENCY_PATH,
            },
            "start": iso_utc(slow_start_s),
            "end": iso_utc(slow_end_s),
            "p95_s": round(histogram_quantile(0.95, incident_cdf[0]), 4),
            "lognormal_p95_s": round(
                INCIDENT_LATENCY_MEDIAN_S * math.exp(1.645 * slow_profile.sigma), 4
            ),
        },
        "errors": {
            "check": "error_rate_breach",
            "subject": {"namespace": "production", "job": "dwcp-api", "path": INCIDENT_ERRORS_PATH},
            "start": iso_utc(error_start_s),
            "end": iso_utc(error_end_s),
            "server_error_ratio": INCIDENT_SERVER_ERROR_RATIO,
        },
        "deployments_in_window": deployments,
        "normal_p95_s_at_peak": normal_p95_s,
        "normal_server_error_ratio": PATHS[0].server_error_ratio,
        "slo": {"p95_s": 0.2, "error_ratio": 0.001, "availability": 0.9995},
    }


def _capacity_truth(cluster: Cluster) -> dict[str, Any]:
    peak_at_end = PEAK_RPS_AT_END + HEALTHZ_RPS
    growth_per_s = math.log(1.0 + TRAFFIC_WEEKLY_GROWTH_RATIO) / WEEK_S
    seconds_to_limit = math.log((RPS_LIMIT_KI_002 - HEALTHZ_RPS) / PEAK_RPS_AT_END) / growth_per_s
    weeks_of_window = (cluster.end_s - cluster.start_s) / WEEK_S
    db_weekly = 1.0 + DB_WEEKLY_GROWTH_RATIO
    return {
        "check": "capacity_exhaustion",
        "traffic": {
            "metric": "http_requests_total",
            "growth": "compound",
            "weekly_growth_ratio": TRAFFIC_WEEKLY_GROWTH_RATIO,
            "weekday_peak_rps_at_end": peak_at_end,
            "weekday_peak_rps_at_start": round(
                PEAK_RPS_AT_END * (1.0 + TRAFFIC_WEEKLY_GROWTH_RATIO) ** -weeks_of_window
                + HEALTHZ_RPS,
                1,
            ),
            "peak_hour_utc": PEAK_HOUR_UTC,
            "limit_rps": RPS_LIMIT_KI_002,
            "limit_reason": "KI-002",
            "projected_limit_date": iso_utc(cluster.end_s + seconds_to_limit),
        },
        "database_size": {
            "metric": "pg_database_size_bytes",
            "subject": {"datname": "app_db"},
            "growth": "compound",
            "weekly_growth_ratio": DB_WEEKLY_GROWTH_RATIO,
            "bytes_at_start": round(DB_SIZE_BYTES_AT_END * db_weekly**-weeks_of_window),
            "bytes_at_end": DB_SIZE_BYTES_AT_END,
        },
    }


# ---------------------------------------------------------------------------- fleet at scale

FLEET_REPLICAS = 4  # pods per Deployment in :func:`fleet_series`
FLEET_NAMESPACES = 20
_HASH_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # a ReplicaSet's pod-template-hash alphabet


def fleet_series(
    containers: int,
    days: float = 7,
    seed: int = DEMO_SEED,
    end: pd.Timestamp | str = DEMO_END,
    scrape_interval_s: int = 300,
) -> tuple[np.ndarray, Iterator[Series], dict[str, Any]]:
    """A plain fleet of ``containers`` single-container pods over ``days``: only the series
    the memory and cost reports read, for scale benchmarks (``benchmarks/scale.py``).

    Deployments of 4 replicas in 20 namespaces; working sets with a daily cycle and noise;
    1 % of the containers leak (3-8 MiB/h), 0.5 % are OOM-killed in a loop, 2 % restart with
    an error, 5 % have no memory limit. Returns the time grid, the series (grouped by
    family, generated lazily: nothing holds the whole fleet) and the planted truth.

    >>> grid, series, truth = fleet_series(8, days=1)
    >>> len(grid), sorted({s.family for s in series})[:2], truth["containers"]
    (289, ['container_cpu_usage_seconds', 'container_memory_working_set_bytes'], 8)
    """
    if containers < 1 or days <= 0 or scrape_interval_s <= 0:
        raise ValueError("containers, days and scrape_interval_s must be positive")
    end_s = unix_s(end)
    grid_s = np.arange(end_s - int(days * DAY_S), end_s + 1, scrape_interval_s, dtype=np.int64)
    rng = stable_rng(seed, "fleet", containers)
    index = np.arange(containers)
    kind = rng.random(containers)
    plan = {
        "base_bytes": np.round(rng.uniform(96, 1024, containers)) * MIB,
        "cpu_cores": rng.uniform(0.02, 0.8, containers),
        "cpu_request": rng.choice([0.1, 0.25, 0.5, 1.0, 2.0], containers),
        "leak": kind < 0.01,
        "oom_loop": (kind >= 0.01) & (kind < 0.015),
        "errors": (kind >= 0.015) & (kind < 0.035),
        "no_limit": (kind >= 0.035) & (kind < 0.085),
        "growth_mib_per_h": rng.uniform(3, 8, containers),
    }
    names = []
    for i in index.tolist():
        workload = f"svc-{i // FLEET_REPLICAS:05d}"
        rs_hash = "".join(stable_rng(seed, "rs", workload).choice(list(_HASH_ALPHABET), 9))
        pod_suffix = "".join(stable_rng(seed, "pod", i).choice(list(_HASH_ALPHABET), 5))
        names.append(
            {
                "namespace": f"team-{(i // FLEET_REPLICAS) % FLEET_NAMESPACES:02d}",
                "pod": f"{workload}-{rs_hash}-{pod_suffix}",
                "container": "app",
                "replicaset": f"{workload}-{rs_hash}",
            }
        )
    hours = (grid_s - grid_s[0]) / 3600.0
    wave = 0.5 + 0.5 * np.sin(2 * np.pi * ((grid_s % DAY_S) / DAY_S - 0.3))

    def memory_and_restarts(i: int) -> tuple[np.ndarray, np.ndarray, str | None]:
        noise = stable_rng(seed, "ws", i).normal(0.0, 0.02, len(grid_s))
        base = plan["base_bytes"][i]
        restarts = np.zeros(len(grid_s))
        if plan["oom_loop"][i]:
            period_h = 20.0
            since = hours % period_h
            restarts = np.floor(hours / period_h)
            ws = base + plan["growth_mib_per_h"][i] * 4 * MIB * since
            return np.round(ws * (1 + noise)), restarts, "OOMKilled"
        ws = base * (1 + 0.1 * wave + noise)
        if plan["leak"][i]:
            ws = ws + plan["growth_mib_per_h"][i] * MIB * hours
        reason = None
        if plan["errors"][i]:
            restarts = np.floor(hours / (days * 24 / 3 + 1))
            reason = "Error"
        return np.round(ws), restarts, reason

    def limit_bytes(i: int) -> float:
        if plan["oom_loop"][i]:
            return float(plan["base_bytes"][i] + plan["growth_mib_per_h"][i] * 4 * MIB * 20)
        return float(plan["base_bytes"][i] * 3)

    def constant(value: float) -> np.ndarray:
        return np.full(len(grid_s), float(value))

    def generate() -> Iterator[Series]:
        keys = [{k: n[k] for k in ("namespace", "pod", "container")} for n in names]
        for i in index.tolist():
            ws, _, _ = memory_and_restarts(i)
            yield Series(
                "container_memory_working_set_bytes", "gauge",
                "container_memory_working_set_bytes", keys[i], 0, ws,
            )  # fmt: skip
        for i in index.tolist():
            noise = stable_rng(seed, "cpu", i).gamma(4.0, 0.25, len(grid_s))
            rate = plan["cpu_cores"][i] * (0.6 + 0.8 * wave) * noise
            counter = np.round(np.cumsum(rate * scrape_interval_s), 3)
            yield Series(
                "container_cpu_usage_seconds", "counter", "container_cpu_usage_seconds_total",
                keys[i], 0, counter,
            )  # fmt: skip
        for kind_name, metric in (
            ("requests", "kube_pod_container_resource_requests"),
            ("limits", "kube_pod_container_resource_limits"),
        ):
            for i in index.tolist():
                cpu = plan["cpu_request"][i] * (2 if kind_name == "limits" else 1)
                memory = plan["base_bytes"][i] * 1.5 if kind_name == "requests" else limit_bytes(i)
                for resource, unit, value in (("cpu", "core", cpu), ("memory", "byte", memory)):
                    if kind_name == "limits" and resource == "memory" and plan["no_limit"][i]:
                        continue
                    labels = {**keys[i], "resource": resource, "unit": unit}
                    yield Series(metric, "gauge", metric, labels, 0, constant(round(value, 3)))
        for i in index.tolist():
            _, restarts, _ = memory_and_restarts(i)
            yield Series(
                "kube_pod_container_status_restarts", "counter",
                "kube_pod_container_status_restarts_total", keys[i], 0, restarts,
            )  # fmt: skip
        for i in index.tolist():
            _, restarts, reason = memory_and_restarts(i)
            if reason is not None:
                labels = {**keys[i], "reason": reason}
                yield Series(
                    "kube_pod_container_status_last_terminated_reason", "gauge",
                    "kube_pod_container_status_last_terminated_reason", labels, 0,
                    (restarts > 0).astype(float),
                )  # fmt: skip
        for i in index.tolist():
            labels = {
                "namespace": names[i]["namespace"],
                "pod": names[i]["pod"],
                "owner_kind": "ReplicaSet",
                "owner_name": names[i]["replicaset"],
                "owner_is_controller": "true",
            }
            yield Series("kube_pod_owner", "gauge", "kube_pod_owner", labels, 0, constant(1.0))

    truth = {
        "containers": containers,
        "leaking": [names[i]["pod"] for i in index[plan["leak"]].tolist()],
        "oom_loop": [names[i]["pod"] for i in index[plan["oom_loop"]].tolist()],
        "no_limit": int(plan["no_limit"].sum()),
    }
    return grid_s, generate(), truth
