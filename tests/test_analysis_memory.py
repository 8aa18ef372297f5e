"""Memory analysis on constructed series whose answers are known (no servers)."""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

import dwcp_diag.analysis.memory as memory_module
import dwcp_diag.plots.memory as memory_plots
from dwcp_diag.analysis.memory import (
    container_resources,
    detect_leaks,
    exit_code_meaning,
    leak_segments,
    memory_near_limit,
    memory_report,
    no_memory_limit,
    restart_summary,
)
from dwcp_diag.config import Profile
from dwcp_diag.frames import conform
from dwcp_diag.plots import MAX_POINTS_PER_TRACE
from dwcp_diag.plots.memory import leak_figure, top_consumers_figure, working_set_figure
from dwcp_diag.units import GIB, MIB

START = pd.Timestamp("2026-03-02T00:00:00Z")
LABELS = {"namespace": "prod", "pod": "api-7d9f8c6b5d-x2x9k", "container": "api"}
SERIES = {
    "namespace": "category",
    "pod": "category",
    "container": "category",
    "timestamp": "timestamp",
    "value": "float64",
}
RESOURCE_SERIES = {**SERIES, "resource": "category", "unit": "category"}
REASON_SERIES = {**SERIES, "reason": "category"}


def hours_grid(days: float, step_min: float = 1.0) -> np.ndarray:
    """Hours since START, one sample every ``step_min`` minutes."""
    return np.arange(0.0, days * 24.0, step_min / 60.0)


def tidy(hours: np.ndarray, values: np.ndarray, schema=SERIES, **labels) -> pd.DataFrame:
    """A tidy frame as the Prometheus loader returns it (categorical labels, ns UTC)."""
    frame = pd.DataFrame(
        {
            **LABELS,
            **labels,
            "timestamp": START + pd.to_timedelta(np.round(hours * 60), unit="min"),
            "value": values,
        }
    )
    return conform(frame, schema)


def limits_series(limit_bytes: float, **labels) -> pd.DataFrame:
    return tidy(
        np.array([0.0]),
        np.array([limit_bytes]),
        RESOURCE_SERIES,
        resource="memory",
        unit="byte",
        **labels,
    )


def noise(size: int, sd_mib: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, sd_mib * MIB, size)


def sawtooth(days: float = 4.0):
    """Grows 20 MiB/h from 200 MiB, OOM-killed at its 512 MiB limit: every 15.6 h."""
    hours = hours_grid(days)
    cycle_h = (512 - 200) / 20
    phase = hours % cycle_h
    working_set = tidy(hours, (200 + 20 * phase) * MIB + noise(len(hours), 3, seed=7))
    restarts_total = np.floor(hours / cycle_h)
    restarts = tidy(hours, restarts_total)
    oomed = restarts_total >= 1
    reasons = tidy(hours[oomed], np.ones(oomed.sum()), REASON_SERIES, reason="OOMKilled")
    return working_set, restarts, reasons, int(restarts_total[-1])


def test_linear_leak_rate_and_time_to_limit_are_recovered():
    hours = hours_grid(3)
    values = (200 + 10 * hours) * MIB + noise(len(hours), 8, seed=1)
    leaks = detect_leaks(tidy(hours, values), limits=limits_series(GIB))
    row = leaks.iloc[0]
    assert bool(row["is_leak"])
    assert row["growth_mib_per_h"] == pytest.approx(10.0, rel=0.10)
    assert row["confidence"] > 0.9
    # by hand: the line is at 200 + 10 * 71.983 = 919.8 MiB at the last sample (71.983 h), so
    # the 1024 MiB limit is (1024 - 919.8) / 10 = 10.4 h later: 2026-03-05 10:25 UTC
    assert row["hours_to_limit"] == pytest.approx(10.42, abs=0.5)
    assert abs(row["limit_at"] - pd.Timestamp("2026-03-05T10:25:00Z")) < pd.Timedelta(minutes=30)


