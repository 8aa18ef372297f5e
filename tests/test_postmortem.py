"""`dwcp-diag postmortem`: an incident bundle that re-renders offline with the same findings."""

from __future__ import annotations

import json
import re
import shlex
import zipfile

import pytest

from dwcp_diag.cli import main
from tests.fixtures.live import INCIDENT_WINDOW, environment

NOTEBOOKS = ("incident", "latency", "database", "memory")


def test_postmortem_bundle_re_renders_offline_with_identical_findings(
    live_sources, tmp_path, monkeypatch
):
    out = tmp_path / "reports" / "postmortems" / "INC-TEST.1"
    start, end = INCIDENT_WINDOW
    with environment(live_sources):
        code = main(
            [
                "postmortem",
                "INC-TEST.1",
                "--start",
                start,
                "--end",
                end,
                "--out",
                str(out),
                "--no-cache",
            ]
        )
    assert code == 0
    zip_path = out.with_name(f"{out.name}.zip")
    assert zip_path.is_file()
    readme = (out / "README.md").read_text()
    assert all(f"[{name}]({name}.html) | ok" in readme for name in NOTEBOOKS)
    assert (out / "data" / "manifests" / "incident.json").is_file()

    # On "another machine": unzip elsewhere and run the README's command with no live access.
    elsewhere = tmp_path / "elsewhere"
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(elsewhere)
    bundle = elsewhere / "INC-TEST.1"
    command = re.search(r"```bash\n(.+)\n```", readme).group(1)
    args = shlex.split(command)
    assert args[0] == "dwcp-diag"
    monkeypatch.chdir(bundle)
    with environment(
        {
            "DWCP_PROMETHEUS_URL": "http://127.0.0.1:9",
            "DWCP_PG_DSN": "host=/nonexistent",
            "KUBECONFIG": "/nonexistent",
        }
    ):
        assert main(args[1:]) == 0
    for name in NOTEBOOKS:
        original = json.loads((out / f"{name}.findings.json").read_text())
        rerendered = json.loads((bundle / "rerendered" / f"{name}.findings.json").read_text())
        assert rerendered == original, name
    assert any(
        f["check"] == "deployment_in_window"
        for f in json.loads((out / "incident.findings.json").read_text())
    )


@pytest.mark.parametrize("bad", ["../etc", "INC 1", "", "x" * 80])
def test_incident_ids_that_are_not_safe_directory_names_are_refused(bad, capsys):
    args = ["postmortem", bad, "--start", "2026-11-12T14:00Z", "--end", "2026-11-12T14:45Z"]
    assert main(args) == 2
    assert "incident id" in capsys.readouterr().err
