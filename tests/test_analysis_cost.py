"""Cost analysis: dollars checked by hand on small constructed clusters (no servers)."""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

import dwcp_diag.analysis.cost as cost_module
import dwcp_diag.plots.cost as cost_plots
from dwcp_diag.analysis.cost import (
    cost_report,
    node_utilisation,
    unused_volumes,
    workload_of,
)
from dwcp_diag.config import Prices, Profile
from dwcp_diag.frames import conform
from dwcp_diag.plots.cost import cost_breakdown_figure, cost_by_group_figure, slack_figure
from dwcp_diag.units import GIB, MIB

START = pd.Timestamp("2026-03-02T00:00:00Z")
SERIES = {
    "namespace": "category",
    "pod": "category",
    "container": "category",
    "timestamp": "timestamp",
    "value": "float64",
}
WEB = {"namespace": "shop", "pod": "web-7d9f8c6b5d-x2x9k", "container": "app"}
DB = {"namespace": "batch", "pod": "db-0", "container": "pg"}
# OpenCost default prices, per month of 730 h
CPU_MONTH = 0.031611 * 730  # $23.07603 per core
GIB_MONTH = 0.004237 * 730  # $3.09301 per GiB


def series(labels: dict, values, hours: np.ndarray | None = None, schema=SERIES) -> pd.DataFrame:
    """A tidy Prometheus-shaped frame; by default one sample every 5 minutes for a day."""
    hours = np.arange(288) / 12 if hours is None else hours
    frame = pd.DataFrame(
        {
            **labels,
            "timestamp": START + pd.to_timedelta(np.round(hours * 60), unit="min"),
            "value": np.broadcast_to(values, hours.shape).astype(float),
        }
    )
    return conform(frame, {**{k: "category" for k in labels}, **schema})


def inventory_row(labels: dict, owner: tuple[str, str], cpu: float, memory: float, **more):
    return {
        **labels,
        "node": "node-1",
        "phase": "Running",
        "cpu_request_cores": cpu,
        "cpu_limit_cores": np.nan,
        "memory_request_bytes": memory,
        "memory_limit_bytes": more.pop("memory_limit_bytes", np.nan),
        "restart_count": 0,
        "state": "running",
        "state_reason": None,
        "last_terminated_reason": None,
        "last_exit_code": np.nan,
        "last_terminated_at": pd.NaT,
        "owner_kind": owner[0],
        "owner_name": owner[1],
        "team": "platform",
        "app": labels["container"],
        **more,
    }


def two_pods():
    """web: requests 1 core / 2 GiB, uses 0.2 / 1 GiB. db: requests 0.5 / 1 GiB, uses 0.8 / 1.5."""
    cpu = pd.concat([series(WEB, 0.2), series(DB, 0.8)])
    memory = pd.concat([series(WEB, 1.0 * GIB), series(DB, 1.5 * GIB)])
    inventory = pd.DataFrame(
        [
            inventory_row(WEB, ("Deployment", "web"), 1.0, 2.0 * GIB),
            inventory_row(DB, ("StatefulSet", "db"), 0.5, 1.0 * GIB),
        ]
    )
    return cpu, memory, inventory


