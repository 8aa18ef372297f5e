"""The demo simulator: determinism, series invariants, seeded problems, Kubernetes JSON, promtool.

Most checks use a 4-day cluster: it still holds the latency incident (2026-11-12), a rollout
with its Kafka lag spike, OOM kills of the leaking worker and the crash loop at the end.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dwcp_diag.demo import DEMO_END, DEMO_SEED, Cluster, simulate
from dwcp_diag.demo.kube import build_kube_objects
from dwcp_diag.demo.openmetrics import write_cluster_openmetrics
from dwcp_diag.demo.simulator import HISTOGRAM_BOUNDS_S, MIB, histogram_quantile
from dwcp_diag.sources.quantity import parse_bytes, parse_cpu_cores

SeriesIndex = dict[str, list[tuple[dict[str, str], np.ndarray, np.ndarray]]]
COUNTERS = (
    "http_requests_total",
    "http_request_duration_seconds_bucket",
    "http_request_duration_seconds_count",
    "http_request_duration_seconds_sum",
    "container_cpu_usage_seconds_total",
    "kube_pod_container_status_restarts_total",
)


@pytest.fixture(scope="module")
def cluster() -> Cluster:
    return simulate(days=4)


@pytest.fixture(scope="module")
def series(cluster: Cluster) -> SeriesIndex:
    index: SeriesIndex = defaultdict(list)
    for name, labels, timestamps_s, values in cluster.iter_series():
        index[name].append((labels, timestamps_s, values))
    return index


@pytest.fixture(scope="module")
def kube(cluster: Cluster) -> dict[str, dict]:
    return build_kube_objects(cluster)


def only(series: SeriesIndex, name: str, **labels: str) -> tuple[np.ndarray, np.ndarray]:
    """Timestamps and values of the one series of ``name`` with these labels."""
    found = [
        (ts, values)
        for have, ts, values in series[name]
        if all(have.get(key) == value for key, value in labels.items())
    ]
    assert len(found) == 1, f"{name}{labels}: {len(found)} series"
    return found[0]


def unix_s(iso: str) -> int:
    return int(pd.Timestamp(iso).timestamp())


def openmetrics_bytes(cluster: Cluster, directory: Path) -> bytes:
    path = directory / f"{cluster.seed}-{len(cluster.grid_s)}.om"
    write_cluster_openmetrics(cluster, path)
    return path.read_bytes()


# ---------------------------------------------------------------------------- determinism


def test_same_arguments_give_byte_identical_outputs(tmp_path: Path) -> None:
    first, second = simulate(days=2), simulate(days=2)
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    assert openmetrics_bytes(first, tmp_path / "first") == openmetrics_bytes(
        second, tmp_path / "second"
    )
    assert json.dumps(build_kube_objects(first)) == json.dumps(build_kube_objects(second))
    assert first.postgres_setup_sql() == second.postgres_setup_sql()
    assert first.postgres_workload() == second.postgres_workload()
    assert json.dumps(first.truth) == json.dumps(second.truth)


def test_another_seed_gives_another_cluster(tmp_path: Path) -> None:
    default, other = simulate(days=2), simulate(seed=7, days=2)
    assert default.seed == DEMO_SEED
    assert openmetrics_bytes(default, tmp_path) != openmetrics_bytes(other, tmp_path)
    assert json.dumps(build_kube_objects(default)) != json.dumps(build_kube_objects(other))
    assert default.truth["memory_leak"]["subject"] != other.truth["memory_leak"]["subject"]


@pytest.mark.server  # starts a notebook kernel or another process
def test_output_does_not_depend_on_the_process() -> None:
    """A fresh interpreter (another str hash seed) prints the same truth through the CLI."""
    printed = subprocess.run(
        [sys.executable, "-m", "dwcp_diag.demo", "truth", "--days", "1", "--seed", "11"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    assert json.loads(printed) == json.loads(json.dumps(simulate(seed=11, days=1).truth))


def test_defaults_and_window(cluster: Cluster) -> None:
    assert pd.Timestamp("2026-11-16T00:00:00Z") == DEMO_END and DEMO_END.day_name() == "Monday"
    assert cluster.end == DEMO_END and cluster.start == DEMO_END - pd.Timedelta(days=4)
    assert cluster.grid_s[0] == cluster.start_s and cluster.grid_s[-1] == cluster.end_s
    assert np.all(np.diff(cluster.grid_s) == 120)


# ---------------------------------------------------------------------------- series invariants


def test_counters_only_fall_at_documented_container_restarts(
    cluster: Cluster, series: SeriesIndex
) -> None:
    resets = {
        tuple(sorted(entry["labels"].items())): np.array([unix_s(t) for t in entry["times"]])
        for entry in cluster.truth["counter_resets"]
    }
    seen_resets = 0
    assert set(COUNTERS) <= set(series)
    for name in COUNTERS:
        for labels, timestamps_s, values in series[name]:
            falls = np.flatnonzero(np.diff(values) < 0) + 1
            if not len(falls):
                continue
            restart_times_s = resets.get(tuple(sorted(labels.items())))
            assert restart_times_s is not None, f"{name}{labels} falls at {timestamps_s[falls]}"
            # A fall is allowed only at the first scrape after a restart.
            previous_s, current_s = timestamps_s[falls - 1], timestamps_s[falls]
            explained = [
                np.any((restart_times_s > lo) & (restart_times_s <= hi))
                for lo, hi in zip(previous_s, current_s, strict=True)
            ]
            assert all(explained), f"{name}{labels} falls without a restart"
            seen_resets += len(falls)
    assert seen_resets > 100  # the crash loop restarts every ~5 minutes for ~20 hours


def test_histogram_buckets_are_cumulative_and_match_count(series: SeriesIndex) -> None:
    by_path = defaultdict(dict)
    for labels, _, values in series["http_request_duration_seconds_bucket"]:
        by_path[labels["path"]][labels["le"]] = values
    assert len(by_path) == 5
    expected_le = [f"{bound:g}" for bound in HISTOGRAM_BOUNDS_S] + ["+Inf"]
    assert "0.2" in expected_le
    for path, buckets in by_path.items():
        assert sorted(buckets, key=float) == sorted(expected_le, key=float)
        matrix = np.array([buckets[le] for le in expected_le])
        assert np.all(np.diff(matrix, axis=0) >= 0), f"{path}: bucket decreases with le"
        _, count = only(series, "http_request_duration_seconds_count", path=path)
        np.testing.assert_array_equal(matrix[-1], count)
        requests = sum(
            v for labels, _, v in series["http_requests_total"] if labels["path"] == path
        )
        np.testing.assert_array_equal(requests, count)
        _, seconds = only(series, "http_request_duration_seconds_sum", path=path)
        assert np.all(np.diff(seconds) >= 0)


def test_openmetrics_file_matches_iter_series(tmp_path: Path) -> None:
    one_day = simulate(days=1)
    path = tmp_path / "demo.om"
    written = write_cluster_openmetrics(one_day, path)
    lines = path.read_text().splitlines()
    assert lines[-1] == "# EOF"
    type_lines = [line.split() for line in lines if line.startswith("# TYPE ")]
    families = [fields[2] for fields in type_lines]
    assert len(families) == len(set(families)), "one TYPE line per family"
    assert {
        "http_requests",
        "container_cpu_usage_seconds",
        "kube_pod_container_status_restarts",
    } <= {fields[2] for fields in type_lines if fields[3] == "counter"}
    assert ["http_request_duration_seconds", "histogram"] in [f[2:] for f in type_lines]
    samples = [line for line in lines if not line.startswith("#")]
    assert len(samples) == written == one_day.sample_count == one_day.truth["sample_count"]
    sample = re.compile(r"([a-z_]+)(?:\{(.*)\})? (\S+) (\d+)$")
    parsed: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for line in samples:
        match = sample.match(line)
        assert match, line
        parsed[f"{match[1]}{{{match[2] or ''}}}"].append((float(match[3]), int(match[4])))
    assert len(parsed) == len(one_day.series) == one_day.truth["series_count"]
    for name, labels, timestamps_s, values in one_day.iter_series():
        key = name + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
        got = np.array(parsed[key])
        np.testing.assert_array_equal(got[:, 1], timestamps_s)
        np.testing.assert_array_equal(got[:, 0], values)  # exact: no precision lost


def test_time_window_chunks_add_up_to_the_whole_file(tmp_path: Path) -> None:
    one_day = simulate(days=1)
    block_s = 7200
    chunk_samples = [
        write_cluster_openmetrics(
            one_day, tmp_path / f"{start}.om", start=start, end=start + block_s
        )
        for start in range(one_day.start_s, one_day.end_s + 1, block_s)
    ]
    assert sum(chunk_samples) == one_day.sample_count
    stamps = {
        int(line.rsplit(" ", 1)[1])
        for line in (tmp_path / f"{one_day.start_s}.om").read_text().splitlines()
        if not line.startswith("#")
    }
    assert min(stamps) == one_day.start_s and max(stamps) < one_day.start_s + block_s


# ---------------------------------------------------------------------------- seeded problems


def test_leaking_container_grows_at_the_stated_rate_between_ooms(
    cluster: Cluster, series: SeriesIndex
) -> None:
    leak = cluster.truth["memory_leak"]
    timestamps_s, memory = only(series, "container_memory_working_set_bytes", **leak["subject"])
    oom_times_s = [unix_s(t) for t in leak["oom_times"]]
    assert len(oom_times_s) >= 3
    assert memory.max() < leak["limit_bytes"]
    full_runs = 0
    for died_s, next_death_s in itertools.pairwise(oom_times_s):
        inside = (timestamps_s > died_s + 60) & (timestamps_s < next_death_s)
        hours = (timestamps_s[inside] - died_s) / 3600
        slope_mib_per_h, start_bytes = np.polyfit(hours, memory[inside] / MIB, 1)
        assert slope_mib_per_h == pytest.approx(leak["rate_mib_per_h"], rel=0.05)
        assert start_bytes == pytest.approx(leak["base_mib"], abs=15)
        full_runs += 1
    assert full_runs >= 2
    _, restarts = only(series, "kube_pod_container_status_restarts_total", **leak["subject"])
    assert restarts[-1] - restarts[0] == len(oom_times_s)
    _, reason = only(series, "kube_pod_container_status_last_terminated_reason", **leak["subject"])
    assert set(reason) == {1.0}


def test_healthy_controls_do_not_trend(cluster: Cluster, series: SeriesIndex) -> None:
    controls = cluster.truth["healthy_controls"]
    for subject in controls["flat"]:
        timestamps_s, memory = only(series, "container_memory_working_set_bytes", **subject)
        slope_mib_per_h = np.polyfit((timestamps_s - timestamps_s[0]) / 3600, memory / MIB, 1)[0]
        assert abs(slope_mib_per_h) < 0.2, subject
    for subject in controls["cyclic"]:
        timestamps_s, memory = only(series, "container_memory_working_set_bytes", **subject)
        whole_days = [
            memory[(timestamps_s // 86400) == day]
            for day in (cluster.end_s // 86400 - 2, cluster.end_s // 86400 - 1)
        ]
        assert all(np.ptp(day) > 150 * MIB for day in whole_days), "a daily cycle"
        assert abs(whole_days[0].mean() - whole_days[1].mean()) < 10 * MIB, "no trend"


def cpu_rate_cores(series: SeriesIndex, **labels: str) -> np.ndarray:
    timestamps_s, seconds = only(series, "container_cpu_usage_seconds_total", **labels)
    return np.diff(seconds) / np.diff(timestamps_s)


def request(series: SeriesIndex, resource: str, **labels: str) -> float:
    _, values = only(series, "kube_pod_container_resource_requests", resource=resource, **labels)
    return float(values[-1])


def test_staging_is_idle_and_redis_is_underprovisioned(
    cluster: Cluster, series: SeriesIndex
) -> None:
    staging = cluster.truth["overprovisioned"]["workloads"][0]
    assert staging["workload"] == "dwcp-api-staging" and staging["idle"]
    for pod in staging["pods"]:
        cores = cpu_rate_cores(series, namespace="staging", pod=pod)
        assert cores.max() < 0.2 * request(series, "cpu", pod=pod) == pytest.approx(0.4)
        _, memory = only(series, "container_memory_working_set_bytes", pod=pod)
        assert memory.max() < 0.2 * request(series, "memory", pod=pod)
    for pod in cluster.truth["underprovisioned"]["pods"]:
        assert cpu_rate_cores(series, pod=pod).mean() > request(series, "cpu", pod=pod)
    api = cluster.truth["overprovisioned"]["workloads"][1]
    assert api["cpu_usage_p95_cores"] < 0.5 * api["cpu_request_cores"]


def test_only_prometheus_lacks_a_memory_limit(cluster: Cluster, series: SeriesIndex) -> None:
    requested = {labels["pod"] for labels, _, _ in series["kube_pod_container_resource_requests"]}
    limited = {
        labels["pod"]
        for labels, _, _ in series["kube_pod_container_resource_limits"]
        if labels["resource"] == "memory"
    }
    assert requested - limited == {cluster.truth["no_memory_limit"]["subject"]["pod"]}


def p95_and_error_ratio(
    series: SeriesIndex, path: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per 6-minute window, as rate()-based PromQL would compute them."""
    bounds = [f"{bound:g}" for bound in HISTOGRAM_BOUNDS_S] + ["+Inf"]
    matrix = np.array(
        [only(series, "http_request_duration_seconds_bucket", path=path, le=le)[1] for le in bounds]
    )
    increase = matrix[:, 3:] - matrix[:, :-3]
    p95 = np.array([histogram_quantile(0.95, column / column[-1]) for column in increase.T])
    timestamps_s = only(series, "http_request_duration_seconds_count", path=path)[0][3:]
    totals = sum(v for labels, _, v in series["http_requests_total"] if labels["path"] == path)
    errors = sum(
        (
            v
            for labels, _, v in series["http_requests_total"]
            if labels["path"] == path and labels["status"][0] == "5"
        ),
        np.zeros_like(totals),
    )
    return timestamps_s, p95, (errors[3:] - errors[:-3]) / (totals[3:] - totals[:-3])


