"""Database findings end to end against a real PostgreSQL (tests/fixtures/postgres.py), no mocks.

Every frame comes from :class:`PostgresLoader` exactly as the database notebook loads it
(``collect.database.postgres_frames``), and :func:`database_report` turns them into findings.
Checked:

- the demo scenario (``pg_scenario``): each planted problem of ``truth()`` is found, on the
  right subject (truth names bare tables, findings schema-qualify them), and nothing else is;
- held sessions: idle in transaction, a long-running query and connections near
  ``max_connections``, and the guarded fix that ends exactly the held backend;
- a healthy database (small, indexed, vacuumed, light indexed workload): no finding at all;
- a role without pg_read_all_stats, a database without pg_stat_statements and an unreachable
  server: a report, never a crash, with findings that say what is missing and how to fix it;
- every ``fix_sql``: EXPLAINed where EXPLAIN applies, else executed (CREATE/DROP INDEX
  CONCURRENTLY, VACUUM, ALTER) on a throwaway copy of the scenario, after which the problems
  it fixes are gone; the GRANTs and CREATE EXTENSION of ``stats_unavailable`` are executed for
  a throwaway role and database. ``app_db`` itself is never changed.
"""

from __future__ import annotations

import contextlib
import math
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from dwcp_diag.analysis.database.report import database_report
from dwcp_diag.analysis.findings import CHECKS_BY_NOTEBOOK, Finding
from dwcp_diag.collect.database import postgres_frames
from dwcp_diag.config import PostgresSettings
from dwcp_diag.credentials import Secret
from dwcp_diag.demo.postgres import setup_sql
from dwcp_diag.sandbox.ports import free_port
from dwcp_diag.sandbox.postgres import flush_stats, run_workload
from dwcp_diag.sources.postgres.loader import PostgresLoader
from tests.fixtures.postgres import hold_idle_in_transaction, running_sleep
from tests.polling import wait_until

DATABASE_CHECKS = set(CHECKS_BY_NOTEBOOK["database"])
# Low enough that sessions held for a second count (the defaults are a minute).
LOW_SESSION_THRESHOLDS = {
    "long_running_query": {"warning_s": 1},
    "idle_in_transaction": {"warning_s": 1},
}
# Statements EXPLAIN accepts; every other fix-it statement is executed on a throwaway copy.
EXPLAINABLE = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")
EXECUTABLE = (
    "CREATE INDEX CONCURRENTLY",
    "DROP INDEX CONCURRENTLY",
    "REINDEX INDEX CONCURRENTLY",
    "VACUUM",
    "ALTER TABLE",
    "ALTER SEQUENCE",
)


# --------------------------------------------------------------------------- helpers


def loader(dsn: str, **settings: Any) -> PostgresLoader:
    """A loader whose DSN is a secret reference to a private environment."""
    secret = Secret.from_env("TEST_PG_DSN", {"TEST_PG_DSN": dsn})
    return PostgresLoader(PostgresSettings(dsn=secret, **settings))


def load_frames(pg: PostgresLoader) -> dict[str, Any]:
    """Every frame of the database report, a failed call's exception in its place."""
    return postgres_frames(pg)


def report_for(dsn: str, thresholds: Any = None, **settings: Any) -> dict[str, Any]:
    pg = loader(dsn, **settings)
    try:
        return database_report(load_frames(pg), thresholds)
    finally:
        pg.close()


def by_check(findings: list[Finding], check: str) -> list[Finding]:
    return [f for f in findings if f.check == check]


def subjects(findings: list[Finding], check: str) -> list[dict[str, str]]:
    return [f.subject for f in by_check(findings, check)]


def qualified(name: str, schema: str = "public") -> str:
    return f"{schema}.{name}"


def fix_statements(findings: list[Finding]) -> list[str]:
    """Every fix-it statement, one per line as the contract says, duplicates dropped."""
    statements: list[str] = []
    for finding in findings:
        fix = (finding.evidence or {}).get("fix_sql")
        for line in (fix or "").splitlines():
            if line.strip() and line.strip() not in statements:
                statements.append(line.strip())
    return statements


def explain(dsn: str, statement: str) -> list[str]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return [row[0] for row in conn.execute(f"EXPLAIN {statement}")]  # type: ignore[arg-type]