def test_two_pod_costs_by_hand():
    cpu, memory, inventory = two_pods()
    report = cost_report(cpu, memory, inventory=inventory)
    costs = report["container_costs"].set_index("workload")
    # web now:  max(1, 0.2) x 23.07603 + max(2, 1) GiB x 3.09301        = 23.07603 + 6.18602
    #           = 29.26205
    # web rec:  p95 0.2 cores, 1 GiB x 1.15 = 1.15 GiB:
    #           0.2 x 23.07603 + 1.15 x 3.09301 = 4.615206 + 3.5569615      = 8.1721675
    #           saving 29.26205 - 8.1721675                                   = 21.0898825
    #           slack cpu (1 - 0.2) x 23.07603 = 18.460824, memory (2 - 1.15) x 3.09301 = 2.6290585
    # db now:   max(0.5, 0.8) x 23.07603 + max(1, 1.5) x 3.09301 = 18.460824 + 4.639515
    #           = 23.100339
    # db rec:   0.8 cores, 1.5 x 1.15 = 1.725 GiB: 18.460824 + 5.33544225   = 23.79626625
    #           saving -0.69592725; slack cpu -0.3 x 23.07603 = -6.922809,
    #           memory (1 - 1.725) x 3.09301 = -2.24243225
    expected = {
        "web": (29.26205, 8.1721675, 21.0898825, 18.460824, 2.6290585),
        "db": (23.100339, 23.79626625, -0.69592725, -6.922809, -2.24243225),
    }
    for workload, (cost, rec, saving, cpu_slack, memory_slack) in expected.items():
        row = costs.loc[workload]
        assert row["cost_usd_per_month"] == pytest.approx(cost, abs=1e-6)
        assert row["recommended_cost_usd_per_month"] == pytest.approx(rec, abs=1e-6)
        assert row["saving_usd_per_month"] == pytest.approx(saving, abs=1e-6)
        assert row["cpu_slack_usd_per_month"] == pytest.approx(cpu_slack, abs=1e-6)
        assert row["memory_slack_usd_per_month"] == pytest.approx(memory_slack, abs=1e-6)
    assert costs.loc["web", "workload_kind"] == "Deployment"
    by_namespace = report["by_namespace"].set_index("namespace")["cost_usd_per_month"]
    assert by_namespace.to_dict() == pytest.approx({"shop": 29.26205, "batch": 23.100339})
    by_team = report["by_team"].set_index("team")
    assert by_team.loc["platform", "cost_usd_per_month"] == pytest.approx(52.362389)
    assert by_team.loc["platform", "saving_usd_per_month"] == pytest.approx(20.39395525)
    assert report["summary"]["cost_usd_per_month"] == pytest.approx(52.362389)


def test_two_pod_findings():
    cpu, memory, inventory = two_pods()
    findings = {
        (f["check"], f["subject"]["workload"], f["subject"].get("resource")): f
        for f in cost_report(cpu, memory, inventory=inventory)["findings"].to_records()
    }
    assert set(findings) == {
        ("overprovisioned_cpu", "web", None),
        ("overprovisioned_memory", "web", None),
        ("underprovisioned", "db", "cpu"),
        ("underprovisioned", "db", "memory"),
    }
    over_cpu = findings[("overprovisioned_cpu", "web", None)]
    assert over_cpu["value"] == pytest.approx(18.460824)
    assert over_cpu["unit"] == "$/month" and over_cpu["severity"] == "info"  # < $20
    assert findings[("overprovisioned_memory", "web", None)]["value"] == pytest.approx(2.6290585)
    under_memory = findings[("underprovisioned", "db", "memory")]
    assert under_memory["value"] == pytest.approx(1.5) and under_memory["severity"] == "warning"
    assert under_memory["evidence"]["extra_usd_per_month"] == pytest.approx(2.24243225)
    assert findings[("underprovisioned", "db", "cpu")]["value"] == pytest.approx(1.6)


def test_prometheus_only_inputs_give_the_same_dollars():
    cpu, memory, _ = two_pods()
    resource = {**SERIES, "resource": "category", "unit": "category"}
    requests = pd.concat(
        [
            series({**WEB, "resource": "cpu", "unit": "core"}, 1.0, np.array([0.0]), resource),
            series({**WEB, "resource": "memory", "unit": "byte"}, 2.0 * GIB, np.zeros(1), resource),
            series({**DB, "resource": "cpu", "unit": "core"}, 0.5, np.array([0.0]), resource),
            series({**DB, "resource": "memory", "unit": "byte"}, 1.0 * GIB, np.zeros(1), resource),
        ]
    )
    owner = {**SERIES, "owner_kind": "category", "owner_name": "category"}
    owners = pd.concat(
        [
            series(
                {**WEB, "owner_kind": "ReplicaSet", "owner_name": "web-7d9f8c6b5d"},
                1.0,
                np.zeros(1),
                owner,
            ),
            series(
                {**DB, "owner_kind": "StatefulSet", "owner_name": "db"}, 1.0, np.zeros(1), owner
            ),
        ]
    ).drop(columns="container")
    report = cost_report(cpu, memory, owners=owners, requests=requests)
    costs = report["workload_costs"].set_index("workload")
    assert costs.loc["web", "workload_kind"] == "Deployment"  # ReplicaSet hash stripped
    assert costs["cost_usd_per_month"].to_dict() == pytest.approx(
        {"web": 29.26205, "db": 23.100339}
    )
    assert report["by_team"]["team"].tolist() == ["(none)"]