def test_latency_incident_and_error_burst(cluster: Cluster, series: SeriesIndex) -> None:
    incident = cluster.truth["latency_incident"]
    assert incident["in_window"] and incident["start"] == "2026-11-12T14:00:00Z"
    assert incident["deployments_in_window"], "a rollout inside the incident"
    slow, failing = incident["latency"], incident["errors"]
    for path in ("/api/v1/tasks", "/api/v1/users", "/api/v1/orders", "/api/v1/search", "/healthz"):
        timestamps_s, p95, error_ratio = p95_and_error_ratio(series, path)
        near_slow = (timestamps_s > unix_s(slow["start"])) & (
            timestamps_s < unix_s(slow["end"]) + 360
        )
        near_errors = (timestamps_s > unix_s(failing["start"])) & (
            timestamps_s < unix_s(failing["end"]) + 360
        )
        if path == slow["subject"]["path"]:
            deep_inside = (timestamps_s > unix_s(slow["start"]) + 360) & (
                timestamps_s <= unix_s(slow["end"])
            )
            assert np.median(p95[deep_inside]) == pytest.approx(slow["p95_s"], rel=0.1)
        assert p95[~near_slow].max() < 0.2, path
        if path == failing["subject"]["path"]:
            deep_inside = (timestamps_s > unix_s(failing["start"]) + 360) & (
                timestamps_s <= unix_s(failing["end"])
            )
            assert error_ratio[deep_inside].mean() == pytest.approx(0.05, rel=0.1)
        assert np.nanmax(error_ratio[~near_errors]) < 0.001, path


