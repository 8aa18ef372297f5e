"""The Kubernetes loader against the local API stand-in, with the real ``kubernetes`` client."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any
from urllib.error import HTTPError

import pandas as pd
import pytest
import yaml

from dwcp_diag.errors import AuthError, SourceUnavailable
from dwcp_diag.sandbox import kubeapi_objects as k8s
from dwcp_diag.sandbox.kubeapi import DEFAULT_TOKEN, KubeApiStandIn
from dwcp_diag.sources.kubernetes import (
    CERTIFICATE_SCHEMA,
    CLAIM_SCHEMA,
    CONTAINER_SCHEMA,
    ENDPOINTS,
    EVENT_SCHEMA,
    NODE_SCHEMA,
    OPTIONAL_ENDPOINTS,
    POD_METRICS_SCHEMA,
    POD_SCHEMA,
    POD_START_SCHEMA,
    PV_SCHEMA,
    ROLLOUT_SCHEMA,
    WORKLOAD_SCHEMA,
    KubernetesLoader,
)
from dwcp_diag.sources.quantity import QuantityError
from dwcp_diag.sources.snapshot import Recorder, SnapshotBundle
from tests.fixtures.kubeapi import settings_for, simulated_cluster

ROOT = Path(__file__).resolve().parent.parent
INCIDENT = ("2026-11-12T13:00:00Z", "2026-11-12T15:00:00Z")  # the simulator's last rollout


@pytest.fixture
def loader(kube_settings) -> KubernetesLoader:
    return KubernetesLoader(kube_settings)


def truth(name: str) -> Any:
    return simulated_cluster().truth[name]


def every_call(loader: KubernetesLoader) -> dict[str, pd.DataFrame]:
    """One frame from every public call (what a full report loads)."""
    return {
        "containers": loader.containers(),
        "pods": loader.pods(),
        "pod_metrics": loader.pod_metrics(),
        "nodes": loader.nodes(),
        "persistent_volumes": loader.persistent_volumes(),
        "claims": loader.claims(),
        "events": loader.events(),
        "rollouts": loader.rollouts(*INCIDENT),
        "workloads": loader.workloads(),
        "pod_starts": loader.pod_starts(),
        "certificates": loader.certificates(),
    }


SCHEMAS = {
    "containers": CONTAINER_SCHEMA,
    "pods": POD_SCHEMA,
    "pod_metrics": POD_METRICS_SCHEMA,
    "nodes": NODE_SCHEMA,
    "persistent_volumes": PV_SCHEMA,
    "claims": CLAIM_SCHEMA,
    "events": EVENT_SCHEMA,
    "rollouts": ROLLOUT_SCHEMA,
    "workloads": WORKLOAD_SCHEMA,
    "pod_starts": POD_START_SCHEMA,
    "certificates": CERTIFICATE_SCHEMA,
}


def dtype_names(frame: pd.DataFrame) -> list[str]:
    return [str(dtype) for dtype in frame.dtypes]


@pytest.fixture(scope="module")
def full_run(kube_api_server: KubeApiStandIn) -> tuple[dict[str, pd.DataFrame], list]:
    """Every call once (and ``check``) on the default cluster, and the requests it made."""
    kube_api_server.reset()
    loader = KubernetesLoader(settings_for(kube_api_server))
    frames = every_call(loader)
    loader.check()
    requests = list(kube_api_server.requests)
    kube_api_server.reset()
    return frames, requests


# -- the simulator's cluster -----------------------------------------------------------------------
def test_every_call_returns_its_schema(full_run, loader: KubernetesLoader) -> None:
    for name, frame in full_run[0].items():
        assert list(frame.columns) == list(SCHEMAS[name]), name
        assert len(frame) > 0, name
    pods = simulated_cluster().pods_at_end()
    assert len(loader.pods()) == len(pods)


def test_crashloop_and_oomkilled_containers_with_exit_codes(loader: KubernetesLoader) -> None:
    containers = loader.containers().set_index(["namespace", "pod", "container"])
    crash, oom = truth("crashloop"), truth("oom_killed")

    crashing = containers.loc[tuple(crash["subject"].values())]
    assert crashing["state"] == "waiting" and crashing["state_reason"] == "CrashLoopBackOff"
    assert crashing["last_terminated_reason"] == crash["reason"]
    assert crashing["last_exit_code"] == crash["exit_code"] == 1
    assert crashing["restart_count"] == crash["restart_count"]
    assert not crashing["ready"]

    killed = containers.loc[tuple(oom["subject"].values())]
    assert killed["last_terminated_reason"] == "OOMKilled"
    assert killed["last_exit_code"] == oom["exit_code"] == 137
    assert killed["restart_count"] == oom["restart_count"]
    assert killed["last_terminated_at"] == pd.Timestamp(oom["oom_times"][-1])


def test_owner_resolves_through_replicaset_to_deployment(kube_api, loader) -> None:
    pods = loader.pods().set_index("pod")
    crash_pod = truth("crashloop")["subject"]["pod"]
    assert pods.loc[crash_pod, ["owner_kind", "owner_name"]].tolist() == [
        "Deployment",
        "dwcp-scheduler",
    ]
    assert pods.loc["redis-0", ["owner_kind", "owner_name"]].tolist() == ["StatefulSet", "redis"]
    assert kube_api.requests_to("/apis/apps/v1/replicasets")  # resolved by lookup
    assert set(pods["owner_kind"].cat.categories) <= {"Deployment", "StatefulSet", "DaemonSet"}


def test_owner_falls_back_to_pod_template_hash_when_replicasets_are_forbidden(
    kube_api, loader
) -> None:
    kube_api.configure(forbidden=["replicasets"])
    pods = loader.pods().set_index("pod")
    crash_pod = truth("crashloop")["subject"]["pod"]
    assert pods.loc[crash_pod, "owner_name"] == "dwcp-scheduler"
    assert pods.loc[crash_pod, "owner_kind"] == "Deployment"


def test_resources_team_and_app_labels(loader: KubernetesLoader) -> None:
    containers = loader.containers().set_index(["namespace", "pod", "container"])
    no_limit = tuple(truth("no_memory_limit")["subject"].values())
    assert pd.isna(containers.loc[no_limit, "memory_limit_bytes"])
    under = truth("underprovisioned")
    redis = containers.loc[(under["subject"]["namespace"], under["pods"][0], "redis")]
    assert redis["cpu_request_cores"] == under["cpu_request_cores"]
    assert redis["team"] == "data" and redis["app"] == "redis"
    assert containers["memory_request_bytes"].dtype == "float64"


def test_pod_metrics(loader: KubernetesLoader) -> None:
    usage = loader.pod_metrics()
    assert usage["window_s"].gt(0).all()
    assert usage["cpu_usage_cores"].ge(0).all() and usage["memory_usage_bytes"].gt(0).all()
    assert str(usage["timestamp"].dtype) == "datetime64[ns, UTC]"


def test_unused_persistent_volumes(loader: KubernetesLoader) -> None:
    volumes = loader.persistent_volumes().set_index("pv")
    planted = truth("unused_pv")
    unused = {v["persistentvolume"] for v in planted["volumes"]}
    assert set(volumes.index[~volumes["mounted_by_pod"]]) == unused
    assert volumes.loc[list(planted["mounted"]), "mounted_by_pod"].all()
    available = volumes[volumes["phase"] == "Available"]
    assert not available["mounted_by_pod"].any()
    claims = loader.claims().set_index(["namespace", "claim"])
    assert not claims.loc[("production", "export-scratch"), "mounted_by_pod"]


def test_nodes(loader: KubernetesLoader) -> None:
    nodes = loader.nodes()
    assert set(nodes["capacity_type"].dropna()) <= {"spot", "on-demand"}
    assert (nodes["cpu_allocatable_cores"] <= nodes["cpu_capacity_cores"]).all()
    assert (nodes["memory_allocatable_bytes"] <= nodes["memory_capacity_bytes"]).all()
    assert str(nodes["pods_capacity"].dtype) == "Int64" and nodes["ready"].dtype == bool


def test_events_by_reason_and_window(kube_api, loader) -> None:
    oom = loader.events(reasons=["OOMKilling"])
    assert set(oom["reason"]) == {"OOMKilling"} and len(oom) > 0
    assert any("fieldSelector=reason%3DOOMKilling" in r.path for r in kube_api.requests)
    start, end = pd.Timestamp(INCIDENT[0]), pd.Timestamp(INCIDENT[1])
    window = loader.events(start=start, end=end)
    assert len(window) > 0
    assert (window["last_seen"] >= start).all() and (window["first_seen"] <= end).all()


def test_rollouts_in_window(loader: KubernetesLoader) -> None:
    rollouts = loader.rollouts(*INCIDENT)
    new = rollouts[rollouts["change"] == "rollout"]
    assert new[["owner_kind", "owner_name"]].drop_duplicates().values.tolist() == [
        ["Deployment", "dwcp-api"]
    ]
    assert {"scale_up", "scale_down"} <= set(rollouts["change"])
    assert rollouts["time"].is_monotonic_increasing
    quiet = loader.rollouts("2026-11-15T20:00:00Z", "2026-11-15T21:00:00Z")
    assert quiet.empty and dtype_names(quiet) == dtype_names(rollouts)


# -- request behaviour ------------------------------------------------------------------------
def test_pagination_follows_continue_tokens(kube_api, kube_settings) -> None:
    loader = KubernetesLoader(settings_for(kube_api, page_size=4))
    pods = loader.pods()
    pod_requests = kube_api.requests_to("/api/v1/pods")
    expected = len(simulated_cluster().pods_at_end())
    assert len(pod_requests) == -(-expected // 4) >= 3
    assert all(r.query["limit"] == "4" for r in pod_requests)
    assert "continue" not in pod_requests[0].query
    tokens = [r.query["continue"] for r in pod_requests[1:]]
    assert len(set(tokens)) == len(tokens) and all(tokens)
    assert len(pods) == expected and not pods["pod"].duplicated().any()


def test_namespace_and_label_selector(kube_api, loader) -> None:
    production = loader.containers("production")
    assert set(production["namespace"]) == {"production"}
    assert kube_api.requests_to("/api/v1/namespaces/production/pods")
    api = loader.pods(label_selector="app=dwcp-api")
    assert len(api) > 0 and set(api["owner_name"]) == {"dwcp-api"}


def test_empty_namespace_keeps_schema(full_run, loader: KubernetesLoader) -> None:
    full = full_run[0]
    empty = {
        "containers": loader.containers("nowhere"),
        "pods": loader.pods("nowhere"),
        "pod_metrics": loader.pod_metrics("nowhere"),
        "claims": loader.claims("nowhere"),
        "events": loader.events("nowhere"),
        "rollouts": loader.rollouts(*INCIDENT, namespace="nowhere"),
        "workloads": loader.workloads("nowhere"),
    }
    for name, frame in empty.items():
        assert frame.empty, name
        assert list(frame.columns) == list(SCHEMAS[name]), name
        assert dtype_names(frame) == dtype_names(full[name]), name


def test_forbidden_resource_fails_only_its_own_call(kube_api, loader) -> None:
    kube_api.configure(forbidden=["events"])
    with pytest.raises(AuthError) as caught:
        loader.events()
    message = str(caught.value)
    assert "events" in message and "forbidden (403)" in message and "rbac.yaml" in message
    assert caught.value.source == "kubernetes"
    assert len(loader.containers()) > 0 and len(loader.nodes()) > 0
    check = loader.check()
    assert not check.ok and "forbidden: events" in check.detail


def test_metrics_api_absent(kube_api, loader) -> None:
    for answer in (False, "unavailable"):
        kube_api.configure(metrics_api=answer)
        with pytest.raises(SourceUnavailable) as caught:
            loader.pod_metrics()
        assert not isinstance(caught.value, AuthError)
        assert "metrics API (metrics.k8s.io) is not available" in str(caught.value)
        assert "metrics-server" in str(caught.value)
    assert len(loader.containers()) > 0
    check = loader.check()
    assert check.ok and "metrics API: missing" in check.detail


def test_unauthorized_never_echoes_the_token(kube_api, loader) -> None:
    kube_api.configure(token="the-server-wants-another-token")
    with pytest.raises(AuthError) as caught:
        loader.containers()
    message = str(caught.value)
    assert "401" in message
    assert DEFAULT_TOKEN not in message and "the-server-wants-another-token" not in message
    check = loader.check()
    assert not check.ok and DEFAULT_TOKEN not in check.line()


def test_expired_continue_token(kube_api) -> None:
    loader = KubernetesLoader(settings_for(kube_api, page_size=2))
    kube_api.configure(expire_continue=True)
    with pytest.raises(SourceUnavailable, match="410 Expired"):
        loader.pods()


def test_unreachable_server_and_bad_context(tmp_path: Path) -> None:
    with KubeApiStandIn({}, directory=tmp_path) as server:
        settings = settings_for(server, request_timeout_s=2)
    with pytest.raises(SourceUnavailable, match="cannot reach"):
        KubernetesLoader(settings).nodes()
    wrong = settings_for(server, context="no-such-context")
    with pytest.raises(SourceUnavailable, match=r"cannot load kubeconfig .* no-such-context"):
        KubernetesLoader(wrong).nodes()
    assert not KubernetesLoader(wrong).check().ok


def test_malformed_quantity_names_the_object(kube_api_factory) -> None:
    bad = k8s.container("api", memory_limit="12Mb")
    server = kube_api_factory(
        k8s.objects(pods=[k8s.pod("prod", "api-0", node="n1", containers=[bad])])
    )
    with pytest.raises(QuantityError, match="pod prod/api-0 container api: memory limit"):
        KubernetesLoader(settings_for(server)).containers()


def test_only_get_requests(full_run) -> None:
    requests = full_run[1]
    assert len(requests) >= len(ENDPOINTS) and {r.method for r in requests} == {"GET"}


def test_check_reports_version(loader: KubernetesLoader) -> None:
    check = loader.check()
    assert check.ok and "v1.30.4" in check.detail and "all resources readable" in check.detail
    assert check.target.startswith("context dwcp-test at http://127.0.0.1:")


# -- record / replay ----------------------------------------------------------------------------
def test_record_then_replay_gives_identical_frames(kube_settings, tmp_path: Path) -> None:
    now = pd.Timestamp("2026-11-16", tz="UTC")
    recorder = Recorder(tmp_path, now=now)
    live = every_call(KubernetesLoader(kube_settings, recorder=recorder))
    live["empty"] = KubernetesLoader(kube_settings, recorder=recorder).containers("nowhere")
    offline = KubernetesLoader(kube_settings.__class__(), replay=SnapshotBundle(tmp_path))
    replayed = every_call(offline)
    replayed["empty"] = offline.containers("nowhere")
    for name, frame in live.items():
        pd.testing.assert_frame_equal(replayed[name], frame, check_exact=True, obj=name)
    assert offline._client is None  # never connected


def test_replay_reraises_a_recorded_failure(kube_api, kube_settings, tmp_path: Path) -> None:
    kube_api.configure(metrics_api=False)
    recorder = Recorder(tmp_path, now=pd.Timestamp("2026-11-16", tz="UTC"))
    with pytest.raises(SourceUnavailable):
        KubernetesLoader(kube_settings, recorder=recorder).pod_metrics()
    offline = KubernetesLoader(kube_settings, replay=SnapshotBundle(tmp_path))
    with pytest.raises(SourceUnavailable, match="metrics API"):
        offline.pod_metrics()


# -- deploy/rbac.yaml ---------------------------------------------------------------------------
def test_rbac_is_read_only_and_covers_every_endpoint(full_run) -> None:
    documents = list(yaml.safe_load_all((ROOT / "deploy" / "rbac.yaml").read_text()))
    kinds = {d["kind"]: d for d in documents}
    assert set(kinds) == {"ServiceAccount", "ClusterRole", "ClusterRoleBinding"}
    rules = kinds["ClusterRole"]["rules"]
    assert all(set(rule["verbs"]) <= {"get", "list", "watch"} for rule in rules)
    granted = {
        (group, resource)
        for rule in rules
        for group in rule.get("apiGroups", ())
        for resource in rule.get("resources", ())
    }
    urls = {url for rule in rules for url in rule.get("nonResourceURLs", ())}
    required = {(e.group, e.resource) for k, e in ENDPOINTS.items() if k not in OPTIONAL_ENDPOINTS}
    optional = {(ENDPOINTS[k].group, ENDPOINTS[k].resource) for k in OPTIONAL_ENDPOINTS}
    assert required <= granted <= required | optional  # every endpoint, nothing more

    for request in full_run[1]:
        route = request.route
        if route.startswith("/version"):
            assert route in urls
            continue
        parts = route.strip("/").split("/")
        group = "" if parts[0] == "api" else parts[1]
        assert (group, parts[-1]) in granted | optional, route
    binding = kinds["ClusterRoleBinding"]
    assert binding["roleRef"]["name"] == kinds["ClusterRole"]["metadata"]["name"]
    assert binding["subjects"][0]["name"] == kinds["ServiceAccount"]["metadata"]["name"]


# -- the stand-in itself ------------------------------------------------------------------------
def get(server: KubeApiStandIn, path: str, token: str | None = DEFAULT_TOKEN) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(server.url + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except HTTPError as error:
        return error.code, json.loads(error.read())


def test_stand_in_lists_and_statuses(kube_api) -> None:
    code, first = get(kube_api, "/api/v1/pods?limit=5")
    total = len(simulated_cluster().pods_at_end())
    assert code == 200 and first["kind"] == "PodList" and len(first["items"]) == 5
    assert first["metadata"]["remainingItemCount"] == total - 5
    token = first["metadata"]["continue"]
    _, second = get(kube_api, f"/api/v1/pods?limit=5&continue={token}")
    assert {i["metadata"]["name"] for i in first["items"]}.isdisjoint(
        i["metadata"]["name"] for i in second["items"]
    )
    _, selected = get(kube_api, "/api/v1/pods?limit=2&labelSelector=app%20in%20(redis)")
    assert "remainingItemCount" not in selected["metadata"]  # unknown with selectors
    code, status = get(kube_api, "/api/v1/pods", token="wrong")
    assert (code, status["kind"], status["reason"], status["code"]) == (
        401,
        "Status",
        "Unauthorized",
        401,
    )
    kube_api.configure(forbidden=["nodes"], metrics_api=False)
    code, status = get(kube_api, "/api/v1/nodes")
    assert code == 403 and status["reason"] == "Forbidden" and status["status"] == "Failure"
    code, status = get(kube_api, "/apis/metrics.k8s.io/v1beta1/pods")
    assert code == 404 and status["reason"] == "NotFound"


def test_configmaps_are_optional_a_role_without_them_still_checks_ok(kube_api_factory) -> None:
    server = kube_api_factory(forbidden=["configmaps"])
    loader = KubernetesLoader(settings_for(server))
    check = loader.check()
    assert check.ok and "configmaps not readable (optional: " in check.detail
    with pytest.raises(AuthError, match="configmaps"):
        loader.configmaps()
    server.configure(forbidden=["nodes"])
    assert not loader.check().ok  # a required resource still fails the check