def test_rolled_deployment_is_one_replica_not_two():
    # web-aaaa ran the first 12 h, web-bbbb the last 12 h: together one replica all day
    hours = np.arange(288) / 12
    old, new = hours < 12, hours >= 12
    pods = [
        ({**WEB, "pod": "web-7d9f8c6b5d-aaaaa"}, old, "web-7d9f8c6b5d"),
        ({**WEB, "pod": "web-5c8f7b9d4f-bbbbb"}, new, "web-5c8f7b9d4f"),
    ]
    cpu = pd.concat([series(labels, 0.5, hours[mask]) for labels, mask, _ in pods])
    memory = pd.concat([series(labels, 1.0 * GIB, hours[mask]) for labels, mask, _ in pods])
    inventory = pd.DataFrame(
        [inventory_row(labels, ("ReplicaSet", rs), 1.0, 1.0 * GIB) for labels, _, rs in pods]
    )
    workload = cost_report(cpu, memory, inventory=inventory)["workload_costs"].iloc[0]
    assert workload["workload"] == "web" and workload["replicas"] == pytest.approx(1.0)
    assert workload["cost_usd_per_month"] == pytest.approx(CPU_MONTH + GIB_MONTH)


def test_recommendation_floors():
    labels = {**WEB, "pod": "tiny-0", "container": "sidecar"}
    report = cost_report(
        series(labels, 0.001),
        series(labels, 10.0 * MIB),
        inventory=pd.DataFrame([inventory_row(labels, ("StatefulSet", "tiny"), 0.1, 256 * MIB)]),
    )
    rec = report["recommendations"].iloc[0]
    assert rec["cpu_recommended_cores"] == pytest.approx(0.01)  # not 0.001: 10m floor
    assert rec["memory_recommended_bytes"] == pytest.approx(100 * MIB)  # not 11.5 MiB


def test_no_recommendation_from_too_few_samples():
    inventory = two_pods()[2]
    few = np.arange(50) / 12
    report = cost_report(
        series(WEB, 0.2, few), series(WEB, 1.0 * GIB, few), inventory=inventory.iloc[:1]
    )
    assert (
        report["recommendations"][["cpu_recommended_cores", "memory_recommended_bytes"]]
        .isna()
        .all(axis=None)
    )
    assert not [f for f in report["findings"] if f.check.startswith("overprovisioned")]


def test_oom_killed_container_is_never_recommended_below_its_limit():
    labels = {"namespace": "shop", "pod": "cache-0", "container": "redis"}
    hours = np.arange(288) / 12
    restarts = series(labels, (hours >= 6).astype(float) + (hours >= 18), hours)
    reason_schema = {**SERIES, "reason": "category"}
    reasons = series({**labels, "reason": "OOMKilled"}, 1.0, hours[hours >= 6], reason_schema)
    inventory = pd.DataFrame(
        [
            inventory_row(
                labels, ("StatefulSet", "cache"), 0.1, 128 * MIB, memory_limit_bytes=256 * MIB
            )
        ]
    )
    cpu, memory = series(labels, 0.05, hours), series(labels, 200.0 * MIB, hours)
    plain = cost_report(cpu, memory, inventory=inventory)["recommendations"].iloc[0]
    assert plain["memory_recommended_bytes"] == pytest.approx(230 * MIB)  # 200 x 1.15 < limit
    aware = cost_report(cpu, memory, inventory=inventory, restarts=restarts, reasons=reasons)
    rec = aware["recommendations"].iloc[0]
    assert rec["oom_kills"] == 2 and bool(rec["oom_aware"])
    assert rec["memory_recommended_bytes"] == pytest.approx(256 * MIB * 1.25)  # 320 MiB


