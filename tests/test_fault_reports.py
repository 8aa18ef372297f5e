"""Faults in the middle of a report: Prometheus killed between the chunks of a range query,
and PostgreSQL's statement_timeout hit by a catalog query that waits for a lock.

Real servers only: a throwaway Prometheus (``start_prometheus``) behind a small forwarding
proxy that SIGKILLs it (by the PID the fixture started) once the first ``query_range`` chunk
has been answered, and the session's PostgreSQL with a scratch database whose pg_stats view
another session holds locked, so the catalog-wide bloat estimate waits past its
statement_timeout on any machine. Reports are rendered through ``dwcp-diag render`` as a
scheduled job would.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

import psycopg
import pytest

from dwcp_diag.cli import main
from dwcp_diag.config import PostgresSettings
from dwcp_diag.credentials import Secret
from dwcp_diag.demo import DEMO_END
from dwcp_diag.errors import QueryTimeout, SourceUnavailable
from dwcp_diag.sources.kubernetes import KubernetesLoader
from dwcp_diag.sources.postgres.loader import PostgresLoader
from dwcp_diag.sources.prometheus import PrometheusLoader
from dwcp_diag.sources.snapshot import Recorder, SnapshotBundle
from tests.fixtures.kubeapi import settings_for as kube_settings_for
from tests.fixtures.live import environment
from tests.fixtures.loopback_http import loopback_http_server, relay
from tests.test_prometheus_loader import loader_for

pytestmark = pytest.mark.slow
PASSWORD = "hunter2-in-the-url"
HANG_GUARD_S = 120  # a call still running after this long is hung (not a speed check)


class KillingProxy:
    """Forwards HTTP to a Prometheus on 127.0.0.1; when a ``query_range`` request arrives after
    the first one has been answered, SIGKILLs the server and stops listening, so that request
    and every later one fail as against a crashed Prometheus."""

    def __init__(self, server) -> None:
        self.server = server
        self.answered = 0  # query_range answers relayed to the client
        self.range_requests = 0
        self.first_answered = threading.Event()
        self.killed = threading.Event()
        self._lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # the http.server API
                proxy.forward(self)

            do_POST = do_GET

            def log_message(self, *args: object) -> None:
                pass

        self.httpd, self.url, self.thread = loopback_http_server(Handler)

    def forward(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        is_range = urlsplit(handler.path).path == "/api/v1/query_range"
        if is_range and not self.killed.is_set():
            with self._lock:
                first = self.range_requests == 0
                self.range_requests += 1
            if not first:  # a later chunk: once the first chunk is answered, crash
                self.first_answered.wait(HANG_GUARD_S)
                self._kill()
        if self.killed.is_set():
            handler.close_connection = True  # the connection ends with no answer
            return
        status = relay(handler, self.server.url)
        if is_range and status is not None:
            with self._lock:
                self.answered += 1
            self.first_answered.set()

    def _kill(self) -> None:
        with self._lock:
            if self.killed.is_set():
                return
            self.server.kill()  # SIGKILL to the PID the fixture started, and reaped
            self.killed.set()
        threading.Thread(target=self._stop_listening, daemon=True).start()

    def _stop_listening(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()  # later connections are refused, as by a dead server

    def __enter__(self) -> KillingProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if not self.killed.is_set():
            self._stop_listening()


def with_password(url: str) -> str:
    return url.replace("http://", f"http://monitor:{PASSWORD}@")


def run_guarded(call):
    """``call()`` in a thread: its result or exception, failing the test if it hangs."""
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # handed back to the test
            outcome["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(HANG_GUARD_S)
    assert not worker.is_alive(), f"still running after {HANG_GUARD_S}s: hung"
    return outcome


# ---------------------------------------------------------------------- Prometheus killed


def test_chunked_range_whose_server_dies_midway_raises_and_records_no_frame(
    start_prometheus, tmp_path
):
    server = start_prometheus()
    recorder = Recorder(tmp_path / "bundle", now=DEMO_END)
    with KillingProxy(server) as proxy:
        url = with_password(proxy.url)
        loader = loader_for(url, retries=2)
        loader.recorder = recorder
        query = 'http_requests_total{path="/healthz"}'
        plan = loader.plan(window="28d", step=60)
        assert len(plan.chunks(loader.max_points_per_request)) == 4
        outcome = run_guarded(lambda: loader.range(query, window="28d", step=60))
    assert "value" not in outcome, "a partial frame was returned"
    error = outcome["error"]
    assert type(error) is SourceUnavailable and error.source == "prometheus"
    message = str(error)
    masked = proxy.url.replace("http://", "http://monitor:***@")
    assert message.startswith(f"Prometheus at {masked} is unreachable (") and "\n" not in message
    assert PASSWORD not in message
    assert proxy.answered == 1 and server.process is None  # one chunk answered, then killed
    # the recording holds the error, not a frame of the one chunk that arrived
    manifest = json.loads(next((tmp_path / "bundle" / "manifests").glob("*.json")).read_text())
    (entry,) = manifest["entries"].values()
    assert entry["error"]["type"] == "SourceUnavailable" and "file" not in entry
    assert not list((tmp_path / "bundle").glob("data/**/*.parquet"))
    replay = PrometheusLoader(loader.settings, replay=SnapshotBundle(tmp_path / "bundle"))
    with pytest.raises(SourceUnavailable, match="unreachable"):
        replay.range(query, start=plan.start, end=plan.end, step=60)


def test_memory_report_when_prometheus_dies_midway(
    start_prometheus, kube_api_server, no_live_sources, tmp_path
):
    server = start_prometheus()
    out = tmp_path / "reports"
    with KillingProxy(server) as proxy:
        env = {
            "DWCP_PROMETHEUS_URL": with_password(proxy.url),
            "KUBECONFIG": str(kube_api_server.kubeconfig_path),
            "DWCP_KUBE_CONTEXT": kube_settings_for(kube_api_server).context,
        }
        argv = ["render", "memory", "--source", "live", "--window", "27d"]
        argv += ["--end", DEMO_END.isoformat(), "-p", "step=1m", "--out", str(out), "--no-cache"]
        with environment(env):
            outcome = run_guarded(lambda: main(argv))
    assert outcome.get("value") == 3, outcome  # README: 3 when rendered but a source was down
    assert proxy.answered == 1 and proxy.killed.is_set()  # killed after the first chunk
    paths = [out / f"memory.{ext}" for ext in ("ipynb", "html", "findings.json")]
    assert all(path.is_file() for path in paths)
    findings = json.loads(paths[2].read_text())
    # only the outage: no finding was computed from the one chunk that did arrive
    assert [(f["check"], f["subject"]) for f in findings] == [
        ("source_unavailable", {"source": "prometheus"})
    ]
    summary = findings[0]["summary"]
    masked = proxy.url.replace("http://", "http://monitor:***@")
    assert f"Prometheus at {masked} is unreachable (" in summary and "\n" not in summary
    notebook = json.loads(paths[0].read_text())
    outputs = "\n".join(
        json.dumps(output) for cell in notebook["cells"] for output in cell.get("outputs", [])
    )
    assert "containers in the window" not in outputs and "Traceback" not in outputs
    for text in (paths[0].read_text(), paths[1].read_text(), paths[2].read_text()):
        assert PASSWORD not in text
    # the Kubernetes section is intact: every container in CrashLoopBackOff is listed
    inventory = KubernetesLoader(kube_settings_for(kube_api_server)).containers()
    looping = inventory[inventory["state_reason"] == "CrashLoopBackOff"]
    assert len(looping) > 0
    cells = [c for c in notebook["cells"] if "CrashLoopBackOff" in "".join(c["source"])]
    listed = json.dumps(cells[-1]["outputs"])
    assert all(pod in listed for pod in looping["pod"].astype(str))


# ---------------------------------------------------------------------- statement_timeout

TIGHT_TIMEOUT_MS = 2_000  # the blocked query waits for as long as the lock is held
SCRATCH_TABLES = 3


@pytest.fixture(scope="module")
def scratch_catalog(pg_server) -> str:
    """The DSN of a database with SCRATCH_TABLES analyzed tables (one row, one index each)."""
    dsn = pg_server.create_database("scratch_catalog")
    pg_server.execute(
        f"""CREATE SCHEMA IF NOT EXISTS scratch;
        DO $$BEGIN FOR i IN 1..{SCRATCH_TABLES} LOOP
          EXECUTE format('CREATE TABLE IF NOT EXISTS scratch.t%s
            (id int PRIMARY KEY, name text, amount numeric, note text)', i);
          EXECUTE format('CREATE INDEX IF NOT EXISTS t%s_name ON scratch.t%s (name)', i, i);
          EXECUTE format('INSERT INTO scratch.t%s VALUES (1, ''a'', 1, ''b'')
            ON CONFLICT DO NOTHING', i);
        END LOOP; END$$;
        ANALYZE""",
        dbname="scratch_catalog",
    )
    return dsn


@contextlib.contextmanager
def pg_stats_locked(dsn: str) -> Iterator[None]:
    """Another session holds an ACCESS EXCLUSIVE lock on the pg_catalog.pg_stats view (an
    uncommitted ALTER VIEW, rolled back on exit), as a migration waiting on a lock would.

    Only statements that read pg_stats (the bloat estimates) wait for it, whatever the
    machine's speed: past the reader's statement_timeout, which cancels them. The planner
    reads pg_statistic directly, so every other query runs as usual. ALTER on a system view
    needs allow_system_table_mods (a superuser setting, for this session only)."""
    holder = psycopg.connect(dsn, application_name="holds-pg_stats")
    try:
        holder.execute("SET allow_system_table_mods = on")
        holder.execute("ALTER VIEW pg_catalog.pg_stats SET (security_barrier = true)")
        yield
    finally:
        holder.rollback()
        holder.close()


def tight_loader(dsn: str, **options) -> PostgresLoader:
    settings = PostgresSettings(
        dsn=Secret.from_env("DSN", environ={"DSN": dsn}),
        statement_timeout_ms=TIGHT_TIMEOUT_MS,
        lock_timeout_ms=10 * TIGHT_TIMEOUT_MS,  # the statement's timeout comes first
    )
    return PostgresLoader(settings, **options)


def test_statement_timeout_is_a_query_timeout_naming_the_setting(scratch_catalog, tmp_path):
    recorder = Recorder(tmp_path, now=DEMO_END)
    pg = tight_loader(scratch_catalog, recorder=recorder)
    with pg_stats_locked(scratch_catalog), pytest.raises(QueryTimeout) as caught:
        pg.bloat()
    message = str(caught.value)
    assert caught.value.setting == "statement_timeout_ms" and "\n" not in message
    assert message.startswith(
        f"PostgreSQL query bloat ran past statement_timeout_ms = {TIGHT_TIMEOUT_MS} ms and was "
        "cancelled (canceling statement due to statement timeout): raise statement_timeout_ms "
        "in the profile's [postgres] section"
    )
    assert len(pg.tables()) >= SCRATCH_TABLES  # the connection is fine after the cancel
    replayed = tight_loader(scratch_catalog, replay=SnapshotBundle(tmp_path))
    with pytest.raises(QueryTimeout) as again:
        replayed.bloat()
    assert str(again.value) == message and again.value.setting == "statement_timeout_ms"
    # once the lock is gone, the same loader estimates bloat: the timeout was the lock's doing
    assert {"scratch.t1", "scratch.t1_name"} <= set(bloat_names(pg.bloat()))


def bloat_names(bloat) -> list[str]:
    names = bloat["schemaname"] + "." + bloat["indexrelname"].fillna(bloat["relname"])
    return names.tolist()


def test_database_report_when_catalog_queries_time_out(
    scratch_catalog, prometheus_server, no_live_sources, tmp_path
):
    config = tmp_path / "dwcp-diag.toml"
    config.write_text(
        f"[profiles.tight.postgres]\nstatement_timeout_ms = {TIGHT_TIMEOUT_MS}\n"
        f"lock_timeout_ms = {10 * TIGHT_TIMEOUT_MS}\n"
    )
    out = tmp_path / "reports"
    env = {"DWCP_PG_DSN": scratch_catalog, "DWCP_PROMETHEUS_URL": prometheus_server.url}
    argv = ["render", "database", "--source", "live", "--config", str(config)]
    argv += ["--profile", "tight", "--end", DEMO_END.isoformat(), "--out", str(out), "--no-cache"]
    with environment(env), pg_stats_locked(scratch_catalog):
        outcome = run_guarded(lambda: main(argv))
    assert outcome.get("value") == 0, outcome
    paths = [out / f"database.{ext}" for ext in ("ipynb", "html", "findings.json")]
    assert all(path.is_file() for path in paths)
    findings = json.loads(paths[2].read_text())
    unavailable = [f for f in findings if f["check"] in ("stats_unavailable", "source_unavailable")]
    # exactly the bloat estimate (the one reader of pg_stats) timed out; every other section,
    # catalog-wide ones included, was read
    assert [f["subject"] for f in unavailable] == [{"feature": "bloat"}]
    (timed_out,) = unavailable
    assert timed_out["severity"] == "warning"
    assert timed_out["evidence"]["timed_out_setting"] == "statement_timeout_ms"
    summary = timed_out["summary"]
    assert "\n" not in summary and summary.startswith(
        f"bloat could not be read: PostgreSQL query bloat ran past statement_timeout_ms = "
        f"{TIGHT_TIMEOUT_MS} ms"
    )
    assert "raise statement_timeout_ms in the profile's [postgres] section" in summary
    notebook = json.loads(paths[0].read_text())
    outputs = "\n".join(
        json.dumps(output) for cell in notebook["cells"] for output in cell.get("outputs", [])
    )
    assert "Traceback" not in outputs and "scratch.t" in outputs  # the table sections are there
    assert "ran past statement_timeout_ms" in paths[1].read_text()  # said in the report too
    for frame in ("tables", "indexes"):  # catalog-wide too, and not blocked
        assert not any((f.get("evidence") or {}).get("frame") == frame for f in findings)
