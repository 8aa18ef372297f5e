"""Incident analysis: what changed, deployments, KI-001 lag spikes, the timeline."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from dwcp_diag.analysis.findings import Finding
from dwcp_diag.analysis.incident import (
    change_findings,
    change_points,
    consumer_lag_spike,
    counter_events,
    deployment_findings,
    finding_span,
    findings_in_window,
    incident_report,
    incident_timeline,
    robust_zscores,
    rollout_changes,
    rollouts_from_replicaset_created,
    with_preceding_changes,
)
from dwcp_diag.config import SLOTargets
from dwcp_diag.frames import as_category
from dwcp_diag.plots.incident import ROWS, incident_chart
from dwcp_diag.timewindow import TimeWindow

WINDOW = TimeWindow.parse(start="2026-11-12T18:00Z", end="2026-11-12T19:00Z")


def tidy(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if column not in ("timestamp", "value"):
            out[column] = as_category(out[column])
    out["timestamp"] = pd.to_datetime(out["timestamp"], utc=True)
    out["value"] = out["value"].astype("float64")
    return out


def eight_days(step: str = "10min") -> pd.DatetimeIndex:
    return pd.date_range("2026-11-05T00:00Z", "2026-11-12T23:50Z", freq=step)


# --------------------------------------------------------------------------- robust z-scores


def seasonal_frame() -> pd.DataFrame:
    """Three series with noise; one has a strong evening peak, one changes in the window."""
    times = eight_days()
    rng = np.random.default_rng(5)
    hour = times.hour + times.minute / 60
    evening = np.where((hour >= 17) & (hour < 20), 400.0, 0.0)  # every day, like KI-003
    series = {
        "seasonal": 100.0 + evening + rng.normal(0, 5, len(times)),
        "steady": 50.0 + rng.normal(0, 2, len(times)),
        "planted": 30.0 + rng.normal(0, 1, len(times)),
    }
    in_window = (times >= WINDOW.start) & (times <= WINDOW.end)
    series["planted"] = np.where(in_window, series["planted"] + 8.0, series["planted"])
    return tidy(
        pd.concat(
            [pd.DataFrame({"metric": k, "timestamp": times, "value": v}) for k, v in series.items()]
        )
    )


def test_robust_z_ranks_the_planted_change_first_and_ignores_the_daily_peak():
    scores = robust_zscores(seasonal_frame(), WINDOW).set_index("metric")
    assert scores.index[0] == "planted"
    assert scores.loc["planted", "rank"] == 1
    assert scores.loc["planted", "z"] > 3.5
    # The window sits in the evening peak: against the whole day it would look like a 5x jump.
    assert abs(scores.loc["seasonal", "z"]) < 3.5
    assert scores.loc["planted", "baseline_samples"] == 7 * 7  # 7 samples an hour-window, 7 days
    assert scores.loc["planted", "window_samples"] == 7


def test_robust_z_is_not_fooled_by_an_earlier_incident_in_the_baseline():
    frame = seasonal_frame()
    earlier = (frame["metric"] == "steady") & frame["timestamp"].between(
        WINDOW.start - pd.Timedelta("2D"), WINDOW.end - pd.Timedelta("2D")
    )
    frame.loc[earlier, "value"] = 5000.0  # a past outage: median and MAD shrug it off
    scores = robust_zscores(frame, WINDOW).set_index("metric")
    assert scores.index[0] == "planted"
    assert abs(scores.loc["steady", "z"]) < 3.5


def test_robust_z_flat_baseline_and_missing_baseline():
    times = eight_days("1h")
    flat = pd.DataFrame({"metric": "flat", "timestamp": times, "value": 1.0})
    flat.loc[flat["timestamp"] >= WINDOW.start, "value"] = 2.0
    nudged = flat.assign(metric="nudged", value=np.where(flat["value"] == 2.0, 1.1, 1.0))
    fresh = pd.DataFrame({"metric": "new-pod", "timestamp": times[-10:], "value": 3.0})
    scores = robust_zscores(tidy(pd.concat([fresh, nudged, flat])), WINDOW).set_index("metric")
    # both flat baselines give an infinite z; the larger relative change ranks first
    assert scores.loc["flat", "z"] == math.inf and scores.loc["flat", "rank"] == 1
    assert scores.loc["nudged", "z"] == math.inf and scores.loc["nudged", "rank"] == 2
    assert scores.loc["flat", "change_pct"] == 100.0
    assert math.isnan(scores.loc["new-pod", "z"]) and scores.loc["new-pod", "rank"] == 3


def test_robust_z_uses_median_and_mad_of_the_same_hour():
    times = pd.date_range("2026-11-05T18:00Z", "2026-11-12T18:00Z", freq="1D")
    values = [10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 100.0, 19.0]  # 7 baseline days, then the window
    frame = pd.DataFrame({"timestamp": times, "value": values})
    window = TimeWindow.parse(start="2026-11-12T18:00Z", end="2026-11-12T18:30Z")
    row = robust_zscores(frame, window).iloc[0]
    # median 13, absolute deviations 3 2 1 0 1 2 87 -> MAD 2; (19 - 13) / (1.4826 * 2)
    assert (row["baseline_median"], row["baseline_mad"]) == (13.0, 2.0)
    assert row["z"] == pytest.approx(6 / (1.4826 * 2))


# --------------------------------------------------------------------------- timeline


def test_markdown_timeline_is_sorted_and_in_utc():
    events = pd.DataFrame(
        {
            "timestamp": [
                "2026-11-12T20:30:00+02:00",  # 18:30 UTC
                pd.Timestamp("2026-11-12T18:10:00"),  # naive: taken as UTC
                pd.Timestamp("2026-11-12T13:50:00-05:00"),  # 18:50 UTC
            ],
            "kind": ["restart", "restart", "restart"],
            "description": ["second", "first", "third"],
        }
    )
    oom = Finding(
        "oom_killed", "critical", {"pod": "w_1"}, "w_1 OOM", evidence={"time": "2026-11-12T18:20Z"}
    )
    text = incident_timeline(events, [oom], window=WINDOW)
    lines = [line for line in text.splitlines() if line.startswith("- ")]
    assert lines == [
        "- **2026-11-12 18:00:00** · `window` · incident window starts",
        "- **2026-11-12 18:10:00** · `restart` · first",
        "- **2026-11-12 18:20:00** · `oom_killed` · critical: w\\_1 OOM",
        "- **2026-11-12 18:30:00** · `restart` · second",
        "- **2026-11-12 18:50:00** · `restart` · third",
        "- **2026-11-12 19:00:00** · `window` · incident window ends",
    ]
    assert text.startswith("### Timeline (UTC)")


def test_counter_events_from_a_restart_counter():
    times = pd.date_range(WINDOW.start, periods=4, freq="1min")
    counter = tidy(
        pd.DataFrame(
            {"namespace": "prod", "pod": "w-1", "timestamp": times, "value": [2.0, 2.0, 4.0, 4.0]}
        )
    )
    events = counter_events(counter, "restart", "restart")
    assert events["timestamp"].tolist() == [times[2]]
    assert events["description"].tolist() == ["prod/w-1: 2 restart(s)"]


# --------------------------------------------------------------------------- deployments & lag


def rollouts() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "namespace": "production",
            "deployment": ["dwcp-api", "dwcp-worker", "dwcp-web"],
            "timestamp": pd.to_datetime(
                ["2026-11-12T18:05Z", "2026-11-12T17:40Z", "2026-11-12T12:00Z"], utc=True
            ),
            "revision": ["42", "17", "9"],
        }
    )


def test_deployments_in_and_just_before_the_window():
    found = deployment_findings(rollouts(), WINDOW)
    assert sorted(f.subject["deployment"] for f in found) == ["dwcp-api", "dwcp-worker"]
    worker = next(f for f in found if f.subject["deployment"] == "dwcp-worker")
    assert worker.check == "deployment_in_window"
    assert "20m before the window" in worker.summary
    assert worker.evidence["revision"] == "17"


def test_rollouts_from_replicaset_creation_times():
    created = pd.DataFrame(
        {
            "namespace": ["production"] * 2,
            "replicaset": ["dwcp-api-5f7c9d8b6", "dwcp-api-5f7c9d8b6"],
            "timestamp": pd.to_datetime(["2026-11-12T18:00Z", "2026-11-12T18:01Z"], utc=True),
            "value": [pd.Timestamp("2026-11-12T18:05Z").timestamp()] * 2,
        }
    )
    out = rollouts_from_replicaset_created(created)
    assert out[["deployment", "timestamp"]].values.tolist() == [
        ["dwcp-api", pd.Timestamp("2026-11-12T18:05Z")]
    ]


def lag_frame(spike: slice, peak: float = 25_000.0) -> pd.DataFrame:
    times = pd.date_range(WINDOW.start, periods=61, freq="1min")
    values = np.full(len(times), 200.0)
    values[spike] = peak
    return tidy(
        pd.DataFrame(
            {"consumergroup": "workers", "topic": "dwcp-tasks", "timestamp": times, "value": values}
        )
    )


def test_lag_spike_after_another_workloads_rollout_is_not_ki_001():
    # dwcp-api rolled out 3 minutes before; the consumer (dwcp-worker) 28 minutes before
    spike = consumer_lag_spike(lag_frame(slice(8, 20)), WINDOW, rollouts=rollouts())[0]
    assert spike.evidence["known_issue"] is None
    assert spike.evidence["preceding_change"]["workload"] == "dwcp-worker"
    assert spike.evidence["preceding_change"]["delay_s"] == 28 * 60
    assert "not the KI-001 pattern" in spike.summary


def test_lag_spike_during_a_rollout_is_attributed_to_ki_001():
    worker_now = rollouts().assign(
        timestamp=pd.to_datetime(["2026-11-12T18:05Z", "2026-11-12T18:03Z", "2026-11-12T12:00Z"])
    )
    found = consumer_lag_spike(lag_frame(slice(8, 20)), WINDOW, rollouts=worker_now)
    assert len(found) == 1
    spike = found[0]
    assert (spike.check, spike.severity) == ("consumer_lag_spike", "warning")
    assert spike.subject == {"consumergroup": "workers", "topic": "dwcp-tasks"}
    assert spike.value == 25_000.0 and spike.threshold == 10_000.0
    assert spike.evidence["known_issue"] == "KI-001"
    assert spike.evidence["start"] == WINDOW.start + pd.Timedelta("8min")
    assert "KI-001" in spike.summary


def test_long_lag_spike_without_rollout_is_critical_and_small_lag_is_fine():
    long_spike = consumer_lag_spike(lag_frame(slice(8, 48)), WINDOW, rollouts=rollouts()[1:])
    assert long_spike[0].severity == "critical"
    assert long_spike[0].evidence["known_issue"] is None  # the 17:40 rollout is 28 min earlier
    assert len(consumer_lag_spike(lag_frame(slice(5, 45), peak=9_000.0), WINDOW)) == 0


# --------------------------------------------------------------------------- findings in window


def test_findings_in_window_by_time_or_span_and_after_a_json_round_trip():
    inside = Finding("oom_killed", "critical", {"pod": "a"}, "a", evidence={"time": WINDOW.end})
    spanning = Finding(
        "slow_query",
        "warning",
        {"query": "q"},
        "q",
        evidence={"start": "2026-11-12T17:00Z", "end": "2026-11-12T18:30Z"},
    )
    before = Finding(
        "oom_killed", "critical", {"pod": "b"}, "b", evidence={"time": "2026-11-12T17:59Z"}
    )
    undated = Finding("table_bloat", "warning", {"table": "t"}, "t")
    round_tripped = [Finding.from_dict(f.to_dict()) for f in (inside, spanning, before, undated)]
    kept = findings_in_window(round_tripped, WINDOW)
    assert sorted(next(iter(f.subject.values())) for f in kept) == ["a", "q"]
    assert len(findings_in_window(round_tripped, WINDOW, keep_undated=True)) == 3
    assert finding_span(spanning) == (
        pd.Timestamp("2026-11-12T17:00Z"),
        pd.Timestamp("2026-11-12T18:30Z"),
    )


# --------------------------------------------------------------------------- the report


def test_incident_report_end_to_end():
    times = pd.date_range("2026-11-05T00:01Z", "2026-11-12T20:00Z", freq="1min")
    in_window = (times > WINDOW.start) & (times <= WINDOW.end)
    errors = np.where(in_window, 2.0, 0.001)
    requests = tidy(
        pd.concat(
            [
                pd.DataFrame(
                    {"path": "/api", "status": "200", "timestamp": times, "value": 100.0 - errors}
                ),
                pd.DataFrame(
                    {"path": "/api", "status": "500", "timestamp": times, "value": errors}
                ),
            ]
        )
    )
    memory = tidy(
        pd.DataFrame(
            {"namespace": "production", "pod": "api-1", "timestamp": times, "value": 2.0**30}
        )
    )
    restarts = tidy(
        pd.DataFrame(
            {
                "namespace": "production",
                "pod": "api-1",
                "timestamp": times,
                "value": np.where(times >= pd.Timestamp("2026-11-12T18:30Z"), 1.0, 0.0),
            }
        )
    )
    report = incident_report(
        WINDOW,
        requests=requests,
        memory=memory,
        restarts=restarts,
        lag=lag_frame(slice(8, 20)),
        rollouts=rollouts(),
        slo=SLOTargets(),
    )
    assert report["zscores"].iloc[0]["metric"] == "error_ratio"
    checks = {f.check for f in report["findings"]}
    assert {"deployment_in_window", "consumer_lag_spike", "error_rate_breach"} <= checks
    # 8 days of requests evaluate every burn-rate pair: nothing to say; an hour of them does
    # not: one note in the text for the skipped pairs, no info finding
    assert report["notes"] == []
    assert not [f for f in report["findings"] if f.severity == "info"]
    short = incident_report(WINDOW, requests=requests[requests["timestamp"] > WINDOW.start],
                            slo=SLOTargets())  # fmt: skip
    assert not [f for f in short["findings"] if f.check == "error_budget_burn"
                and f.severity == "info"]  # fmt: skip
    assert len(short["notes"]) == 1 and "6h/30m" in short["notes"][0]
    timeline = report["timeline"]
    assert "`restart` · production/api-1: 1 restart(s)" in timeline
    stamps = [line[4:23] for line in timeline.splitlines() if line.startswith("- **")]
    assert stamps == sorted(stamps)
    shown = report["panels"]["request_rate"]["timestamp"]
    assert shown.min() >= WINDOW.start - pd.Timedelta("30min")
    figure = incident_chart(report["panels"], WINDOW, rollouts(), slo=SLOTargets())
    assert len(figure.layout.annotations) >= len(ROWS)  # row titles (+ "no data", rollouts)
    assert {t.type for t in figure.data} == {"scatter"}
    assert any(s.type == "rect" for s in figure.layout.shapes)
    figure.to_json()


# --------------------------------------------------------------------------- change points


def k8s_changes() -> pd.DataFrame:
    """The loader's rollouts(): a rollout with its own scaling steps, and a pure scale."""
    rows = [
        ("2026-11-12T17:50Z", "dwcp-api", "rollout", "dwcp-api-new", 4, "new ReplicaSet"),
        ("2026-11-12T17:51Z", "dwcp-api", "scale_up", "dwcp-api-new", 4,
         "Scaled up replica set dwcp-api-new from 0 to 4"),
        ("2026-11-12T17:52Z", "dwcp-api", "scale_down", "dwcp-api-old", 0,
         "Scaled down replica set dwcp-api-old from 4 to 0"),
        ("2026-11-12T18:03Z", "dwcp-worker", "scale_up", "dwcp-worker-5d8", 6,
         "Scaled up replica set dwcp-worker-5d8 from 3 to 6"),
    ]  # fmt: skip
    return pd.DataFrame(
        [
            {"time": pd.Timestamp(t), "namespace": "production", "owner_kind": "Deployment",
             "owner_name": o, "change": c, "replicaset": rs, "replicas": n, "message": m}
            for t, o, c, rs, n, m in rows
        ]
    )  # fmt: skip