def test_unused_persistent_volumes_and_their_cost():
    volumes = pd.DataFrame(
        {
            "pv": ["pv-a", "pv-b", "pv-c", "pv-d"],
            "phase": ["Available", "Released", "Bound", "Bound"],
            "capacity_bytes": [10.0 * GIB, 50.0 * GIB, 100.0 * GIB, 20.0 * GIB],
            "storage_class": "gp3",
            "claim_namespace": [None, "shop", "shop", "shop"],
            "claim_name": [None, "old", "orphan", "data"],
            "mounted_by_pod": [False, False, False, True],
        }
    )
    cpu, memory, inventory = two_pods()
    findings = cost_report(cpu, memory, inventory=inventory, volumes=volumes)["findings"]
    unused = {f.subject["pv"]: f.value for f in findings if f.check == "unused_pv"}
    # $0.04 per GiB-month: 10 GiB = $0.40, 50 GiB = $2.00, 100 GiB = $4.00; pv-d is in use
    assert unused == pytest.approx({"pv-a": 0.40, "pv-b": 2.00, "pv-c": 4.00})


def test_unused_volumes_from_prometheus_series():
    phase_schema = {
        "persistentvolume": "category",
        "phase": "category",
        "timestamp": "timestamp",
        "value": "float64",
    }
    stamp = [START, START + pd.Timedelta(hours=1)]
    phases = conform(
        pd.DataFrame(
            {
                "persistentvolume": ["pv-a"] * 4 + ["pv-b"] * 2,
                "phase": ["Bound", "Released", "Bound", "Released", "Bound", "Released"],
                "timestamp": [stamp[0], stamp[0], stamp[1], stamp[1], stamp[1], stamp[1]],
                "value": [1.0, 0.0, 0.0, 1.0, 1.0, 0.0],  # pv-a was released an hour ago
            }
        ),
        phase_schema,
    )
    capacity = conform(
        pd.DataFrame(
            {
                "persistentvolume": ["pv-a", "pv-b"],
                "timestamp": stamp[1],
                "value": [25.0 * GIB, 5.0 * GIB],
            }
        ),
        {"persistentvolume": "category", "timestamp": "timestamp", "value": "float64"},
    )
    table = unused_volumes(phases, capacity, Prices(pv_gib_month=0.10))
    assert table[["pv", "reason", "monthly_cost_usd"]].to_dict("records") == [
        {"pv": "pv-a", "reason": "Released", "monthly_cost_usd": 2.5}
    ]


def test_idle_workload_gets_idle_finding_with_its_cost():
    idle = {"namespace": "tools", "pod": "report-0", "container": "app"}
    cpu, memory, inventory = two_pods()
    cpu = pd.concat([cpu, series(idle, 0.05)])
    memory = pd.concat([memory, series(idle, 0.5 * GIB)])
    inventory = pd.concat(
        [inventory, pd.DataFrame([inventory_row(idle, ("StatefulSet", "report"), 2.0, 4 * GIB)])]
    )
    findings = cost_report(cpu, memory, inventory=inventory)["findings"]
    about_idle = [f for f in findings if f.subject["workload"] == "report"]
    assert [f.check for f in about_idle] == ["idle_workload"]  # not also over-provisioned
    # 2 cores x 23.07603 + 4 GiB x 3.09301 = 46.15206 + 12.37204
    assert about_idle[0].value == pytest.approx(58.5241)
    assert about_idle[0].evidence["cpu_usage_share"] == pytest.approx(0.025)
    # web uses 20 % of its CPU request (not below 20 %) and 50 % of its memory: not idle
    assert "web" not in {f.subject["workload"] for f in findings if f.check == "idle_workload"}


def test_idle_threshold_from_profile():
    cpu, memory, inventory = two_pods()
    lenient = Profile(thresholds={"idle_workload": {"max_usage_share": 0.6}})
    idle = {
        f.subject["workload"]
        for f in cost_report(cpu, memory, inventory=inventory, profile=lenient)["findings"]
        if f.check == "idle_workload"
    }
    assert idle == {"web"}  # 20 % CPU and 50 % memory are both below 60 %


def test_week_over_week_needs_two_weeks():
    hours = np.arange(14 * 24 + 1, dtype=float)
    labels = {"namespace": "shop", "pod": "api-0", "container": "api"}
    cpu = series(labels, np.where(hours <= 7 * 24, 1.0, 2.0), hours)
    memory = series(labels, 0.0, hours)
    wow = cost_report(cpu, memory)["week_over_week"].iloc[0]
    assert wow["previous_usd_per_month"] == pytest.approx(CPU_MONTH)
    assert wow["current_usd_per_month"] == pytest.approx(2 * CPU_MONTH)
    assert wow["change_pct"] == pytest.approx(100.0)
    recent = START + pd.Timedelta(days=2)
    short = cost_report(cpu[cpu["timestamp"] > recent], memory[memory["timestamp"] > recent])
    assert short["week_over_week"].empty