@contextlib.contextmanager
def held_connections(dsn: str, count: int) -> Iterator[list[psycopg.Connection]]:
    """``count`` open, idle client connections; on exit closed, and waited for until their
    backends have left pg_stat_activity (so the next test does not count them)."""
    held: list[psycopg.Connection] = []
    try:
        for _ in range(count):
            held.append(psycopg.connect(dsn, autocommit=True, application_name="held-pool"))
        yield held
    finally:
        pids = [conn.info.backend_pid for conn in held]
        for conn in held:
            conn.close()
        with psycopg.connect(dsn, autocommit=True) as watcher:
            query = "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = ANY(%s)"
            wait_until(
                lambda: watcher.execute(query, [pids]).fetchone()[0],
                f"the backends of {len(pids)} closed connections leaving pg_stat_activity",
            )


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def pg_server(pg_server_each_version):
    """This module's tests run on Debian's PostgreSQL 15 and on 18 (tests/fixtures/postgres.py)."""
    return pg_server_each_version


@pytest.fixture(scope="session")
def pg_scenario(pg_scenario_each_version):
    return pg_scenario_each_version


@pytest.fixture(scope="module")
def scenario_report(pg_scenario) -> dict[str, Any]:
    return report_for(pg_scenario.dsn)


@pytest.fixture(scope="module")
def truth(pg_scenario) -> dict[str, Any]:
    """The scenario's truth (dwcp_diag.demo.postgres.truth, part of the simulator's)."""
    return pg_scenario.truth


@pytest.fixture(scope="module")
def healthy_dsn(pg_server) -> str:
    """A small, well-indexed, vacuumed database with a light workload that uses its indexes."""
    dsn = pg_server.create_database("dwcp_healthy")
    pg_server.execute(
        """
        CREATE TABLE IF NOT EXISTS accounts (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            email text NOT NULL UNIQUE,
            plan text NOT NULL,
            created_at timestamptz NOT NULL
        );
        TRUNCATE accounts;
        INSERT INTO accounts (email, plan, created_at)
        SELECT 'user' || g || '@example.com', (ARRAY['free', 'team', 'pro'])[mod(g, 3) + 1],
               timestamptz '2025-01-01 00:00:00+00' + g * interval '13 minutes'
        FROM generate_series(1, 20000) AS g;
        CREATE INDEX IF NOT EXISTS accounts_created_at_idx ON accounts (created_at);
        """,
        dbname="dwcp_healthy",
    )
    pg_server.execute("VACUUM (ANALYZE) accounts", dbname="dwcp_healthy")
    run_workload(
        dsn,
        [
            ("SELECT email, plan FROM accounts WHERE id = 4242", 300),
            ("SELECT id, plan FROM accounts WHERE email = 'user77@example.com'", 200),
            (
                "SELECT id, email FROM accounts WHERE created_at >= "
                "timestamptz '2025-06-01 00:00:00+00' ORDER BY created_at LIMIT 20",
                200,
            ),
        ],
    )
    return dsn


@pytest.fixture(scope="module")
def scenario_copy(pg_server) -> str:
    """A throwaway database holding the scenario's schema and data (no workload): fixes run here."""
    dsn = pg_server.create_database("dwcp_fix_sql_copy")
    pg_server.execute(setup_sql(), dbname="dwcp_fix_sql_copy")
    return dsn


# --------------------------------------------------------------------------- the scenario


def test_scenario_bloat_and_vacuum_lag_on_audit_log(scenario_report, truth):
    expected = truth["table_bloat"]
    subject = {"table": qualified(expected["subject"]["table"])}
    findings = scenario_report["findings"]
    for check in expected["checks"]:
        assert subjects(findings, check) == [subject], check
    lag = by_check(findings, "vacuum_lag")[0]
    assert lag.value == pytest.approx(expected["dead_rows"], rel=0.05)
    assert lag.evidence["autovacuum_enabled"] is expected["autovacuum_enabled"]
    assert "RESET (autovacuum_enabled)" in lag.evidence["fix_sql"]


def test_scenario_missing_index_on_events(scenario_report, truth):
    expected = truth["missing_index"]
    [finding] = by_check(scenario_report["findings"], "missing_index")
    assert finding.subject == {"table": qualified(expected["subject"]["table"])}
    assert finding.evidence["columns"] == expected["columns"]
    assert finding.evidence["seq_scan"] >= expected["sequential_scans_at_least"]
    assert finding.evidence["fix_sql"] == (
        'CREATE INDEX CONCURRENTLY ON "public"."events" ("account_id");'
    )