def test_sawtooth_of_oom_restarts_is_one_leak():
    working_set, restarts, _, kills = sawtooth()
    leaks = detect_leaks(working_set, restarts, limits_series(512 * MIB))
    assert len(leaks) == 1
    row = leaks.iloc[0]
    assert bool(row["is_leak"])
    assert row["growth_mib_per_h"] == pytest.approx(20.0, rel=0.10)
    assert row["segments"] == kills + 1 == 7  # restarts at 15.6, 31.2, ... 93.6 h
    assert row["growing_segments"] == row["segments"]
    # the running segment started at 93.6 h and is at ~200 + 20 * 2.4 = 248 MiB: 13.2 h to go
    assert row["hours_to_limit"] == pytest.approx((512 - 200 - 20 * (96 - 93.6)) / 20, abs=0.5)


def test_sawtooth_without_restart_data_is_cut_at_the_drops():
    working_set, _, _, kills = sawtooth()
    row = detect_leaks(working_set).iloc[0]
    assert bool(row["is_leak"]) and row["segments"] == kills + 1
    assert row["growth_mib_per_h"] == pytest.approx(20.0, rel=0.10)


def test_sawtooth_findings_count_oom_kills_with_exit_meaning():
    working_set, restarts, reasons, kills = sawtooth()
    report = memory_report(working_set, restarts, reasons, limits=limits_series(512 * MIB))
    findings = report["findings"].to_records()
    by_check = {f["check"]: f for f in findings}
    assert [f["check"] for f in findings].count("memory_leak") == 1
    assert by_check["memory_leak"]["evidence"]["hours_to_limit"] > 0
    assert by_check["oom_killed"]["value"] == kills == 6
    assert by_check["oom_killed"]["severity"] == "critical"  # >= 3 kills
    restarts_finding = by_check["frequent_restarts"]  # 6 > 5 restarts in the window
    assert restarts_finding["value"] == 6
    assert restarts_finding["evidence"]["last_exit_code"] == 137
    assert "OOMKilled" in restarts_finding["evidence"]["exit_meaning"]


def test_flat_series_with_noise_is_not_a_leak():
    hours = hours_grid(7)
    values = 500 * MIB + noise(len(hours), 20, seed=2)
    row = detect_leaks(tidy(hours, values), limits=limits_series(GIB)).iloc[0]
    assert not row["is_leak"]
    assert abs(row["growth_mib_per_h"]) < 0.5


@pytest.mark.parametrize("days", [1.75, 7.4])
def test_daily_cycle_is_not_a_leak(days):
    hours = hours_grid(days)
    values = (600 - 200 * np.cos(2 * np.pi * hours / 24)) * MIB + noise(len(hours), 10, seed=3)
    row = detect_leaks(tidy(hours, values)).iloc[0]
    assert not row["is_leak"]


def test_leak_under_a_daily_cycle_is_found_with_its_rate():
    # a 300 MiB daily swing would drown a plain straight-line fit (R² ~ 0.4) over 2.5 days
    hours = hours_grid(2.5)
    cycle = -300 * np.cos(2 * np.pi * hours / 24)
    values = (800 + 5 * hours + cycle) * MIB + noise(len(hours), 10, seed=4)
    row = detect_leaks(tidy(hours, values)).iloc[0]
    assert bool(row["is_leak"])
    assert row["growth_mib_per_h"] == pytest.approx(5.0, rel=0.10)


def test_cache_flushed_daily_without_restarts_is_not_a_leak():
    # grows 10 MiB/h all day, falls back to 300 MiB at midnight; the restart counter stays at 0
    hours = hours_grid(7)
    values = (300 + 10 * (hours % 24)) * MIB + noise(len(hours), 3, seed=5)
    restarts = tidy(hours, np.zeros(len(hours)))
    row = detect_leaks(tidy(hours, values), restarts).iloc[0]
    assert row["segments"] == 1
    assert not row["is_leak"]


def test_leak_thresholds_come_from_the_profile():
    hours = hours_grid(3)
    working_set = tidy(hours, (200 + 10 * hours) * MIB)
    strict = Profile(thresholds={"memory_leak": {"min_growth_mib_per_h": 50}})
    assert [f.check for f in memory_report(working_set)["findings"]] == ["memory_leak"]
    assert memory_report(working_set, profile=strict)["findings"] == []


