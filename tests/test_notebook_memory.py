"""notebooks/memory.ipynb rendered against the live fixture servers (``rendered_live``).

The simulator's seeded problems (``simulate().truth``) must come out as findings with the
right subject and figures; its healthy controls (flat and daily-cyclic working sets) must not.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from dwcp_diag.analysis.findings import CHECKS_BY_NOTEBOOK
from dwcp_diag.demo import DEMO_END

pytestmark = pytest.mark.slow
WINDOW = pd.Timedelta(days=7)  # the notebook's default window, ending at DEMO_END


@pytest.fixture(scope="module")
def truth(demo_cluster: Any) -> dict[str, Any]:
    return demo_cluster.truth


@pytest.fixture(scope="module")
def memory(rendered_live: Any) -> Any:
    result = rendered_live.results["memory"]
    assert result.ok, result.error
    return rendered_live


def subjects(findings: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [f["subject"] for f in findings]


def in_window(times: list[str]) -> list[pd.Timestamp]:
    stamps = [pd.Timestamp(t) for t in times]
    return [t for t in stamps if DEMO_END - WINDOW < t <= DEMO_END]


def test_renders_with_every_source_and_only_memory_checks(memory):
    assert memory.findings("memory", "source_unavailable") == []
    checks = {f["check"] for f in memory.findings("memory")}
    assert checks <= set(CHECKS_BY_NOTEBOOK["memory"])


def test_seeded_leak_is_the_only_leak_with_its_rate_and_next_oom(memory, truth):
    leak = truth["memory_leak"]
    found = memory.findings("memory", "memory_leak")
    assert subjects(found) == [leak["subject"]]
    finding = found[0]
    assert finding["unit"] == "MiB/h"
    assert finding["value"] == pytest.approx(leak["rate_mib_per_h"], rel=0.05)
    limit_at = pd.Timestamp(finding["evidence"]["limit_at"])
    assert abs(limit_at - pd.Timestamp(leak["next_oom"])) < pd.Timedelta(hours=1)
    assert finding["severity"] == "critical"  # the next OOM kill is less than 24 h away


def test_healthy_controls_are_not_leaks(memory, truth):
    controls = truth["healthy_controls"]["flat"] + truth["healthy_controls"]["cyclic"]
    leaking = subjects(memory.findings("memory", "memory_leak"))
    assert controls
    assert [c for c in controls if c in leaking] == []


def test_oom_killed_pod_with_every_kill_of_the_window(memory, truth):
    oom = truth["oom_killed"]
    found = memory.findings("memory", "oom_killed")
    assert subjects(found) == [oom["subject"]]
    assert found[0]["value"] == len(in_window(oom["oom_times"]))
    assert found[0]["evidence"]["last_exit_code"] == oom["exit_code"]
    assert found[0]["evidence"]["exit_meaning"].startswith("SIGKILL, OOMKilled")


def test_crash_loop_is_a_critical_frequent_restart_with_its_exit_meaning(memory, truth):
    loop = truth["crashloop"]
    found = [
        f for f in memory.findings("memory", "frequent_restarts") if f["subject"] == loop["subject"]
    ]
    assert len(found) == 1
    finding = found[0]
    assert finding["severity"] == "critical"
    assert loop["state"] in finding["summary"]  # CrashLoopBackOff, from the Kubernetes API
    assert finding["evidence"]["last_exit_code"] == loop["exit_code"]
    assert finding["evidence"]["exit_meaning"].startswith("application error")
    # restarts counted from the counter at the notebook's 5-minute step: one may fall after it
    assert finding["value"] == pytest.approx(len(in_window(loop["restart_times"])), abs=1)


def test_container_without_memory_limit(memory, truth):
    found = memory.findings("memory", "no_memory_limit")
    assert subjects(found) == [truth["no_memory_limit"]["subject"]]