def test_scenario_unused_and_duplicate_indexes(scenario_report, truth):
    findings = scenario_report["findings"]
    unused = {qualified(i["index"]) for i in truth["unused_index"]["indexes"]}
    planted = qualified(truth["unused_index"]["planted"]["index"])
    assert planted in unused
    duplicates = {
        qualified(i["index"]): qualified(i["covered_by"])
        for i in truth["duplicate_index"]["indexes"]
    }
    found = {
        f.subject["index"]: f.evidence["covering_index"]
        for f in by_check(findings, "duplicate_index")
    }
    assert found == duplicates
    # an index both unused and duplicate is one duplicate_index finding (one DROP INDEX)
    assert {s["index"] for s in subjects(findings, "unused_index")} == unused - set(duplicates)
    both = unused & set(duplicates)
    assert both, "the scenario plants an index that is both unused and duplicate"
    for finding in by_check(findings, "duplicate_index"):
        merged = finding.subject["index"] in both
        assert ("unused_index" in finding.evidence.get("also", [])) is merged


def test_scenario_slow_query_and_sequences(scenario_report, truth):
    findings = scenario_report["findings"]
    [expected] = truth["slow_query"]["queries"]
    slow = [
        f for f in by_check(findings, "slow_query") if expected["contains"] in f.evidence["query"]
    ]
    assert len(slow) == 1, [f.summary for f in by_check(findings, "slow_query")]
    assert slow[0].evidence["calls"] == expected["calls"]
    assert slow[0].value >= expected["min_mean_exec_time_ms"]
    assert set(slow[0].subject) == {"queryid"}
    sequences = {qualified(s["sequence"]) for s in truth["sequence_exhaustion"]["sequences"]}
    assert {s["sequence"] for s in subjects(findings, "sequence_exhaustion")} == sequences


def test_scenario_raises_nothing_unplanted(scenario_report, truth):
    """Only planted checks fire; the healthy control table appears in no finding.

    ``low_cache_hit_ratio`` is allowed: bulk-loading 120 MiB through 64 MiB of shared_buffers
    really does read most table blocks from the operating system (a true, unplanted finding).
    """
    planted = {
        "missing_index",
        "unused_index",
        "duplicate_index",
        "slow_query",
        "sequence_exhaustion",
        *truth["table_bloat"]["checks"],
    }
    findings = scenario_report["findings"]
    assert {f.check for f in findings} <= planted | {"low_cache_hit_ratio"}
    assert all(f.check in DATABASE_CHECKS for f in findings)
    for table in truth["healthy_tables"]["tables"]:
        assert not [f for f in findings if table in str(f.subject) + str(f.evidence)], table


def test_scenario_report_tables(scenario_report):
    """The notebook's tables are filled: server summary, basis, treemap, peaks (no Prometheus)."""
    report = scenario_report
    server = report["server"].set_index("item")["value"]
    assert server["database"].startswith("app_db")
    assert report["statements_basis"].startswith("since pg_stat_statements was reset")
    assert {"public.events", "public.audit_log"} <= set(report["space_tree"]["id"])
    assert report["bloat"].loc[report["bloat"]["name"] == "public.audit_log", "is_reliable"].all()
    assert report["peaks"].peak_window is None and report["connection_series"].empty


# --------------------------------------------------------------------------- held sessions