def test_leak_shorter_than_a_day_and_a_half_is_not_flagged():
    hours = hours_grid(1.2)
    row = detect_leaks(tidy(hours, (200 + 10 * hours) * MIB)).iloc[0]
    assert row["growth_mib_per_h"] == pytest.approx(10.0, rel=0.01)
    assert not row["is_leak"]  # 28.8 h of growth < 36 h


def test_container_resources_from_prometheus_series():
    requests = pd.concat(
        [
            tidy(
                np.array([0.0, 1.0]),
                np.array([0.25, 0.5]),
                RESOURCE_SERIES,
                resource="cpu",
                unit="core",
            ),
            tidy(
                np.array([0.0]),
                np.array([256.0 * MIB]),
                RESOURCE_SERIES,
                resource="memory",
                unit="byte",
            ),
            tidy(
                np.array([0.0]),
                np.array([1.0]),
                RESOURCE_SERIES,
                resource="nvidia_com_gpu",
                unit="integer",
            ),
        ]
    )
    table = container_resources(requests, limits_series(GIB))
    assert table.to_dict("records") == [
        {
            **LABELS,
            "cpu_request_cores": 0.5,  # the latest value
            "cpu_limit_cores": pytest.approx(np.nan, nan_ok=True),
            "memory_request_bytes": 256.0 * MIB,
            "memory_limit_bytes": float(GIB),
        }
    ]


def test_near_limit_and_missing_limit():
    hours = hours_grid(1, step_min=5)
    n = len(hours)
    working_set = pd.concat(
        [
            tidy(hours, np.full(n, 920.0 * MIB), pod="near"),  # 90 % of 1 GiB
            tidy(hours, np.full(n, 512.0 * MIB), pod="fine"),  # 50 %
            tidy(hours, np.full(n, 700.0 * MIB), pod="unlimited"),
        ]
    )
    limits = pd.concat([limits_series(GIB, pod="near"), limits_series(GIB, pod="fine")])
    near = memory_near_limit(working_set, limits)
    assert near.set_index("pod")["near"].to_dict() == {"near": True, "fine": False}
    assert near.set_index("pod").loc["near", "share_of_limit"] == pytest.approx(920 / 1024)
    missing = no_memory_limit(working_set, limits)
    assert missing["pod"].tolist() == ["unlimited"]
    assert missing["memory_max_bytes"].tolist() == [700.0 * MIB]
    assert no_memory_limit(working_set, None).empty  # no limit data is no evidence
    found = memory_report(working_set, limits=limits)["findings"]
    checks = {(f.check, f.subject["pod"]) for f in found}
    assert checks == {("memory_near_limit", "near"), ("no_memory_limit", "unlimited")}


def inventory(**columns) -> pd.DataFrame:
    base = {
        **LABELS,
        "node": "node-1",
        "phase": "Running",
        "cpu_request_cores": 0.5,
        "cpu_limit_cores": np.nan,
        "memory_request_bytes": 256.0 * MIB,
        "memory_limit_bytes": 512.0 * MIB,
        "restart_count": 0,
        "state": "running",
        "state_reason": None,
        "last_terminated_reason": None,
        "last_exit_code": np.nan,
    }
    return pd.DataFrame([{**base, **columns}])


def test_crash_loop_from_inventory_with_exit_code_meaning():
    hours = hours_grid(1, step_min=5)
    working_set = tidy(hours, np.full(len(hours), 100.0 * MIB))
    inv = inventory(
        restart_count=3,
        state="waiting",
        state_reason="CrashLoopBackOff",
        last_terminated_reason="Error",
        last_exit_code=1,
    )
    summary = restart_summary(inventory=inv).iloc[0]
    assert summary["restarts_scope"] == "lifetime" and summary["crash_loop"]
    findings = memory_report(working_set, inventory=inv)["findings"].to_records()
    assert [(f["check"], f["severity"]) for f in findings] == [("frequent_restarts", "critical")]
    assert findings[0]["evidence"]["exit_meaning"].startswith("application error")