def test_node_utilisation_from_allocatable_series():
    cpu, memory, inventory = two_pods()
    schema = {
        "node": "category",
        "resource": "category",
        "unit": "category",
        "timestamp": "timestamp",
        "value": "float64",
    }
    allocatable = conform(
        pd.DataFrame(
            {
                "node": "node-1",
                "resource": ["cpu", "memory", "pods"],
                "unit": ["core", "byte", "integer"],
                "timestamp": START,
                "value": [4.0, 8.0 * GIB, 110.0],
            }
        ),
        schema,
    )
    report = cost_report(cpu, memory, inventory=inventory, allocatable=allocatable)
    node = report["nodes"].iloc[0]
    assert node["cpu_requested_share"] == pytest.approx(1.5 / 4)
    assert node["cpu_used_share"] == pytest.approx(1.0 / 4)
    assert node["memory_requested_share"] == pytest.approx(3 / 8)
    assert node["memory_used_share"] == pytest.approx(2.5 / 8)


@pytest.mark.parametrize(
    ("kind", "name", "expected"),
    [
        ("ReplicaSet", "web-7d9f8c6b5d", ("Deployment", "web")),
        ("ReplicaSet", "cache-redis", ("ReplicaSet", "cache-redis")),  # not a hash: vowels
        ("Job", "backup-29012345", ("CronJob", "backup")),
        ("Job", "migrate", ("Job", "migrate")),
        ("DaemonSet", "node-exporter", ("DaemonSet", "node-exporter")),
        ("<none>", "", ("Pod", "debug")),
    ],
)
def test_workload_names(kind, name, expected):
    assert workload_of(kind, name, "debug") == expected


def test_empty_frames_give_empty_report():
    empty = conform(pd.DataFrame(), SERIES)
    report = cost_report(empty, empty)
    assert report["findings"] == [] and report["container_costs"].empty
    assert report["summary"]["cost_usd_per_month"] == 0.0


def test_node_utilisation_with_nodes_frame():
    inventory = pd.DataFrame([inventory_row(WEB, ("Deployment", "web"), 1.0, 2.0 * GIB)])
    usage = pd.DataFrame([{**WEB, "cpu_mean_cores": 0.5, "memory_mean_bytes": 1.0 * GIB}])
    nodes = pd.DataFrame(
        {
            "node": ["node-1", "node-2"],
            "cpu_allocatable_cores": [2.0, 2.0],
            "memory_allocatable_bytes": [4.0 * GIB, 4.0 * GIB],
        }
    )
    table = node_utilisation(inventory, usage, nodes).set_index("node")
    assert table.loc["node-1", "cpu_used_share"] == pytest.approx(0.25)
    assert table.loc["node-2", "cpu_requested_share"] == 0.0


def test_cost_figures():
    cpu, memory, inventory = two_pods()
    report = cost_report(cpu, memory, inventory=inventory)
    bars = cost_by_group_figure(report["by_namespace"]).data
    assert {type(t) for t in bars} == {go.Bar}
    now_cpu, now_memory = bars[0], bars[1]
    assert list(now_cpu.x) == ["shop", "batch"]
    # stacked: memory starts where CPU ends; web's CPU now is 1 core = $23.08
    assert list(now_memory.base) == pytest.approx([CPU_MONTH, 0.8 * CPU_MONTH])
    assert list(bars[2].y) == pytest.approx([0.2 * CPU_MONTH, 0.8 * CPU_MONTH])
    slack = slack_figure(report["workload_costs"]).data
    assert list(slack[0].y) == ["batch/db (pg)", "shop/web (app)"]  # most slack on top
    assert list(slack[0].x) == pytest.approx([-0.3 * CPU_MONTH, 0.8 * CPU_MONTH])
    workloads = cost_breakdown_figure(report["workload_costs"]).data
    assert {t.name: dict(zip(t.y, t.x, strict=True)) for t in workloads} == {
        "batch": {"batch/db": pytest.approx(23.100339)},
        "shop": {"shop/web": pytest.approx(29.26205)},
    }


@pytest.mark.parametrize("module", [cost_module, cost_plots])
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
