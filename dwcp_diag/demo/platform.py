"""The platform report's share of the simulated cluster: one planted case of each check,
beside healthy controls that must stay silent.

- **slow_startup / rollout_slow** (KI-005): ``dwcp-api`` pods take 4 minutes from creation
  to Ready (a 2.5 GB image pulled in 2m05s, then a slow readiness probe); every other
  workload is Ready in 35 s. kube-state-metrics' ``kube_pod_created`` and
  ``kube_pod_status_ready`` carry the same times for pods gone since; the API's pods have
  start conditions and ``Pulled`` events.
- **certificate_expiry** (Problem 5): cert-manager's ``production/payments-tls`` expires in
  5 days and is not Ready (renewal failing: critical), ``staging/staging-api-tls`` in 15 days
  (warning); ``production/api-tls`` and ``monitoring/grafana-tls`` are healthy. A blackbox
  probe of ``https://legacy.dwcp.io`` (not cert-manager's) sees 12 days left (warning).
- **consumer_lag_high** (KI-001): ``dwcp-notifier`` on ``dwcp-events`` falls behind over the
  last 36 hours (lag rising steadily); ``dwcp-workers`` only has rollout spikes (silent).
- **redis_saturation** (KI-002): ``redis-0`` reaches 97 % of maxclients at the evening peak
  and rejects connections on the last evenings; ``redis-1`` and ``redis-2`` stay near 50 %.

>>> from dwcp_diag.demo import simulate
>>> truth = simulate(days=2).truth["platform"]
>>> truth["certificate_expiry"]["critical"], truth["redis_saturation"]["subject"]
({'namespace': 'production', 'certificate': 'payments-tls'}, {'instance': 'redis-0.redis.data.svc:9121'})
"""  # noqa: E501

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from dwcp_diag.demo.model import iso_utc
from dwcp_diag.units import DAY_S, HOUR_S, MIB

if TYPE_CHECKING:
    from dwcp_diag.demo.model import Cluster, Pod, Rollout

# KI-005: creation -> Ready per workload; the phases of a dwcp-api start (seconds after creation)
SLOW_WORKLOAD = "dwcp-api"
SLOW_START = {"scheduled": 1, "initialized": 14, "pull_s": 125.3, "ready": 240}
FAST_START_S = 35
IMAGE_BYTES = 2_512_334_848

CERTIFICATES = (
    # namespace, name, days left at the end, Ready, reason, dnsNames
    ("production", "api-tls", 62.0, "True", "Ready", ["api.dwcp.io"]),
    ("production", "payments-tls", 5.0, "False", "Failed", ["payments.dwcp.io"]),
    ("staging", "staging-api-tls", 15.0, "True", "Ready", ["api.staging.dwcp.io"]),
    ("monitoring", "grafana-tls", 80.0, "True", "Ready", ["grafana.dwcp.io"]),
)
PROBES = (("https://api.dwcp.io", 62.0), ("https://legacy.dwcp.io", 12.0))
LAGGING_GROUP, LAGGING_TOPIC = "dwcp-notifier", "dwcp-events"
LAG_GROWTH_HOURS = 36.0
LAG_AT_END = 45_000.0
REDIS_MAX_CLIENTS = 10_000
REDIS_PEAK_SHARE = {0: 0.97, 1: 0.52, 2: 0.48}  # of maxclients at the final peak
REDIS_MAX_MEMORY = 1024 * MIB


def start_seconds(pod: Pod) -> float:
    """Seconds from the pod's creation to Ready."""
    return float(SLOW_START["ready"] if pod.workload.name == SLOW_WORKLOAD else FAST_START_S)


def redis_instance(replica: int) -> str:
    return f"redis-{replica}.redis.data.svc:9121"


# -- Prometheus series ----------------------------------------------------------------------


def add_series(gen: Any) -> None:
    """Every platform series: pod times, cert-manager, blackbox, a lagging group, Redis."""
    _pod_times(gen)
    _certificates(gen)
    _lagging_group(gen)
    _redis(gen)


def _pod_times(gen: Any) -> None:
    for pod in gen.cluster.pods:
        span = gen._pod_span(pod)
        if span.stop <= span.start:
            continue
        labels = {"namespace": pod.namespace, "pod": pod.name}
        gen.add_constant("kube_pod_created", "kube_pod_created", labels, pod.created_s, span)
        times = gen.grid_s[span]
        ready = times >= pod.created_s + start_seconds(pod)
        if pod.history.waiting_reason is not None:  # a crash loop is not Ready
            ready &= times < pod.history.termination_times_s[0]
        for condition, values in (("true", ready), ("false", ~ready)):
            gen.add(
                "kube_pod_status_ready",
                "gauge",
                "kube_pod_status_ready",
                {**labels, "condition": condition},
                values.astype(float),
                span.start,
            )