def test_oom_from_inventory_when_prometheus_has_no_reasons():
    inv = inventory(restart_count=1, last_terminated_reason="OOMKilled", last_exit_code=137)
    summary = restart_summary(inventory=inv).iloc[0]
    assert summary["oom_kills"] == 1 and summary["last_exit_code"] == 137


def test_restart_counter_reset_counts_new_restarts():
    restarts = tidy(np.arange(5.0), np.array([4.0, 4.0, 5.0, 1.0, 2.0]))
    summary = restart_summary(restarts).iloc[0]
    assert summary["restarts"] == 3  # +1, reset to 1 (+1), +1
    assert summary["last_restart_at"] == START + pd.Timedelta(hours=4)


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (0, "completed"),
        (1, "application error"),
        (137, "OOMKilled"),
        (139, "segmentation fault"),
        (143, "SIGTERM"),
        (127, "command not found"),
        (130, "SIGINT"),
    ],
)
def test_exit_code_meanings(code, words):
    assert words in exit_code_meaning(code)


def test_leak_figure_projects_to_the_limit():
    working_set, restarts, _, _ = sawtooth()
    limits = limits_series(512 * MIB)
    leaks = detect_leaks(working_set, restarts, limits)
    segments = leak_segments(working_set, restarts)
    fig = leak_figure(working_set, leaks, segments, **LABELS)
    traces = {trace.name: trace for trace in fig.data}
    assert {type(t) for t in fig.data} == {go.Scatter}  # SVG, never Scattergl
    assert len(traces["working set"].x) <= MAX_POINTS_PER_TRACE  # downsampled from 5760
    assert list(traces["projection"].y) == pytest.approx([leaks.level_bytes[0] / MIB, 512.0])
    assert pd.Timestamp(traces["limit reached"].x[0]) == leaks.limit_at[0]
    assert list(traces["fit"].x).count(None) == len(segments) == 7


def test_top_consumers_and_working_set_figures():
    hours = hours_grid(1, step_min=5)
    working_set = pd.concat(
        [tidy(hours, np.full(len(hours), mib * MIB), pod=f"p{mib}") for mib in (100, 300, 200)]
    )
    limits = container_resources(limits=limits_series(GIB, pod="p300"))
    bars = top_consumers_figure(working_set, limits, top=2).data
    assert list(bars[0].y) == ["prod/p200 api", "prod/p300 api"]
    assert list(bars[0].x) == pytest.approx([200.0, 300.0])
    assert list(bars[2].x) == pytest.approx([np.nan, 1024.0], nan_ok=True)  # limit markers
    single = working_set_figure(working_set, limits, "prod", "p300", "api")
    assert [shape.y0 for shape in single.layout.shapes] == [1024.0]  # no request: limit only
    with pytest.raises(ValueError, match="ambiguous"):  # requests or limits? cannot tell
        working_set_figure(working_set, limits_series(GIB), "prod", "p300", "api")


@pytest.mark.parametrize("module", [memory_module, memory_plots])
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def owned(pod: str, kind: str | None, name: str | None, **columns) -> pd.DataFrame:
    """An inventory row for ``pod`` with the owner columns the Kubernetes loader fills."""
    return inventory(pod=pod, owner_kind=kind, owner_name=name, **columns)


def fixes_by_check(found) -> dict[str, str]:
    return {f["check"]: f.get("fix") for f in found.to_records()}


