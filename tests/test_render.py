"""Rendering: executed notebook, offline HTML and findings per notebook; failures contained."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dwcp_diag.cli import build_parser, main
from dwcp_diag.report import render as rendering

SAMPLE = str(Path(__file__).parent / "notebooks" / "sample.ipynb")
EXTERNAL = re.compile(r"""<(?:script|link|img|iframe)[^>]+(?:src|href)=["']https?://""")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    jobs = [
        rendering.RenderJob(
            SAMPLE,
            str(out / "good"),
            {"end": "2026-11-16T00:00:00+00:00"},
            header={"window": "test-window", "source": "demo"},
        ),
        rendering.RenderJob(SAMPLE, str(out / "bad"), {"fail": True}),
    ]
    return out, rendering.render_all(jobs, workers=2)


@pytest.mark.server  # starts a notebook kernel or another process
def test_good_notebook_writes_all_three_outputs(rendered):
    out, (good, _) = rendered
    assert good.ok and good.error is None
    for suffix in (".ipynb", ".html", ".findings.json"):
        assert (out / "good" / f"sample{suffix}").is_file()
    findings = json.loads((out / "good" / "sample.findings.json").read_text())
    assert [(f["check"], f["subject"]) for f in findings] == [
        ("latency_slo_breach", {"path": "/a"})
    ]
    lines = (out / "good" / "sample.findings.json").read_text().splitlines()
    assert lines == ["[", json.dumps(findings[0]), "]"]  # one finding per line


@pytest.mark.server  # starts a notebook kernel or another process
def test_html_is_self_contained_with_header_findings_and_hidden_code(rendered):
    out, _ = rendered
    page = (out / "good" / "sample.html").read_text()
    assert EXTERNAL.search(page) is None, EXTERNAL.search(page)
    assert page.count("plotly.js (cartesian - minified) v") == 1  # plotly.js embedded exactly once
    assert "test-window" in page and "dwcp-diag" in page
    assert page.index("p95 of /a reached 300 ms.") < page.index("Sample report")  # findings first
    assert "sample failure on purpose" not in page  # code hidden by default (string in code)


@pytest.mark.server  # starts a notebook kernel or another process
def test_failing_cell_still_yields_reports_naming_the_cell(rendered):
    out, (good, bad) = rendered
    assert good.ok  # the other notebook rendered in parallel
    assert not bad.ok
    assert bad.failed_cell is not None
    assert "RuntimeError: sample failure on purpose" in bad.error
    page = (out / "bad" / "sample.html").read_text()
    assert "sample failure on purpose" in page and "Report incomplete" in page
    assert (out / "bad" / "sample.ipynb").is_file()


@pytest.mark.server  # starts a notebook kernel or another process
def test_cli_exit_status_and_show_code(tmp_path, capsys):
    assert (
        main(
            [
                "render",
                SAMPLE,
                "--out",
                str(tmp_path / "a"),
                "--show-code",
                "--end",
                "2026-11-16T00:00Z",
            ]
        )
        == 0
    )
    assert "sample failure on purpose" in (tmp_path / "a" / "sample.html").read_text()
    assert (tmp_path / "a" / "index.html").is_file()
    assert main(["render", SAMPLE, "--out", str(tmp_path / "b"), "-p", "fail=true"]) == 1
    assert "cell" in capsys.readouterr().err


