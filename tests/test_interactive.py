"""The ad-hoc API: ``dd.session()``, ``s.findings.<area>()``, ``dwcp_diag.collect``.

The facade must find exactly what the report of the same name publishes: it is checked
against the findings of the notebooks rendered live (replaying their recorded bundle), and
against the demo bundle.
"""

from __future__ import annotations

import importlib
import inspect
import json

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import dwcp_diag as dd
from dwcp_diag.analysis.findings import Findings
from dwcp_diag.cli import main
from dwcp_diag.collect.area import AreaReport
from dwcp_diag.collect.latency import collect_latency
from dwcp_diag.collect.memory import collect_memory
from dwcp_diag.config import MetricNames, Profile, load_profile
from dwcp_diag.demo.simulator import DEMO_END
from dwcp_diag.errors import ReplayMissing, TimeWindowError
from dwcp_diag.session import AreaFindings, Session
from tests.fixtures.live import INCIDENT_WINDOW
from tests.test_prometheus_loader import RATE_BY_PATH, settings_for

AREAS = ["latency", "database", "memory", "cost", "capacity"]


def test_session_stays_a_function_after_its_module_is_imported():
    # importing a submodule binds it on the package: dd.session must not become the module
    importlib.import_module("dwcp_diag.session")
    importlib.import_module("dwcp_diag.report.notebook")
    assert callable(dd.session)
    assert isinstance(dd.session(source="demo"), Session)


def test_facade_methods_have_explicit_parameters_for_tab_completion():
    for name in [*AREAS, "incident"]:
        method = getattr(AreaFindings, name)
        kinds = {p.kind for p in inspect.signature(method).parameters.values()}
        assert inspect.Parameter.VAR_KEYWORD not in kinds, name
        assert inspect.Parameter.VAR_POSITIONAL not in kinds, name
        assert method.__doc__ and ">>>" in method.__doc__, f"{name} has no example"
        assert inspect.signature(method).return_annotation in ("Findings", Findings)


@pytest.mark.parametrize("area", AREAS)
def test_facade_finds_what_the_live_report_published(rendered_live, area):
    assert rendered_live.exit_code == 0
    profile = load_profile("live", rendered_live.config_path, environ={})
    s = Session(profile, source=f"snapshot:{rendered_live.bundle}", now=DEMO_END, writer=area)
    found = getattr(s.findings, area)()
    assert isinstance(found, Findings)
    assert found.to_records() == rendered_live.findings(area)
    assert len(found) > 0  # the scenario seeds something in every area


def test_facade_incident_finds_what_the_live_report_published(rendered_live):
    profile = load_profile("live", rendered_live.config_path, environ={})
    s = Session(profile, source=f"snapshot:{rendered_live.bundle}", writer="incident")
    found = s.findings.incident(*INCIDENT_WINDOW)
    assert found.to_records() == rendered_live.findings("incident")
    assert "deployment_in_window" in {f.check for f in found}


def test_time_arguments_accept_durations_iso_strings_datetimes_and_timestamps(no_live_sources):
    s = dd.session(source="demo")
    end = s.now
    start = end - pd.Timedelta(days=7)
    by_duration = s.findings.memory(window="7d")
    by_iso = s.findings.memory(start=start.isoformat(), end=end.isoformat())
    by_datetime = s.findings.memory(start=start.to_pydatetime(), end=end.to_pydatetime())
    by_timestamp = s.findings.memory(start=start, end=end)
    records = by_duration.to_records()
    assert records and records == by_iso.to_records()
    assert records == by_datetime.to_records() == by_timestamp.to_records()
    # naive times are UTC (documented); an explicit offset is converted
    naive = start.tz_localize(None).to_pydatetime()
    assert s.findings.memory(start=naive, end=end).to_records() == records
    berlin = start.tz_convert("Europe/Berlin").isoformat()
    assert berlin.endswith("+01:00")
    assert s.findings.memory(start=berlin, end=end).to_records() == records
    with pytest.raises(TimeWindowError, match="is not before end"):
        s.findings.memory(start=end, end=start)


def test_collect_returns_frames_report_and_findings(no_live_sources):
    s = dd.session(source="demo")
    memory = collect_memory(s, s.window("7d"))
    assert isinstance(memory, AreaReport)
    assert set(memory.frames) >= {"working_set", "restarts", "inventory"}
    leaks = memory.report["leaks"]
    assert leaks[leaks["is_leak"]]["growth_mib_per_h"].round().tolist() == [25.0]
    assert "memory_leak" in memory._repr_html_()
    latency = collect_latency(s, s.window("7d"))
    assert latency.context["slo"].p95_latency_ms == 200
    assert "latency_slo_breach" in {f.check for f in latency.findings}


def test_demo_answers_only_what_was_recorded_and_says_so(no_live_sources):
    s = dd.session(source="demo")
    with pytest.raises(ReplayMissing, match=r"no recording of prometheus\.range"):
        s.prom.range("sum(up)", window="6h")


