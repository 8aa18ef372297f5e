"""notebooks/database.ipynb rendered by ``dwcp-diag render --source live`` (tests/fixtures/live.py).

The live run points at the real PostgreSQL holding the demo scenario (``app_db``, with an
idle-in-transaction session and a long ``pg_sleep`` held, thresholds at 2 s by the run's
config), the real Prometheus holding the simulator's postgres_exporter history (KI-003: the
pool near ``max_connections`` every day 17:00-19:00 UTC) and the Kubernetes stand-in.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest

from dwcp_diag.analysis.findings import CHECKS_BY_NOTEBOOK

NOTEBOOK = "database"


@pytest.fixture(scope="module")
def result(rendered_live):
    return rendered_live.results[NOTEBOOK]


@pytest.fixture(scope="module")
def findings(rendered_live) -> list[dict[str, Any]]:
    return rendered_live.findings(NOTEBOOK)


@pytest.fixture(scope="module")
def page(result) -> str:
    """The HTML report's text, entities decoded (SQL quotes are escaped in the page)."""
    return html.unescape(Path(result.html).read_text())


def subjects(findings: list[dict[str, Any]], check: str) -> list[dict[str, str]]:
    return [f["subject"] for f in findings if f["check"] == check]


def test_database_report_rendered(result):
    assert result.ok, result.error
    assert result.failed_cell is None
    for path in (result.ipynb, result.html, result.findings_json):
        assert Path(path).is_file(), path
    assert json.loads(Path(result.findings_json).read_text()) == result.findings


def test_findings_follow_the_contract(findings):
    allowed = {*CHECKS_BY_NOTEBOOK["database"], *CHECKS_BY_NOTEBOOK["all"]}
    assert findings and {f["check"] for f in findings} <= allowed
    # every source was reachable and every statistic readable (the run is a superuser)
    assert not subjects(findings, "source_unavailable")
    assert not subjects(findings, "stats_unavailable")


def test_scenario_findings_with_their_subjects(findings, pg_scenario):
    truth = pg_scenario.truth
    audit_log = {"table": f"public.{truth['table_bloat']['subject']['table']}"}
    for check in truth["table_bloat"]["checks"]:
        assert subjects(findings, check) == [audit_log], check
    events = {"table": f"public.{truth['missing_index']['subject']['table']}"}
    assert subjects(findings, "missing_index") == [events]
    unused = {f"public.{i['index']}" for i in truth["unused_index"]["indexes"]}
    duplicates = {f"public.{i['index']}" for i in truth["duplicate_index"]["indexes"]}
    assert {s["index"] for s in subjects(findings, "duplicate_index")} == duplicates
    # unused and duplicate at once: one duplicate_index finding, one DROP INDEX
    assert {s["index"] for s in subjects(findings, "unused_index")} == unused - duplicates
    sequences = {f"public.{s['sequence']}" for s in truth["sequence_exhaustion"]["sequences"]}
    assert {s["sequence"] for s in subjects(findings, "sequence_exhaustion")} == sequences
    [slow] = truth["slow_query"]["queries"]
    assert [
        f
        for f in findings
        if f["check"] == "slow_query" and slow["contains"] in f["evidence"]["query"]
    ]


def test_held_sessions_are_found(findings):
    """The harness's held sessions, by the application names its helpers give them."""
    idle = subjects(findings, "idle_in_transaction")
    running = subjects(findings, "long_running_query")
    assert [s["application"] for s in idle] == ["held-idle-tx"]
    assert [s["application"] for s in running] == ["held-sleep"]
    assert all(s["pid"].isdigit() for s in idle + running)


def test_connection_saturation_names_the_ki003_peak(findings, pg_scenario, demo_cluster):
    """Prometheus's pg_stat_activity_count history peaks near max_connections 17:00-19:00."""
    first, last = demo_cluster.truth["db_pool_exhaustion"]["daily_window_utc"]
    [saturation] = [f for f in findings if f["check"] == "connection_saturation"]
    assert saturation["subject"] == {"database": pg_scenario.dbname}
    assert saturation["severity"] == "critical"
    assert saturation["evidence"]["daily_peak_window"] == f"{first}-{last} UTC"


def test_html_has_the_space_figure_and_the_fix_it_sql(page, findings):
    assert "Space: largest tables" in page
    fixes = [f["evidence"]["fix_sql"] for f in findings if f.get("evidence", {}).get("fix_sql")]
    assert len(fixes) >= 10
    for fix in fixes:
        for statement in fix.splitlines():
            assert statement in page, statement
    assert 'CREATE INDEX CONCURRENTLY ON "public"."events" ("account_id");' in page


def test_fix_it_sql_was_shown_not_run(pg_server, pg_scenario):
    indexes = {
        name
        for (name,) in pg_server.fetch(
            "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'",
            dbname=pg_scenario.dbname,
        )
    }
    assert {"users_email_idx", "tasks_updated_at_idx", "tasks_user_id_idx"} <= indexes
    assert not [name for name in indexes if "account_id" in name]


def test_html_names_the_ki003_peak_window_and_the_basis(page, demo_cluster):
    first, last = demo_cluster.truth["db_pool_exhaustion"]["daily_window_utc"]
    assert re.search(rf"Connections peak daily <strong>{first}-{last} UTC</strong>", page)
    assert "Statement counters cover the time since pg_stat_statements was reset" in page


def test_html_prints_the_thresholds_in_force(page):
    """The run's config lowered the session thresholds to 2 s; the table says so."""
    row = (
        r"<td><code>{check}</code></td>\s*<td><code>warning_s</code></td>\s*"
        r"<td>2</td>\s*<td>60</td>"
    )
    for check in ("long_running_query", "idle_in_transaction"):
        assert re.search(row.format(check=check), page), check


def test_no_secret_in_the_outputs(result, pg_server):
    for path in (result.ipynb, result.html, result.findings_json):
        assert pg_server.password not in Path(path).read_text(), path
