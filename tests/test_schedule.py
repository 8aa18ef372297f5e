"""`dwcp-diag due`: due periods, idempotence, catch-up, and the lock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from dwcp_diag.cli import main
from dwcp_diag.errors import ConfigError
from dwcp_diag.report.schedule import Suite, due_periods, schedule_lock

NOTEBOOKS = Path(__file__).parent / "notebooks"
CONFIG = """
[suites.weekly]
notebooks = ["sample"]
every = "week"
at = "06:00"

[suites.daily]
notebooks = ["sample"]
every = "day"
at = "02:30"
"""


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


WEEKLY = Suite("weekly", ("x",), "week", "06:00")
DAILY = Suite("daily", ("x",), "day", "02:30", max_catch_up=3)


def labels(suite, now, last_end=None):
    return [p.label for p in due_periods(suite, ts(now), ts(last_end) if last_end else None)]


def test_first_run_renders_only_the_latest_completed_period():
    assert labels(WEEKLY, "2026-11-16T06:00Z") == ["2026-W46"]  # Monday 06:00: last week due
    assert labels(WEEKLY, "2026-11-16T05:59Z") == ["2026-W45"]  # not yet: the week before
    assert labels(DAILY, "2026-11-16T03:00Z") == ["2026-11-15"]


def test_nothing_due_twice_and_missed_periods_caught_up_oldest_first():
    week46_end = "2026-11-16T00:00Z"
    assert labels(WEEKLY, "2026-11-18T12:00Z", last_end=week46_end) == []
    assert labels(WEEKLY, "2026-11-30T07:00Z", last_end=week46_end) == ["2026-W47", "2026-W48"]
    # at most max_catch_up periods, the most recent ones
    assert labels(DAILY, "2026-11-20T03:00Z", last_end="2026-11-10T00:00Z") == [
        "2026-11-17",
        "2026-11-18",
        "2026-11-19",
    ]


def test_period_bounds_are_utc_days_and_iso_weeks():
    (week,) = due_periods(WEEKLY, ts("2026-11-16T06:00Z"), None)
    assert (week.start, week.end) == (ts("2026-11-09T00:00Z"), ts("2026-11-16T00:00Z"))


def test_bad_suites_are_refused():
    with pytest.raises(ConfigError, match="use 'day' or 'week'"):
        Suite("x", ("a",), "month")
    with pytest.raises(ConfigError, match="HH:MM"):
        Suite("x", ("a",), "day", "25:00")


@pytest.fixture
def suite_env(tmp_path, monkeypatch):
    config = tmp_path / "dwcp-diag.toml"
    config.write_text(CONFIG)
    monkeypatch.setenv("DWCP_CONFIG", str(config))
    monkeypatch.setenv("DWCP_NOTEBOOK_DIR", str(NOTEBOOKS))
    return tmp_path / "reports"


@pytest.mark.server  # starts a notebook kernel or another process
def test_due_renders_once_then_catches_up_a_missed_week(suite_env, capsys):
    root = suite_env
    args = ["due", "--out", str(root), "--suite", "weekly", "--source", "demo"]
    assert main([*args, "--now", "2026-11-16T07:00Z"]) == 0
    assert (root / "weekly" / "2026-W46" / "sample.html").is_file()
    findings = json.loads((root / "weekly" / "2026-W46" / "sample.findings.json").read_text())
    assert findings[0]["check"] == "latency_slo_breach"
    assert main([*args, "--now", "2026-11-16T09:00Z"]) == 0
    assert "nothing due" in capsys.readouterr().err
    assert main([*args, "--now", "2026-11-30T07:00Z"]) == 0  # W47 was missed
    assert sorted(p.name for p in (root / "weekly").iterdir()) == [
        "2026-W46",
        "2026-W47",
        "2026-W48",
    ]
    state = json.loads((root / ".schedule-state.json").read_text())
    assert state["weekly"]["last_label"] == "2026-W48"
    assert "weekly/2026-W47/sample.html" in (root / "index.html").read_text()


def test_a_held_lock_makes_due_do_nothing(suite_env, capsys):
    with schedule_lock(suite_env) as acquired:
        assert acquired
        args = ["due", "--out", str(suite_env), "--now", "2026-11-16T07:00Z", "--source", "demo"]
        assert main(args) == 0
    assert "holds the lock" in capsys.readouterr().err
    assert not (suite_env / "weekly").exists()


@pytest.mark.server  # starts a notebook kernel or another process
def test_two_concurrent_due_processes_render_each_period_once(suite_env):
    exe = str(Path(sys.executable).with_name("dwcp-diag"))
    cmd = [exe, "due", "--out", str(suite_env), "--suite", "daily", "--now", "2026-11-16T03:00Z"]
    cmd += ["--source", "demo"]
    procs = [
        subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    rendered = sum(out.count("due: daily 2026-11-15") for out in outputs)
    assert rendered == 1, outputs
    assert (suite_env / "daily" / "2026-11-15" / "sample.html").is_file()


@pytest.mark.server  # starts a notebook kernel or another process
def test_due_copies_each_period_to_a_copy_target(suite_env, tmp_path):
    target = tmp_path / "object-store" / "dwcp"
    args = [
        "due",
        "--out",
        str(suite_env),
        "--suite",
        "weekly",
        "--now",
        "2026-11-16T07:00Z",
        "--copy-to",
        str(target),
        "--source",
        "demo",
    ]
    assert main(args) == 0
    for name in ("sample.html", "sample.ipynb", "sample.findings.json"):
        copied = target / "weekly" / "2026-W46" / name
        assert copied.read_bytes() == (suite_env / "weekly" / "2026-W46" / name).read_bytes()
    assert (target / "index.html").is_file()


def test_suite_tables_with_wrong_types_are_refused(tmp_path):
    from dwcp_diag.report.schedule import load_suites

    config = tmp_path / "c.toml"
    config.write_text('[suites.x]\nnotebooks = "latency"\n')
    with pytest.raises(ConfigError, match="notebooks must be a list"):
        load_suites(config)
    config.write_text('[suites.x]\nnotebooks = ["latency"]\nmax_catch_up = 0\n')
    with pytest.raises(ConfigError, match="max_catch_up must be a whole number"):
        load_suites(config)
