"""The demo answers what a new user asks (issue 22): the natural calls of every loader method,
``s.findings`` area and notebook parameter, inside the simulated month
(2026-10-19..2026-11-16, "now" 2026-11-16T00:00Z), and one line saying what the demo covers
for anything outside it.

Each call is written as the user would type it; the test id is that text.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

import dwcp_diag as dd
from dwcp_diag.cli import main
from dwcp_diag.errors import ReplayMissing
from dwcp_diag.queries import promql

P95 = "promql.latency_quantile(m, 0.95)"
RATE = "promql.request_rate_by_path_status(m)"
MEMORY = "promql.container_memory_working_set(m)"

# Each answers from the data: a frame (possibly empty, when nothing matched) or findings.
ANSWERED = [
    # -- Prometheus range queries: the README's tour, windows, steps, ends, filters
    f"s.prom.range({P95}, window='6h')",
    f"s.prom.range({P95}, window='1h')",
    f"s.prom.range({P95}, window='24h')",
    f"s.prom.range({P95}, window='7d')",
    f"s.prom.range({P95}, window='30d')",
    f"s.prom.range({P95}, window='6h', step='5m')",
    f"s.prom.range({P95}, window='2d', step='1h')",
    f"s.prom.range({P95}, start='2026-11-12T13:00Z', end='2026-11-12T16:00Z')",
    f"s.prom.range({P95}, start='2026-10-20', end='2026-10-21')",
    f"s.prom.range({P95}, window='6h', end='2026-11-01T12:00Z')",
    "s.prom.range(promql.latency_quantile(m, 0.99), window='6h')",
    "s.prom.range(promql.latency_quantile(m, 0.5), window='24h')",
    "s.prom.range(promql.latency_quantile(m, 0.95, selector={'path': '/api/v1/orders'}), "
    "window='6h')",
    f"s.prom.range({RATE}, window='6h')",
    f"s.prom.range({RATE}, window='7d', step='10m')",
    "s.prom.range(promql.latency_bucket_rate(m), window='1d')",
    f"s.prom.range({MEMORY}, window='6h', step='5m')",
    f"s.prom.range({MEMORY}, window='28d', step='1h')",
    "s.prom.range(promql.container_memory_working_set(m, 'production'), window='1d', step='5m')",
    "s.prom.range(promql.container_memory_working_set(m, ['production', 'monitoring']), "
    "window='1d', step='5m')",
    "s.prom.range(promql.container_cpu_usage(m), window='1d', step='5m')",
    "s.prom.range(promql.container_restarts(m), window='7d', step='5m')",
    "s.prom.range(promql.consumer_lag(m), start='2026-11-12T13:00Z', end='2026-11-12T16:00Z')",
    "s.prom.range(promql.pg_connections(m), window='24h')",
    "s.prom.range(promql.pg_max_connections(m), window='7d')",
    "s.prom.range('kubelet_volume_stats_used_bytes', window='28d', step='1h')",
    "s.prom.range('pg_database_size_bytes', window='14d', step='1h')",
    # -- instant queries, listings
    "s.prom.instant('pg_settings_max_connections')",
    f"s.prom.instant({MEMORY})",
    f"s.prom.instant({MEMORY}, at='2026-11-12T14:30Z')",
    f"s.prom.instant({P95}, at='2026-11-15T20:00Z')",
    "s.prom.label_values('namespace')",
    "s.prom.label_values('path')",
    "s.prom.label_values('__name__')",
    "s.prom.series('kube_pod_owner', window='1d')",
    "s.prom.series('kube_pod_owner{namespace=\"production\"}', window='1d')",
    # -- PostgreSQL: every loader method with its documented arguments
    "s.pg.slow_queries()",
    "s.pg.slow_queries(min_calls=100)",
    "s.pg.slow_queries(min_calls=100, limit=10)",
    "s.pg.slow_queries(order_by='total_exec_time_ms', limit=5)",
    "s.pg.slow_queries(order_by='calls')",
    "s.pg.slow_queries(limit=None)",
    "s.pg.activity()",
    "s.pg.activity(max_query_chars=500)",
    "s.pg.connection_counts()",
    "s.pg.tables()",
    "s.pg.indexes()",
    "s.pg.duplicate_indexes()",
    "s.pg.bloat()",
    "s.pg.bloat_scan(budget_s=2)",
    "s.pg.bloat_exact('public.tasks')",
    "s.pg.wraparound()",
    "s.pg.wraparound(table_limit=5)",
    "s.pg.sequences()",
    "s.pg.cache_hit()",
    "s.pg.settings()",
    "s.pg.server()",
    "s.pg.availability()",
    # the documented examples of free-form SQL are recorded (other SQL: see NOT_RECORDED)
    "s.pg.query('SELECT relname, n_dead_tup FROM pg_stat_user_tables ORDER BY relname')",
    "s.pg.query('SELECT relname FROM pg_stat_user_tables WHERE n_dead_tup > :n', {'n': 1000})",
    "s.pg.explain('SELECT * FROM tasks WHERE id = 42')",
    # -- Kubernetes: every list, whole and filtered
    "s.k8s.containers()",
    "s.k8s.containers(namespace='production')",
    "s.k8s.containers(namespace='monitoring')",
    "s.k8s.pods()",
    "s.k8s.pods(namespace='production')",
    "s.k8s.workloads()",
    "s.k8s.workloads(namespace='production')",
    "s.k8s.nodes()",
    "s.k8s.persistent_volumes()",
    "s.k8s.claims()",
    "s.k8s.claims(namespace='data')",
    "s.k8s.events()",
    "s.k8s.events(start='2026-11-12T13:00Z', end='2026-11-12T16:00Z')",
    "s.k8s.events(reasons=['OOMKilling', 'BackOff'])",
    "s.k8s.events(namespace='production', start='2026-11-01')",
    "s.k8s.rollouts('2026-11-12T13:00Z', '2026-11-12T16:00Z')",
    "s.k8s.rollouts('2026-11-01', '2026-11-16')",
    "s.k8s.rollouts('2026-11-10', '2026-11-14', namespace='production')",
    "s.k8s.pod_metrics()",
    "s.k8s.pod_metrics(namespace='production')",
    # -- the findings of every area, at the windows and filters the notebooks take
    "s.findings.latency()",
    "s.findings.latency(window='24h')",
    "s.findings.latency(window='30d')",
    "s.findings.latency(window='14d')",
    "s.findings.latency(endpoints=['/api/v1/orders'])",
    "s.findings.latency(start='2026-11-10', end='2026-11-12')",
    "s.findings.database()",
    "s.findings.database(window='24h')",
    "s.findings.database(start='2026-11-10', end='2026-11-12')",
    "s.findings.database(thresholds={'slow_query': {'mean_ms': 50}})",
    "s.findings.memory(window='24h')",
    "s.findings.memory(window='30d')",
    "s.findings.memory(namespaces='monitoring')",
    "s.findings.memory(window='24h', namespaces='production')",
    "s.findings.cost(window='24h')",
    "s.findings.cost(start='2026-11-01', end='2026-11-08')",
    "s.findings.capacity(window='14d')",
    "s.findings.capacity(horizon_weeks=8)",
    "s.findings.incident('2026-11-12T14:00Z', '2026-11-12T14:45Z')",
    "s.findings.incident('2026-11-12T14:00Z', '2026-11-12T14:45Z', namespaces='production')",
    "s.findings.incident('2026-11-09', '2026-11-16')",
    "s.findings.incident('2026-11-01T10:00Z', '2026-11-01T11:00Z', margin='30m')",
]

# Outside the data: ReplayMissing in one line saying what the demo covers.
OUTSIDE = [
    f"s.prom.range({P95}, start='2026-12-01', end='2026-12-02')",
    f"s.prom.range({P95}, window='6h', step='30s')",
    f"s.prom.instant({P95}, at='2026-12-01')",
    "s.findings.latency(start='2026-12-01', end='2026-12-08')",
]


# What no recording can answer: one line saying so and what to do instead.
NOT_RECORDED = {
    "s.prom.range('sum(up)', window='6h')": "a free-form query needs a live server",
    "s.pg.query('SELECT count(*) FROM tasks')": "not new SQL; run it against a live server",
    "s.pg.explain('SELECT * FROM users WHERE id = 1')": "not new SQL",
    "s.k8s.pods(label_selector='app=dwcp-api')": "filter those instead",
}


@pytest.fixture(scope="module")
def demo(no_live_sources_module):
    s = dd.session(source="demo")
    return {"s": s, "m": s.profile.metrics, "promql": promql, "dd": dd}


@pytest.fixture(scope="module")
def no_live_sources_module(tmp_path_factory):
    """No DWCP_* variable or config file of the test run leaks into the demo session."""
    with pytest.MonkeyPatch.context() as patch:
        for name in (
            "DWCP_PROMETHEUS_URL",
            "DWCP_PG_DSN",
            "KUBECONFIG",
            "DWCP_CONFIG",
            "DWCP_PROFILE",
        ):
            patch.delenv(name, raising=False)
        home = tmp_path_factory.mktemp("home")
        patch.setenv("HOME", str(home))
        patch.setenv("XDG_CONFIG_HOME", str(home))
        patch.chdir(home)
        yield


@pytest.mark.parametrize("call", ANSWERED)
def test_the_demo_answers(call, demo):
    answer = eval(call, demo)
    if isinstance(answer, pd.DataFrame):
        assert answer.columns.size, call
    else:  # findings of an area
        assert "source_unavailable" not in {f.check for f in answer}, [str(f) for f in answer]


@pytest.mark.parametrize("call", OUTSIDE)
def test_outside_the_data_one_line_says_what_the_demo_covers(call, demo):
    with pytest.raises(ReplayMissing) as raised:
        eval(call, demo)
    message = str(raised.value)
    assert "\n" not in message and "{" not in message and "demo-record" not in message
    assert message.startswith("demo data covers 2026-10-19..2026-11-16 at 1m"), message
    assert "asked 2026-12-01" in message or "at 30s" in message, message


@pytest.mark.parametrize(("call", "advice"), NOT_RECORDED.items())
def test_what_no_recording_answers_is_one_line_saying_so(call, advice, demo):
    with pytest.raises(ReplayMissing) as raised:
        eval(call, demo)
    message = str(raised.value)
    assert "\n" not in message and '{"' not in message and "demo-record" not in message
    assert message.startswith("demo data has no recording of ") and advice in message, message


def test_the_list_is_the_issues_size():
    assert len(ANSWERED) + len(OUTSIDE) + len(NOT_RECORDED) >= 97


def _findings(directory, name) -> set[str]:
    return {f["check"] for f in json.loads((directory / f"{name}.findings.json").read_text())}


@pytest.mark.server  # renders notebooks in kernels
def test_renders_at_other_parameters_answer_from_the_demo(tmp_path, no_live_sources):
    database = ["render", "database", "--start", "2026-11-10", "--end", "2026-11-12"]
    assert main([*database, "--source", "demo", "--out", str(tmp_path / "db")]) == 0
    assert "report_failed" not in _findings(tmp_path / "db", "database")
    incident = ["render", "incident", "--window", "7d", "--source", "demo"]
    assert main([*incident, "--out", str(tmp_path / "inc")]) == 0
    assert "deployment_in_window" in _findings(tmp_path / "inc", "incident")


@pytest.mark.server  # renders notebooks in kernels
def test_due_and_postmortem_run_on_the_demos_clock(tmp_path, no_live_sources):
    # 2026-11-16T00:00Z: the last day due (at 06:00) is 2026-11-14, the last week 2026-W45
    assert main(["due", "--source", "demo", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "daily" / "2026-11-14" / "latency.html").is_file()
    assert (tmp_path / "weekly" / "2026-W45" / "memory.html").is_file()

    out = tmp_path / "postmortems" / "INC-1"
    window = ["--start", "2026-11-12T14:00Z", "--end", "2026-11-12T14:45Z"]
    assert main(["postmortem", "INC-1", *window, "--source", "demo", "--out", str(out)]) == 0
    assert "report_failed" not in _findings(out, "database")
    readme = (out / "README.md").read_text()
    # what the README promises is what is there: no data/ and no zip for a replay
    assert not (out / "data").exists() and not out.with_name("INC-1.zip").exists()
    assert "no `data/` folder and no zip" in readme and "--source demo" in readme
