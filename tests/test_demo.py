"""The demo source and record/replay, end to end.

`make demo` renders every notebook from the bundle shipped in the package with no server at
all; a live run recorded with --record re-renders offline with identical findings.
"""

from __future__ import annotations

import json

from dwcp_diag.cli import main
from dwcp_diag.report import render as rendering
from tests.fixtures.live import INCIDENT_WINDOW, environment

# what the simulator seeds, as the demo reports must show it (subjects from its truth)
EXPECTED_IN_DEMO = {
    "latency": "latency_slo_breach",
    "incident": "deployment_in_window",
    "database": "table_bloat",
    "memory": "memory_leak",
    "cost": "idle_workload",
    "capacity": "capacity_exhaustion",
}


def test_demo_renders_every_notebook_from_the_shipped_bundle(rendered_demo):
    assert rendered_demo.exit_code == 0
    out = rendered_demo.out_dir
    for name in rendering.available_notebooks():
        assert (out / f"{name}.html").is_file(), name
        findings = json.loads((out / f"{name}.findings.json").read_text())
        checks = {f["check"] for f in findings}
        assert "source_unavailable" not in checks, (name, findings)
        if name in EXPECTED_IN_DEMO:
            assert EXPECTED_IN_DEMO[name] in checks, (name, sorted(checks))
    index = (out / "index.html").read_text()
    assert all(f"{name}.html" in index for name in rendering.available_notebooks())
    # the header names the window each notebook covered, not placeholders
    latency = (out / "latency.html").read_text()
    assert "<b>window</b>: 2026-11-09T00:00Z..2026-11-16T00:00Z (UTC)" in latency
    assert "(notebook default)" not in latency and "vnd.dwcp-diag.window" not in latency
    incident = (out / "incident.html").read_text()
    assert "<b>window</b>: 2026-11-12T14:00Z..2026-11-12T14:45Z (UTC)" in incident


def test_live_run_replays_offline_with_identical_findings(rendered_live, tmp_path):
    assert rendered_live.exit_code == 0, {n: r.error for n, r in rendered_live.results.items()}
    source = f"snapshot:{rendered_live.bundle}"
    common = [
        "--source",
        source,
        "--out",
        str(tmp_path),
        "--config",
        str(rendered_live.config_path),
        "--profile",
        "live",
    ]
    others = [n for n in rendering.available_notebooks() if n != "incident"]
    # no server is reachable during the replay: the environment names none
    with environment(
        {
            "DWCP_PROMETHEUS_URL": "http://127.0.0.1:9",
            "DWCP_PG_DSN": "host=/nonexistent",
            "KUBECONFIG": str(tmp_path / "absent-kubeconfig"),
        }
    ):
        assert main(["render", *others, *common]) == 0
        assert (
            main(
                [
                    "render",
                    "incident",
                    "--start",
                    INCIDENT_WINDOW[0],
                    "--end",
                    INCIDENT_WINDOW[1],
                    *common,
                ]
            )
            == 0
        )
    for name, live in rendered_live.results.items():
        replayed = json.loads((tmp_path / f"{name}.findings.json").read_text())
        assert replayed == live.findings, name


def test_replaying_an_unrecorded_window_names_the_missing_query(rendered_live, tmp_path):
    code = main(
        [
            "render",
            "latency",
            "--source",
            f"snapshot:{rendered_live.bundle}",
            "--window",
            "3d",
            "--end",
            "2026-11-10T00:00Z",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 1
    page = (tmp_path / "latency.html").read_text()
    # one line: what the bundle covers and what was asked (the request counter from 3 days
    # before the window, which the live run read from the incident's baseline on)
    assert "covers 2026-11-05T14:00Z..2026-11-16 at 1m" in page
    assert "asked 2026-11-04..2026-11-10 at 1m" in page
