"""Query texts carry no secret into a frame, a report, a finding or a recording: proof against
real servers, Debian's PostgreSQL 15 and 18 (tests/fixtures/postgres.py).

``sentinel_db`` holds in pg_stat_statements the credential statements of issue 16 with
sentinel secrets, and :func:`held_sentinel_sessions` holds sessions whose pg_stat_activity text
carries more (tests/query_sentinels.py). Under the default policy no sentinel reaches a loader
frame or an EXPLAIN plan (on both versions); under ``query_text = "full"`` they do. The default
policy's ``render database``, ``--record`` and ``postmortem`` outputs are scanned in
tests/test_postmortem.py; here one ``render database --record`` under ``full`` (Debian's
server: a render costs ~20 s) shows that those scans can fail.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from dwcp_diag.cli import main
from dwcp_diag.config import PostgresSettings
from dwcp_diag.credentials import Secret
from dwcp_diag.demo import DEMO_END
from dwcp_diag.sources.postgres.loader import OWN_QUERY_MARKER, PostgresLoader
from dwcp_diag.sources.redact import TRUNCATED_MARK
from dwcp_diag.sources.snapshot import SnapshotBundle
from tests.fixtures.live import environment, live_environment
from tests.query_sentinels import (
    ACTIVITY_SENTINELS,
    EMAIL,
    SENTINEL_APPLICATION,
    SENTINELS,
    STATEMENT_SENTINELS,
    held_sentinel_sessions,
    plant_query_sentinels,
    sentinels_in,
)

DBNAME = "sentinel_db"
# the held sessions count as idle in transaction after 1 s: their texts reach the findings
LOW_THRESHOLDS = """
[profiles.{name}.thresholds.idle_in_transaction]
warning_s = 1
[profiles.{name}.postgres]
query_text = "{policy}"
"""


@pytest.fixture(scope="module")
def pg_server(pg_server_each_version):
    """This module's tests run on each major version under test."""
    return pg_server_each_version


def create_sentinel_db(server) -> str:
    """``sentinel_db``'s superuser DSN, its pg_stat_statements holding the sentinel statements."""
    dsn = server.create_database(DBNAME)
    plant_query_sentinels(server, DBNAME)
    return dsn


@pytest.fixture(scope="module")
def sentinel_db(pg_server) -> str:
    return create_sentinel_db(pg_server)


def loader(dsn: str, policy: str) -> PostgresLoader:
    secret = Secret.from_env("TEST_PG_DSN", {"TEST_PG_DSN": dsn})
    return PostgresLoader(PostgresSettings(dsn=secret, query_text=policy))


def cells(*frames: pd.DataFrame) -> str:
    return "\n".join(str(v) for frame in frames for column in frame for v in frame[column])


def test_loader_frames_under_each_policy(pg_server, sentinel_db):
    frames = {}
    with held_sentinel_sessions(pg_server, DBNAME) as pids:
        for policy in ("redacted", "full", "none"):
            pg = loader(sentinel_db, policy)
            frames[policy] = (pg.slow_queries(limit=None), pg.activity().set_index("pid").loc[pids])
            pg.close()
    statements, sessions = frames["redacted"]
    assert not [s for s in SENTINELS if s in cells(statements, sessions)]
    shown = set(statements["query"])
    assert {"CREATE ROLE", "ALTER ROLE", "CREATE USER MAPPING", "CREATE SUBSCRIPTION"} <= shown
    assert sessions["query"].tolist() == [
        "SELECT count(*) FROM pg_class WHERE relname = $1",
        "CREATE ROLE",
        "SELECT pgp_sym_encrypt($1, $2)",
        f"SELECT count(*) FROM pg_class WHERE relname = {TRUNCATED_MARK}",  # cut by the server
        "SELECT",  # dblink_connect: reduced to the tag
    ]
    full = cells(*frames["full"])
    assert [s for s in SENTINELS if s in full] == list(SENTINELS)
    none_statements, none_sessions = frames["none"]
    assert none_statements["query"].isna().all() and none_sessions["query"].isna().all()
    assert none_statements["queryid"].notna().all()


