"""Figures of the platform report: pod start phases, certificates' days left, consumer lag,
Redis clients against maxclients.

>>> import pandas as pd
>>> workloads = pd.DataFrame({"namespace": ["p"], "workload": ["api"], "p95_s": [240.0],
...     "median_scheduling_s": [1.0], "median_init_s": [13.0], "median_image_pull_s": [125.3],
...     "median_readiness_s": [100.7]})
>>> [trace.name for trace in startup_figure(workloads, 120).data]
['scheduling', 'init', 'image pull', 'readiness', 'p95 creation -> Ready']
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dwcp_diag.analysis.platform.startup import PHASE_NAMES, PHASES
from dwcp_diag.plots import PALETTE, TARGET_COLOUR, house_layout, timeseries

WARNING_COLOUR = "#ef6c00"


def startup_figure(workloads: pd.DataFrame, p95_warning_s: float) -> go.Figure:
    """Per workload: the median of each start phase, stacked, and the p95 creation -> Ready
    (a diamond) against the warning line."""
    names = workloads["namespace"].astype(str) + "/" + workloads["workload"].astype(str)
    fig = go.Figure()
    for colour, phase in zip(PALETTE, PHASES, strict=False):
        fig.add_trace(
            go.Bar(
                y=names,
                x=workloads[f"median_{phase}"],
                name=PHASE_NAMES[phase],
                orientation="h",
                marker_color=colour,
            )
        )
    fig.add_trace(
        go.Scatter(
            y=names,
            x=workloads["p95_s"],
            mode="markers",
            name="p95 creation -> Ready",
            marker={"symbol": "diamond", "size": 11, "color": "#000"},
        )
    )
    fig.add_vline(x=p95_warning_s, line={"color": WARNING_COLOUR, "dash": "dash"})
    fig.update_layout(barmode="stack", height=140 + 40 * len(workloads))
    return house_layout(fig, "Pod start: median phases and p95 (seconds)", "")


def certificate_figure(table: pd.DataFrame, warning_days: float, critical_days: float) -> go.Figure:
    """Days left per certificate and probed endpoint, with the warning and critical lines."""
    shown = table.dropna(subset=["days_left"]).sort_values("days_left", ascending=False)
    labels = [
        f"{ns}/{name}" if ns else name
        for ns, name in zip(shown["namespace"], shown["name"], strict=True)
    ]
    colours = [
        TARGET_COLOUR if d < critical_days else WARNING_COLOUR if d < warning_days else PALETTE[2]
        for d in shown["days_left"]
    ]
    fig = go.Figure(go.Bar(y=labels, x=shown["days_left"], orientation="h", marker_color=colours))
    for days, colour in ((warning_days, WARNING_COLOUR), (critical_days, TARGET_COLOUR)):
        fig.add_vline(x=days, line={"color": colour, "dash": "dash"})
    fig.update_layout(height=140 + 30 * len(shown), showlegend=False)
    return house_layout(fig, "Days until each certificate expires", "")


def lag_figure(lag: pd.DataFrame, p95_warning: float) -> go.Figure:
    """Consumer lag per group and topic over the window, with the p95 warning line."""
    return timeseries(
        lag,
        "auto",
        "Consumer lag (messages)",
        "messages",
        p95_warning,
        "consumer_lag_high p95 threshold",
    )


def redis_clients_figure(ratio: pd.DataFrame, warning_ratio: float) -> go.Figure:
    """Connected clients as % of maxclients per Redis instance, with the warning line."""
    share = ratio.assign(value=100 * ratio["value"])
    return timeseries(
        share,
        "instance",
        "Redis clients, % of maxclients",
        "%",
        100 * warning_ratio,
        "redis_saturation warning",
    )