def test_connection_pool_exhausted_every_evening(cluster: Cluster, series: SeriesIndex) -> None:
    truth = cluster.truth["db_pool_exhaustion"]
    timestamps_s = series["pg_stat_activity_count"][0][1]
    total = sum(values for _, _, values in series["pg_stat_activity_count"])
    assert {labels["state"] for labels, _, _ in series["pg_stat_activity_count"]} == {
        "active",
        "idle",
        "idle in transaction",
        "idle in transaction (aborted)",
    }
    hours = (timestamps_s % 86400) / 3600
    evening = (hours >= 17) & (hours < 19)
    assert total[evening].min() >= 185 and total[evening].max() <= 199
    assert total[~evening].max() < 185
    assert len(truth["windows"]) == 4
    assert set(only(series, "pg_settings_max_connections")[1]) == {200.0}


def test_kafka_lag_spikes_during_rollouts(cluster: Cluster, series: SeriesIndex) -> None:
    spikes = cluster.truth["consumer_lag_spike"]["spikes"]
    assert [spike["deployment"] for spike in spikes] == ["dwcp-api"]
    lag = [s for s in series["kafka_consumergroup_lag"] if s[0]["consumergroup"] == "dwcp-workers"]
    assert len(lag) == 20  # the platform report's lagging group (demo/platform.py) aside
    timestamps_s = lag[0][1]
    total = sum(values for _, _, values in lag)
    spiking = np.zeros(len(total), dtype=bool)
    for spike in spikes:
        inside = (timestamps_s >= unix_s(spike["start"])) & (timestamps_s <= unix_s(spike["end"]))
        assert total[inside].max() == spike["peak_total_lag"] > 10_000
        spiking |= inside
    assert total[~spiking].max() < 5_000


