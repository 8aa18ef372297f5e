"""Change points end to end: a real Prometheus (backfilled by promtool) and the Kubernetes API
stand-in, each change kind planted before its own consumer-lag spike.

Five consumer groups, one Deployment each, one hour of incident window (T = NOW - 2h):

- ``billing``: scaled only (a ScalingReplicaSet event, no new ReplicaSet) at T+10m, lag at T+15m
- ``audit``: rolled out by ``kubectl rollout restart`` (a new ReplicaSet whose pod template
  carries ``restartedAt``, and its scaling steps) at T+20m, lag at T+24m
- ``mailer``: a container restart (Prometheus counter) at T+30m, lag at T+33m
- ``indexer``: its node went NotReady (the node controller's Pod event) at T+40m, lag at T+44m
- ``report``: lag at T+50m; its own last change (a scale) is 2h10m earlier, and other workloads
  changed 10 minutes before it (and a node running only ``web-frontend`` pods went NotReady
  5 minutes before it): it must not be attributed
- ``search``: its node went NotReady at T+52m with the events expired (only the Nodes list's
  Ready condition and the pods' ``spec.nodeName`` say so), lag at T+56m
- the mailer's node was cordoned at T+35m (its taint's ``timeAdded``): a change point, not a
  rebalance
- ``cron-runner`` scaled at T+5m with its events expired: only ``kube_deployment_spec_replicas``
  sees it
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

import dwcp_diag
from dwcp_diag.analysis.incident import (
    change_findings,
    change_points,
    consumer_lag_spike,
    preceding_changes,
)
from dwcp_diag.collect.incident import collect_incident
from dwcp_diag.config import Profile, PrometheusSettings
from dwcp_diag.queries.promql import SPEC_REPLICAS
from dwcp_diag.report.parameters import notebook_parameter_types, notebook_parameters
from dwcp_diag.sandbox import kubeapi_objects as k8s
from dwcp_diag.sandbox.prometheus import PrometheusServer, ServerError, cached_blocks
from dwcp_diag.sources.kubernetes import KubernetesLoader
from dwcp_diag.sources.prometheus import PrometheusLoader
from dwcp_diag.sources.prometheus_empty import EMPTY_REASON
from dwcp_diag.timewindow import TimeWindow
from tests.fixtures.kubeapi import settings_for

NS = "production"
T = k8s.NOW - pd.Timedelta("2h")
WINDOW = TimeWindow(T, T + pd.Timedelta("1h"))
SPIKES = {
    "billing": 15,
    "audit": 24,
    "mailer": 33,
    "indexer": 44,
    "report": 50,
    "search": 56,
}  # minutes


def at(minutes: float) -> pd.Timestamp:
    return T + pd.Timedelta(minutes=minutes)


def before_now(minutes: float) -> float:
    """Minutes before the stand-in's NOW of ``T + minutes``."""
    return 120 - minutes


def write_series(path: Path) -> dict[str, int]:
    """Lag per group, a restart counter, spec replicas per Deployment: one sample a minute."""
    times = pd.date_range(T - pd.Timedelta("3h"), k8s.NOW, freq="1min")
    lines = ["# TYPE kafka_consumergroup_lag gauge"]
    for group, start in SPIKES.items():
        spike = (times >= at(start)) & (times < at(start + 8))
        labels = f'consumergroup="{group}-consumers",topic="{group}-tasks"'
        lines += [
            f"kafka_consumergroup_lag{{{labels}}} {25000 if s else 200} {int(t.timestamp())}"
            for t, s in zip(times, spike, strict=True)
        ]
    lines.append("# TYPE kube_pod_container_status_restarts_total counter")
    pod = 'namespace="production",pod="mailer-consumer-5d8c9f7b6-abcde",container="app"'
    lines += [
        f"kube_pod_container_status_restarts_total{{{pod}}} {int(t >= at(30))} {int(t.timestamp())}"
        for t in times
    ]
    lines.append("# TYPE kube_deployment_spec_replicas gauge")
    steps = {  # deployment: (replicas before, after, minute of the change)
        "billing-consumer": (2, 4, 10),  # the event saw it too: one change, not two
        "audit-consumer": (2, 2, 0),
        "mailer-consumer": (2, 2, 0),
        "indexer-consumer": (3, 3, 0),
        "report-consumer": (2, 3, -80),
        "search-consumer": (2, 2, 0),
        "cron-runner": (1, 2, 5),
    }
    for deployment, (before, after, minute) in steps.items():
        labels = f'namespace="production",deployment="{deployment}"'
        lines += [
            f"kube_deployment_spec_replicas{{{labels}}} {after if t >= at(minute) else before} "
            f"{int(t.timestamp())}"
            for t in times
        ]
    path.write_text("\n".join([*lines, "# EOF", ""]))
    return {"samples": len(lines)}