def test_idle_in_transaction_and_long_running_query_while_held(pg_scenario):
    dsn = pg_scenario.dsn
    with hold_idle_in_transaction(dsn) as idle_pid, running_sleep(dsn, seconds=600) as sleep_pid:
        time.sleep(1.2)
        findings = report_for(dsn, LOW_SESSION_THRESHOLDS)["findings"]
        idle = by_check(findings, "idle_in_transaction")
        running = by_check(findings, "long_running_query")
        assert [f.subject for f in idle] == [{"pid": str(idle_pid), "application": "held-idle-tx"}]
        assert [f.subject for f in running] == [
            {"pid": str(sleep_pid), "application": "held-sleep"}
        ]
        # The guarded fix is valid SQL and ends exactly the held backend (its pid and start
        # time match): the sleep is cancelled, the idle transaction terminated.
        for finding in (*running, *idle):
            fix = finding.evidence["fix_sql"]
            assert explain(dsn, fix)
            with psycopg.connect(dsn, autocommit=True) as conn:
                assert conn.execute(fix).fetchall() == [(True,)], fix  # type: ignore[arg-type]
        with psycopg.connect(dsn, autocommit=True) as conn:

            def both_ended() -> bool:
                rows = conn.execute(
                    "SELECT pid, state FROM pg_stat_activity WHERE pid = ANY(%s)",
                    [[idle_pid, sleep_pid]],
                ).fetchall()
                return dict(rows).get(sleep_pid) != "active" and idle_pid not in dict(rows)

            wait_until(both_ended, "the sleep cancelled and the idle transaction terminated")
    after = report_for(dsn, LOW_SESSION_THRESHOLDS)["findings"]
    assert not by_check(after, "idle_in_transaction") and not by_check(after, "long_running_query")


def test_connection_saturation_near_max_connections(pg_server, pg_scenario):
    dsn = pg_scenario.dsn
    [(maximum, reserved)] = pg_server.fetch(
        "SELECT current_setting('max_connections')::int, "
        "current_setting('superuser_reserved_connections')::int"
    )
    [(clients,)] = pg_server.fetch(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
    )
    usable = maximum - reserved
    needed = math.ceil(0.9 * usable) + 1 - clients  # a little over the 90 % warning line
    assert needed > 0 and clients + needed + 2 <= maximum, (maximum, reserved, clients)
    with held_connections(dsn, needed):
        report = report_for(dsn)
    [finding] = by_check(report["findings"], "connection_saturation")
    assert finding.subject == {"database": pg_scenario.dbname}
    assert finding.evidence["connections_now"] >= needed
    assert finding.value >= 0.9 and finding.evidence["max_connections"] == maximum
    assert not by_check(report_for(dsn)["findings"], "connection_saturation")


# --------------------------------------------------------------------------- no false alarms


def test_healthy_database_has_no_findings(healthy_dsn):
    """Nothing at all: not even stats_unavailable (superuser, both extensions created)."""
    report = report_for(healthy_dsn)
    assert list(report["findings"]) == [], [f.summary for f in report["findings"]]
    tables = report["largest_tables"].set_index("table")
    assert tables.loc["public.accounts", "n_live_tup"] == 20000
    assert tables.loc["public.accounts", "idx_scan"] >= 700
    assert report["unused_indexes"].empty and report["missing_indexes"].empty


# --------------------------------------------------------------------------- degraded access


def test_role_without_read_all_stats_gets_a_report_and_working_fixes(pg_server, pg_scenario):
    """A bare LOGIN role: a report that says what it cannot see; running the GRANTs it prints
    (for this throwaway role) makes those findings go away and the hidden problems appear."""
    dsn = pg_server.create_role("dwcp_db_limited", dbname=pg_scenario.dbname)
    with hold_idle_in_transaction(pg_scenario.dsn):
        time.sleep(1.2)
        report = report_for(dsn, LOW_SESSION_THRESHOLDS)
    findings = report["findings"]
    missing = {f.subject["feature"]: f for f in by_check(findings, "stats_unavailable")}
    assert missing["pg_read_all_stats"].severity == "warning"
    assert "sequence_values" in missing and "table_statistics" in missing
    assert any("hidden" in note for note in report["notes"])
    # another role's idle transaction is counted, but its state is hidden: no session finding
    assert not by_check(findings, "idle_in_transaction")
    assert "hidden" in set(report["connections_by_state"]["state"])
    assert {f.check for f in findings} <= DATABASE_CHECKS

    grants = fix_statements(list(missing.values()))
    assert grants and all(s.startswith("GRANT ") for s in grants), grants
    for grant in grants:
        pg_server.execute(grant, dbname=pg_scenario.dbname)
    fixed = report_for(dsn)["findings"]
    still = {f.subject["feature"] for f in by_check(fixed, "stats_unavailable")}
    assert not still & set(missing), still
    assert len(by_check(fixed, "sequence_exhaustion")) == 2
    assert subjects(fixed, "table_bloat") == [{"table": "public.audit_log"}]


