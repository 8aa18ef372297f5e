"""notebooks/incident.ipynb rendered against the live fixture servers (``rendered_live``).

The harness renders it for the simulator's seeded incident window. The rollout inside that
window, the Kafka lag spike it causes (KI-001) and the seeded latency and error findings must
come out; the markdown timeline must be in UTC and in time order.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
import pytest

from dwcp_diag.analysis.findings import CHECKS_BY_NOTEBOOK

pytestmark = pytest.mark.slow
TIMELINE_LINE = re.compile(r"^- \*\*(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\*\* · `([^`]+)` · ")
DEPLOYMENT_LEAD = pd.Timedelta(minutes=30)  # deployment_in_window also counts this much before


@pytest.fixture(scope="module")
def truth(demo_cluster: Any) -> dict[str, Any]:
    return demo_cluster.truth


@pytest.fixture(scope="module")
def window(truth: dict[str, Any]) -> tuple[pd.Timestamp, pd.Timestamp]:
    seeded = truth["latency_incident"]
    return pd.Timestamp(seeded["start"]), pd.Timestamp(seeded["end"])


@pytest.fixture(scope="module")
def incident(rendered_live: Any, window: tuple[pd.Timestamp, pd.Timestamp]) -> Any:
    result = rendered_live.results["incident"]
    assert result.ok, result.error
    executed = nbformat.read(result.ipynb, as_version=4)
    parameters = executed.metadata.papermill.parameters
    rendered_for = tuple(pd.Timestamp(parameters.get(k) or "NaT") for k in ("start", "end"))
    assert rendered_for == window, (
        f"the harness must render incident for the seeded window {window} "
        f"(--start/--end), not {parameters.get('start')}..{parameters.get('end')}"
    )
    return rendered_live


@pytest.fixture(scope="module")
def timeline(incident: Any) -> str:
    executed = nbformat.read(incident.results["incident"].ipynb, as_version=4)
    texts = [
        output.get("data", {}).get("text/markdown", "")
        for cell in executed.cells
        for output in cell.get("outputs", [])
    ]
    found = [t for t in texts if t.startswith("### Timeline (UTC)")]
    assert len(found) == 1, "the notebook displays its timeline once, as markdown"
    return found[0]


def test_renders_with_every_source_and_only_incident_window_checks(incident):
    assert incident.findings("incident", "source_unavailable") == []
    checks = {f["check"] for f in incident.findings("incident")}
    allowed = {c for area, ids in CHECKS_BY_NOTEBOOK.items() if area != "all" for c in ids}
    assert checks <= allowed


def test_deployment_in_window_names_the_rollout_inside_the_window(incident, truth, window):
    start, end = window
    expected = {
        (r["namespace"], r["deployment"], pd.Timestamp(r["time"]))
        for r in truth["rollouts"]
        if start - DEPLOYMENT_LEAD <= pd.Timestamp(r["time"]) <= end
    }
    seeded = truth["latency_incident"]["deployments_in_window"]
    assert {(d["deployment"], pd.Timestamp(d["time"])) for d in seeded} <= {
        (name, at) for _, name, at in expected
    }
    found = incident.findings("incident", "deployment_in_window")
    named = {
        (f["subject"]["namespace"], f["subject"]["deployment"], pd.Timestamp(f["evidence"]["time"]))
        for f in found
    }
    assert named == expected
    assert all(f["evidence"]["replicaset"] for f in found)


def test_consumer_lag_spike_after_the_rollout_is_ki_001(incident, truth, window):
    seeded = truth["consumer_lag_spike"]
    found = incident.findings("incident", "consumer_lag_spike")
    assert [f["subject"] for f in found] == [seeded["subject"]]
    spike = found[0]
    assert spike["evidence"]["known_issue"] == seeded["known_issue"]
    started = pd.Timestamp(spike["evidence"]["start"])
    spikes = [(pd.Timestamp(s["start"]), pd.Timestamp(s["end"])) for s in seeded["spikes"]]
    assert any(a <= started <= b for a, b in spikes), (started, spikes)
    assert window[0] <= started <= window[1]
    assert spike["value"] > spike["threshold"]


def test_seeded_latency_and_error_findings_are_in_the_window(incident, truth, window):
    seeded = truth["latency_incident"]
    for check, key in (("latency_slo_breach", "latency"), ("error_rate_breach", "errors")):
        paths = [f for f in incident.findings("incident", check) if "path" in f["subject"]]
        assert [f["subject"]["path"] for f in paths] == [seeded[key]["subject"]["path"]], check
        moment = pd.Timestamp(paths[0]["evidence"]["time"])
        assert window[0] <= moment <= window[1], (check, moment)


def test_timeline_is_in_utc_and_sorted(timeline, incident, window):
    entries = [TIMELINE_LINE.match(line) for line in timeline.splitlines()[2:]]
    assert entries and all(entries), timeline
    times = [pd.Timestamp(e.group(1), tz="UTC") for e in entries]
    assert times == sorted(times)
    kinds = [e.group(2) for e in entries]
    # the window marks, written in UTC, bracket the events
    assert (times[0], kinds[0]) == (window[0], "window")
    assert (times[-1], kinds[-1]) == (window[1], "window")
    published = {f["check"] for f in incident.findings("incident")}
    assert published <= set(kinds)


def test_report_links_what_changed_to_each_chart(incident):
    page = Path(incident.results["incident"].html).read_text()
    assert page.count("plotly.js (cartesian - minified) v") == 1
    assert "Incident timeline" in page or "INC-DEMO timeline" in page
    links = re.findall(r'href="#panel-([a-z0-9_]+)"', page)
    anchors = set(re.findall(r'id="panel-([a-z0-9_]+)"', page))
    assert links and set(links) <= anchors
    assert links[0] == "p95"  # the seeded latency incident is the biggest change
    assert "markdown source" in page