def test_cli_refuses_unknown_and_secret_parameters(tmp_path, capsys):
    assert main(["render", SAMPLE, "-p", "windw=7d", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no parameter(s) ['windw']" in err and "'source'" in err
    assert main(["render", SAMPLE, "-p", "prom_token=abc", "--out", str(tmp_path)]) == 2
    assert "looks like a secret" in capsys.readouterr().err
    assert main(["render", "nosuchnotebook", "--out", str(tmp_path)]) == 2
    assert "unknown notebook 'nosuchnotebook'" in capsys.readouterr().err


def test_cli_refuses_bad_windows(tmp_path, capsys):
    args = ["render", SAMPLE, "--out", str(tmp_path)]
    assert main([*args, "--start", "2026-11-13T00:00Z", "--end", "2026-11-12T00:00Z"]) == 2
    assert "is not before end" in capsys.readouterr().err
    assert main([*args, "--window", "7 days"]) == 2
    assert "duration '7 days'" in capsys.readouterr().err


@pytest.mark.server  # starts a notebook kernel or another process
def test_unconfigured_sources_become_findings_not_failed_cells(tmp_path, no_live_sources):
    # rendered, but blind: exit 3 (not 0, not 1)
    assert main(["render", "explore", "--out", str(tmp_path / "r"), "--no-cache"]) == 3
    findings = json.loads((tmp_path / "r" / "explore.findings.json").read_text())
    unavailable = {f["subject"]["source"] for f in findings if f["check"] == "source_unavailable"}
    assert unavailable == {"prometheus", "postgres", "kubernetes"}


def test_a_file_that_is_not_a_notebook_is_one_clear_error(tmp_path, capsys):
    bad = tmp_path / "bad.ipynb"
    bad.write_text("not json")
    assert main(["render", str(bad), "--out", str(tmp_path / "r")]) == 2
    assert "is not a readable notebook" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "profile", "verbose"),
    [
        (["--profile", "prod", "-v", "check"], "prod", True),
        (["check", "--profile", "prod"], "prod", False),
        (["--profile", "prod", "render", "latency", "--profile", "staging"], "staging", False),
        (["render", "latency"], None, False),
    ],
)
def test_global_options_go_before_or_after_the_command(argv, profile, verbose):
    args = build_parser().parse_args(argv)
    assert (args.profile, args.verbose) == (profile, verbose)


def _executed_cell(notebook_path: Path, count: int) -> dict:
    notebook = json.loads(notebook_path.read_text())
    (cell,) = [c for c in notebook["cells"] if c.get("execution_count") == count]
    return cell


@pytest.mark.server  # starts a notebook kernel or another process
def test_a_failed_report_is_a_report_failed_finding_with_the_earlier_ones_partial(rendered):
    out, (_, bad) = rendered
    findings = json.loads((out / "bad" / "sample.findings.json").read_text())
    assert findings == bad.findings
    failed, *earlier = findings
    assert (failed["check"], failed["severity"], failed["subject"]) == (
        "report_failed",
        "critical",
        {"notebook": "sample"},
    )
    # one numbering: the execution count, Jupyter's "In [N]", in the CLI line, the finding,
    # the traceback and papermill's banner in the HTML
    cell = _executed_cell(out / "bad" / "sample.ipynb", bad.failed_cell)
    assert any(o["output_type"] == "error" for o in cell["outputs"])
    where = f"cell In [{bad.failed_cell}] failed: RuntimeError: sample failure on purpose"
    assert where in failed["summary"] and bad.error == f"sample: {where}"
    assert failed["evidence"] == {"cell": bad.failed_cell, "first_line": "if fail:"}
    page = (out / "bad" / "sample.html").read_text()
    assert f">In[{bad.failed_cell}]<" in page  # IPython's traceback: "Cell In[N], line 2"
    assert f'papermill-error-cell">In [{bad.failed_cell}]</a>' in page  # papermill's banner
    # published before the failure: kept, and marked partial
    assert [(f["check"], f.get("partial")) for f in earlier] == [("latency_slo_breach", True)]
    assert "every check passed" not in page
    assert page.index("report_failed") < page.index("latency_slo_breach")
    good = json.loads((out / "good" / "sample.findings.json").read_text())
    assert all("partial" not in f for f in good)


@pytest.mark.server  # starts a notebook kernel or another process
def test_index_shows_a_failed_report_as_failed_in_red(rendered):
    from dwcp_diag.report.index import report_rows, write_index

    out, _ = rendered
    rows = {row["folder"]: row for row in report_rows(out)}
    assert (rows["bad"]["status"], rows["good"]["status"]) == ("failed", "findings")
    assert rows["good"]["worst"] == "warning"
    page = write_index(out).read_text()
    assert '<tr class="failed"><td><span class="state failed">FAILED</span>' in page
    assert re.search(r"\.state\.failed\{[^}]*background:#c62828", page)  # in red


