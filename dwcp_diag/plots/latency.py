"""Figures of the latency notebook: quantiles against the SLO, a latency heatmap, the busiest
endpoints, error rate against its target and burn rates with their firing intervals.

Builders take the frames of :mod:`dwcp_diag.analysis.latency` and return plotly figures in the
house style; :func:`latency_figures` builds them all from a ``latency_report``.

>>> import pandas as pd
>>> from dwcp_diag.config import SLOTargets
>>> ts = pd.to_datetime([0, 60], unit="s", utc=True)
>>> q = pd.DataFrame({"quantile": ["p95", "p95"], "timestamp": ts, "value": [0.1, 0.3]})
>>> fig = quantile_chart(q, SLOTargets())
>>> fig.data[0].y.tolist(), fig.layout.shapes[0].y0
([100.0, 300.0], 200.0)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dwcp_diag.analysis.latency import BurnRateEvaluation, LatencyReport
from dwcp_diag.config import SLOTargets
from dwcp_diag.plots import TARGET_COLOUR, downsample, house_layout, timeseries

SEVERITY_FILL = {"page": "#c62828", "ticket": "#ef6c00"}


def quantile_chart(
    quantiles: pd.DataFrame,
    slo: SLOTargets,
    *,
    color: str = "quantile",
    quantile: str = "p95",
    title: str | None = None,
) -> go.Figure:
    """Latency quantiles in ms with the p95 target line.

    ``color="quantile"`` draws p50/p95/p99 of one series (the overall quantiles);
    ``color="path"`` draws ``quantile`` (p95 by default) per endpoint.
    """
    frame = quantiles
    if color != "quantile" and "quantile" in frame.columns:
        frame = frame[frame["quantile"].astype("str") == quantile]
    default_title = "Latency quantiles" if color == "quantile" else f"{quantile} by {color}"
    return timeseries(
        frame.assign(value=frame["value"] * 1000.0),
        color=color if color in frame.columns else None,
        title=title or default_title,
        y_title="ms",
        hline=slo.p95_latency_ms,
        hline_label=f"p95 target {slo.p95_latency_ms:g} ms",
    )


def latency_heatmap(heatmap: pd.DataFrame, title: str = "Latency distribution") -> go.Figure:
    """Requests per latency bucket over time on a log-scaled latency axis (ms).

    ``heatmap`` is :func:`~dwcp_diag.analysis.histograms.heatmap_counts` output; other label
    columns are summed. The lowest bucket is drawn from half its bound and the ``+Inf`` bucket
    up to twice the highest finite bound (a log axis has no 0 and no infinity).
    """
    fig = go.Figure()
    if heatmap.empty:
        return house_layout(fig, title, "latency (ms)")
    counts = heatmap.groupby(["upper_s", "timestamp"])["value"].sum().unstack("timestamp")
    stamps = pd.DataFrame({"timestamp": counts.columns})
    counts = counts[downsample(stamps)["timestamp"]].fillna(0.0)
    upper_ms = counts.index.to_numpy(dtype=float) * 1000.0
    finite = upper_ms[np.isfinite(upper_ms)]
    if len(finite) == 0:
        return house_layout(fig, title, "latency (ms)")
    top = finite.max() * 2.0
    edges = np.r_[finite.min() / 2.0, np.where(np.isfinite(upper_ms), upper_ms, top)]
    fig.add_trace(
        go.Heatmap(
            x=counts.columns,
            y=edges,
            z=counts.to_numpy(),
            colorscale="Viridis",
            colorbar={"title": {"text": "requests"}},
            hovertemplate="%{x}<br>≤ %{y:.4g} ms<br>%{z:,.0f} requests<extra></extra>",
        )
    )
    fig.update_yaxes(type="log")
    return house_layout(fig, title, "latency (ms)")


def request_rate_chart(top: pd.DataFrame, by: str = "path") -> go.Figure:
    """Request rate of the busiest endpoints (``request_rate_top`` output)."""
    return timeseries(
        top,
        color=by if by in top.columns else None,
        title=f"Request rate, top {top[by].nunique() if by in top.columns else 1} by {by}",
        y_title="req/s",
    )


def error_rate_chart(ratio: pd.DataFrame, slo: SLOTargets, by: str = "path") -> go.Figure:
    """5xx share in % (``error_ratio`` output) with the error-rate target line."""
    return timeseries(
        ratio.assign(value=ratio["value"] * 100.0),
        color=by if by in ratio.columns else None,
        title="Error rate (5xx)",
        y_title="% of requests",
        hline=slo.error_rate_pct,
        hline_label=f"target {slo.error_rate_pct:g} %",
    )


def burn_rate_chart(burn: BurnRateEvaluation, log_y: bool = False) -> go.Figure:
    """Burn rate per window length, the pairs' thresholds, firing intervals shaded."""
    fig = timeseries(
        burn.burn_rates, color="window", title="Error budget burn rate", y_title="x budget"
    )
    for pair in burn.pairs.itertuples(index=False):
        fig.add_hline(
            y=pair.burn_rate_threshold,
            line={"color": SEVERITY_FILL.get(pair.severity, TARGET_COLOUR), "dash": "dot"},
            annotation_text=f"{pair.pair} {pair.severity} > {pair.burn_rate_threshold:g}x",
            annotation_position="top left",
        )
    for alert in burn.alerts.itertuples(index=False):
        fig.add_vrect(
            x0=alert.start,
            x1=alert.end,
            fillcolor=SEVERITY_FILL.get(alert.severity, TARGET_COLOUR),
            opacity=0.15,
            line_width=0,
            layer="below",
        )
    if log_y:
        fig.update_yaxes(type="log")
    return fig


def latency_figures(
    report: LatencyReport, slo: SLOTargets, by: str = "path"
) -> dict[str, go.Figure]:
    """Every figure of the latency notebook from one ``latency_report``."""
    return {
        "quantiles": quantile_chart(report["quantiles_overall"], slo),
        "p95_by_endpoint": quantile_chart(report["quantiles"], slo, color=by),
        "heatmap": latency_heatmap(report["heatmap"]),
        "request_rate": request_rate_chart(report["request_rate_top"], by=by),
        "error_rate": error_rate_chart(report["error_ratio_overall"], slo),
        "error_rate_by_endpoint": error_rate_chart(report["error_ratio"], slo, by=by),
        "burn_rate": burn_rate_chart(report["burn"]),
    }