def k8s_events(*rows: tuple[str, str, str, str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"namespace": "production", "object_kind": kind, "object_name": name,
             "reason": reason, "message": message, "first_seen": pd.Timestamp(t),
             "last_seen": pd.Timestamp(t)}
            for t, kind, name, reason, message in rows
        ]
    )  # fmt: skip


def test_change_points_gather_every_kind_and_keep_rollout_steps_out_of_scaling():
    events = k8s_events(
        ("2026-11-12T18:10Z", "HorizontalPodAutoscaler", "dwcp-web", "SuccessfulRescale",
         "New size: 5; reason: cpu resource utilization above target"),
        ("2026-11-12T18:20Z", "Pod", "dwcp-worker-5d8c9f7b6-abcde", "Evicted",
         "The node was low on resource: memory."),
        ("2026-11-12T18:25Z", "Node", "node-3", "NodeNotSchedulable", "Node node-3 status is "
         "now: NodeNotSchedulable"),
        ("2026-11-12T18:26Z", "Pod", "dwcp-api-5d8c9f7b6-xyz12", "BackOff", "Back-off"),
    )  # fmt: skip
    spec = pd.DataFrame(
        {"namespace": "production", "deployment": ["dwcp-worker"] * 3 + ["dwcp-cron"] * 3,
         "timestamp": list(pd.date_range("2026-11-12T18:00Z", periods=3, freq="5min")) * 2,
         "value": [3.0, 6.0, 6.0, 1.0, 1.0, 2.0]}
    )  # fmt: skip
    points = change_points(rollouts=k8s_changes(), events=events, spec_replicas=spec)
    kinds = points[["kind", "workload"]].values.tolist()
    assert kinds == [
        ["rollout", "dwcp-api"],
        ["scale", "dwcp-worker"],  # the event; its spec_replicas twin is left out
        ["scale", "dwcp-cron"],  # events expired: the metric's step
        ["scale", "dwcp-web"],
        ["eviction", "dwcp-worker"],
        ["cordon", "node-3"],
    ]
    worker = points[points["workload"] == "dwcp-worker"].iloc[0]
    assert (worker["replicas_before"], worker["replicas_after"]) == (3, 6)
    cron = points[points["workload"] == "dwcp-cron"].iloc[0]
    assert (cron["replicas_before"], cron["replicas_after"], cron["source"]) == (1, 2, "prometheus")
    found = change_findings(points, WINDOW)
    assert sorted((f.check, f.subject.get("deployment")) for f in found) == [
        ("deployment_in_window", "dwcp-api"),
        ("scaling_in_window", "dwcp-cron"),
        ("scaling_in_window", "dwcp-web"),
        ("scaling_in_window", "dwcp-worker"),
    ]
    scale = next(f for f in found if f.subject.get("deployment") == "dwcp-worker")
    assert scale.summary.startswith("production/dwcp-worker scaled from 3 to 6 replicas at")
    assert scale.evidence["replicas_before"] == 3 and scale.evidence["kind"] == "scale"