def cluster_objects() -> dict:
    scaled = "billing-consumer-6f7d8c9b5"
    new, old = "audit-consumer-7c6b5d4f3", "audit-consumer-5b4c3d2e1"
    indexer_pod = "indexer-consumer-5d8c9f7b6-q2w3e"
    events = [
        k8s.event(NS, "ScalingReplicaSet", kind="Deployment", name="billing-consumer",
                  message=f"Scaled up replica set {scaled} from 2 to 4", first=before_now(10),
                  component="deployment-controller"),
        k8s.event(NS, "ScalingReplicaSet", kind="Deployment", name="audit-consumer",
                  message=f"Scaled up replica set {new} from 0 to 2", first=before_now(20),
                  component="deployment-controller"),
        k8s.event(NS, "ScalingReplicaSet", kind="Deployment", name="audit-consumer",
                  message=f"Scaled down replica set {old} from 2 to 0", first=before_now(21),
                  component="deployment-controller"),
        k8s.event(NS, "NodeNotReady", kind="Pod", name=indexer_pod, type="Warning",
                  message="Node is not ready", first=before_now(40),
                  component="node-controller"),
        k8s.event(NS, "BackOff", kind="Pod", name="audit-consumer-7c6b5d4f3-zz9x8",
                  type="Warning", message="Back-off pulling image", first=before_now(45)),
    ]  # fmt: skip
    replicasets = [
        k8s.replicaset(NS, scaled, "billing-consumer", revision=3, replicas=4, created=60 * 48),
        k8s.replicaset(NS, old, "audit-consumer", revision=6, replicas=0, created=60 * 48),
        k8s.replicaset(NS, new, "audit-consumer", revision=7, replicas=2, created=before_now(20)),
    ]
    restarted = {"kubectl.kubernetes.io/restartedAt": k8s.ts(before_now(20))}
    replicasets[-1]["spec"]["template"]["metadata"] = {"annotations": restarted}
    nodes = [
        k8s.node("ip-10-0-1-11"),
        k8s.node("ip-10-0-1-17", ready=False, ready_since=before_now(40)),  # the event too
        k8s.node("ip-10-0-2-30", ready=False, ready_since=before_now(52)),  # events expired
        k8s.node("ip-10-0-3-40", ready=False, ready_since=before_now(45)),  # web only
        k8s.node("ip-10-0-4-50", cordoned=before_now(35)),
        k8s.node("ip-10-0-5-60", ready_since=before_now(30)),  # Ready again: no change
    ]
    placed = {
        "ip-10-0-1-11": ["report-consumer", "billing-consumer"],
        "ip-10-0-1-17": ["indexer-consumer"],
        "ip-10-0-2-30": ["search-consumer"],
        "ip-10-0-3-40": ["web-frontend", "web-frontend"],
        "ip-10-0-4-50": ["mailer-consumer"],
        "ip-10-0-5-60": ["audit-consumer"],
    }
    pods = [
        consumer_pod(deployment, node, i)
        for node, deployments in placed.items()
        for i, deployment in enumerate(deployments)
    ]
    search = next(p for p in pods if p["metadata"]["name"].startswith("search-"))
    search["spec"]["containers"][0]["envFrom"] = [{"configMapRef": {"name": "search-settings"}}]
    configmaps = [
        k8s.configmap(NS, "search-settings", updated=before_now(20)),  # read by search pods
        k8s.configmap(NS, "feature-flags", updated=before_now(30)),  # read by no pod
        k8s.configmap(NS, "billing-settings", updated=60 * 24 * 30),  # never written since
    ]
    return k8s.objects(
        events=events, replicasets=replicasets, nodes=nodes, pods=pods, configmaps=configmaps
    )


def consumer_pod(deployment: str, node: str, i: int) -> dict:
    """A pod of ``deployment``'s ReplicaSet ``5d8c9f7b6`` on ``node``."""
    labels = {"app": deployment, "pod-template-hash": "5d8c9f7b6"}
    name = f"{deployment}-5d8c9f7b6-{node[-2:]}x{i}z"
    return k8s.pod(NS, name, node=node, containers=[k8s.container("app")], labels=labels,
                   owner=("ReplicaSet", f"{deployment}-5d8c9f7b6"))  # fmt: skip


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusLoader]:
    root = tmp_path_factory.mktemp("incident-changes")
    try:
        server = PrometheusServer(cached_blocks(root / "blocks", write_series), root / "data")
        server.start()
    except ServerError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield PrometheusLoader(PrometheusSettings(url=server.url))
    server.stop()