def test_missing_pg_stat_statements_is_a_finding_with_a_working_fix(pg_server):
    """StatsUnavailable from the loader becomes a stats_unavailable finding, not a failure."""
    dsn = pg_server.create_database("dwcp_no_pgss", extensions=())
    pg_server.execute("DROP EXTENSION IF EXISTS pg_stat_statements", dbname="dwcp_no_pgss")
    report = report_for(dsn)
    missing = {f.subject["feature"]: f for f in report["findings"]}
    assert {f.check for f in report["findings"]} == {"stats_unavailable"}
    # pgstattuple (not created either) only serves the opt-in exact bloat: a note, not a warning
    assert {k: f.severity for k, f in missing.items()} == {
        "pg_stat_statements": "warning",
        "pgstattuple": "info",
    }
    assert report["statements"].empty and report["statements_basis"].startswith("unavailable")
    for statement in fix_statements(list(missing.values())):
        pg_server.execute(statement, dbname="dwcp_no_pgss")
    assert not report_for(dsn)["findings"]


def test_unreachable_server_is_one_source_unavailable_finding():
    closed = f"postgresql://postgres:Secret-123@127.0.0.1:{free_port()}/app_db"
    report = report_for(closed, connect_timeout_s=2)
    findings = report["findings"]
    assert [(f.check, f.subject) for f in findings] == [
        ("source_unavailable", {"source": "postgres"})
    ]
    assert "Secret-123" not in findings[0].summary
    assert report["top_by_total"].empty and report["space_tree"]["id"].tolist() == ["database"]


class HangingUpServer:
    """A TCP listener on 127.0.0.1 that accepts each connection and closes it at once, counting
    them: a server that is there but never answers the PostgreSQL handshake."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.dsn = f"postgresql://postgres:Secret-123@127.0.0.1:{self.listener.getsockname()[1]}/db"
        self.accepted = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        with contextlib.suppress(OSError):  # the listener closed: done
            while True:
                connection, _ = self.listener.accept()
                self.accepted += 1  # counted before the client can see the hang-up
                connection.close()

    def __enter__(self) -> HangingUpServer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.listener.close()


def test_unreachable_server_is_tried_once_not_once_per_frame():
    with HangingUpServer() as server:
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(server.dsn, connect_timeout=2)
        per_connect = server.accepted  # libpq may try twice (with TLS, then without)
        report = report_for(server.dsn, connect_timeout_s=2)
        assert server.accepted - per_connect == per_connect  # one connect for all the frames
    assert [(f.check, f.subject) for f in report["findings"]] == [
        ("source_unavailable", {"source": "postgres"})
    ]


# --------------------------------------------------------------------------- fix-it SQL


def test_every_fix_sql_is_valid_and_fixes_the_copy(scenario_report, pg_scenario, scenario_copy):
    """EXPLAIN what EXPLAIN takes (on app_db: it runs nothing); execute the rest, in the
    findings' order, on the throwaway copy; then the copy no longer has those problems."""
    findings = scenario_report["findings"]
    statements = fix_statements(findings)
    assert len(statements) >= 8, statements
    explainable = [s for s in statements if s.upper().startswith(EXPLAINABLE)]
    executable = [s for s in statements if s not in explainable]
    unknown = [s for s in executable if not s.upper().startswith(EXECUTABLE)]
    assert not unknown, f"fix-it SQL of an unexpected kind: {unknown}"
    for statement in explainable:
        assert explain(pg_scenario.dsn, statement)
    with psycopg.connect(scenario_copy, autocommit=True) as conn:
        for statement in executable:
            conn.execute(statement)  # type: ignore[arg-type]
        flush_stats(conn)

    fixed_checks = {
        "table_bloat",
        "vacuum_lag",
        "sequence_exhaustion",
        "duplicate_index",
        "unused_index",
    }
    before = {(f.check, str(f.subject)) for f in findings if f.check in fixed_checks}
    after = {(f.check, str(f.subject)) for f in report_for(scenario_copy)["findings"]}
    assert before and not before & after, before & after
    with psycopg.connect(scenario_copy, autocommit=True) as conn:
        indexes = {row[0] for row in conn.execute("SELECT indexname FROM pg_indexes")}
    assert "users_email_idx" not in indexes and "tasks_updated_at_idx" not in indexes
    assert "events_account_id_idx" in indexes