def lag_spike_with(points: pd.DataFrame, spike: slice = slice(8, 20)):
    lag = lag_frame(spike).assign(consumergroup="dwcp-workers")
    return consumer_lag_spike(lag, WINDOW, changes=points)[0]


@pytest.mark.parametrize(
    ("name", "points"),
    [
        ("scale-only", lambda: change_points(rollouts=k8s_changes())),
        (
            "restart",
            lambda: change_points(
                restarts=pd.DataFrame(
                    {
                        "namespace": "production",
                        "pod": "dwcp-worker-5d8c9f7b6-abcde",
                        "timestamp": pd.to_datetime(["2026-11-12T18:02Z", "2026-11-12T18:03Z"]),
                        "value": [0.0, 1.0],
                    }
                )
            ),
        ),
        (
            "node NotReady",
            lambda: change_points(
                events=k8s_events(
                    (
                        "2026-11-12T18:04Z",
                        "Pod",
                        "dwcp-worker-5d8c9f7b6-abcde",
                        "NodeNotReady",
                        "Node is not ready",
                    )
                )
            ),
        ),
        (
            "rollout",
            lambda: rollout_changes(
                pd.DataFrame(
                    {
                        "namespace": ["production"],
                        "deployment": ["dwcp-worker"],
                        "timestamp": [pd.Timestamp("2026-11-12T18:01Z")],
                    }
                )
            ),
        ),
    ],
)
def test_each_change_kind_to_the_consumer_before_a_lag_spike_is_ki_001(name, points):
    spike = lag_spike_with(points())
    assert spike.evidence["known_issue"] == "KI-001", name
    change = spike.evidence["preceding_change"]
    assert change["workload"] == "dwcp-worker"
    assert 0 < change["delay_s"] <= 600
    assert "KI-001 pattern" in spike.summary and "dwcp-worker" in spike.summary