@pytest.fixture
def points(prometheus: PrometheusLoader, kube_api_factory) -> pd.DataFrame:
    kube = KubernetesLoader(settings_for(kube_api_factory(cluster_objects())))
    start, end = WINDOW.start - pd.Timedelta("1h"), WINDOW.end
    prom = {"start": start, "end": end, "step": 60}
    restarts = prometheus.range(
        "sum by (namespace, pod) (kube_pod_container_status_restarts_total)",
        labels=["namespace", "pod"], **prom,
    )  # fmt: skip
    spec = prometheus.range(
        "max by (namespace, deployment) (kube_deployment_spec_replicas)",
        labels=["namespace", "deployment"], **prom,
    )  # fmt: skip
    return change_points(
        rollouts=kube.rollouts(start, end),
        events=kube.events(start=start, end=end),
        restarts=restarts,
        spec_replicas=spec,
        nodes=kube.nodes(),
        pods=kube.pods(),
        configmaps=kube.configmaps(),
    ).assign(workloads=lambda f: [sorted(spec["deployment"].unique())] * len(f))


def lag_findings(prometheus: PrometheusLoader, points: pd.DataFrame) -> dict[str, dict]:
    lag = prometheus.range(
        "sum by (consumergroup, topic) (kafka_consumergroup_lag)",
        start=WINDOW.start, end=WINDOW.end, step=60, labels=["consumergroup", "topic"],
    )  # fmt: skip
    workloads = points["workloads"].iloc[0]
    found = consumer_lag_spike(lag, WINDOW, changes=points.drop(columns="workloads"),
                               workloads=workloads)  # fmt: skip
    return {f.subject["consumergroup"].removesuffix("-consumers"): f for f in found}


def test_every_change_kind_is_one_change_point(points):
    kinds = points[["kind", "workload", "source"]].values.tolist()
    assert kinds == [
        ["scale", "cron-runner", "prometheus"],  # events expired: spec_replicas step
        ["scale", "billing-consumer", "kubernetes"],  # scale-only: the event, once
        ["config", "search-consumer", "configmaps"],  # search-settings, read by its pods
        ["rollout", "audit-consumer", "kubernetes"],  # its own scaling steps are not scales
        ["config", "feature-flags", "configmaps"],  # read by no pod: the ConfigMap itself
        ["restart", "mailer-consumer", "prometheus"],
        ["cordon", "mailer-consumer", "nodes"],  # the cordoned node's pods
        ["node_not_ready", "indexer-consumer", "events"],  # the event and the node: once
        ["node_not_ready", "web-frontend", "nodes"],  # two pods, one workload: once
        ["node_not_ready", "search-consumer", "nodes"],  # events expired: the Ready condition
    ]
    report = points[points["workload"] == "report-consumer"]
    assert report.empty  # its scale is before the loaded span


def test_rollout_and_scale_findings(points):
    found = change_findings(points.drop(columns="workloads"), WINDOW)
    assert sorted((f.check, f.subject["deployment"]) for f in found) == [
        ("deployment_in_window", "audit-consumer"),
        ("scaling_in_window", "billing-consumer"),
        ("scaling_in_window", "cron-runner"),
    ]
    billing = next(f for f in found if f.subject["deployment"] == "billing-consumer")
    assert (billing.evidence["replicas_before"], billing.evidence["replicas_after"]) == (2, 4)
    assert billing.evidence["time"] == at(10)
    cron = next(f for f in found if f.subject["deployment"] == "cron-runner")
    assert (cron.evidence["replicas_before"], cron.evidence["replicas_after"]) == (1, 2)
    audit = next(f for f in found if f.check == "deployment_in_window")
    assert audit.evidence["replicaset"] == "audit-consumer-7c6b5d4f3"
    assert "(kubectl rollout restart)" in audit.evidence["description"]


@pytest.mark.parametrize(
    ("group", "kind", "delay_min"),
    [("billing", "scale", 5), ("audit", "rollout", 4), ("mailer", "restart", 3),
     ("indexer", "node_not_ready", 4), ("search", "node_not_ready", 4)],
)  # fmt: skip
def test_each_change_kind_before_its_lag_spike_is_ki_001(prometheus, points, group, kind,
                                                          delay_min):  # fmt: skip
    spike = lag_findings(prometheus, points)[group]
    assert spike.evidence["known_issue"] == "KI-001"
    change = spike.evidence["preceding_change"]
    assert (change["kind"], change["workload"]) == (kind, f"{group}-consumer")
    assert change["delay_s"] == delay_min * 60
    assert "KI-001 pattern" in spike.summary