def _certificates(gen: Any) -> None:
    whole = slice(0, len(gen.grid_s))
    end_s = gen.cluster.end_s
    family = "certmanager_certificate_expiration_timestamp_seconds"
    for namespace, name, days, _, _, _ in CERTIFICATES:
        labels = {"namespace": namespace, "name": name, "issuer_name": "letsencrypt"}
        gen.add_constant(family, family, labels, end_s + days * DAY_S, whole)
    family = "certmanager_certificate_ready_status"
    for namespace, name, _, ready, _, _ in CERTIFICATES:
        for condition in ("True", "False", "Unknown"):
            labels = {"namespace": namespace, "name": name, "condition": condition}
            gen.add_constant(family, family, labels, float(condition == ready), whole)
    family = "probe_ssl_earliest_cert_expiry"
    for instance, days in PROBES:
        labels = {"instance": instance, "job": "blackbox-https"}
        gen.add_constant(family, family, labels, end_s + days * DAY_S, whole)


def _lagging_group(gen: Any) -> None:
    """Consumers falling behind: flat, then rising for the last LAG_GROWTH_HOURS."""
    rng = gen.rng("lag", LAGGING_GROUP)
    hours_left = (gen.cluster.end_s - gen.grid_s) / HOUR_S
    rising = np.clip(1 - hours_left / LAG_GROWTH_HOURS, 0, 1)
    total = 300 + (LAG_AT_END - 300) * rising
    for partition in range(4):
        noise = rng.normal(1.0, 0.03, len(gen.grid_s))
        labels = {
            "consumergroup": LAGGING_GROUP,
            "topic": LAGGING_TOPIC,
            "partition": str(partition),
        }
        values = np.round(np.maximum(total / 4 * noise, 0))
        gen.add("kafka_consumergroup_lag", "gauge", "kafka_consumergroup_lag", labels, values)


def _redis(gen: Any) -> None:
    whole = slice(0, len(gen.grid_s))
    count = len(gen.grid_s)
    for replica, share in REDIS_PEAK_SHARE.items():
        rng = gen.rng("redis", replica)
        labels = {"instance": redis_instance(replica)}
        clients = REDIS_MAX_CLIENTS * share * (0.15 + 0.85 * gen.load) + rng.normal(0, 40, count)
        clients = np.clip(np.round(clients), 0, REDIS_MAX_CLIENTS)
        gen.add("redis_connected_clients", "gauge", "redis_connected_clients", labels, clients)
        gen.add_constant(
            "redis_config_maxclients", "redis_config_maxclients", labels, REDIS_MAX_CLIENTS, whole
        )
        full = clients >= REDIS_MAX_CLIENTS * 0.965
        rejected = np.cumsum(np.where(full, rng.poisson(6, count), 0)).astype(float)
        gen.add(
            "redis_rejected_connections",
            "counter",
            "redis_rejected_connections_total",
            labels,
            rejected,
        )
        used = 700 * MIB + 20 * MIB * rng.standard_normal(count)
        gen.add("redis_memory_used_bytes", "gauge", "redis_memory_used_bytes", labels, used)
        gen.add_constant(
            "redis_memory_max_bytes", "redis_memory_max_bytes", labels, REDIS_MAX_MEMORY, whole
        )
        gen.add(
            "redis_evicted_keys", "counter", "redis_evicted_keys_total", labels, np.zeros(count)
        )
        calls = np.cumsum(gen.step_s * 4000 * share * (0.2 + gen.load))
        latency_s = 0.00012 + 0.0004 * share * gen.load**2
        spent = np.cumsum(np.diff(calls, prepend=0.0) * latency_s)
        for cmd, part in (("get", 0.7), ("set", 0.3)):
            commands = {**labels, "cmd": cmd}
            gen.add(
                "redis_commands",
                "counter",
                "redis_commands_total",
                commands,
                np.round(calls * part),
            )
            gen.add(
                "redis_commands_duration_seconds",
                "counter",
                "redis_commands_duration_seconds_total",
                commands,
                np.round(spent * part, 6),
            )


# -- Kubernetes objects ----------------------------------------------------------------------


def pod_conditions(pod: Pod, ready: bool, ready_since_s: float) -> list[dict[str, Any]]:
    """The pod's start conditions: a pod that never restarted became Ready
    :func:`start_seconds` after its creation; a restarted one at its last restart."""
    slow = pod.workload.name == SLOW_WORKLOAD
    scheduled = pod.created_s + (SLOW_START["scheduled"] if slow else 1)
    initialized = pod.created_s + (SLOW_START["initialized"] if slow else 2)
    if ready and len(pod.history.start_times_s) == 1:
        ready_since_s = pod.created_s + start_seconds(pod)

    def condition(kind: str, status: bool, since_s: float) -> dict[str, Any]:
        state = "True" if status else "False"
        return {
            "type": kind,
            "status": state,
            "lastProbeTime": None,
            "lastTransitionTime": iso_utc(since_s),
        }

    return [
        condition("Initialized", True, initialized),
        condition("Ready", ready, ready_since_s),
        condition("ContainersReady", ready, ready_since_s),
        condition("PodScheduled", True, scheduled),
    ]