@pytest.mark.server  # starts a notebook kernel or another process
def test_a_demo_report_that_fails_is_failed_everywhere(tmp_path, capsys):
    """A window the demo bundle does not hold (December), so a cell raises."""
    out = tmp_path / "out"
    window = ["--start", "2026-12-01", "--end", "2026-12-02"]
    argv = ["render", "incident", "--source", "demo", *window, "--out", str(out)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    (line,) = [x for x in err.splitlines() if x.startswith("dwcp-diag: FAILED")]
    findings = json.loads((out / "incident.findings.json").read_text())
    assert findings[0]["check"] == "report_failed"
    count = findings[0]["evidence"]["cell"]
    assert f"incident: cell In [{count}] failed: ReplayMissing: " in line
    assert findings[0]["summary"].split(": ", 1)[1] in line
    cell = _executed_cell(out / "incident.ipynb", count)
    assert "".join(cell["source"]).startswith(findings[0]["evidence"]["first_line"])
    page = (out / "incident.html").read_text()
    assert "every check passed" not in page and "report_failed" in page
    assert '<span class="state failed">FAILED</span>' in (out / "index.html").read_text()


def test_out_pointing_at_a_file_is_one_line_and_v_shows_the_traceback(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for out in (blocker, blocker / "below"):
        assert main(["render", SAMPLE, "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err == f"dwcp-diag: error: --out {out}: a file is in the way; give a directory\n"
    assert main(["-v", "render", SAMPLE, "--out", str(blocker)]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and err.endswith("give a directory\n")


def test_help_documents_the_exit_statuses(capsys):
    for argv in (["--help"], ["render", "--help"], ["due", "--help"], ["postmortem", "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
        text = capsys.readouterr().out
        assert "0  every report rendered" in text and "|| [ $? = 3 ]" in text


@pytest.mark.server  # starts a notebook kernel or another process
def test_a_kernel_that_cannot_start_is_a_failed_report_in_one_line(tmp_path):
    exe = str(Path(sys.executable).with_name("dwcp-diag"))  # a process: its real stderr
    out = tmp_path / "out"
    env = {**os.environ, "DWCP_KERNEL": "no-such-kernel"}
    run = subprocess.run(
        [exe, "render", SAMPLE, "--out", str(out)], env=env, capture_output=True, text=True
    )
    assert run.returncode == 1
    assert "Traceback" not in run.stderr, run.stderr
    assert "dwcp-diag: FAILED sample: the notebook failed: NoSuchKernel: " in run.stderr
    (finding,) = json.loads((out / "sample.findings.json").read_text())
    assert (finding["check"], finding["subject"]) == ("report_failed", {"notebook": "sample"})
    assert "evidence" not in finding  # no cell ran
    page = (out / "sample.html").read_text()
    assert "Report incomplete" in page and "every check passed" not in page
    assert '<span class="state failed">FAILED</span>' in (out / "index.html").read_text()


def _kernelspec(root: Path, name: str, dies: int) -> Path:
    """A kernelspec under ``root`` whose kernel exits at once ``dies`` times, then starts; each
    start is a line in the returned file."""
    starts = root / f"{name}.starts"
    wrapper = root / f"{name}.py"
    wrapper.write_text(
        "import pathlib, sys\n"
        f"starts = pathlib.Path({str(starts)!r})\n"
        "done = len(starts.read_text().splitlines()) if starts.exists() else 0\n"
        "starts.write_text('start\\n' * (done + 1))\n"
        f"if done < {dies}:\n"
        "    sys.exit(1)\n"
        "from ipykernel import kernelapp\n"
        "kernelapp.launch_new_instance()\n"
    )
    spec = root / "kernels" / name
    spec.mkdir(parents=True)
    argv = [sys.executable, str(wrapper), "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": name, "language": "python"})
    )
    return starts


def test_only_a_kernel_that_never_ran_a_cell_is_started_again(tmp_path):
    # which failures the render starts a kernel again for: deaths and silence before any cell
    # (a kernel that hangs is the client's start timeout; its message is jupyter_client's)
    missing = tmp_path / "never-written.ipynb"
    for message in ("Kernel died before replying to kernel_info",
                    "Kernel didn't respond in 120 seconds",
                    "Address already in use (addr='tcp://127.0.0.1:36131')"):  # fmt: skip
        assert rendering._died_starting(RuntimeError(message), missing), message
    assert not rendering._died_starting(RuntimeError("No such kernel named x"), missing)
    import nbformat

    started = nbformat.read(SAMPLE, as_version=4)
    first = next(cell for cell in started.cells if cell.cell_type == "code")
    first.metadata["papermill"] = {"start_time": "2026-11-16T00:00:00"}
    nbformat.write(started, str(tmp_path / "started.ipynb"))
    died = RuntimeError("Kernel died before replying to kernel_info")
    assert not rendering._died_starting(died, tmp_path / "started.ipynb")  # a cell had run


@pytest.mark.server  # starts a notebook kernel or another process
def test_a_kernel_that_dies_starting_is_started_again(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    once = _kernelspec(tmp_path, "dies-once", dies=1)
    monkeypatch.setenv("DWCP_KERNEL", "dies-once")
    job = rendering.RenderJob(SAMPLE, str(tmp_path / "out"), {"end": "2026-11-16T00:00:00+00:00"})
    result = rendering.render(job)
    assert result.ok, result.error
    assert len(once.read_text().splitlines()) == 2

    always = _kernelspec(tmp_path, "dies-always", dies=99)
    monkeypatch.setenv("DWCP_KERNEL", "dies-always")
    result = rendering.render(rendering.RenderJob(SAMPLE, str(tmp_path / "out2")))
    assert not result.ok and "Kernel died before replying to kernel_info" in result.error
    assert len(always.read_text().splitlines()) == rendering.KERNEL_START_ATTEMPTS


@pytest.mark.server  # starts a notebook kernel or another process
@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("import os\nos._exit(3)", "DeadKernelError: Kernel died"),
        ("import time\ntime.sleep(600)", "CellTimeoutError: A cell timed out"),
    ],
)
def test_a_dead_or_timed_out_kernel_names_the_cell_it_was_running(tmp_path, code, error):
    import nbformat

    notebook = nbformat.read(SAMPLE, as_version=4)
    notebook.cells.insert(5, nbformat.v4.new_code_cell(code))  # after the finding, before fail
    path = tmp_path / "dies.ipynb"
    nbformat.write(notebook, str(path))
    # the timeout leaves the imports time enough on a loaded machine; the sleep outlasts it
    job = rendering.RenderJob(str(path), str(tmp_path / "out"), cell_timeout_s=30)
    result = rendering.render(job)
    assert not result.ok and f"cell In [{result.failed_cell}] failed: {error}" in result.error
    failed, earlier = json.loads((tmp_path / "out" / "dies.findings.json").read_text())
    first_line = code.splitlines()[0]
    assert failed["evidence"] == {"cell": result.failed_cell, "first_line": first_line}
    executed = json.loads((tmp_path / "out" / "dies.ipynb").read_text())
    code_cells = [c for c in executed["cells"] if c["cell_type"] == "code"]
    assert code_cells.index(next(c for c in code_cells if "".join(c["source"]) == code)) == (
        result.failed_cell - 1
    )  # In [N] is the Nth code cell run (the injected parameters included)
    assert (earlier["check"], earlier["partial"]) == ("latency_slo_breach", True)


def test_a_report_that_fails_outside_its_cells_replaces_an_older_green_findings_file(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "gone.findings.json").write_text("[]")  # last run's: "every check passed"
    (result,) = rendering.render_all([rendering.RenderJob(str(tmp_path / "gone.ipynb"), str(out))])
    assert not result.ok and "the notebook failed: RenderError: unknown notebook" in result.error
    (finding,) = json.loads((out / "gone.findings.json").read_text())
    assert (finding["check"], finding["severity"]) == ("report_failed", "critical")
    from dwcp_diag.report.index import report_rows

    assert [row["status"] for row in report_rows(out)] == ["failed"]
