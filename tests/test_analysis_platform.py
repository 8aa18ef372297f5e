"""The platform checks: pure analysis on planted frames (variety, and what must stay silent),
then end to end against a real Prometheus (promtool-backfilled) and the Kubernetes stand-in:
the simulator's planted cases, and a cluster without Redis or cert-manager whose only lag is
a rebalance blip and whose only new pod restarted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dwcp_diag.analysis.platform import platform_report
from dwcp_diag.analysis.platform.certificates import certificate_findings, certificate_table
from dwcp_diag.analysis.platform.kafka import lag_findings, lag_table
from dwcp_diag.analysis.platform.redis import redis_findings, redis_table
from dwcp_diag.analysis.platform.startup import (
    pod_start_table,
    rollout_findings,
    rollout_table,
    startup_findings,
    workload_start_table,
)
from dwcp_diag.collect.platform import collect_platform, platform_settings
from dwcp_diag.config import Profile, PrometheusSettings
from dwcp_diag.demo import DEMO_END
from dwcp_diag.errors import ConfigError
from dwcp_diag.sandbox import kubeapi_objects as k8s
from dwcp_diag.sandbox.prometheus import PrometheusServer, ServerError, cached_blocks
from dwcp_diag.session import Session
from dwcp_diag.sources.kubernetes import KubernetesLoader
from dwcp_diag.sources.prometheus_empty import EMPTY_REASON
from dwcp_diag.timewindow import TimeWindow
from tests.fixtures.kubeapi import settings_for

SETTINGS = platform_settings(Profile())
NOW = k8s.NOW
WINDOW = TimeWindow(NOW - pd.Timedelta(days=1), NOW)


def at(minutes_before_now: float) -> pd.Timestamp:
    return NOW - pd.Timedelta(minutes=minutes_before_now)


def instant(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["namespace", "pod", "value"])


# ---------------------------------------------------------------------------------- startup


def api_pods(rows: list[dict]) -> pd.DataFrame:
    base = {
        "node": "n1",
        "owner_kind": "Deployment",
        "replicaset": None,
        "ready": True,
        "restart_count": 0,
        "scheduled_at": None,
        "initialized_at": None,
        "containers_ready_at": None,
        "ready_at": None,
    }
    frame = pd.DataFrame([{**base, **row} for row in rows])
    for column in ("created", "scheduled_at", "initialized_at", "containers_ready_at", "ready_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def test_phases_split_from_conditions_and_pulled_events():
    created = at(60)
    pods = api_pods(
        [
            {
                "namespace": "p",
                "pod": "api-1",
                "owner_name": "api",
                "created": created,
                "scheduled_at": created + pd.Timedelta("2s"),
                "initialized_at": created + pd.Timedelta("12s"),
                "ready_at": created + pd.Timedelta("250s"),
                "replicaset": "api-5d9f",
            },
        ]
    )
    events = pd.DataFrame(
        {
            "namespace": ["p"],
            "object_kind": ["Pod"],
            "object_name": ["api-1"],
            "reason": ["Pulled"],
            "message": ['Successfully pulled image "api:2" in 1m58s (1m58s including waiting)'],
        }
    )
    table = pod_start_table(pods, events, None, None, None, WINDOW)
    row = table.iloc[0]
    assert (row["startup_s"], row["scheduling_s"], row["init_s"]) == (250.0, 2.0, 10.0)
    assert (row["image_pull_s"], row["readiness_s"]) == (118.0, 250.0 - 12.0 - 118.0)
    workloads = workload_start_table(table)
    assert workloads.iloc[0]["dominant_phase"] == "readiness_s"
    found = startup_findings(workloads, SETTINGS["slow_startup"])
    assert [(f.check, f.subject, f.value) for f in found] == [
        ("slow_startup", {"namespace": "p", "workload": "api"}, 250.0)
    ]
    assert "readiness gates" in found[0].fix


def test_a_restarted_pod_is_timed_from_its_first_ready_never_its_restart():
    created = at(300)
    pods = api_pods(
        [
            {
                "namespace": "p",
                "pod": "w-1",
                "owner_name": "w",
                "created": created,
                "ready_at": at(5),
                "restart_count": 2,
            },  # Ready again after its last restart
            {
                "namespace": "p",
                "pod": "w-2",
                "owner_name": "w",
                "created": created,
                "ready_at": at(5),
                "restart_count": 1,
            },  # no history: unknown, not 295 minutes
        ]
    )
    first_ready = instant([("p", "w-1", (created + pd.Timedelta("40s")).timestamp())])
    table = pod_start_table(pods, None, None, first_ready, None, WINDOW)
    assert table.set_index("pod")["startup_s"].to_dict() == pytest.approx(
        {"w-1": 40.0, "w-2": np.nan}, nan_ok=True
    )
    assert startup_findings(workload_start_table(table), SETTINGS["slow_startup"]) == []


def test_pods_gone_since_come_from_kube_state_metrics_and_old_pods_are_left_out():
    created = instant(
        [
            ("p", "api-7c6b-aaaaa", at(100).timestamp()),
            ("p", "api-7c6b-bbbbb", at(95).timestamp()),
            ("p", "old-5b4c-ccccc", at(60 * 30).timestamp()),  # created before the window
        ]
    )
    ready = instant(
        [
            ("p", "api-7c6b-aaaaa", (at(100) + pd.Timedelta("200s")).timestamp()),
            ("p", "api-7c6b-bbbbb", (at(95) + pd.Timedelta("260s")).timestamp()),
            ("p", "old-5b4c-ccccc", at(60 * 29).timestamp()),
        ]
    )
    owners = pd.DataFrame(
        {
            "namespace": "p",
            "pod": ["api-7c6b-aaaaa", "api-7c6b-bbbbb"],
            "owner_kind": "ReplicaSet",
            "owner_name": "api-7c6b",
        }
    )
    table = pod_start_table(None, None, created, ready, owners, WINDOW)
    assert table["pod"].tolist() == ["api-7c6b-aaaaa", "api-7c6b-bbbbb"]
    assert set(table["workload"]) == {"api"} and set(table["source"]) == {"kube-state-metrics"}
    rollouts = pd.DataFrame(
        {
            "time": [at(101)],
            "namespace": ["p"],
            "owner_kind": ["Deployment"],
            "owner_name": ["api"],
            "change": ["rollout"],
            "replicaset": ["api-7c6b"],
            "revision": [4],
            "replicas": [2],
            "message": [""],
        }
    )
    rolled = rollout_table(rollouts, table, WINDOW).iloc[0]
    assert rolled["duration_s"] == pytest.approx(6 * 60 + 260)
    assert rollout_findings(rollout_table(rollouts, table, WINDOW), {"warning_s": 700}) == []
    assert len(rollout_findings(rollout_table(rollouts, table, WINDOW), {"warning_s": 300})) == 1


# ----------------------------------------------------------------------------- certificates


def test_certificate_severities_and_sources():
    now = NOW
    expiry = pd.DataFrame(
        {
            "namespace": ["cert-manager"] * 4,
            "exported_namespace": ["prod", "prod", "prod", "stg"],
            "name": ["expired", "soon", "later", "fine"],
            "value": [(now + pd.Timedelta(days=d)).timestamp() for d in (-1, 10, 30, 60)],
        }
    )
    not_ready = pd.DataFrame(
        {
            "namespace": ["cert-manager"],
            "exported_namespace": ["stg"],
            "name": ["fine"],
            "condition": ["False"],
        }
    )
    table = certificate_table(expiry, not_ready, None, None, now)
    found = {
        f.subject["certificate"]: f
        for f in certificate_findings(table, SETTINGS["certificate_expiry"])
    }
    assert {name: f.severity for name, f in found.items()} == {
        "expired": "critical",
        "soon": "warning",
        "fine": "warning",
    }
    assert found["expired"].subject["namespace"] == "prod"  # the exported namespace
    assert "EXPIRED" in found["expired"].summary and "not Ready" in found["fine"].summary


def test_no_certificate_source_is_an_empty_table_and_no_finding():
    table = certificate_table(None, None, None, None, NOW)
    assert table.empty and certificate_findings(table, SETTINGS["certificate_expiry"]) == []


# ----------------------------------------------------------------------------------- kafka


def lag_frame(group: str, values: np.ndarray, times: pd.DatetimeIndex) -> pd.DataFrame:
    return pd.DataFrame({"consumergroup": group, "topic": "t", "timestamp": times, "value": values})


def test_a_rebalance_blip_is_not_growth_and_steady_rise_is():
    times = pd.date_range(NOW - pd.Timedelta(days=1), NOW, freq="5min")
    blip = np.full(len(times), 400.0)
    blip[-12:-8] = [9_000, 30_000, 22_000, 6_000]  # a rollout 1 h ago: up and drained
    rising = np.linspace(300, 9_000, len(times))
    lag = pd.concat([lag_frame("blip", blip, times), lag_frame("behind", rising, times)])
    table = lag_table(lag, SETTINGS["consumer_lag_high"]).set_index("consumergroup")
    assert not table.loc["blip", "growing"] and table.loc["behind", "growing"]
    rollouts = pd.DataFrame({"time": [times[-13]], "kind": ["rollout"], "workload": ["api"]})
    found = lag_findings(table.reset_index(), rollouts, SETTINGS["consumer_lag_high"])
    assert [(f.subject["consumergroup"], f.severity) for f in found] == [("behind", "warning")]


def test_high_p95_without_growth_is_a_warning_and_spikes_name_their_rollout():
    times = pd.date_range(NOW - pd.Timedelta(days=1), NOW, freq="5min")
    values = 12_000 + 500 * np.sin(np.arange(len(times)))
    values[100] = 50_000
    table = lag_table(lag_frame("g", values, times), SETTINGS["consumer_lag_high"])
    rollouts = pd.DataFrame({"time": [times[98]], "kind": ["rollout"], "workload": ["api"]})
    (finding,) = lag_findings(table, rollouts, SETTINGS["consumer_lag_high"])
    assert finding.severity == "warning" and not finding.evidence["growing"]
    assert finding.evidence["max_after_change"].startswith("rollout of api")


# ----------------------------------------------------------------------------------- redis


def test_redis_saturation_per_instance():
    times = pd.date_range(NOW - pd.Timedelta(hours=1), NOW, freq="5min")

    def series(values: dict[str, float]) -> pd.DataFrame:
        return pd.concat(
            pd.DataFrame({"instance": name, "timestamp": times, "value": value})
            for name, value in values.items()
        )

    frames = {
        "redis_clients_ratio": series({"r0": 0.97, "r1": 0.5, "r2": 0.85, "r3": 0.2}),
        "redis_rejected": series({"r0": 0.0, "r1": 0.0, "r2": 0.0, "r3": 0.01}),
        # r3 has no maxmemory (unlimited): no memory ratio at all
        "redis_memory_ratio": series({"r0": 0.5, "r1": 0.95, "r2": 0.3}),
        "redis_evicted": series({"r0": 0.0, "r1": 2.0, "r2": 0.0, "r3": 0.0}),
    }
    table = redis_table(frames, {**SETTINGS["redis_saturation"], "step_s": 300})
    found = {
        f.subject["instance"]: f
        for f in redis_findings(table, SETTINGS["redis_saturation"], 11_000)
    }
    assert {k: f.severity for k, f in found.items()} == {
        "r0": "critical",
        "r1": "warning",
        "r2": "warning",
        "r3": "critical",
    }
    assert "evicted" in found["r1"].summary and "rejected" in found["r3"].summary
    assert "11,000 rps" in found["r0"].summary and "12,000 rps" in found["r0"].summary


def test_absent_exporters_are_notes_not_findings():
    frames = {"lag": pd.DataFrame(), "redis_clients_ratio": None}
    report = platform_report(frames, WINDOW, SETTINGS)
    assert report["findings"] == []
    assert sum("no_data" in note for note in report["notes"]) == 3  # certificates, lag, redis


def test_unknown_threshold_keys_are_refused():
    with pytest.raises(ConfigError, match="valid keys: p95_warning_s"):
        platform_settings(Profile(thresholds={"slow_startup": {"p95_warning": 60}}))


# ---------------------------------------------------------------- against the real servers


@pytest.fixture(scope="module")
def demo_platform(prometheus_server, kube_api_server):
    profile = Profile(
        prometheus=PrometheusSettings(url=prometheus_server.url),
        kubernetes=settings_for(kube_api_server),
    )
    s = Session(profile, source="live", now=DEMO_END)
    return collect_platform(s, s.window("7d"))


def by_subject(found, check: str) -> dict[str, dict]:
    return {
        ",".join(f"{k}={v}" for k, v in f.subject.items()): f for f in found if f.check == check
    }


def test_demo_plants_each_check_once(demo_platform, demo_cluster):
    truth = demo_cluster.truth["platform"]
    found = demo_platform.findings
    assert {f.check for f in found} == {
        "slow_startup",
        "rollout_slow",
        "certificate_expiry",
        "consumer_lag_high",
        "redis_saturation",
    }
    (slow,) = [f for f in found if f.check == "slow_startup"]
    assert slow.subject == truth["slow_startup"]["subject"]
    assert slow.value == pytest.approx(truth["slow_startup"]["startup_s"], abs=1)
    assert slow.evidence["median_image_pull_s"] == pytest.approx(
        truth["slow_startup"]["image_pull_s"]
    )
    assert slow.evidence["dominant_phase"] == "image_pull_s" and "pre-pull" in slow.fix
    (rollout,) = [f for f in found if f.check == "rollout_slow"]
    assert rollout.subject == truth["rollout_slow"]["subject"]


def test_demo_certificates_lag_and_redis_match_the_truth(demo_platform, demo_cluster):
    truth = demo_cluster.truth["platform"]
    found = demo_platform.findings
    certificates = [f for f in found if f.check == "certificate_expiry"]
    severities = {tuple(f.subject.values()): f.severity for f in certificates}
    assert severities == {
        tuple(truth["certificate_expiry"]["critical"].values()): "critical",
        **{tuple(s.values()): "warning" for s in truth["certificate_expiry"]["warning"]},
    }
    payments = next(f for f in certificates if f.severity == "critical")
    assert payments.evidence["source"] == "metrics+api" and "rateLimited" not in payments.summary
    (lag,) = [f for f in found if f.check == "consumer_lag_high"]
    assert lag.subject == truth["consumer_lag_high"]["subject"] and lag.evidence["growing"]
    (redis,) = [f for f in found if f.check == "redis_saturation"]
    assert redis.subject == truth["redis_saturation"]["subject"] and redis.severity == "critical"
    assert redis.evidence["clients_ratio_max"] == pytest.approx(0.97, abs=0.02)
    assert redis.evidence["rejected"] > 0


# A cluster without Redis or cert-manager: one Deployment whose new pod became Ready in 40 s
# and was restarted later (its API Ready time is the restart), a consumer group whose lag jumps
# at a rollout and drains, and a steady one.
T0 = NOW - pd.Timedelta(hours=3)


def write_quiet_cluster(path: Path) -> dict[str, int]:
    times = pd.date_range(NOW - pd.Timedelta(days=1), NOW, freq="1min")
    lines = ["# TYPE kafka_consumergroup_lag gauge"]
    for group in ("blip", "steady"):
        for t in times:
            minutes = (t - T0).total_seconds() / 60
            spike = 25_000 * max(0.0, 1 - abs(minutes - 6) / 6) if group == "blip" else 0
            value = 300 + spike + 20 * np.sin(t.minute)
            labels = f'consumergroup="{group}",topic="t"'
            lines.append(f"kafka_consumergroup_lag{{{labels}}} {value:.0f} {int(t.timestamp())}")
    pod = 'namespace="shop",pod="cart-6d5c4b3a2-x1y2z"'
    created = T0.timestamp()
    lines.append("# TYPE kube_pod_created gauge")
    lines += [
        f"kube_pod_created{{{pod}}} {created:.0f} {int(t.timestamp())}" for t in times if t >= T0
    ]
    lines.append("# TYPE kube_pod_status_ready gauge")
    for t in times:
        if t < T0:
            continue
        up = t >= T0 + pd.Timedelta("40s") and not (
            NOW - pd.Timedelta("20min") <= t < NOW - pd.Timedelta("18min")
        )
        lines.append(
            f'kube_pod_status_ready{{{pod},condition="true"}} {int(up)} {int(t.timestamp())}'
        )
    lines.append("# TYPE kube_pod_owner gauge")
    owner = f'{pod},owner_kind="ReplicaSet",owner_name="cart-6d5c4b3a2"'
    lines += [f"kube_pod_owner{{{owner}}} 1 {int(t.timestamp())}" for t in times if t >= T0]
    path.write_text("\n".join([*lines, "# EOF", ""]))
    return {"samples": len(lines)}


@pytest.fixture(scope="module")
def quiet_prometheus(tmp_path_factory) -> Iterator[PrometheusServer]:
    root = tmp_path_factory.mktemp("platform-quiet")
    try:
        server = PrometheusServer(
            cached_blocks(root / "blocks", write_quiet_cluster), root / "data"
        )
        server.start()
    except ServerError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.stop()


def quiet_objects() -> dict:
    labels = {"app": "cart", "pod-template-hash": "6d5c4b3a2"}
    cart = k8s.pod(
        "shop",
        "cart-6d5c4b3a2-x1y2z",
        node="n1",
        containers=[k8s.container("cart")],
        statuses=[k8s.running("cart", restarts=1, started=18)],
        owner=("ReplicaSet", "cart-6d5c4b3a2"),
        labels=labels,
        created=180,
    )
    cart["status"]["conditions"] = [
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": k8s.ts(180)},
        {"type": "Ready", "status": "True", "lastTransitionTime": k8s.ts(18)},  # the restart
    ]
    replicaset = k8s.replicaset(
        "shop", "cart-6d5c4b3a2", "cart", revision=2, replicas=1, created=180
    )
    return k8s.objects(pods=[cart], replicasets=[replicaset])


def test_a_cluster_without_redis_or_cert_manager_gets_no_noise(quiet_prometheus, kube_api_factory):
    kube = kube_api_factory(quiet_objects(), missing_apis={"certificates"})
    profile = Profile(
        prometheus=PrometheusSettings(url=quiet_prometheus.url), kubernetes=settings_for(kube)
    )
    s = Session(profile, source="live", now=NOW)
    platform = collect_platform(s, s.window("1d"), step="1m")
    assert [f.check for f in platform.findings] == []
    notes = "\n".join(platform.report["notes"])
    assert "certificate_expiry: no_data" in notes and "redis_saturation: no_data" in notes
    assert "not installed" in platform.frames["certificates"].attrs[EMPTY_REASON]
    pods = platform.report["pods"]
    # its first Ready (the first 1-minute scrape after 40 s), not its restart 2h40 later
    assert pods["startup_s"].tolist() == [60.0]
    assert pods["restarted"].tolist() == [True]
    lag = platform.report["lag"].set_index("consumergroup")
    assert lag.loc["blip", "max"] > 20_000 and not lag["growing"].any()


def test_check_lists_the_certificate_permission(kube_api_factory):
    kube = kube_api_factory(quiet_objects(), missing_apis={"certificates"})
    assert (
        "certificates.cert-manager.io: not installed"
        in KubernetesLoader(settings_for(kube)).check().detail
    )
    kube = kube_api_factory(quiet_objects(), forbidden={"certificates"})
    result = KubernetesLoader(settings_for(kube)).check()
    line = "certificates.cert-manager.io not readable (optional: certificate_expiry)"
    assert result.ok and line in result.detail