def test_a_lag_spike_with_no_change_near_it_is_not_attributed():
    # dwcp-api rolled out 18 minutes before and the worker scaled 45 minutes after the start
    points = change_points(rollouts=k8s_changes()).assign(
        time=lambda f: f["time"].where(f["workload"] != "dwcp-worker", WINDOW.end)
    )
    spike = lag_spike_with(points)
    assert spike.evidence["known_issue"] is None
    assert spike.evidence["preceding_change"] is None
    assert "No change to the consuming workload" in spike.summary


def test_breaches_list_the_nearest_preceding_changes_service_first():
    points = change_points(rollouts=k8s_changes())
    breach = Finding(
        "error_rate_breach", "warning", {"path": "/api"}, "5xx.",
        evidence={"start": pd.Timestamp("2026-11-12T18:05Z"), "end": WINDOW.end},
    )  # fmt: skip
    ranked = with_preceding_changes(breach, points, service="dwcp-api")
    changes = ranked.evidence["preceding_changes"]
    assert [(c["workload"], c["touches_service"]) for c in changes] == [
        ("dwcp-api", True),
        ("dwcp-worker", False),
    ]
    assert changes[0]["delay_s"] == 15 * 60
    assert "rollout of production/dwcp-api" in ranked.summary
    quiet = with_preceding_changes(breach, points[points["time"] > breach.evidence["start"]])
    assert quiet is breach  # nothing before it: left as it was