def test_capacity_growth_is_stated_and_visible(cluster: Cluster, series: SeriesIndex) -> None:
    growth = cluster.truth["capacity_growth"]
    assert growth["traffic"]["weekly_growth_ratio"] == 0.03
    assert growth["traffic"]["weekday_peak_rps_at_end"] < growth["traffic"]["limit_rps"] == 12_000
    timestamps_s, size = only(series, "pg_database_size_bytes", datname="app_db")
    weekly = (size[-1] / size[0]) ** (7 * 86400 / (timestamps_s[-1] - timestamps_s[0])) - 1
    assert weekly == pytest.approx(growth["database_size"]["weekly_growth_ratio"], abs=0.004)


def test_truth_is_json_and_names_every_problem(cluster: Cluster) -> None:
    truth = json.loads(json.dumps(cluster.truth))
    for problem in (
        "db_pool_exhaustion",
        "memory_leak",
        "oom_killed",
        "crashloop",
        "overprovisioned",
        "underprovisioned",
        "no_memory_limit",
        "unused_pv",
        "latency_incident",
        "capacity_growth",
        "healthy_controls",
        "missing_index",
        "unused_index",
        "duplicate_index",
        "table_bloat",
        "sequence_exhaustion",
        "slow_query",
    ):
        assert problem in truth
    assert truth["series_count"] == len(list(cluster.iter_series()))
    assert truth["sample_count"] == sum(len(values) for *_, values in cluster.iter_series())
    assert truth["oom_killed"]["subject"] == truth["memory_leak"]["subject"]


