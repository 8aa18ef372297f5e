"""No secret ever lands in a report, a notebook, a finding, a log line, a bundle or a zip.

Sentinel values stand in for the Prometheus bearer token, a basic-auth password and the
PostgreSQL password; a postmortem run (four notebooks rendered live, data recorded, zipped,
re-rendered offline: tests/test_postmortem.py) and the error paths are then scanned, byte for
byte, for any of them.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from psycopg import sql

from dwcp_diag.cli import main
from tests.fixtures.live import environment

TOKEN = "S3ntinelTokenQ7w2"
BASIC_PASSWORD = "S3ntinelBasicK4p9"
PG_PASSWORD = "S3ntinelPgZ8m3"
SENTINELS = (TOKEN, BASIC_PASSWORD, PG_PASSWORD)


def leaks_in(root: Path) -> list[str]:
    """Every file below ``root`` (and every member of every zip) that holds a sentinel."""
    found = []
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        blobs = [(str(path), path.read_bytes())]
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                blobs += [(f"{path}!{n}", archive.read(n)) for n in archive.namelist()]
        found += [f"{name}: {s}" for name, blob in blobs for s in SENTINELS if s.encode() in blob]
    return found


def sentinel_role_dsn(pg_scenario) -> str:
    """A monitoring role whose password is the sentinel (pg_monitor + read access)."""
    server = pg_scenario.server
    server.execute(
        "DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sentinel_monitor') "
        "THEN CREATE ROLE sentinel_monitor LOGIN; END IF; END$$"
    )
    server.execute(
        sql.SQL("ALTER ROLE sentinel_monitor PASSWORD {}").format(sql.Literal(PG_PASSWORD))
    )
    server.execute("GRANT pg_monitor, pg_read_all_data TO sentinel_monitor")
    return server.dsn("sentinel_monitor", PG_PASSWORD, pg_scenario.dbname)


@pytest.mark.server  # starts a notebook kernel or another process
def test_error_paths_mask_credentials(tmp_path, capfd, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = {
        "DWCP_PROMETHEUS_URL": f"http://reader:{BASIC_PASSWORD}@127.0.0.1:9/",
        "DWCP_PROMETHEUS_USERNAME": "reader",
        "DWCP_PROMETHEUS_PASSWORD": BASIC_PASSWORD,
        "DWCP_PG_DSN": f"postgresql://monitor:{PG_PASSWORD}@127.0.0.1:9/app_db",
        "KUBECONFIG": str(tmp_path / "absent"),
    }
    with environment(env):
        assert main(["check", "-v"]) == 1
        assert (
            main(
                [
                    "render",
                    "database",
                    "latency",
                    "--out",
                    str(tmp_path / "r"),
                    "--end",
                    "2026-11-16T00:00Z",
                    "--no-cache",
                ]
            )
            == 3
        )  # reports still render (3: rendered, but the sources were unreachable)
    logs = capfd.readouterr()
    shown = logs.out + logs.err
    assert "127.0.0.1:9" in shown and "***" in shown  # the failure names the masked target
    assert all(s not in shown for s in SENTINELS)
    assert leaks_in(tmp_path) == []
    findings = (tmp_path / "r" / "database.findings.json").read_text()
    assert "source_unavailable" in findings


@pytest.mark.server  # starts a notebook kernel or another process
def test_a_secret_value_typed_into_a_parameter_is_refused(
    tmp_path, capsys, no_live_sources, monkeypatch
):
    monkeypatch.setenv("DWCP_PG_DSN", f"postgresql://monitor:{PG_PASSWORD}@127.0.0.1:9/app_db")
    monkeypatch.setenv("DWCP_PROMETHEUS_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("DWCP_PROMETHEUS_TOKEN", TOKEN)
    out = tmp_path / "out"
    for value in (f"/api/{TOKEN}", PG_PASSWORD):
        assert main(["render", "latency", "-p", f"endpoints={value}", "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert "parameter 'endpoints' holds the value of a configured secret" in err
        assert all(s not in err for s in SENTINELS)
    assert not out.exists() or not list(out.glob("*.ipynb"))  # nothing was rendered
    # accepted and rendered (3: the Prometheus at 127.0.0.1:9 is unreachable)
    assert main(["render", "latency", "-p", "endpoints=/api/v1/tasks", "--out", str(out)]) == 3