def test_a_spike_with_no_change_of_its_own_is_not_attributed(prometheus, points):
    # the indexer's node went NotReady 10 minutes before, a node running only web-frontend
    # pods 5 minutes before (report-consumer runs on a Ready node): neither touched it
    spike = lag_findings(prometheus, points)["report"]
    assert spike.evidence["known_issue"] is None
    assert spike.evidence["preceding_change"] is None
    assert "not the known KI-001 pattern" in spike.summary


def test_a_change_source_the_demo_did_not_record_is_an_empty_frame_with_its_reason():
    s = dwcp_diag.session(source="demo")
    incident = collect_incident(s, s.window(start="2026-11-12T14:00Z", end="2026-11-12T14:45Z"))
    spec = incident.frames["spec_replicas"]
    reason = spec.attrs[EMPTY_REASON]  # not recorded (an older bundle), or recorded: no series
    assert spec.empty and ("has no recording" in reason or SPEC_REPLICAS in reason)
    assert not [f for f in incident.findings if f.check == "source_unavailable"]
    points = incident.report["changes"]
    assert points[points["kind"] == "rollout"]["workload"].tolist() == ["dwcp-api"]
    assert {f.check for f in incident.findings} >= {"deployment_in_window", "consumer_lag_spike"}


def test_a_node_change_touches_only_the_workloads_that_ran_there(points):
    changes = points.drop(columns="workloads")
    # report-consumer runs on a Ready node; web-frontend's node went NotReady 5m before
    near = preceding_changes(changes, at(50), service="report-consumer", lookback_s=600)
    assert not near["touches_service"].any()
    assert "web-frontend" in near["workload"].tolist()
    near = preceding_changes(changes, at(50), service="web-frontend", lookback_s=600)
    first = near.iloc[0]
    assert (first["kind"], first["object"], bool(first["touches_service"])) == (
        "node_not_ready", "ip-10-0-3-40", True)  # fmt: skip


@dataclass
class StandInSession:
    """What collect_incident reads: a profile, Prometheus and the Kubernetes stand-in."""

    profile: Profile
    prom: PrometheusLoader
    k8s: KubernetesLoader
    pg: None = None


@pytest.mark.server
@pytest.mark.parametrize("forbidden", [[], ["configmaps"]])
def test_collect_incident_reads_nodes_and_configmaps_when_allowed(
    prometheus, kube_api_factory, forbidden
):
    kube = KubernetesLoader(settings_for(kube_api_factory(cluster_objects(), forbidden=forbidden)))
    session = StandInSession(Profile(), prometheus, kube)
    incident = collect_incident(session, WINDOW, margin="1h", service="search-consumer")
    points = incident.report["changes"]
    search = points[points["workload"] == "search-consumer"]
    assert "node_not_ready" in search["kind"].tolist()  # from the Nodes list: events expired
    assert not [f for f in incident.findings if f.check == "source_unavailable"]
    notes = [n for n in incident.report["notes"] if "ConfigMap" in n]
    if forbidden:  # said once in the text, no finding, no config change
        assert len(notes) == 1 and "may not list ConfigMaps" in notes[0]
        assert "config" not in points["kind"].tolist()
    else:
        assert notes == []
        assert "config" in search["kind"].tolist()


@pytest.mark.parametrize(("service", "touches"), [(None, False), ("dwcp-api", True),
                                                  ("dwcp-worker", False)])  # fmt: skip
def test_the_service_parameter_ranks_its_own_changes_first(service, touches):
    s = dwcp_diag.session(source="demo")
    window = s.window(start="2026-11-12T14:00Z", end="2026-11-12T14:45Z")
    incident = collect_incident(s, window, service=service)
    breaches = [f for f in incident.findings if f.check == "error_rate_breach"]
    assert breaches  # the seeded incident: 5xx after the dwcp-api rollout
    for breach in breaches:
        first = breach.evidence["preceding_changes"][0]
        assert (first["kind"], first["workload"]) == ("rollout", "dwcp-api")
        assert first["touches_service"] is touches
        assert ("(the service itself)" in breach.summary) is touches


def test_the_incident_notebook_declares_service_any_by_default():
    notebook = Path(dwcp_diag.__file__).resolve().parent.parent / "notebooks" / "incident.ipynb"
    assert notebook_parameters(notebook)["service"]["default"] == "None"
    service = notebook_parameter_types(notebook)["service"]
    assert (service.kind, service.optional) == ("str", True)
    assert service.convert("dwcp-api") == "dwcp-api"
