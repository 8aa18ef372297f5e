"""Rendering: executed notebook, offline HTML and findings per notebook; failures contained."""

from __future__ import annotations

import json
import re
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


@pytest.mark.server  # starts a notebook kernel or another process
def test_html_is_self_contained_with_header_findings_and_hidden_code(rendered):
    out, _ = rendered
    page = (out / "good" / "sample.html").read_text()
    assert EXTERNAL.search(page) is None, EXTERNAL.search(page)
    assert page.count("plotly.js v") == 1  # plotly.js embedded exactly once
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
    assert main(["render", "explore", "--out", str(tmp_path / "r"), "--no-cache"]) == 0
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