# ---------------------------------------------------------------------------- Kubernetes JSON


def test_kube_lists_have_api_shapes(kube: dict[str, dict]) -> None:
    expected = {
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
    assert {key: (body["kind"], body["apiVersion"]) for key, body in kube.items()} == expected
    for body in kube.values():
        assert body["metadata"]["resourceVersion"].isdigit() and body["items"]
    nodes = kube["nodes"]["items"]
    assert len(nodes) == 5
    assert {node["metadata"]["labels"]["karpenter.sh/capacity-type"] for node in nodes} == {
        "on-demand",
        "spot",
    }
    for node in nodes:
        assert parse_cpu_cores(node["status"]["allocatable"]["cpu"]) <= parse_cpu_cores(
            node["status"]["capacity"]["cpu"]
        )


def test_kube_pods_match_the_series(
    cluster: Cluster, series: SeriesIndex, kube: dict[str, dict]
) -> None:
    owners_at_end = {
        labels["pod"]: labels
        for labels, timestamps_s, _ in series["kube_pod_owner"]
        if timestamps_s[-1] == cluster.end_s
    }
    pods = kube["pods"]["items"]
    assert {pod["metadata"]["name"] for pod in pods} == set(owners_at_end)
    replicasets = {rs["metadata"]["name"]: rs for rs in kube["replicasets"]["items"]}
    for pod in pods:
        name, namespace = pod["metadata"]["name"], pod["metadata"]["namespace"]
        reference = pod["metadata"]["ownerReferences"][0]
        assert (reference["kind"], reference["name"]) == (
            owners_at_end[name]["owner_kind"],
            owners_at_end[name]["owner_name"],
        )
        if reference["kind"] == "ReplicaSet":
            assert (
                replicasets[reference["name"]]["metadata"]["ownerReferences"][0]["kind"]
                == "Deployment"
            )
        container = pod["spec"]["containers"][0]
        status = pod["status"]["containerStatuses"][0]
        labels = {"namespace": namespace, "pod": name, "container": container["name"]}
        _, restarts = only(series, "kube_pod_container_status_restarts_total", **labels)
        assert status["restartCount"] == restarts[-1]
        for resource, parse in (("cpu", parse_cpu_cores), ("memory", parse_bytes)):
            assert parse(container["resources"]["requests"][resource]) == request(
                series, resource, **labels
            )
    deployments = {d["metadata"]["name"]: d for d in kube["deployments"]["items"]}
    current = {deployments[name]["spec"]["replicas"] for name in ("dwcp-api", "dwcp-worker")}
    assert current == {4, 3}
    old_sets = [rs for rs in replicasets.values() if rs["spec"]["replicas"] == 0]
    assert old_sets, "old ReplicaSets from rollouts stay, scaled to zero"


def test_kube_shows_the_oom_kills_and_the_crash_loop(
    cluster: Cluster, kube: dict[str, dict]
) -> None:
    statuses = {
        pod["metadata"]["name"]: pod["status"]["containerStatuses"][0]
        for pod in kube["pods"]["items"]
    }
    leak = cluster.truth["oom_killed"]
    oom_status = statuses[leak["subject"]["pod"]]
    assert oom_status["lastState"]["terminated"]["exitCode"] == 137
    assert oom_status["lastState"]["terminated"]["reason"] == "OOMKilled"
    assert oom_status["lastState"]["terminated"]["finishedAt"] == leak["oom_times"][-1]
    assert oom_status["restartCount"] == leak["restart_count"]
    loop = cluster.truth["crashloop"]
    loop_status = statuses[loop["subject"]["pod"]]
    assert loop_status["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert loop_status["lastState"]["terminated"]["exitCode"] == 1
    assert (
        loop_status["restartCount"] == loop["restart_count"] and loop["restarts_in_last_24h"] > 100
    )
    reasons = defaultdict(int)
    for event in kube["events"]["items"]:
        reasons[event["reason"]] += 1
    assert reasons["OOMKilling"] == len(leak["oom_times"])
    assert reasons["BackOff"] == 1 and reasons["ScalingReplicaSet"] == 8  # one 4-pod rollout
    prometheus = next(p for p in kube["pods"]["items"] if p["metadata"]["name"] == "prometheus-0")
    assert "memory" not in prometheus["spec"]["containers"][0]["resources"].get("limits", {})


def test_kube_volumes_match_the_truth(
    cluster: Cluster, kube: dict[str, dict], series: SeriesIndex
) -> None:
    volumes = {pv["metadata"]["name"]: pv for pv in kube["persistentvolumes"]["items"]}
    claims_mounted = {
        (pod["metadata"]["namespace"], volume["persistentVolumeClaim"]["claimName"])
        for pod in kube["pods"]["items"]
        for volume in pod["spec"]["volumes"]
        if "persistentVolumeClaim" in volume
    }
    unused = cluster.truth["unused_pv"]["volumes"]
    assert {volume["phase"] for volume in unused} == {"Available", "Bound"}
    for volume in unused:
        pv = volumes[volume["persistentvolume"]]
        assert pv["status"]["phase"] == volume["phase"]
        assert parse_bytes(pv["spec"]["capacity"]["storage"]) == volume["capacity_bytes"]
        claim = pv["spec"].get("claimRef")
        assert claim is None or (claim["namespace"], claim["name"]) not in claims_mounted
    for name in cluster.truth["unused_pv"]["mounted"]:
        claim = volumes[name]["spec"]["claimRef"]
        assert (claim["namespace"], claim["name"]) in claims_mounted
    phases = {
        labels["persistentvolume"]: labels["phase"]
        for labels, _, values in series["kube_persistentvolume_status_phase"]
        if values[-1] == 1
    }
    assert phases == {name: pv["status"]["phase"] for name, pv in volumes.items()}


def test_pod_metrics_match_the_last_samples(series: SeriesIndex, kube: dict[str, dict]) -> None:
    for item in kube["pod_metrics"]["items"]:
        usage = item["containers"][0]["usage"]
        pod = item["metadata"]["name"]
        _, memory = only(series, "container_memory_working_set_bytes", pod=pod)
        assert parse_bytes(usage["memory"]) == memory[-1]
        cores = cpu_rate_cores(series, pod=pod)[-1]
        if cores >= 0:  # not restarted within the last interval
            assert parse_cpu_cores(usage["cpu"]) == pytest.approx(cores, abs=5e-4)


# ---------------------------------------------------------------------------- PostgreSQL, promtool


def test_postgres_script_is_plain_sql_naming_the_truth(cluster: Cluster) -> None:
    script = cluster.postgres_setup_sql()
    assert "%" not in script and not re.search(r"^\s*\\", script, re.MULTILINE)
    assert "autovacuum_enabled = false" in script and "VACUUM" not in script.replace(
        "autovacuum", ""
    )
    truth = cluster.truth
    names = [
        truth["missing_index"]["subject"]["table"],
        truth["unused_index"]["planted"]["index"],
        *[entry["index"] for entry in truth["duplicate_index"]["indexes"]],
        *[entry["covered_by"] for entry in truth["duplicate_index"]["indexes"]],
        truth["table_bloat"]["subject"]["table"],
        truth["sequence_exhaustion"]["sequences"][0]["sequence"],
    ]
    for name in names:
        assert name in script
    workload = cluster.postgres_workload()
    slow = truth["slow_query"]["queries"][0]
    assert any(
        slow["contains"] in sql and repeats >= 100 and "pg_sleep" in sql
        for sql, repeats in workload
    )


@pytest.mark.server  # starts a notebook kernel or another process
def test_promtool_imports_the_openmetrics_file(tmp_path: Path) -> None:
    promtool = shutil.which("promtool") or "/usr/bin/promtool"
    if not Path(promtool).exists():
        pytest.fail("promtool not found: apt-get install prometheus (it ships promtool)")
    one_day = simulate(days=1)
    written = write_cluster_openmetrics(one_day, tmp_path / "demo.om")
    result = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", "-q", "demo.om", "blocks"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    metas = [json.loads(meta.read_text()) for meta in (tmp_path / "blocks").glob("*/meta.json")]
    assert metas, "promtool created no block"
    assert sum(meta["stats"]["numSamples"] for meta in metas) == written