def pull_events(builder: Any, rollout: Rollout) -> list[dict[str, Any]]:
    """``Pulling``/``Pulled`` events of each pod a rollout created (the kubelet's)."""
    events = []
    for pod in builder.cluster.pods:
        if pod.revision is not rollout.new:
            continue
        workload = pod.workload
        image = f"{workload.image}:{pod.revision.tag}"
        involved = builder._involved("Pod", pod.name, pod.namespace, "v1")
        involved |= {"fieldPath": f"spec.containers{{{workload.container}}}"}
        pulling_s = pod.created_s + (
            SLOW_START["initialized"] if workload.name == SLOW_WORKLOAD else 2
        )
        if workload.name == SLOW_WORKLOAD:
            seconds = SLOW_START["pull_s"]
            message = (
                f'Successfully pulled image "{image}" in 2m5.3s (2m5.3s including waiting). '
                f"Image size: {IMAGE_BYTES} bytes."
            )
            events.append(
                builder._event(
                    involved, "Pulling", f'Pulling image "{image}"', pulling_s, host=pod.node.name
                )
            )
        else:
            seconds, message = 0, f'Container image "{image}" already present on machine'
        events.append(
            builder._event(involved, "Pulled", message, pulling_s + seconds, host=pod.node.name)
        )
    return events


def certificate_objects(builder: Any) -> list[dict[str, Any]]:
    """cert-manager ``Certificate`` resources (cert-manager.io/v1), as of the end."""
    end_s = builder.cluster.end_s
    items = []
    for namespace, name, days, ready, reason, dns in CERTIFICATES:
        not_after = end_s + days * DAY_S
        message = (
            "Certificate is up to date and has not expired"
            if ready == "True"
            else "The certificate request has failed to complete and will be retried: "
            "429 urn:ietf:params:acme:error:rateLimited"
        )
        items.append(
            {
                "apiVersion": "cert-manager.io/v1",
                "kind": "Certificate",
                "metadata": builder._metadata(
                    "Certificate", name, end_s - 90 * DAY_S + days * DAY_S, namespace
                ),
                "spec": {
                    "secretName": f"{name}-secret",
                    "dnsNames": dns,
                    "issuerRef": {"kind": "ClusterIssuer", "name": "letsencrypt"},
                },
                "status": {
                    "notAfter": iso_utc(not_after),
                    "notBefore": iso_utc(not_after - 90 * DAY_S),
                    "renewalTime": iso_utc(not_after - 30 * DAY_S),
                    "conditions": [
                        {
                            "type": "Ready",
                            "status": ready,
                            "reason": reason,
                            "message": message,
                            "lastTransitionTime": iso_utc(end_s - 3 * DAY_S),
                        }
                    ],
                },
            }
        )
    return items


def truth(cluster: Cluster) -> dict[str, Any]:
    """What the platform report must find in the simulated cluster (and what it must not)."""
    slow = [
        {"namespace": p.namespace, "pod": p.name, "created": iso_utc(p.created_s)}
        for p in cluster.pods
        if p.workload.name == SLOW_WORKLOAD
    ]
    return {
        "slow_startup": {
            "subject": {"namespace": "production", "workload": SLOW_WORKLOAD},
            "startup_s": SLOW_START["ready"],
            "image_pull_s": SLOW_START["pull_s"],
            "pods": slow,
            "fast_startup_s": FAST_START_S,
        },
        "rollout_slow": {
            "subject": {"namespace": "production", "deployment": SLOW_WORKLOAD},
            "rollouts": [
                iso_utc(r.time_s) for r in cluster.rollouts if r.workload.name == SLOW_WORKLOAD
            ],
        },
        "certificate_expiry": {
            "critical": {"namespace": "production", "certificate": "payments-tls"},
            "warning": [
                {"namespace": "staging", "certificate": "staging-api-tls"},
                {"endpoint": "https://legacy.dwcp.io"},
            ],
            "healthy": [
                {"namespace": "production", "certificate": "api-tls"},
                {"namespace": "monitoring", "certificate": "grafana-tls"},
                {"endpoint": "https://api.dwcp.io"},
            ],
        },
        "consumer_lag_high": {
            "subject": {"consumergroup": LAGGING_GROUP, "topic": LAGGING_TOPIC},
            "growth_hours": LAG_GROWTH_HOURS,
            "lag_at_end": LAG_AT_END,
            "spikes_only": {"consumergroup": "dwcp-workers", "topic": "dwcp-tasks"},
        },
        "redis_saturation": {
            "subject": {"instance": redis_instance(0)},
            "peak_share": REDIS_PEAK_SHARE[0],
            "healthy": [{"instance": redis_instance(r)} for r in (1, 2)],
        },
    }
