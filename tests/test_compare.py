"""Week over week: findings identity, new/persisting/resolved, `due` and `render --compare`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from dwcp_diag.cli import main
from dwcp_diag.report.compare import compare_findings, earlier_periods, finding_key
from dwcp_diag.session import DEMO_BUNDLE
from dwcp_diag.sources.snapshot import Recorder, SnapshotBundle

pytestmark = pytest.mark.server  # every test here renders (kernels) or runs a server

NOTEBOOKS = Path(__file__).parent / "notebooks"
GIB = 2**30


def finding(check, severity="warning", value=1.0, **subject):
    return {
        "check": check,
        "severity": severity,
        "subject": subject,
        "summary": "s",
        "value": value,
    }


def test_identity_is_check_and_subject_whatever_the_label_order():
    a = finding("oom_killed", namespace="p", pod="w")
    b = {**finding("oom_killed", value=9.0), "subject": {"pod": "w", "namespace": "p"}}
    assert finding_key(a) == finding_key(b)
    assert finding_key(a) != finding_key(finding("memory_leak", namespace="p", pod="w"))
    assert finding_key(a) != finding_key(finding("oom_killed", namespace="p", pod="x"))


def test_persistence_counts_periods_and_value_change_across_three_weeks():
    w1 = [finding("oom_killed", value=3.0, pod="a"), finding("no_memory_limit", pod="b")]
    w2 = compare_findings(
        [finding("oom_killed", value=5.0, pod="a"), finding("memory_leak", pod="c")], w1, "W1"
    )
    assert [(f["check"], f["status"]) for f in w2.current] == [
        ("oom_killed", "persisting"),
        ("memory_leak", "new"),
    ]
    assert w2.current[0]["persisting"] == {
        "periods": 2,
        "first_seen": "W1",
        "previous_value": 3.0,
        "value_change": 2.0,
    }
    assert [f["check"] for f in w2.resolved] == ["no_memory_limit"]
    assert w2.resolved[0]["resolved_since"] == "W1"
    w3 = compare_findings([finding("oom_killed", value=4.0, pod="a")], w2.current, "W2")
    assert w3.current[0]["persisting"]["periods"] == 3
    assert w3.current[0]["persisting"]["first_seen"] == "W1"
    assert w3.current[0]["persisting"]["value_change"] == -1.0
    assert w3.summary_line() == "0 new, 1 persisting, 1 resolved since W2"


def test_earlier_periods_are_the_suites_folders_before_this_one(tmp_path):
    for name in ("2026-W44", "2026-W45", "2026-W46", "2026-W47", "adhoc", "2026-11-15"):
        (tmp_path / name).mkdir()
    assert [p.name for p in earlier_periods(tmp_path, "2026-W47")] == [
        "2026-W44",
        "2026-W45",
        "2026-W46",
    ]
    assert [p.name for p in earlier_periods(tmp_path, "2026-W47", limit=2)] == [
        "2026-W45",
        "2026-W46",
    ]
    assert earlier_periods(tmp_path / "missing", "2026-W47") == []


@pytest.fixture
def suite_env(tmp_path, monkeypatch):
    config = tmp_path / "dwcp-diag.toml"
    config.write_text('[suites.weekly]\nnotebooks = ["sample"]\nevery = "week"\n')
    monkeypatch.setenv("DWCP_CONFIG", str(config))
    monkeypatch.setenv("DWCP_NOTEBOOK_DIR", str(NOTEBOOKS))
    return tmp_path / "reports"


def test_due_marks_the_second_week_persisting_and_says_so_at_the_top(suite_env):
    root = suite_env
    args = ["due", "--source", "demo", "--out", str(root), "--jobs", "1"]
    assert main([*args, "--now", "2026-11-16T07:00Z"]) == 0
    first = root / "weekly" / "2026-W46"
    week46 = json.loads((first / "sample.findings.json").read_text())
    assert all("status" not in f for f in week46)  # no earlier period: no status
    assert not (first / "sample.resolved.json").exists()
    assert main([*args, "--now", "2026-11-23T07:00Z"]) == 0
    second = root / "weekly" / "2026-W47"
    week47 = json.loads((second / "sample.findings.json").read_text())
    assert [(f["check"], f["status"]) for f in week47] == [("latency_slo_breach", "persisting")]
    assert week47[0]["persisting"]["periods"] == 2
    assert week47[0]["persisting"]["value_change"] == 0.0
    assert json.loads((second / "sample.resolved.json").read_text()) == []
    page = (second / "sample.html").read_text()
    assert "0 new, 1 persisting, 0 resolved since 2026-W46" in page
    header = (first / "sample.html").read_text().split('<div class="dwcp-header">')[1]
    assert "<b>changes</b>" not in header.split("<h2>Findings")[0]  # no earlier period


def test_render_compare_refuses_a_folder_without_reports(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DWCP_NOTEBOOK_DIR", str(NOTEBOOKS))
    (tmp_path / "empty").mkdir()
    code = main(["render", "sample", "--source", "demo", "--out", str(tmp_path / "o"),
                 "--compare", str(tmp_path / "empty")])  # fmt: skip
    assert code == 2
    assert "not a folder of rendered reports" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_a_failed_report_resolves_nothing(tmp_path, monkeypatch):
    """A report that failed did not look: its missing findings are not "resolved"."""
    monkeypatch.setenv("DWCP_NOTEBOOK_DIR", str(NOTEBOOKS))
    earlier, now = tmp_path / "before", tmp_path / "after"
    base = ["render", "sample", "--source", "demo", "-p", "end=2026-11-16T00:00:00+00:00"]
    assert main([*base, "--out", str(earlier)]) in (0, 3)
    assert json.loads((earlier / "sample.findings.json").read_text())  # something to resolve
    code = main([*base, "-p", "fail=true", "--out", str(now), "--compare", str(earlier)])
    assert code == 1
    findings = json.loads((now / "sample.findings.json").read_text())
    assert findings[0]["check"] == "report_failed"
    assert not (now / "sample.resolved.json").exists()
    assert all("status" not in f for f in findings)


# ------------------------------------------------ two simulated weeks, one fault fixed, one new


def replant(bundle: Path, change) -> None:
    """Re-record the memory report's limit data of ``bundle`` with ``change`` applied.

    A report replays its own recorder's answers first, so the memory recorder re-records them.
    """
    replay = SnapshotBundle(bundle, writer="memory")
    recorder = Recorder(bundle, replay.now, writer="memory")
    memory = json.loads((bundle / "manifests" / "memory.json").read_text())["entries"]
    for entry in memory.values():
        query = entry["params"].get("query", "")
        # the raw series and the push-down's last_over_time(...) of them
        if entry["call"] == "containers" or "kube_pod_container_resource_limits" in query:
            frame = replay.load(entry["source"], entry["call"], entry["params"])
            recorder.record(entry["source"], entry["call"], entry["params"], change(frame))


def fix_prometheus_and_drop_postgres_limit(frame: pd.DataFrame) -> pd.DataFrame:
    pod = frame["pod"].astype(str)
    if "memory_limit_bytes" in frame:  # the Kubernetes API's containers
        frame = frame.copy()
        frame.loc[pod == "prometheus-0", "memory_limit_bytes"] = 4.0 * GIB
        frame.loc[pod == "postgres-primary-0", "memory_limit_bytes"] = float("nan")
        return frame
    memory = frame["resource"].astype(str) == "memory"
    added = frame[memory & (pod == "postgres-primary-0")].copy()
    added["pod"], added["container"], added["value"] = "prometheus-0", "prometheus", 4.0 * GIB
    added["namespace"] = "monitoring"
    kept = frame[~(memory & (pod == "postgres-primary-0"))]
    out = pd.concat([kept.astype(object), added.astype(object)], ignore_index=True)
    return out.astype(frame.dtypes.to_dict())


@pytest.mark.slow
def test_two_simulated_weeks_give_exactly_the_fixed_and_planted_changes(
    rendered_demo, tmp_path, monkeypatch
):
    """Week 46 is the simulator's recorded week (the memory report of the session's
    `dwcp-diag demo`); in week 47 prometheus-0 got a memory limit (a fix) and
    postgres-primary-0 lost its own (a new fault); nothing else changed."""
    monkeypatch.chdir(tmp_path)
    week2_bundle = tmp_path / "bundle-week2"
    shutil.copytree(DEMO_BUNDLE, week2_bundle)
    replant(week2_bundle, fix_prometheus_and_drop_postgres_limit)
    w46, w47 = tmp_path / "weekly" / "2026-W46", tmp_path / "weekly" / "2026-W47"
    assert rendered_demo.exit_code == 0
    w46.mkdir(parents=True)
    for path in rendered_demo.out_dir.glob("memory.*"):
        shutil.copy2(path, w46 / path.name)
    assert main(["render", "memory", "--source", f"snapshot:{week2_bundle}", "--out", str(w47),
                 "--compare", str(w46)]) == 0  # fmt: skip
    before = json.loads((w46 / "memory.findings.json").read_text())
    after = json.loads((w47 / "memory.findings.json").read_text())
    resolved = json.loads((w47 / "memory.resolved.json").read_text())

    def keys(items, status=None):
        return {
            (f["check"], f["subject"]["pod"])
            for f in items
            if status is None or f.get("status") == status
        }

    assert ("no_memory_limit", "prometheus-0") in keys(before)  # the fault the week fixed
    assert keys(after, "new") == {("no_memory_limit", "postgres-primary-0")}
    assert keys(resolved) == {("no_memory_limit", "prometheus-0")}
    assert keys(after, "persisting") == keys(before) - {("no_memory_limit", "prometheus-0")}
    assert len(keys(after, "persisting")) == 5
    page = (w47 / "memory.html").read_text()
    assert "1 new, 5 persisting, 1 resolved since 2026-W46" in page