def test_explain_plans_lose_the_statement_literals(sentinel_db):
    statement = f"SELECT relname FROM pg_class WHERE relname = '{EMAIL}'"
    redacted = "\n".join(loader(sentinel_db, "redacted").explain(statement)["QUERY PLAN"])
    full = "\n".join(loader(sentinel_db, "full").explain(statement)["QUERY PLAN"])
    assert EMAIL in full and EMAIL not in redacted
    assert "(relname = $1::name)" in redacted and "cost=" in redacted


def test_own_statements_and_sessions_are_not_the_workload(sentinel_db):
    """PostgreSQL 18 drops leading comments from pg_stat_statements texts, 15 keeps them: the
    trailing marker works on both. Checked with full texts, where comments stay."""
    other = loader(sentinel_db, "full")
    other.tables()  # its own catalog queries, and a pooled dwcp-diag session left open
    pg = loader(sentinel_db, "full")
    statements = pg.slow_queries(limit=None, all_databases=True)
    assert not statements["query"].str.contains(OWN_QUERY_MARKER, regex=False).any()
    # in this database only dwcp-diag's tables.sql reads pg_stat_user_tables
    here = pg.slow_queries(limit=None)
    assert len(here) > 0
    assert not here["query"].str.contains("pg_stat_user_tables", regex=False).any()
    assert "dwcp-diag" not in set(pg.activity()["application_name"])
    assert pg.connection_counts()["total_connections"].iloc[0] >= 2  # still counted there
    other.close()
    pg.close()


@pytest.mark.slow
def test_full_policy_report_shows_what_the_default_hides_even_on_replay(
    pg_pool, prometheus_server, kube_api_server, tmp_path
):
    """``render database --record`` under ``query_text = "full"`` shows the sentinels in the
    report and the recording (so the default policy's scans, here and in test_postmortem.py,
    can fail); that recording replayed under the default policy, as a bundle recorded before
    redaction would be, shows none."""
    server = pg_pool.server("debian")
    dsn = create_sentinel_db(server)
    env = live_environment(prometheus_server.url, dsn, kube_api_server.kubeconfig_path)
    config = tmp_path / "full.toml"
    config.write_text(LOW_THRESHOLDS.format(name="full", policy="full"))
    out, bundle = tmp_path / "reports", tmp_path / "bundle"
    args = ["render", "database", "--source", "live", "--end", DEMO_END.isoformat()]
    args += ["--out", str(out), "--record", str(bundle), "--no-cache"]
    with environment(env), held_sentinel_sessions(server, DBNAME):
        assert main([*args, "--config", str(config), "--profile", "full"]) in (0, 3)
    in_report = {hit.rsplit(": ", 1)[1] for hit in sentinels_in(out)}
    in_bundle = {hit.rsplit(": ", 1)[1] for hit in sentinels_in(bundle)}
    assert set(ACTIVITY_SENTINELS) <= in_report  # the idle sessions' findings quote them
    assert f"{SENTINEL_APPLICATION}-0" in (out / "database.html").read_text()
    assert set(SENTINELS) <= in_bundle and set(STATEMENT_SENTINELS) <= in_bundle
    replay = PostgresLoader(PostgresSettings(), replay=SnapshotBundle(bundle))
    entries = json.loads((bundle / "manifests" / "database.json").read_text())["entries"]
    replayed = [
        getattr(replay, entry["call"])(**entry["params"])
        for entry in entries.values()
        if entry["source"] == "postgres" and "error" not in entry
    ]
    assert len(replayed) >= 10
    assert not [s for s in SENTINELS if s in cells(*replayed)]
    sessions = pd.concat(frame for frame in replayed if "application_name" in frame)
    held = sessions[sessions["application_name"].str.startswith(SENTINEL_APPLICATION)]
    assert "CREATE ROLE" in set(held["query"])