def test_replay_answers_sub_windows_exactly_as_prometheus_would(prometheus_server, tmp_path):
    profile = Profile(prometheus=settings_for(prometheus_server.url))
    live = Session(profile, source="live", now=DEMO_END)
    recording = Session(profile, source="live", record=tmp_path / "bundle", now=DEMO_END)
    recording.prom.range(RATE_BY_PATH, window="2d", step=60, labels=["path"])
    replay = Session(profile, source=f"snapshot:{tmp_path / 'bundle'}")

    for window, end, step in [
        ("6h", DEMO_END, 60),  # the recording's step, a shorter window
        ("1d", DEMO_END - pd.Timedelta(hours=5), 300),  # a coarser step, an earlier end
        ("2d", DEMO_END, 120),
    ]:
        expected = live.prom.range(RATE_BY_PATH, window=window, end=end, step=step, labels=["path"])
        got = replay.prom.range(RATE_BY_PATH, window=window, end=end, step=step, labels=["path"])
        assert len(got) and got["timestamp"].min() >= DEMO_END - pd.Timedelta(days=2)
        assert_frame_equal(got, expected, check_exact=True, obj=f"{window} at {step}s")

    for window, step in [("3d", 60), ("6h", 90), ("6h", 30)]:  # wider, not a multiple, finer
        with pytest.raises(ReplayMissing, match=r"covers 2026-11-14\.\.2026-11-16 at 1m"):
            replay.prom.range(RATE_BY_PATH, window=window, step=step, labels=["path"])
    # `labels` only names an empty frame's columns: the recording answers without it too
    assert_frame_equal(
        replay.prom.range(RATE_BY_PATH, window="6h", step=60),
        live.prom.range(RATE_BY_PATH, window="6h", step=60),
        check_exact=True,
    )
    # a filter on a label the answer keeps: the recording's rows of that path
    one_path = RATE_BY_PATH.replace(
        "http_requests_total", 'http_requests_total{path="/api/v1/orders"}'
    )
    expected = live.prom.range(one_path, window="6h", step=300)
    assert len(expected) and set(expected["path"]) == {"/api/v1/orders"}
    assert_frame_equal(
        replay.prom.range(one_path, window="6h", step=300), expected, check_exact=True
    )


def test_facade_answers_shorter_windows_from_the_demo_bundle(no_live_sources):
    s = dd.session(source="demo")
    week, day = s.findings.memory(window="7d"), s.findings.memory(window="24h")
    assert {f.check for f in day} <= {f.check for f in week}
    assert "memory_leak" in {f.check for f in week}
    assert "memory_leak" not in {f.check for f in day}  # a leak needs 36 growing hours
    assert s.findings.cost(window="3d")  # the cost report reads two weeks back anyway


def test_replay_answers_one_namespace_from_the_cluster_wide_listing(kube_settings, tmp_path):
    profile = Profile(kubernetes=kube_settings)
    recording = Session(profile, source="live", record=tmp_path / "bundle", now=DEMO_END)
    recording.k8s.containers()
    recording.k8s.pods()
    live = Session(profile, source="live", now=DEMO_END)
    replay = Session(profile, source=f"snapshot:{tmp_path / 'bundle'}")
    for namespace in ("production", "staging"):
        expected = live.k8s.containers(namespace=namespace)
        assert len(expected) and set(expected["namespace"]) == {namespace}
        assert_frame_equal(replay.k8s.containers(namespace=namespace), expected, check_exact=True)
        assert_frame_equal(replay.k8s.pods(namespace=namespace), live.k8s.pods(namespace=namespace))
    with pytest.raises(ReplayMissing):  # a label selector is not answered from the listing
        replay.k8s.containers(namespace="production", label_selector="app=dwcp-api")


def test_misnamed_metrics_are_no_data_findings_never_a_clean_report(prometheus_server):
    typo = MetricNames(
        http_requests="http_request_total", memory_working_set="container_memory_workingset"
    )
    profile = Profile(prometheus=settings_for(prometheus_server.url), metrics=typo)
    s = Session(profile, source="live", now=DEMO_END)
    latency = s.findings.latency(window="1d")
    judged = [(f.check, f.severity, f.subject) for f in latency if f.severity != "info"]
    assert judged == [("no_data", "warning", {"data": "latency.requests"})]
    assert "no metric named 'http_request_total' (did you mean 'http_requests_total'?)" in (
        latency[0].summary
    )
    memory = s.findings.memory(window="1d")  # restarts and OOM kills have their own metrics
    (no_data,) = [f for f in memory if f.check == "no_data"]
    assert no_data.subject == {"data": "memory.working_set"}
    assert "'container_memory_workingset'" in no_data.summary
    assert "container_memory_working_set_bytes" in no_data.summary  # the suggestion
    assert not {"memory_leak", "memory_near_limit"} & {f.check for f in memory}


def test_a_report_with_a_misnamed_metric_says_so(prometheus_server, tmp_path, no_live_sources):
    config = tmp_path / "dwcp-diag.toml"
    config.write_text(
        f'[profiles.typo.prometheus]\nurl = "{prometheus_server.url}"\n'
        '[profiles.typo.metrics]\nhttp_duration_bucket = "http_request_duration_bucket"\n'
    )
    args = ["render", "latency", "--source", "live", "--end", DEMO_END.isoformat()]
    args += ["--window", "1d", "--out", str(tmp_path / "out"), "--no-cache"]
    assert main([*args, "--config", str(config), "--profile", "typo"]) == 3  # rendered, blind
    findings = json.loads((tmp_path / "out" / "latency.findings.json").read_text())
    assert [f["check"] for f in findings] == ["no_data"]
    assert "did you mean 'http_request_duration_seconds_bucket'" in findings[0]["summary"]
    html = (tmp_path / "out" / "latency.html").read_text()
    assert "no_data" in html and "Every check passed" not in html