def test_oom_leak_and_restart_findings_carry_commands_for_the_owning_workload():
    working_set, restarts, reasons, _ = sawtooth()
    inv = owned(LABELS["pod"], "Deployment", "api")
    report = memory_report(
        working_set, restarts, reasons, limits=limits_series(512 * MIB), inventory=inv
    )
    fixes = fixes_by_check(report["findings"])
    # OOM-killed at its 512 Mi limit: 512 x 1.25 = 640, already a multiple of 64
    assert fixes["oom_killed"].splitlines()[-1] == (
        "kubectl -n prod set resources deployment/api -c api --limits=memory=640Mi"
    )
    assert fixes["frequent_restarts"].splitlines() == [
        "kubectl -n prod logs api-7d9f8c6b5d-x2x9k -c api --previous",
        "# last exit: " + exit_code_meaning(137),
    ]
    leak = next(f for f in report["findings"] if f.check == "memory_leak").evidence
    # the running segment is at ~248 MiB and grows 20 MiB/h: (248 + 24 x 20) x 1.25 = 910,
    # rounded up to 960 Mi; a level off by up to 40 MiB still lands on 960 or 1024
    leak_fix = fixes["memory_leak"].splitlines()
    assert "heap profile" in leak_fix[0]
    assert "rollout restart deployment/api" in leak_fix[1]
    expected = -(-((leak["level_bytes"] / MIB + 24 * leak["growth_mib_per_h"]) * 1.25) // 64) * 64
    assert leak_fix[-1] == (
        f"kubectl -n prod set resources deployment/api -c api --limits=memory={expected:.0f}Mi"
    )
    assert expected in (960, 1024)


def test_limit_findings_size_the_new_limit_from_usage_and_request():
    hours = hours_grid(1, step_min=5)
    n = len(hours)
    working_set = pd.concat(
        [
            tidy(hours, np.full(n, 920.0 * MIB), pod="db-0"),  # p99 920 of 1024 MiB
            tidy(hours, np.full(n, 700.0 * MIB), pod="cache-0"),  # no limit, peak 700 MiB
            tidy(hours, np.full(n, 700.0 * MIB), pod="big-0"),  # no limit, request 1 GiB
        ]
    )
    inv = pd.concat(
        [
            owned("db-0", "StatefulSet", "db"),
            owned("cache-0", "StatefulSet", "cache", memory_limit_bytes=np.nan),
            owned("big-0", "StatefulSet", "big", memory_limit_bytes=np.nan,
                  memory_request_bytes=float(GIB)),
        ]
    )  # fmt: skip
    found = memory_report(working_set, limits=limits_series(GIB, pod="db-0"), inventory=inv)
    fix = {f.subject["pod"]: f.to_dict()["fix"].splitlines()[-1] for f in found["findings"]}
    # 920 x 1.25 = 1150 -> 1152; 700 x 1.25 = 875 -> 896; the request (1024) wins over 875
    assert fix == {
        "db-0": "kubectl -n prod set resources statefulset/db -c api --limits=memory=1152Mi",
        "cache-0": "kubectl -n prod set resources statefulset/cache -c api --limits=memory=896Mi",
        "big-0": "kubectl -n prod set resources statefulset/big -c api --limits=memory=1024Mi",
    }


def test_a_pod_the_inventory_does_not_own_gets_a_lookup_not_a_guessed_deployment():
    hours = hours_grid(1, step_min=5)
    working_set = tidy(hours, np.full(len(hours), 920.0 * MIB))  # api-7d9f8c6b5d-x2x9k
    gone = owned("api-7d9f8c6b5d-other", "Deployment", "api")  # another pod, same namespace
    found = memory_report(working_set, limits=limits_series(GIB), inventory=gone)
    fix = found["findings"][0].to_dict()["fix"]
    assert "deployment/api" not in fix and "set resources" not in fix
    assert "kubectl -n prod get pod api-7d9f8c6b5d-x2x9k -o 'jsonpath=" in fix
    assert "1152Mi" in fix


def test_odd_names_are_shell_quoted_in_the_fix():
    hours = hours_grid(1, step_min=5)
    odd = {"namespace": "team a", "pod": "p$(id)", "container": "c;rm -rf ~"}
    working_set = tidy(hours, np.full(len(hours), 920.0 * MIB), **odd)
    inv = inventory(**odd, owner_kind="Deployment", owner_name="it's")
    found = memory_report(working_set, limits=limits_series(GIB, **odd), inventory=inv)
    fix = found["findings"][0].to_dict()["fix"].splitlines()[-1]
    assert fix == (
        "kubectl -n 'team a' set resources 'deployment/it'\"'\"'s' -c 'c;rm -rf ~' "
        "--limits=memory=1152Mi"
    )
