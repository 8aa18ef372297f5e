"""`dwcp-diag check`: one line per configured source, against the real fixture servers."""

from __future__ import annotations

from dwcp_diag.cli import main
from tests.fixtures.live import environment


def test_check_reports_every_fixture_source_reachable(live_sources, capsys):
    with environment(live_sources):
        assert main(["check"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[:2] for line in lines] == [
        ["ok", "prometheus"],
        ["ok", "postgres"],
        ["ok", "kubernetes"],
    ]
    assert "read-only" in lines[1]
    assert "***" in lines[1]  # the DSN's password is masked


def test_check_against_a_closed_port_names_the_url_and_fails(capsys, monkeypatch, no_live_sources):
    monkeypatch.setenv("DWCP_PROMETHEUS_URL", "http://127.0.0.1:9")
    assert main(["check"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("FAIL prometheus")
    assert "http://127.0.0.1:9" in out


def test_check_with_nothing_configured_says_what_to_set(capsys, no_live_sources):
    assert main(["check"]) == 2
    assert "DWCP_PROMETHEUS_URL" in capsys.readouterr().err
