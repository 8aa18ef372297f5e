"""The exit status contract (0 ok, 1 a report failed, 3 rendered blind, 2 bad usage) of render,
due and postmortem, against a killed Prometheus and the demo; `due` retries what it could not
see, a bounded number of times, and re-renders a failed period once the config is fixed."""

from __future__ import annotations

import json
import zipfile

import pytest

from dwcp_diag.cli import main

pytestmark = pytest.mark.server  # every test here renders (kernels) or runs a server

INCIDENT = ["--start", "2026-11-12T14:00Z", "--end", "2026-11-12T14:45Z"]


@pytest.fixture
def dead_prometheus_url(start_prometheus) -> str:
    """The URL of a Prometheus that was running and was killed (SIGKILL): nothing listens."""
    server = start_prometheus()
    url = server.url
    server.kill()
    return url


def suite_config(path, prometheus_url: str, max_attempts: int = 3) -> str:
    path.write_text(
        f'[profiles.default.prometheus]\nurl = "{prometheus_url}"\n\n'
        '[suites.daily]\nnotebooks = ["latency"]\nevery = "day"\nat = "06:00"\n'
        f"max_attempts = {max_attempts}\n"
    )
    return str(path)


def findings_of(path) -> list[dict]:
    return json.loads(path.read_text())


def state_of(root) -> dict:
    return json.loads((root / ".schedule-state.json").read_text())


def test_render_against_a_killed_prometheus_exits_3(
    dead_prometheus_url, no_live_sources, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("DWCP_PROMETHEUS_URL", dead_prometheus_url)
    out = tmp_path / "out"
    argv = [
        "render",
        "latency",
        "--source",
        "live",
        "--end",
        "2026-11-16T00:00Z",
        "--out",
        str(out),
    ]
    assert main(argv) == 3
    checks = [(f["check"], f["subject"]) for f in findings_of(out / "latency.findings.json")]
    assert ("source_unavailable", {"source": "prometheus"}) in checks
    assert "report_failed" not in {check for check, _ in checks}  # it rendered: not failed
    err = capsys.readouterr().err
    assert "dwcp-diag: PARTIAL latency: prometheus could not be reached" in err


def test_due_retries_a_blind_period_and_re_renders_it_after_the_config_is_fixed(
    dead_prometheus_url, prometheus_server, no_live_sources, tmp_path, capsys
):
    config = tmp_path / "dwcp-diag.toml"
    root = tmp_path / "reports"
    due = ["due", "--config", suite_config(config, dead_prometheus_url), "--out", str(root)]
    assert main([*due, "--now", "2026-11-15T07:00Z"]) == 3
    state = state_of(root)["daily"]
    assert "last_end" not in state  # not done
    assert state["retry"]["label"] == "2026-11-14" and state["retry"]["attempts"] == 1
    assert state["retry"]["reason"].startswith("latency: prometheus could not be reached")
    blind = findings_of(root / "daily" / "2026-11-14" / "latency.findings.json")
    assert "source_unavailable" in {f["check"] for f in blind}
    assert "attempt 1/3 retried next run" in capsys.readouterr().err

    suite_config(config, prometheus_server.url)  # the fix; a day later, the next run
    assert main([*due, "--now", "2026-11-16T07:00Z"]) == 0
    err = capsys.readouterr().err
    assert "due: daily 2026-11-14" in err and "due: daily 2026-11-15" in err  # retried, then new
    for day in ("2026-11-14", "2026-11-15"):
        seen = findings_of(root / "daily" / day / "latency.findings.json")
        assert not {"source_unavailable", "report_failed"} & {f["check"] for f in seen}
    state = state_of(root)["daily"]
    assert state["last_label"] == "2026-11-15" and "retry" not in state
    assert main([*due, "--now", "2026-11-16T08:00Z"]) == 0
    assert "nothing due" in capsys.readouterr().err


def test_due_gives_up_on_a_period_after_max_attempts_with_the_reason(
    dead_prometheus_url, no_live_sources, tmp_path, capsys
):
    config = suite_config(tmp_path / "dwcp-diag.toml", dead_prometheus_url, max_attempts=2)
    root = tmp_path / "reports"
    due = ["due", "--config", config, "--out", str(root), "--now", "2026-11-15T07:00Z"]
    assert main(due) == 3
    assert main(due) == 3  # the second attempt, the last
    assert "attempt 2/2 given up, marked done" in capsys.readouterr().err
    state = state_of(root)["daily"]
    assert state["last_label"] == "2026-11-14" and "retry" not in state
    (given_up,) = state["given_up"]
    assert (given_up["label"], given_up["attempts"]) == ("2026-11-14", 2)
    assert given_up["reason"].startswith("latency: prometheus could not be reached")
    assert main(due) == 0
    assert "nothing due" in capsys.readouterr().err


def test_due_whose_reports_fail_exits_1_and_marks_nothing_done(no_live_sources, tmp_path, capsys):
    """The issue's case: the demo bundle holds no December, so every cell loading data raises."""
    config = suite_config(tmp_path / "dwcp-diag.toml", "http://127.0.0.1:9")
    root = tmp_path / "reports"
    argv = ["due", "--config", config, "--out", str(root), "--source", "demo"]
    assert main([*argv, "--now", "2026-12-04T07:00Z"]) == 1
    (finding, *_) = findings_of(root / "daily" / "2026-12-03" / "latency.findings.json")
    assert finding["check"] == "report_failed"
    state = state_of(root)["daily"]
    assert "last_end" not in state and state["retry"]["attempts"] == 1
    assert "failed: ReplayMissing" in state["retry"]["reason"]
    assert '<span class="state failed">FAILED</span>' in (root / "index.html").read_text()


def test_due_with_no_source_configured_is_bad_usage_and_writes_nothing(
    no_live_sources, tmp_path, capsys
):
    root = tmp_path / "reports"
    assert main(["due", "--out", str(root)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("dwcp-diag: error: no source configured: set DWCP_PROMETHEUS_URL")
    assert not root.exists()


def test_postmortem_against_a_killed_prometheus_exits_3_with_its_bundle(
    dead_prometheus_url, no_live_sources, tmp_path, monkeypatch
):
    monkeypatch.setenv("DWCP_PROMETHEUS_URL", dead_prometheus_url)
    out = tmp_path / "INC-1"
    argv = ["postmortem", "INC-1", *INCIDENT, "--notebooks", "latency", "--out", str(out)]
    assert main(argv) == 3
    findings = findings_of(out / "latency.findings.json")
    assert "source_unavailable" in {f["check"] for f in findings}
    assert "| [latency](latency.html) | partial |" in (out / "README.md").read_text()
    with zipfile.ZipFile(tmp_path / "INC-1.zip") as bundle:
        assert "INC-1/latency.html" in bundle.namelist()


def test_postmortem_with_out_pointing_at_a_file_is_bad_usage(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    argv = ["postmortem", "INC-1", *INCIDENT, "--source", "demo", "--out", str(blocker)]
    assert main(argv) == 2
    assert "a file is in the way" in capsys.readouterr().err
